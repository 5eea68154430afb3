package catalogue

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Prefill returns the values of the service's prefilled fields from p.
func (c *Catalogue) Prefill(code string, p Person) map[string]string {
	out := map[string]string{}
	svc, ok := c.Service(code)
	if !ok {
		return out
	}
	for _, f := range svc.Fields {
		var v string
		switch f.Prefill {
		case PreName:
			v = p.Name
		case PreIDNumber:
			v = p.IDNumber
		case PreGender:
			v = identity.GenderOfLetter(p.Gender).Name()
			if p.Gender == "" {
				v = ""
			}
		case PreBirthDate:
			if !p.BirthDate.IsZero() {
				v = p.BirthDate.Format(time.DateOnly)
			}
		case PreAddress:
			v = p.Address
		case PreGridCell:
			v = p.GridCell
		case PreHousehold:
			v = p.Household
		}
		if v != "" {
			out[f.Name] = v
		}
	}
	return out
}

var (
	phoneRE  = regexp.MustCompile(`^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$`)
	numberRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,2})?$`)
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
)

// CheckValue checks one value of a field by its kind and returns it in
// canonical form, or the problem in Chinese.
func CheckValue(f apiv1.FormField, v string) (string, string) {
	maxLen := f.MaxLen
	if maxLen == 0 {
		maxLen = 200
	}
	if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r") {
		return "", "含有无效字符"
	}
	if utf8.RuneCountInString(v) > maxLen {
		return "", fmt.Sprintf("最多%d个字", maxLen)
	}
	inRange := func(x float64) string {
		if f.Min != nil && x < *f.Min {
			return fmt.Sprintf("不能小于%s", strconv.FormatFloat(*f.Min, 'f', -1, 64))
		}
		if f.Max != nil && x > *f.Max {
			return fmt.Sprintf("不能大于%s", strconv.FormatFloat(*f.Max, 'f', -1, 64))
		}
		return ""
	}
	switch f.Type {
	case apiv1.FieldText:
		if f.MinLen > 0 && utf8.RuneCountInString(v) < f.MinLen {
			return "", fmt.Sprintf("至少%d个字", f.MinLen)
		}
	case apiv1.FieldDigits:
		if !digitsRE.MatchString(v) {
			return "", "只能填数字"
		}
		if n := len(v); n < max(f.MinLen, 1) || n > maxLen {
			if f.MinLen == maxLen {
				return "", fmt.Sprintf("应为%d位数字", maxLen)
			}
			return "", fmt.Sprintf("应为%d到%d位数字", max(f.MinLen, 1), maxLen)
		}
	case apiv1.FieldInteger:
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return "", "请填写整数"
		}
		hi := 999999.0
		if f.Max != nil {
			hi = *f.Max
		}
		if p := inRange(float64(n)); p != "" {
			return "", p
		} else if float64(n) > hi {
			return "", fmt.Sprintf("不能大于%s", strconv.FormatFloat(hi, 'f', -1, 64))
		}
	case apiv1.FieldNumber:
		if !numberRE.MatchString(v) {
			return "", "请填写金额（最多两位小数）"
		}
		x, _ := strconv.ParseFloat(v, 64)
		if p := inRange(x); p != "" {
			return "", p
		}
	case apiv1.FieldPhone:
		if !phoneRE.MatchString(v) {
			return "", "电话号码格式不正确"
		}
	case apiv1.FieldIDNumber:
		id, err := identity.ParseIDNumber(v)
		if err != nil {
			return "", "身份证号码不正确"
		}
		v = string(id)
	case apiv1.FieldDate:
		d, err := identity.ParseDate(v)
		if err != nil || d.IsLongTerm() {
			return "", "日期格式应为 年-月-日（如 2026-01-31）"
		}
		v = d.String()
	case apiv1.FieldChoice:
		if !slices.Contains(f.Choices, v) {
			return "", "请从选项中选择"
		}
	case apiv1.FieldBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", "请选择是或否"
		}
		v = strconv.FormatBool(b)
	default:
		return "", "未知字段类型"
	}
	return v, ""
}

// ValidateForm checks the values submitted for a service: prefilled fields
// always take the record's value (the resident cannot change who they
// are), unknown fields are refused, each value is checked by its kind. It
// returns the values to store, or the problems by field name (Chinese).
func (c *Catalogue) ValidateForm(code string, p Person, in map[string]string) (map[string]string, map[string]string) {
	svc, ok := c.Service(code)
	if !ok {
		return nil, map[string]string{"": "未知事项"}
	}
	pre := c.Prefill(code, p)
	out := map[string]string{}
	bad := map[string]string{}
	known := map[string]bool{}
	for _, f := range svc.Fields {
		known[f.Name] = true
		v := strings.TrimSpace(in[f.Name])
		if f.Prefill != "" {
			if pv, ok := pre[f.Name]; ok {
				if v != "" && v != pv {
					bad[f.Name] = "由居民档案预填，不可修改"
					continue
				}
				// The record's value stands as it is (the population
				// database is the authority, not the form's limits).
				out[f.Name] = pv
				continue
			}
		}
		if v == "" {
			if f.Required {
				bad[f.Name] = "必填"
			}
			continue
		}
		cv, problem := CheckValue(f, v)
		if problem != "" {
			bad[f.Name] = problem
			continue
		}
		out[f.Name] = cv
	}
	for k := range in {
		if !known[k] {
			bad[k] = "未知字段"
		}
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

// ValidPhone reports whether v is a telephone number as the phone kind
// accepts it: an 11-digit mobile 1[3-9]… or a landline 0AAA-NNNNNNN.
func ValidPhone(v string) bool { return phoneRE.MatchString(v) }
