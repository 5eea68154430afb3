package api

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
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Departments that process filings (the officer's store.Staff.Department).
var departments = map[string]string{
	"civil_affairs": "民政科",
	"ageing":        "老龄办",
	"disability":    "残联",
	"community":     "社区居委会",
}

// DepartmentName returns the Chinese name of a department code.
func DepartmentName(code string) string {
	if n, ok := departments[code]; ok {
		return n
	}
	return code
}

// Prefill sources: attributes of the resident's record.
const (
	preName      = "resident.name"
	preIDNumber  = "resident.id_number"
	preGender    = "resident.gender"
	preBirthDate = "resident.birth_date"
	preAddress   = "resident.address"
	preGridCell  = "resident.grid_cell"
	preHousehold = "resident.household"
)

func text(name, label string, required bool, prefill string) apiv1.FormField {
	return apiv1.FormField{Name: name, Label: label, Type: apiv1.FieldText, Required: required, Prefill: prefill, MaxLen: 200}
}

func num(name, label string, required bool) apiv1.FormField {
	return apiv1.FormField{Name: name, Label: label, Type: apiv1.FieldNumber, Required: required}
}

func choice(name, label string, required bool, choices ...string) apiv1.FormField {
	return apiv1.FormField{Name: name, Label: label, Type: apiv1.FieldChoice, Required: required, Choices: choices}
}

func phone(name, label string, required bool) apiv1.FormField {
	return apiv1.FormField{Name: name, Label: label, Type: apiv1.FieldPhone, Required: required, Sensitive: true}
}

// sensitive marks a field as personal data (apiv1.FormField.Sensitive).
func sensitive(f apiv1.FormField) apiv1.FormField {
	f.Sensitive = true
	return f
}

func identityFields() []apiv1.FormField {
	return []apiv1.FormField{
		sensitive(text("name", "姓名", true, preName)),
		sensitive(text("id_number", "公民身份号码", true, preIDNumber)),
		sensitive(text("address", "住址", true, preAddress)),
	}
}

// catalogue is the district's catalogue of services filed at the kiosk.
var catalogue = []apiv1.Service{
	{
		Code: "dibao_new", Name: "最低生活保障（低保）新申请", Department: "civil_affairs", DeadlineDays: 30,
		Description: "家庭人均收入低于本市低保标准的居民申请最低生活保障。",
		Fields: append(identityFields(),
			sensitive(text("household", "户号", false, preHousehold)),
			num("household_size", "共同生活家庭成员人数", true),
			num("monthly_income", "家庭月总收入（元）", true),
			choice("income_source", "主要收入来源", true, "工资", "养老金", "经营", "赡养/抚养费", "无收入", "其他"),
			choice("housing", "住房情况", true, "自有住房", "租房", "借住", "其他"),
			sensitive(text("bank_account", "收款银行账号", true, "")),
			phone("phone", "联系电话", true),
			text("reason", "申请理由", true, ""),
		),
	},
	{
		Code: "dibao_renewal", Name: "最低生活保障（低保）复审续期", Department: "civil_affairs", DeadlineDays: 15,
		Description: "低保家庭按季度复审，申报家庭收入和人口变化。",
		Fields: append(identityFields(),
			num("household_size", "共同生活家庭成员人数", true),
			num("monthly_income", "家庭月总收入（元）", true),
			choice("changes", "上次审核以来的变化", true, "无变化", "收入变化", "人口变化", "住址变化", "多项变化"),
			text("change_details", "变化说明", false, ""),
			phone("phone", "联系电话", true),
		),
	},
	{
		Code: "elderly_card", Name: "老年人优待证（老年证）办理", Department: "ageing", DeadlineDays: 10,
		Description: "年满60周岁的本区户籍居民办理老年人优待证。",
		Fields: append(identityFields(),
			text("gender", "性别", true, preGender),
			apiv1.FormField{Name: "birth_date", Label: "出生日期", Type: apiv1.FieldDate, Required: true, Prefill: preBirthDate, Sensitive: true},
			phone("phone", "联系电话", true),
			sensitive(text("emergency_contact", "紧急联系人", true, "")),
			phone("emergency_phone", "紧急联系人电话", true),
			choice("delivery", "领取方式", true, "社区服务站领取", "邮寄到家"),
		),
	},
	{
		Code: "disability_subsidy", Name: "残疾人两项补贴申请", Department: "disability", DeadlineDays: 20,
		Description: "困难残疾人生活补贴和重度残疾人护理补贴。",
		Fields: append(identityFields(),
			sensitive(text("disability_cert", "残疾人证号", true, "")),
			choice("disability_level", "残疾等级", true, "一级", "二级", "三级", "四级"),
			choice("subsidy", "申请补贴类别", true, "困难残疾人生活补贴", "重度残疾人护理补贴", "两项都申请"),
			phone("phone", "联系电话", true),
		),
	},
	{
		Code: "temporary_assistance", Name: "临时救助申请", Department: "civil_affairs", DeadlineDays: 10,
		Description: "因突发事件、意外事故、重大疾病导致基本生活暂时困难的家庭。",
		Fields: append(identityFields(),
			choice("emergency", "困难类型", true, "重大疾病", "意外事故", "自然灾害", "突发事件", "其他"),
			num("amount", "申请救助金额（元）", true),
			text("description", "困难情况说明", true, ""),
			phone("phone", "联系电话", true),
		),
	},
	{
		Code: "residence_certificate", Name: "居住证明开具", Department: "community", DeadlineDays: 5,
		Description: "社区居委会为本社区居民开具居住证明。",
		Fields: append(identityFields(),
			text("grid_cell", "所属网格", false, preGridCell),
			num("years", "在本址居住年限", true),
			text("purpose", "证明用途", true, ""),
			choice("copies", "份数", true, "1", "2", "3"),
		),
	},
}

func service(code string) (apiv1.Service, bool) {
	i := slices.IndexFunc(catalogue, func(s apiv1.Service) bool { return s.Code == code })
	if i < 0 {
		return apiv1.Service{}, false
	}
	return catalogue[i], true
}

// prefill fills the fields that have a prefill source from the resident.
func prefill(svc apiv1.Service, r store.Resident) map[string]string {
	out := map[string]string{}
	for _, f := range svc.Fields {
		var v string
		switch f.Prefill {
		case preName:
			v = r.Name
		case preIDNumber:
			v = r.IDNumber
		case preGender:
			v = identity.GenderOfLetter(r.Gender).Name()
		case preBirthDate:
			if !r.BirthDate.IsZero() {
				v = r.BirthDate.Format(time.DateOnly)
			}
		case preAddress:
			v = r.Address
		case preGridCell:
			v = r.GridCell
		case preHousehold:
			v = r.Household
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
)

// validateForm checks submitted values against the service's fields;
// prefilled fields always take the record's value (the resident cannot
// change who they are), and unknown fields are refused. It returns the
// values to store, or the problems by field.
func validateForm(svc apiv1.Service, r store.Resident, in map[string]string, now time.Time) (map[string]string, map[string]string) {
	pre := prefill(svc, r)
	out := map[string]string{}
	bad := map[string]string{}
	known := map[string]bool{}
	for _, f := range svc.Fields {
		known[f.Name] = true
		v := strings.TrimSpace(in[f.Name])
		if f.Prefill != "" {
			if pv, ok := pre[f.Name]; ok {
				if v != "" && v != pv {
					bad[f.Name] = "由居民档案预填，不可修改 (prefilled from the resident record)"
					continue
				}
				v = pv
			}
		}
		if v == "" {
			if f.Required {
				bad[f.Name] = "必填 (required)"
			}
			continue
		}
		max := f.MaxLen
		if max == 0 {
			max = 200
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max || strings.ContainsAny(v, "\x00\r") {
			bad[f.Name] = fmt.Sprintf("最多%d个字 (at most %d characters)", max, max)
			continue
		}
		switch f.Type {
		case apiv1.FieldNumber:
			if !numberRE.MatchString(v) {
				bad[f.Name] = "请填写数字 (a non-negative number)"
				continue
			}
		case apiv1.FieldPhone:
			if !phoneRE.MatchString(v) {
				bad[f.Name] = "电话号码格式不正确 (a mobile or landline number)"
				continue
			}
		case apiv1.FieldDate:
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				bad[f.Name] = "日期格式 YYYY-MM-DD"
				continue
			}
		case apiv1.FieldChoice:
			if !slices.Contains(f.Choices, v) {
				bad[f.Name] = "请从选项中选择 (one of the choices)"
				continue
			}
		case apiv1.FieldBool:
			if _, err := strconv.ParseBool(v); err != nil {
				bad[f.Name] = "true / false"
				continue
			}
		}
		out[f.Name] = v
	}
	for k := range in {
		if !known[k] {
			bad[k] = "未知字段 (unknown field)"
		}
	}
	if svc.Code == "elderly_card" && !r.BirthDate.IsZero() && identity.DateOf(r.BirthDate).AgeOn(identity.ChinaDate(now)) < 60 {
		bad["birth_date"] = "年满60周岁方可办理 (the resident must be 60 or older)"
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}
