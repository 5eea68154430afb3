package catalogue

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

func TestDefaultCatalogue(t *testing.T) {
	c, err := Parse(DefaultJSON())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Services()); n != 42 {
		t.Errorf("%d services, want 42", n)
	}
	perUnit := map[string]int{}
	for _, s := range c.Services() {
		perUnit[s.Department]++
		if s.DepartmentName == "" || s.NameEN == "" {
			t.Errorf("%s: unit name or English name missing", s.Code)
		}
	}
	for _, u := range c.Units() {
		if perUnit[u.Code] == 0 {
			t.Errorf("unit %s has no service", u.Code)
		}
	}
	if c.Version() != 1 {
		t.Errorf("version %d", c.Version())
	}
}

// edit returns the default document changed by fn, as JSON.
func edit(t *testing.T, fn func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(DefaultJSON(), &d); err != nil {
		t.Fatal(err)
	}
	fn(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func svc(d map[string]any, i int) map[string]any {
	return d["services"].([]any)[i].(map[string]any)
}

func field(d map[string]any, i, j int) map[string]any {
	return svc(d, i)["fields"].([]any)[j].(map[string]any)
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		doc      func(t *testing.T) []byte
		path     string // the first problem's path
		contains string // in its message
	}{
		{"not JSON", func(*testing.T) []byte { return []byte(`{"format": `) }, "", "JSON"},
		{"trailing data", func(*testing.T) []byte { return append(DefaultJSON(), []byte(" {}")...) }, "", "之后还有内容"},
		{"wrong format", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { d["format"] = "veinkiosk-catalogue/2" })
		}, "format", "veinkiosk-catalogue/1"},
		{"version zero", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { d["version"] = 0 }) }, "version", "正整数"},
		{"version not a number", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { d["version"] = "1" }) }, "version", "JSON"},
		{"unknown key", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 0)["deadline"] = 3 }) }, "", "unknown field"},
		{"unknown unit", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 2)["unit"] = "police" }) }, "services[2].unit", "未知单位"},
		{"duplicate code", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { svc(d, 3)["code"] = svc(d, 1)["code"] })
		}, "services[3].code", "重复"},
		{"bad code", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 0)["code"] = "Dibao-New" }) }, "services[0].code", "小写"},
		{"reserved code", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 0)["code"] = "report" }) }, "services[0].code", "反映问题"},
		{"deadline too long", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 0)["deadline_days"] = 400 }) }, "services[0].deadline_days", "1..365"},
		{"empty name", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { svc(d, 0)["name"] = " " }) }, "services[0].name", "不能为空"},
		{"unknown service kind", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { svc(d, 0)["kind"] = "appointment" })
		}, "services[0].kind", "未知事项类型"},
		{"certification with a form", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { svc(d, 0)["kind"] = "certification" })
		}, "services[0].fields", "没有表单字段"},
		{"form service without fields", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				for i := range d["services"].([]any) {
					if svc(d, i)["kind"] == "certification" {
						delete(svc(d, i), "kind")
					}
				}
			})
		}, "services[24].fields", "1..40"},
		{"unknown kind", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { field(d, 0, 6)["type"] = "digit" })
		}, "services[0].fields[6].type", "未知字段类型"},
		{"unknown common field", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { field(d, 0, 0)["use"] = "nickname" })
		}, "services[0].fields[0].use", "未知公共字段"},
		{"use with more keys", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { field(d, 0, 0)["label"] = "名字" })
		}, "services[0].fields[0]", "只能另设 required"},
		{"duplicate field", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { field(d, 0, 1)["use"] = "name" })
		}, "services[0].fields[1].name", "重复"},
		{"phone not sensitive", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				d["common_fields"].(map[string]any)["phone"].(map[string]any)["sensitive"] = false
			})
		}, "common_fields.phone.sensitive", "sensitive"},
		{"required missing", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				delete(d["common_fields"].(map[string]any)["phone"].(map[string]any), "required")
			})
		}, "common_fields.phone.required", "true 或 false"},
		{"unknown prefill", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				d["common_fields"].(map[string]any)["grid_cell"].(map[string]any)["prefill"] = "resident.wealth"
			})
		}, "common_fields.grid_cell.prefill", "预填来源"},
		{"choice with one choice", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				d["common_fields"].(map[string]any)["delivery"].(map[string]any)["choices"] = []string{"领取"}
			})
		}, "common_fields.delivery.choices", "2..12"},
		{"answers on a choice", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				d["common_fields"].(map[string]any)["delivery"].(map[string]any)["answers"] = []string{"a"}
			})
		}, "common_fields.delivery.answers", "text"},
		{"min above max", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				d["common_fields"].(map[string]any)["household_size"].(map[string]any)["min"] = 30
			})
		}, "common_fields.household_size.min", "范围"},
		{"rule with two keys", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				svc(d, 0)["eligibility"] = map[string]any{"age_at_least": 60, "category": "dibao"}
			})
		}, "services[0].eligibility", "恰好有一个键"},
		{"rule with an unknown category", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				svc(d, 0)["eligibility"] = map[string]any{"any": []any{map[string]any{"category": "veteran"}}}
			})
		}, "services[0].eligibility.any[0].category", "未知人员类别"},
		{"rule nested too deep", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) {
				r := map[string]any{"age_at_least": 60}
				for range 6 {
					r = map[string]any{"all": []any{r}}
				}
				svc(d, 0)["eligibility"] = r
			})
		}, "services[0].eligibility.all[0].all[0].all[0].all[0]", "嵌套过深"},
		{"bad gender", func(t *testing.T) []byte {
			return edit(t, func(d map[string]any) { svc(d, 0)["eligibility"] = map[string]any{"gender": "female"} })
		}, "services[0].eligibility.gender", "M 或 F"},
		{"no services", func(t *testing.T) []byte { return edit(t, func(d map[string]any) { d["services"] = []any{} }) }, "services", "不能为空"},
		{"too large", func(*testing.T) []byte { return make([]byte, MaxSize+1) }, "", "过大"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.doc(t))
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want a *catalogue.Error", err)
			}
			p := ce.Problems[0]
			if tc.path != "" && p.Path != tc.path || !strings.Contains(p.Message, tc.contains) {
				t.Errorf("first problem %q, want path %q and %q in the message (all: %v)", p, tc.path, tc.contains, ce.Problems)
			}
		})
	}
}

