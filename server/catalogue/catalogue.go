// Package catalogue is the service catalogue as data: the services a
// resident can file at a community service station, with their unit,
// deadline, eligibility rules over the population data and forms, in a
// versioned JSON document (docs/catalogue.md). Parse validates a document
// and reports every problem with its JSON path; the compiled Catalogue
// evaluates eligibility, prefills and validates forms.
package catalogue

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Format is the value of a document's "format" key.
const Format = "veinkiosk-catalogue/1"

// MaxSize is the largest document Parse accepts.
const MaxSize = 1 << 20

//go:embed default.json
var defaultJSON []byte

// DefaultJSON returns the embedded default catalogue (the 42 services of a
// Qingshan station).
func DefaultJSON() []byte { return bytes.Clone(defaultJSON) }

// Default parses the embedded catalogue; it panics if it is invalid (the
// tests keep it valid).
func Default() *Catalogue {
	c, err := Parse(defaultJSON)
	if err != nil {
		panic(err)
	}
	return c
}

// ErrInvalid is wrapped by every validation error of Parse.
var ErrInvalid = errors.New("catalogue: invalid")

// Problem is one thing wrong with a document: where (a JSON path such as
// services[3].fields[2].type) and what, in Chinese.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error lists every problem found in a document.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("catalogue: invalid: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 10 {
			fmt.Fprintf(&b, "and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// ---- the document ----

// Doc is the JSON document.
type Doc struct {
	Format       string              `json:"format"`
	Version      int                 `json:"version"`
	District     string              `json:"district"`
	Categories   []Named             `json:"categories"`
	Units        []Named             `json:"units"`
	CommonFields map[string]FieldDef `json:"common_fields,omitempty"`
	Services     []ServiceDef        `json:"services"`
}

// Named is a unit or a resident category.
type Named struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	NameEN string `json:"name_en"`
}

