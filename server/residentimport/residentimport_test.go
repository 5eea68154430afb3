package residentimport

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func mkID(t testing.TB, birth string, seq int) string {
	t.Helper()
	b, _ := identity.ParseCompactDate(birth)
	id, err := identity.MakeIDNumber("110105", b, seq)
	if err != nil {
		t.Fatal(err)
	}
	return string(id)
}

func readAll(t *testing.T, data []byte, opts Options) ([]store.Resident, Report, error) {
	t.Helper()
	var out []store.Resident
	rep, err := Read(bytes.NewReader(data), opts, func(b []store.Resident) error {
		out = append(out, b...)
		return nil
	})
	return out, rep, err
}

func TestRead(t *testing.T) {
	a := mkID(t, "19490101", 21)  // odd: M
	b := mkID(t, "19551231", 22)  // even: F
	c := mkID(t, "20010615", 101) // M
	badSum := a[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", a[17])+1)%11])
	csvText := "\ufeffname,id_number,gender,birth_date,address,grid_cell,household,categories,status,extra\n" +
		"张三," + a + ",男,1949-01-01,幸福路1号,G001,H1,低保;高龄,,x\n" +
		"李四," + strings.ToLower(b) + ",,,\"幸福路2号, 3单元\",G002,H2,disabled|dibao,suspended,\n" +
		"王五," + c + ",1,20010615,幸福路3号,G001,H3,,active,\n" +
		"错号," + badSum + ",M,,x,G1,H,,,\n" +
		"坏日," + c[:6] + "19491301" + c[14:] + ",M,,x,G1,H,,,\n" +
		"矛盾," + mkID(t, "19600101", 1) + ",M,1960-01-02,x,G1,H,,,\n" +
		"," + mkID(t, "19600101", 3) + ",M,,x,G1,H,,,\n" +
		"分类," + mkID(t, "19600101", 5) + ",M,,x,G1,H,pensioner,,\n" +
		"性别," + mkID(t, "19600101", 7) + ",X,,x,G1,H,,,\n" +
		"重复," + a + ",M,,x,G1,H,,,\n" +
		"状态," + mkID(t, "19600101", 9) + ",M,,x,G1,H,,gone,\n"
	rs, rep, err := readAll(t, []byte(csvText), Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 11 || rep.Accepted != 3 || len(rep.Rejects) != 8 {
		t.Errorf("report %+v", rep)
	}
	wantReasons := []string{"check character", "not an 18-character", "contradicts", "name is empty", "unknown category", "gender", "repeats line 2", "status"}
	for i, rj := range rep.Rejects {
		if rj.Line != i+5 || !strings.Contains(rj.Reason, wantReasons[i]) {
			t.Errorf("reject %d = %+v, want line %d %q", i, rj, i+5, wantReasons[i])
		}
		for _, id := range []string{a, b, c} {
			if strings.Contains(rj.Reason, id) {
				t.Errorf("reject reason leaks the ID number: %q", rj.Reason)
			}
		}
	}
	if len(rs) != 3 {
		t.Fatalf("%d residents", len(rs))
	}
	if rs[0].IDNumber != a || rs[0].Name != "张三" || rs[0].Gender != "M" || !rs[0].BirthDate.Equal(time.Date(1949, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!slices.Equal(rs[0].Categories, []string{store.CategoryDibao, store.CategoryElderly}) || rs[0].Status != store.ResidentActive || rs[0].GridCell != "G001" {
		t.Errorf("row 1 = %+v", rs[0])
	}
	if rs[1].IDNumber != strings.ToUpper(b) || rs[1].Gender != "F" || rs[1].Address != "幸福路2号, 3单元" || rs[1].Status != store.ResidentSuspended ||
		!rs[1].BirthDate.Equal(time.Date(1955, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("row 2 = %+v", rs[1])
	}
	if rs[2].Gender != "M" || len(rs[2].Categories) != 0 {
		t.Errorf("row 3 = %+v", rs[2])
	}
}

// TestReadHouseholdRelations: the relationship to the household head and
// the guardian's ID number (who may file for whom, 代办) are read, checked
// and canonicalised; bad ones reject the row without naming the number.
func TestReadHouseholdRelations(t *testing.T) {
	head, mother, ward := mkID(t, "19700101", 21), mkID(t, "19400101", 22), mkID(t, "19300101", 24)
	csvText := "id_number,name,address,grid_cell,household,relationship,guardian_id_number\n" +
		head + ",张三,a,G1,H1,户主,\n" +
		mother + ",李四,a,G1,H1,父母," + strings.ToLower(head) + "\n" +
		ward + ",王五,a,G1,H9,,bad\n" +
		ward + ",王五,a,G1,H9,," + ward + "\n" +
		ward + ",王五,a,G1,H9,一二三四五六七八九十一二三四五六七,\n"
	rs, rep, err := readAll(t, []byte(csvText), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Relationship != "户主" || rs[0].GuardianIDNumber != "" || rs[1].Relationship != "父母" || rs[1].GuardianIDNumber != strings.ToUpper(head) {
		t.Errorf("residents = %+v", rs)
	}
	want := []string{"guardian_id_number is not a valid", "the resident's own", "relationship is longer"}
	if len(rep.Rejects) != len(want) {
		t.Fatalf("rejects = %+v", rep.Rejects)
	}
	for i, rj := range rep.Rejects {
		if !strings.Contains(rj.Reason, want[i]) || strings.Contains(rj.Reason, ward) {
			t.Errorf("reject %d = %+v, want %q", i, rj, want[i])
		}
	}
}

func TestReadGBK(t *testing.T) {
	a := mkID(t, "19490101", 21)
	text := "id_number,name,gender,birth_date,address,grid_cell,household,categories\n" + a + ",张三,男,,青山区幸福路1号,G001,H1,低保\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"", "gbk"} {
		rs, rep, err := readAll(t, gbk, Options{Encoding: enc})
		if err != nil || len(rs) != 1 || rs[0].Name != "张三" || rs[0].Address != "青山区幸福路1号" || rs[0].Categories[0] != store.CategoryDibao {
			t.Errorf("encoding %q: %+v %+v %v", enc, rs, rep, err)
		}
	}
	if _, _, err := readAll(t, gbk, Options{Encoding: "latin-9"}); !errors.Is(err, ErrCSV) {
		t.Errorf("unknown encoding: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"missing column", "id_number,name,address,grid_cell\n"},
	} {
		if _, _, err := readAll(t, []byte(tc.text), Options{}); !errors.Is(err, ErrCSV) {
			t.Errorf("%s: %v, want ErrCSV", tc.name, err)
		}
	}
	var sb strings.Builder
	sb.WriteString("id_number,name,address,grid_cell,household\n")
	for i := 0; i < 20; i++ {
		sb.WriteString("bad,x,x,x,x\n")
	}
	if _, rep, err := readAll(t, []byte(sb.String()), Options{MaxRejects: 10}); !errors.Is(err, ErrCSV) || len(rep.Rejects) != 11 {
		t.Errorf("too many rejects: %v, %d", err, len(rep.Rejects))
	}
	// A malformed quote is one bad row; reading goes on.
	a := mkID(t, "19490101", 21)
	text := "id_number,name,address,grid_cell,household\n" + "x,\"bad\"quote,a,b,c\n" + a + ",张三,a,b,c\n"
	rs, rep, err := readAll(t, []byte(text), Options{})
	if err != nil || len(rs) != 1 || len(rep.Rejects) != 1 || rep.Rejects[0].Line != 2 {
		t.Errorf("malformed quote: %+v %+v %v", rs, rep, err)
	}
	stop := errors.New("stop")
	if _, err := Read(strings.NewReader(text), Options{}, func([]store.Resident) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	a := mkID(f, "19490101", 21)
	f.Add([]byte("id_number,name,gender,birth_date,address,grid_cell,household,categories\n" + a + ",张三,男,1949-01-01,x,G,H,低保;高龄\n"))
	f.Add([]byte("id_number,name,address,grid_cell,household\n\"" + a + "\",\"a\"\"b\",x,y,z\n"))
	f.Add([]byte("\ufeffid_number,name\n"))
	f.Add([]byte("id_number,name,address,grid_cell,household,relationship,guardian_id_number\n" + a + ",张三,x,G,H,父母," + mkID(f, "19700101", 3) + "\n"))
	f.Add([]byte{0xd5, 0xc5, 0xc8, 0xfd, ',', '\n'})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		rep, err := Read(bytes.NewReader(data), Options{BatchSize: 3}, func(b []store.Resident) error {
			for _, r := range b {
				if !identity.ValidIDNumber(r.IDNumber) || r.Name == "" || (r.Gender != "M" && r.Gender != "F") || r.BirthDate.IsZero() ||
					r.GuardianIDNumber != "" && (!identity.ValidIDNumber(r.GuardianIDNumber) || r.GuardianIDNumber == r.IDNumber) {
					t.Fatalf("invalid resident accepted: %+v", r)
				}
			}
			n += len(b)
			return nil
		})
		if err == nil && n != rep.Accepted {
			t.Fatalf("accepted %d, delivered %d", rep.Accepted, n)
		}
		_ = fmt.Sprint(rep)
	})
}