// TestParseReportsEveryProblem: two unrelated mistakes, two problems.
func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse(edit(t, func(d map[string]any) {
		svc(d, 0)["deadline_days"] = 0
		svc(d, 40)["unit"] = "nobody"
	}))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("err %v, want two problems", err)
	}
}

func born(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestEligibility(t *testing.T) {
	c := Default()
	today := identity.Date(20261206)
	qs := "内蒙古自治区包头市青山区幸福路5号街坊3单元502号"
	kd := "内蒙古自治区包头市昆都仑区钢铁大街1号"
	for _, tc := range []struct {
		name, service string
		p             Person
		ok            bool
		reason        string
	}{
		{"elder of Qingshan", "elderly_card", Person{BirthDate: born(1960, 1, 2), Address: qs}, true, ""},
		{"59 tomorrow 60", "elderly_card", Person{BirthDate: born(1966, 12, 7), Address: qs}, false, "年满60周岁方可办理"},
		{"60 today", "elderly_card", Person{BirthDate: born(1966, 12, 6), Address: qs}, true, ""},
		{"elder of another district", "elderly_card", Person{BirthDate: born(1950, 1, 2), Address: kd}, false, "限包头市青山区户籍居民办理"},
		{"young, elsewhere: both reasons", "elderly_card", Person{BirthDate: born(1990, 1, 2), Address: kd}, false, "年满60周岁方可办理"},
		{"no birth date", "elderly_card", Person{Address: qs}, false, "年满60周岁方可办理"},
		{"80", "longevity_allowance", Person{BirthDate: born(1946, 1, 1), Address: qs}, true, ""},
		{"79", "longevity_allowance", Person{BirthDate: born(1947, 1, 1), Address: qs}, false, "年满80周岁方可办理"},
		{"dibao household renews", "dibao_renewal", Person{Categories: []string{"dibao"}}, true, ""},
		{"others cannot renew", "dibao_renewal", Person{}, false, "限低保人员办理"},
		{"dibao cannot apply again", "dibao_new", Person{Address: qs, Categories: []string{"dibao"}}, false, "已是低保人员"},
		{"any: tekun", "medical_assistance", Person{Categories: []string{"tekun"}}, true, ""},
		{"any: neither", "medical_assistance", Person{}, false, "限低保人员办理或限特困人员办理"},
		{"disabled", "disability_subsidy", Person{Categories: []string{"disabled", "dibao"}}, true, ""},
		{"gender", "maternal_health_record", Person{Gender: "M"}, false, "限女性居民办理"},
		{"open to all", "temporary_assistance", Person{}, true, ""},
		{"unknown service", "nothing", Person{}, false, "未知事项"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reasons := c.Eligible(tc.service, tc.p, today)
			if ok != tc.ok {
				t.Fatalf("eligible %v (%v), want %v", ok, reasons, tc.ok)
			}
			if !ok && (len(reasons) == 0 || reasons[0] != tc.reason) {
				t.Errorf("reasons %q, want first %q", reasons, tc.reason)
			}
		})
	}
}

