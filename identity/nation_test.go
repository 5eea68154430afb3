package identity

import (
	"strings"
	"testing"
)

func TestNations(t *testing.T) {
	all := Nations()
	if len(all) != 58 {
		t.Fatalf("%d nations, want 56 + 97 + 98", len(all))
	}
	seen := map[string]bool{}
	for _, n := range all {
		if !n.Known() || n.Name() == "" || n.EnglishName() == "" {
			t.Errorf("nation %s has no name", n)
		}
		if strings.HasSuffix(n.Name(), "族") {
			t.Errorf("nation %s name %q carries 族", n, n.Name())
		}
		if seen[n.Name()] {
			t.Errorf("duplicate name %q", n.Name())
		}
		seen[n.Name()] = true
		if back, ok := NationByName(n.Name()); !ok || back != n {
			t.Errorf("NationByName(%q) = %s, %v", n.Name(), back, ok)
		}
	}
	for code, name := range map[Nation]string{
		"01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "11": "满",
		"31": "达斡尔", "45": "鄂温克", "52": "鄂伦春", "56": "基诺", "97": "其他", "98": "外国血统",
	} {
		if code.Name() != name {
			t.Errorf("nation %s = %q, want %q", code, code.Name(), name)
		}
	}
	if n, ok := NationByName("蒙古族"); !ok || n != "02" {
		t.Errorf("NationByName(蒙古族) = %s, %v", n, ok)
	}
	if Nation("57").Known() || Nation("57").String() != "nation 57" {
		t.Error("code 57 is not in GB 3304")
	}
}

func TestGender(t *testing.T) {
	for g, want := range map[Gender][2]string{
		GenderUnknown: {"未知", "unknown"}, GenderMale: {"男", "male"},
		GenderFemale: {"女", "female"}, GenderUnspecified: {"未说明", "unspecified"},
	} {
		if !g.Known() || g.Name() != want[0] || g.EnglishName() != want[1] {
			t.Errorf("gender %s: %q %q", g.Code(), g.Name(), g.EnglishName())
		}
	}
	if Gender("3").Known() || Gender("3").Name() != "" {
		t.Error("gender 3 known")
	}
}
