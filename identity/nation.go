package identity

import "fmt"

// Nation is a GB 3304 nationality (ethnic group) code as printed in the text
// block: "01" (汉) to "56" (基诺), "97" (其他) and "98" (外国血统). The raw code
// is kept even when it is not in the table.
type Nation string

type nationInfo struct{ zh, en string }

// nations is GB 3304-1991 (names as printed on the card, without 族) with
// the romanisations of GB/T 3304.
var nations = map[Nation]nationInfo{
	"01": {"汉", "Han"},
	"02": {"蒙古", "Mongol"},
	"03": {"回", "Hui"},
	"04": {"藏", "Zang (Tibetan)"},
	"05": {"维吾尔", "Uygur"},
	"06": {"苗", "Miao"},
	"07": {"彝", "Yi"},
	"08": {"壮", "Zhuang"},
	"09": {"布依", "Buyei"},
	"10": {"朝鲜", "Chosen (Korean)"},
	"11": {"满", "Man (Manchu)"},
	"12": {"侗", "Dong"},
	"13": {"瑶", "Yao"},
	"14": {"白", "Bai"},
	"15": {"土家", "Tujia"},
	"16": {"哈尼", "Hani"},
	"17": {"哈萨克", "Kazak"},
	"18": {"傣", "Dai"},
	"19": {"黎", "Li"},
	"20": {"傈僳", "Lisu"},
	"21": {"佤", "Va"},
	"22": {"畲", "She"},
	"23": {"高山", "Gaoshan"},
	"24": {"拉祜", "Lahu"},
	"25": {"水", "Sui"},
	"26": {"东乡", "Dongxiang"},
	"27": {"纳西", "Naxi"},
	"28": {"景颇", "Jingpo"},
	"29": {"柯尔克孜", "Kirgiz"},
	"30": {"土", "Tu"},
	"31": {"达斡尔", "Daur"},
	"32": {"仫佬", "Mulao"},
	"33": {"羌", "Qiang"},
	"34": {"布朗", "Blang"},
	"35": {"撒拉", "Salar"},
	"36": {"毛南", "Maonan"},
	"37": {"仡佬", "Gelao"},
	"38": {"锡伯", "Xibe"},
	"39": {"阿昌", "Achang"},
	"40": {"普米", "Pumi"},
	"41": {"塔吉克", "Tajik"},
	"42": {"怒", "Nu"},
	"43": {"乌孜别克", "Uzbek"},
	"44": {"俄罗斯", "Russ"},
	"45": {"鄂温克", "Ewenki"},
	"46": {"德昂", "Deang"},
	"47": {"保安", "Bonan"},
	"48": {"裕固", "Yugur"},
	"49": {"京", "Gin"},
	"50": {"塔塔尔", "Tatar"},
	"51": {"独龙", "Derung"},
	"52": {"鄂伦春", "Oroqen"},
	"53": {"赫哲", "Hezhen"},
	"54": {"门巴", "Monba"},
	"55": {"珞巴", "Lhoba"},
	"56": {"基诺", "Jino"},
	"97": {"其他", "Other"},
	"98": {"外国血统", "Foreign origin"},
}

// Code returns the two-digit code.
func (n Nation) Code() string { return string(n) }

// Known reports whether n is in the GB 3304 table.
func (n Nation) Known() bool { _, ok := nations[n]; return ok }

// Name returns the name as printed on the card (汉, 蒙古, 回, ...), or ""
// for an unknown code.
func (n Nation) Name() string { return nations[n].zh }

// EnglishName returns the GB/T 3304 romanisation, or "".
func (n Nation) EnglishName() string { return nations[n].en }

func (n Nation) String() string {
	if name := n.Name(); name != "" || n == "" {
		return name
	}
	return "nation " + string(n)
}

// NationByName returns the code of a nation name as printed on the card
// (without 族; a trailing 族 is accepted).
func NationByName(name string) (Nation, bool) {
	if len(name) > len("族") && name[len(name)-len("族"):] == "族" && name != "外国血统" {
		name = name[:len(name)-len("族")]
	}
	for code, info := range nations {
		if info.zh == name {
			return code, true
		}
	}
	return "", false
}

// Nations returns every code of the table in order.
func Nations() []Nation {
	out := make([]Nation, 0, len(nations))
	for i := 1; i <= 56; i++ {
		out = append(out, Nation([]byte{byte('0' + i/10), byte('0' + i%10)}))
	}
	return append(out, "97", "98")
}

// MarshalText writes the name as printed on the card ("汉"), or the raw code
// when it is not in the table: the wire carries names.
func (n Nation) MarshalText() ([]byte, error) {
	if name := n.Name(); name != "" {
		return []byte(name), nil
	}
	return []byte(n), nil
}

// UnmarshalText reads a name (with or without 族) or a two-digit code.
// Errors wrap ErrCardData.
func (n *Nation) UnmarshalText(b []byte) error {
	s := string(b)
	if code, ok := NationByName(s); ok {
		*n = code
		return nil
	}
	if s == "" || (len(s) == 2 && isDigits(s)) {
		*n = Nation(s)
		return nil
	}
	return fmt.Errorf("%w: nation %q", ErrCardData, s)
}