func TestBecomesEligible(t *testing.T) {
	c := Default()
	qs := "内蒙古自治区包头市青山区幸福路5号街坊3单元502号"
	from, to := identity.Date(20261201), identity.Date(20261231)
	got := func(p Person) map[string]identity.Date {
		m := map[string]identity.Date{}
		for _, b := range c.BecomesEligible(p, from, to) {
			m[b.Service] = b.On
		}
		return m
	}
	// Turns 60 on 15 December: the age-60 services of Qingshan, not 65's.
	m := got(Person{BirthDate: born(1966, 12, 15), Address: qs})
	for _, s := range []string{"elderly_card", "home_care_service", "elderly_meal", "pension_claim", "only_child_reward"} {
		if m[s] != 20261215 {
			t.Errorf("%s: %v, want 2026-12-15 (all: %v)", s, m[s], m)
		}
	}
	if _, ok := m["senior_bus_card"]; ok {
		t.Error("senior_bus_card is for 65")
	}
	// Turns 60 but stops being 16..59: the unemployment registration is
	// not something one becomes eligible for.
	if _, ok := m["unemployment_registration"]; ok {
		t.Error("unemployment_registration listed")
	}
	// Turns 80.
	if m := got(Person{BirthDate: born(1946, 12, 31), Address: qs}); m["longevity_allowance"] != 20261231 || len(m) != 1 {
		t.Errorf("turning 80: %v", m)
	}
	// Already 60 before the period: nothing new.
	if m := got(Person{BirthDate: born(1966, 11, 30), Address: qs}); len(m) != 0 {
		t.Errorf("already 60: %v", m)
	}
	// Elsewhere: not eligible at either end.
	if m := got(Person{BirthDate: born(1966, 12, 15), Address: "内蒙古自治区包头市东河区"}); m["elderly_card"] != 0 {
		t.Errorf("another district: %v", m)
	}
}