// FieldDef is a form field of the document: a full definition, or a use of
// a common field ({"use": "phone"}, optionally with "required").
type FieldDef struct {
	Use       string          `json:"use,omitempty"`
	Name      string          `json:"name,omitempty"`
	Label     string          `json:"label,omitempty"`
	LabelEN   string          `json:"label_en,omitempty"`
	Type      apiv1.FieldType `json:"type,omitempty"`
	Required  *bool           `json:"required,omitempty"`
	Hint      string          `json:"hint,omitempty"`
	Prefill   string          `json:"prefill,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
	Choices   []string        `json:"choices,omitempty"`
	Answers   []string        `json:"answers,omitempty"`
	MinLen    int             `json:"min_len,omitempty"`
	MaxLen    int             `json:"max_len,omitempty"`
	Min       *float64        `json:"min,omitempty"`
	Max       *float64        `json:"max,omitempty"`
}

// ReservedReportCode is the kiosk's menu entry for an issue report
// (docs/reports.md); no service may take it.
const ReservedReportCode = "report"

// ServiceDef is a service of the document.
type ServiceDef struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	NameEN       string `json:"name_en"`
	Unit         string `json:"unit"`
	DeadlineDays int    `json:"deadline_days"`
	Description  string `json:"description,omitempty"`
	Eligibility  *Rule  `json:"eligibility,omitempty"`
	// Deliberation: an approval needs the record of the quarterly
	// deliberation meeting that decided it, and the approved filings are
	// publicly noticed (低保; docs/transparency.md).
	Deliberation bool `json:"deliberation,omitempty"`
	// Kind is "" for a service filed with its form, or KindCertification
	// for one whose whole transaction is the card and vein check (no form,
	// no filing: the check is recorded, docs/grid.md).
	Kind   string     `json:"kind,omitempty"`
	Fields []FieldDef `json:"fields"`
}

// KindCertification is a service whose whole transaction is the card and
// vein check: a pensioner's yearly proof of life (养老金领取资格认证).
const KindCertification = "certification"

// Rule is an eligibility rule: exactly one of its keys is set
// (docs/catalogue.md).
type Rule struct {
	AgeAtLeast   *int   `json:"age_at_least,omitempty"`
	AgeBelow     *int   `json:"age_below,omitempty"`
	Category     string `json:"category,omitempty"`
	NotCategory  string `json:"not_category,omitempty"`
	RegisteredIn string `json:"registered_in,omitempty"`
	Gender       string `json:"gender,omitempty"`
	All          []Rule `json:"all,omitempty"`
	Any          []Rule `json:"any,omitempty"`
}

// ---- the compiled catalogue ----

// Catalogue is a validated document ready for use. It is immutable.
type Catalogue struct {
	doc      Doc
	raw      []byte
	services []apiv1.Service
	rules    []*Rule
	index    map[string]int
	units    map[string]Named
	cats     map[string]Named
}

// Version is the document's version.
func (c *Catalogue) Version() int { return c.doc.Version }

// JSON returns the document as it was given.
func (c *Catalogue) JSON() []byte { return bytes.Clone(c.raw) }

// Units returns the units in document order.
func (c *Catalogue) Units() []Named { return slices.Clone(c.doc.Units) }

// Categories returns the resident categories in document order.
func (c *Catalogue) Categories() []Named { return slices.Clone(c.doc.Categories) }

// UnitName returns a unit's Chinese name, or the code if it is unknown.
func (c *Catalogue) UnitName(code string) string {
	if u, ok := c.units[code]; ok {
		return u.Name
	}
	return code
}

// Services returns every service on the wire, in document order.
func (c *Catalogue) Services() []apiv1.Service { return slices.Clone(c.services) }

// Service returns one service on the wire.
func (c *Catalogue) Service(code string) (apiv1.Service, bool) {
	i, ok := c.index[code]
	if !ok {
		return apiv1.Service{}, false
	}
	return c.services[i], true
}

var (
	codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)
	kinds  = []apiv1.FieldType{apiv1.FieldText, apiv1.FieldDigits, apiv1.FieldInteger, apiv1.FieldNumber, apiv1.FieldDate,
		apiv1.FieldChoice, apiv1.FieldPhone, apiv1.FieldIDNumber, apiv1.FieldBool}
)

// Prefill sources.
const (
	PreName      = "resident.name"
	PreIDNumber  = "resident.id_number"
	PreGender    = "resident.gender"
	PreBirthDate = "resident.birth_date"
	PreAddress   = "resident.address"
	PreGridCell  = "resident.grid_cell"
	PreHousehold = "resident.household"
)

var prefillSources = []string{PreName, PreIDNumber, PreGender, PreBirthDate, PreAddress, PreGridCell, PreHousehold}

// personalPrefill are the sources whose fields must be sensitive.
var personalPrefill = []string{PreName, PreIDNumber, PreBirthDate, PreAddress, PreHousehold}

type checker struct {
	probs []Problem
}

func (k *checker) add(path, format string, args ...any) {
	k.probs = append(k.probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func text(k *checker, path, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		k.add(path, "不能为空")
	case !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n\t"):
		k.add(path, "含有无效字符")
	case utf8.RuneCountInString(s) > max:
		k.add(path, "最多%d个字", max)
	}
}

// Parse decodes and validates a document. Every problem found is reported
// in one *Error (errors.Is(err, ErrInvalid)).
func Parse(data []byte) (*Catalogue, error) {
	if len(data) > MaxSize {
		return nil, &Error{[]Problem{{Message: fmt.Sprintf("文件过大（最多 %d 字节）", MaxSize)}}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Doc
	if err := dec.Decode(&d); err != nil {
		return nil, &Error{[]Problem{{Path: jsonPath(data, err), Message: "JSON 格式错误：" + err.Error()}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{[]Problem{{Message: "JSON 格式错误：文档之后还有内容"}}}
	}
	k := &checker{}
	c := &Catalogue{doc: d, raw: bytes.Clone(data), index: map[string]int{}, units: map[string]Named{}, cats: map[string]Named{}}
	if d.Format != Format {
		k.add("format", "应为 %q", Format)
	}
	if d.Version < 1 || d.Version > 1_000_000 {
		k.add("version", "应为正整数")
	}
	text(k, "district", d.District, 40)
	named := func(list string, xs []Named, into map[string]Named) {
		if len(xs) == 0 {
			k.add(list, "不能为空")
		}
		for i, x := range xs {
			p := fmt.Sprintf("%s[%d]", list, i)
			if !codeRE.MatchString(x.Code) {
				k.add(p+".code", "编码 %q 应为小写字母、数字和下划线", x.Code)
			} else if _, dup := into[x.Code]; dup {
				k.add(p+".code", "编码 %q 重复", x.Code)
			}
			text(k, p+".name", x.Name, 40)
			text(k, p+".name_en", x.NameEN, 80)
			into[x.Code] = x
		}
	}
	named("categories", d.Categories, c.cats)
	named("units", d.Units, c.units)
	for name, f := range d.CommonFields {
		p := "common_fields." + name
		if f.Use != "" {
			k.add(p+".use", "公共字段不能再引用其他字段")
			continue
		}
		if f.Name != name {
			k.add(p+".name", "应与键名 %q 相同", name)
		}
		checkField(k, p, f)
	}
	if len(d.Services) == 0 {
		k.add("services", "不能为空")
	}
	for i, s := range d.Services {
		p := fmt.Sprintf("services[%d]", i)
		if !codeRE.MatchString(s.Code) {
			k.add(p+".code", "编码 %q 应为小写字母、数字和下划线", s.Code)
		} else if _, dup := c.index[s.Code]; dup {
			k.add(p+".code", "编码 %q 重复", s.Code)
		} else if s.Code == ReservedReportCode {
			k.add(p+".code", "编码 %q 保留给自助终端的“反映问题”", s.Code)
		}
		text(k, p+".name", s.Name, 60)
		text(k, p+".name_en", s.NameEN, 120)
		if s.Description != "" {
			text(k, p+".description", s.Description, 300)
		}
		if _, ok := c.units[s.Unit]; !ok {
			k.add(p+".unit", "未知单位 %q", s.Unit)
		}
		if s.DeadlineDays < 1 || s.DeadlineDays > 365 {
			k.add(p+".deadline_days", "办理时限应为 1..365 天")
		}
		if s.Eligibility != nil {
			c.checkRule(k, p+".eligibility", s.Eligibility, 0)
		}
		switch s.Kind {
		case "":
			if len(s.Fields) == 0 || len(s.Fields) > 40 {
				k.add(p+".fields", "应有 1..40 个字段")
			}
		case KindCertification:
			if len(s.Fields) != 0 {
				k.add(p+".fields", "认证类事项（kind certification）没有表单字段")
			}
		default:
			k.add(p+".kind", "未知事项类型 %q（应为空或 certification）", s.Kind)
		}
		wire := apiv1.Service{Code: s.Code, Name: s.Name, NameEN: s.NameEN, Department: s.Unit, DepartmentName: c.units[s.Unit].Name,
			DeadlineDays: s.DeadlineDays, Description: s.Description, Deliberation: s.Deliberation, Kind: s.Kind}
		seen := map[string]bool{}
		for j, f := range s.Fields {
			fp := fmt.Sprintf("%s.fields[%d]", p, j)
			if f.Use != "" {
				cf, ok := d.CommonFields[f.Use]
				if !ok {
					k.add(fp+".use", "未知公共字段 %q", f.Use)
					continue
				}
				if f.Name != "" || f.Label != "" || f.Type != "" || f.Prefill != "" || f.Choices != nil || f.Answers != nil || f.Hint != "" ||
					f.LabelEN != "" || f.Sensitive || f.MinLen != 0 || f.MaxLen != 0 || f.Min != nil || f.Max != nil {
					k.add(fp, "引用公共字段时只能另设 required")
				}
				if f.Required != nil {
					cf.Required = f.Required
				}
				f = cf
			} else {
				checkField(k, fp, f)
			}
			if seen[f.Name] {
				k.add(fp+".name", "字段名 %q 重复", f.Name)
			}
			seen[f.Name] = true
			wire.Fields = append(wire.Fields, f.wire())
		}
		if s.Eligibility != nil {
			wire.Eligibility = c.describe(s.Eligibility)
		}
		c.index[s.Code] = len(c.services)
		c.services = append(c.services, wire)
		c.rules = append(c.rules, s.Eligibility)
	}
	if len(k.probs) > 0 {
		return nil, &Error{k.probs}
	}
	return c, nil
}

// jsonPath says where a decoding error is, as a byte offset.
func jsonPath(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return lineOf(data, se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return te.Field
		}
		return lineOf(data, te.Offset)
	}
	return ""
}

func lineOf(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	return "第" + strconv.Itoa(bytes.Count(data[:off], []byte("\n"))+1) + "行"
}

func (f FieldDef) wire() apiv1.FormField {
	w := apiv1.FormField{Name: f.Name, Label: f.Label, LabelEN: f.LabelEN, Type: f.Type, Required: f.Required != nil && *f.Required,
		Hint: f.Hint, Prefill: f.Prefill, Choices: slices.Clone(f.Choices), Answers: slices.Clone(f.Answers),
		MinLen: f.MinLen, MaxLen: f.MaxLen, Min: f.Min, Max: f.Max, Sensitive: f.Sensitive}
	if w.Type == apiv1.FieldText && w.MaxLen == 0 {
		w.MaxLen = 200
	}
	if w.Type == apiv1.FieldDigits && w.MaxLen == 0 {
		w.MaxLen = 32
	}
	return w
}

func checkField(k *checker, p string, f FieldDef) {
	if !codeRE.MatchString(f.Name) {
		k.add(p+".name", "字段名 %q 应为小写字母、数字和下划线", f.Name)
	}
	text(k, p+".label", f.Label, 40)
	text(k, p+".label_en", f.LabelEN, 80)
	if f.Hint != "" {
		text(k, p+".hint", f.Hint, 100)
	}
	if f.Required == nil {
		k.add(p+".required", "应写明 true 或 false")
	}
	if !slices.Contains(kinds, f.Type) {
		k.add(p+".type", "未知字段类型 %q（应为 text, digits, integer, number, date, choice, phone, id_number, bool）", f.Type)
		return
	}
	if f.Prefill != "" && !slices.Contains(prefillSources, f.Prefill) {
		k.add(p+".prefill", "未知预填来源 %q", f.Prefill)
	}
	if !f.Sensitive && (f.Type == apiv1.FieldPhone || f.Type == apiv1.FieldIDNumber || f.Type == apiv1.FieldDigits || slices.Contains(personalPrefill, f.Prefill)) {
		k.add(p+".sensitive", "个人信息字段必须标为 sensitive")
	}
	if f.Type == apiv1.FieldChoice {
		if len(f.Choices) < 2 || len(f.Choices) > 12 {
			k.add(p+".choices", "应有 2..12 个选项")
		}
		seen := map[string]bool{}
		for i, c := range f.Choices {
			text(k, fmt.Sprintf("%s.choices[%d]", p, i), c, 30)
			if seen[c] {
				k.add(fmt.Sprintf("%s.choices[%d]", p, i), "选项 %q 重复", c)
			}
			seen[c] = true
		}
	} else if f.Choices != nil {
		k.add(p+".choices", "只有 choice 类型可设选项")
	}
	if f.Answers != nil {
		if f.Type != apiv1.FieldText {
			k.add(p+".answers", "只有 text 类型可设常用答案")
		}
		if len(f.Answers) > 12 {
			k.add(p+".answers", "最多12个常用答案")
		}
		for i, a := range f.Answers {
			text(k, fmt.Sprintf("%s.answers[%d]", p, i), a, 60)
		}
	}
	if f.MinLen != 0 || f.MaxLen != 0 {
		switch {
		case f.Type != apiv1.FieldText && f.Type != apiv1.FieldDigits:
			k.add(p+".max_len", "只有 text 和 digits 类型可设长度")
		case f.MinLen < 0 || f.MaxLen < 0 || f.MaxLen > 2000 || (f.MaxLen != 0 && f.MinLen > f.MaxLen):
			k.add(p+".max_len", "长度范围无效")
		}
	}
	if f.Min != nil || f.Max != nil {
		switch {
		case f.Type != apiv1.FieldInteger && f.Type != apiv1.FieldNumber:
			k.add(p+".min", "只有 integer 和 number 类型可设取值范围")
		case f.Min != nil && (*f.Min < 0 || math.IsInf(*f.Min, 0)), f.Max != nil && (*f.Max < 0 || *f.Max > 1e12),
			f.Min != nil && f.Max != nil && *f.Min > *f.Max:
			k.add(p+".min", "取值范围无效")
		}
	}
}

// maxRuleDepth bounds nested all/any.
const maxRuleDepth = 4

func (c *Catalogue) checkRule(k *checker, p string, r *Rule, depth int) {
	n := 0
	for _, set := range []bool{r.AgeAtLeast != nil, r.AgeBelow != nil, r.Category != "", r.NotCategory != "", r.RegisteredIn != "", r.Gender != "", r.All != nil, r.Any != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		k.add(p, "每条规则应恰好有一个键（age_at_least, age_below, category, not_category, registered_in, gender, all, any）")
		return
	}
	switch {
	case r.AgeAtLeast != nil && (*r.AgeAtLeast < 0 || *r.AgeAtLeast > 150):
		k.add(p+".age_at_least", "年龄应为 0..150")
	case r.AgeBelow != nil && (*r.AgeBelow < 1 || *r.AgeBelow > 150):
		k.add(p+".age_below", "年龄应为 1..150")
	case r.Category != "" && c.cats[r.Category].Code == "":
		k.add(p+".category", "未知人员类别 %q", r.Category)
	case r.NotCategory != "" && c.cats[r.NotCategory].Code == "":
		k.add(p+".not_category", "未知人员类别 %q", r.NotCategory)
	case r.RegisteredIn != "":
		text(k, p+".registered_in", r.RegisteredIn, 40)
	case r.Gender != "" && r.Gender != "M" && r.Gender != "F":
		k.add(p+".gender", "应为 M 或 F")
	case r.All != nil || r.Any != nil:
		if depth >= maxRuleDepth {
			k.add(p, "规则嵌套过深（最多%d层）", maxRuleDepth)
			return
		}
		key, list := "all", r.All
		if r.Any != nil {
			key, list = "any", r.Any
		}
		if len(list) == 0 || len(list) > 10 {
			k.add(p+"."+key, "应有 1..10 条规则")
		}
		for i := range list {
			c.checkRule(k, fmt.Sprintf("%s.%s[%d]", p, key, i), &list[i], depth+1)
		}
	}
}

// ---- residents, eligibility ----

// Person is what the rules and the prefill read of a resident's record.
type Person struct {
	Name, IDNumber, Gender string // Gender "M" or "F"
	BirthDate              time.Time
	Address                string // the card's address: the household registration
	GridCell, Household    string
	Categories             []string
}

func (c *Catalogue) reason(r *Rule) string {
	switch {
	case r.AgeAtLeast != nil:
		return fmt.Sprintf("年满%d周岁方可办理", *r.AgeAtLeast)
	case r.AgeBelow != nil:
		return fmt.Sprintf("限%d周岁以下居民办理", *r.AgeBelow)
	case r.Category != "":
		return "限" + c.cats[r.Category].Name + "人员办理"
	case r.NotCategory != "":
		return "已是" + c.cats[r.NotCategory].Name + "人员"
	case r.RegisteredIn != "":
		return "限" + r.RegisteredIn + "户籍居民办理"
	case r.Gender != "":
		if r.Gender == "F" {
			return "限女性居民办理"
		}
		return "限男性居民办理"
	}
	return ""
}

// describe says in words who may file.
func (c *Catalogue) describe(r *Rule) string {
	switch {
	case r.All != nil || r.Any != nil:
		list, sep := r.All, "，"
		if r.Any != nil {
			list, sep = r.Any, "或"
		}
		var parts []string
		for i := range list {
			parts = append(parts, c.describe(&list[i]))
		}
		return strings.Join(parts, sep)
	case r.NotCategory != "":
		return "非" + c.cats[r.NotCategory].Name + "人员"
	}
	return c.reason(r)
}

// eval reports whether r holds for p on day, and the reasons it does not.
func (c *Catalogue) eval(r *Rule, p Person, day identity.Date) (bool, []string) {
	if r == nil {
		return true, nil
	}
	age := -1
	if !p.BirthDate.IsZero() {
		age = identity.DateOf(p.BirthDate).AgeOn(day)
	}
	var ok bool
	switch {
	case r.AgeAtLeast != nil:
		ok = age >= *r.AgeAtLeast
	case r.AgeBelow != nil:
		ok = age >= 0 && age < *r.AgeBelow
	case r.Category != "":
		ok = slices.Contains(p.Categories, r.Category)
	case r.NotCategory != "":
		ok = !slices.Contains(p.Categories, r.NotCategory)
	case r.RegisteredIn != "":
		ok = strings.Contains(p.Address, r.RegisteredIn)
	case r.Gender != "":
		ok = p.Gender == r.Gender
	case r.All != nil:
		var reasons []string
		for i := range r.All {
			if ok, rs := c.eval(&r.All[i], p, day); !ok {
				reasons = append(reasons, rs...)
			}
		}
		return len(reasons) == 0, reasons
	case r.Any != nil:
		var reasons []string
		for i := range r.Any {
			ok, rs := c.eval(&r.Any[i], p, day)
			if ok {
				return true, nil
			}
			reasons = append(reasons, rs...)
		}
		return false, []string{strings.Join(reasons, "或")}
	}
	if ok {
		return true, nil
	}
	return false, []string{c.reason(r)}
}

// Eligible reports whether p may file the service on day (China time), and
// the reasons when not. An unknown service is not eligible.
func (c *Catalogue) Eligible(code string, p Person, day identity.Date) (bool, []string) {
	i, ok := c.index[code]
	if !ok {
		return false, []string{"未知事项"}
	}
	return c.eval(c.rules[i], p, day)
}

// Becoming is a service a resident becomes eligible for within a period.
type Becoming struct {
	Service string
	On      identity.Date // the first day the resident may file it
}

// BecomesEligible lists the services with an eligibility rule that p may not
// file on from but may file on a day up to and including to (a birthday
// crossing an age threshold). The day found is the first such day of the
// period (a birthday, since only age rules change with time).
func (c *Catalogue) BecomesEligible(p Person, from, to identity.Date) []Becoming {
	if p.BirthDate.IsZero() || to < from {
		return nil
	}
	var out []Becoming
	for i, r := range c.rules {
		if r == nil {
			continue
		}
		if ok, _ := c.eval(r, p, from); ok {
			continue
		}
		if ok, _ := c.eval(r, p, to); !ok {
			continue
		}
		// Only birthdays change the outcome: try each birthday in the period.
		birth := identity.DateOf(p.BirthDate)
		for y := from.Year(); y <= to.Year(); y++ {
			d := birthdayIn(birth, y)
			if d < from || d > to {
				continue
			}
			if ok, _ := c.eval(r, p, d); ok {
				out = append(out, Becoming{Service: c.services[i].Code, On: d})
				break
			}
		}
	}
	return out
}

// birthdayIn is the birthday in year y (29 February becomes 1 March, as
// AgeOn counts it).
func birthdayIn(birth identity.Date, y int) identity.Date {
	d, err := identity.NewDate(y, birth.Month(), birth.Day())
	if err != nil {
		d, _ = identity.NewDate(y, time.March, 1)
	}
	return d
}