func TestCheckValue(t *testing.T) {
	f64 := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		f       apiv1.FormField
		in, out string
		problem string
	}{
		{apiv1.FormField{Type: apiv1.FieldInteger, Min: f64(1), Max: f64(20)}, "3", "3", ""},
		{apiv1.FormField{Type: apiv1.FieldInteger, Min: f64(1), Max: f64(20)}, "2.5", "", "请填写整数"},
		{apiv1.FormField{Type: apiv1.FieldInteger, Min: f64(1), Max: f64(20)}, "0", "", "不能小于1"},
		{apiv1.FormField{Type: apiv1.FieldInteger, Min: f64(1), Max: f64(20)}, "21", "", "不能大于20"},
		{apiv1.FormField{Type: apiv1.FieldInteger}, "007", "", "请填写整数"},
		{apiv1.FormField{Type: apiv1.FieldInteger}, "1000000", "", "不能大于999999"},
		{apiv1.FormField{Type: apiv1.FieldNumber}, "1234.56", "1234.56", ""},
		{apiv1.FormField{Type: apiv1.FieldNumber}, "1.234", "", "两位小数"},
		{apiv1.FormField{Type: apiv1.FieldDigits, MinLen: 12, MaxLen: 19}, "6222020200112233445", "6222020200112233445", ""},
		{apiv1.FormField{Type: apiv1.FieldDigits, MinLen: 12, MaxLen: 19}, "6222 0202", "", "只能填数字"},
		{apiv1.FormField{Type: apiv1.FieldDigits, MinLen: 12, MaxLen: 19}, "62220202", "", "应为12到19位数字"},
		{apiv1.FormField{Type: apiv1.FieldIDNumber}, "11010519491231002x", "11010519491231002X", ""},
		{apiv1.FormField{Type: apiv1.FieldIDNumber}, "110105194912310021", "", "身份证号码不正确"},
		{apiv1.FormField{Type: apiv1.FieldDate}, "2026-02-30", "", "日期格式"},
		{apiv1.FormField{Type: apiv1.FieldDate}, "2026-02-28", "2026-02-28", ""},
		{apiv1.FormField{Type: apiv1.FieldPhone}, "13800000000", "13800000000", ""},
		{apiv1.FormField{Type: apiv1.FieldPhone}, "1380000000", "", "电话号码"},
		{apiv1.FormField{Type: apiv1.FieldChoice, Choices: []string{"1", "2"}}, "3", "", "请从选项中选择"},
		{apiv1.FormField{Type: apiv1.FieldBool}, "TRUE", "true", ""},
		{apiv1.FormField{Type: apiv1.FieldText, MaxLen: 3}, "四个字啊", "", "最多3个字"},
		{apiv1.FormField{Type: apiv1.FieldText}, "a\x00", "", "无效字符"},
	} {
		out, problem := CheckValue(tc.f, tc.in)
		if out != tc.out || !strings.Contains(problem, tc.problem) || (tc.problem == "") != (problem == "") {
			t.Errorf("%s %q: %q %q, want %q %q", tc.f.Type, tc.in, out, problem, tc.out, tc.problem)
		}
	}
}

func TestValidateForm(t *testing.T) {
	c := Default()
	p := Person{Name: "王秀英", IDNumber: "11010519491231002X", Gender: "F", BirthDate: born(1949, 12, 31),
		Address: "内蒙古自治区包头市青山区幸福路5号街坊3单元502号", GridCell: "QS-017", Household: "H1502-00017"}
	in := map[string]string{"phone": "13800000000", "emergency_contact": "子女", "emergency_phone": "13900000000", "delivery": "邮寄到家"}
	out, bad := c.ValidateForm("elderly_card", p, in)
	if bad != nil {
		t.Fatal(bad)
	}
	if out["name"] != "王秀英" || out["birth_date"] != "1949-12-31" || out["gender"] != "女" {
		t.Errorf("prefill not applied: %v", out)
	}
	in["name"] = "李四"
	in["nickname"] = "x"
	delete(in, "phone")
	_, bad = c.ValidateForm("elderly_card", p, in)
	if bad["name"] == "" || bad["nickname"] != "未知字段" || bad["phone"] != "必填" {
		t.Errorf("problems %v", bad)
	}
}

// TestDocsListEveryService: docs/catalogue.md lists every service of the
// embedded catalogue.
func TestDocsListEveryService(t *testing.T) {
	b, err := os.ReadFile("../../docs/catalogue.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Default().Services() {
		if !strings.Contains(string(b), "| `"+s.Code+"` | "+s.Name+" | "+strconv.Itoa(s.DeadlineDays)+" |") {
			t.Errorf("docs/catalogue.md does not list %s (%s, %d days)", s.Code, s.Name, s.DeadlineDays)
		}
	}
}
