package kiosk

// English names of the district's services and form fields, for the
// kiosk's English screen (the server's catalogue is in Chinese only). A code
// missing here shows its Chinese name.
var serviceEN = map[string]string{
	"dibao_new":             "Minimum living allowance (dibao): new application",
	"dibao_renewal":         "Minimum living allowance (dibao): review and renewal",
	"elderly_card":          "Senior citizen card",
	"disability_subsidy":    "Disability subsidies",
	"temporary_assistance":  "Temporary assistance",
	"residence_certificate": "Certificate of residence",
}

var fieldEN = map[string]string{
	"address":           "Address",
	"amount":            "Amount requested (yuan)",
	"bank_account":      "Bank account for payment",
	"change_details":    "Details of the changes",
	"changes":           "Changes since the last review",
	"copies":            "Copies",
	"delivery":          "How to receive it",
	"description":       "Description of the hardship",
	"disability_cert":   "Disability certificate number",
	"disability_level":  "Disability level",
	"emergency":         "Kind of hardship",
	"emergency_contact": "Emergency contact",
	"emergency_phone":   "Emergency contact's phone",
	"gender":            "Sex",
	"grid_cell":         "Grid cell",
	"household":         "Household number",
	"household_size":    "People living in the household",
	"housing":           "Housing",
	"id_number":         "Citizen ID number",
	"income_source":     "Main source of income",
	"monthly_income":    "Household income per month (yuan)",
	"name":              "Name",
	"phone":             "Phone",
	"purpose":           "Purpose of the certificate",
	"reason":            "Reason for applying",
	"subsidy":           "Subsidy applied for",
	"years":             "Years living at this address",
	"birth_date":        "Date of birth",
}

// choiceEN translates the catalogue's choice values (and the read-only
// values that come from the population record, such as the sex) for the
// English screen; what is filed stays the Chinese value. A value missing
// here shows in Chinese.
var choiceEN = map[string]string{
	"工资": "Wages", "养老金": "Pension", "经营": "Own business", "赡养/抚养费": "Family support payments", "无收入": "No income", "其他": "Other",
	"自有住房": "Own home", "租房": "Rented", "借住": "Living with others",
	"无变化": "No change", "收入变化": "Income changed", "人口变化": "Household changed", "住址变化": "Address changed", "多项变化": "Several changes",
	"社区服务站领取": "Collect at the service station", "邮寄到家": "Post it home",
	"一级": "Grade 1", "二级": "Grade 2", "三级": "Grade 3", "四级": "Grade 4",
	"困难残疾人生活补贴": "Living subsidy for disabled people in hardship", "重度残疾人护理补贴": "Care subsidy for severely disabled people", "两项都申请": "Both",
	"重大疾病": "Serious illness", "意外事故": "Accident", "自然灾害": "Natural disaster", "突发事件": "Emergency",
	"男": "Male", "女": "Female", "true": "Yes", "false": "No",
	"打入银行账户": "Into a bank account", "现金发放": "In cash",
	"中国工商银行": "Industrial and Commercial Bank of China", "中国农业银行": "Agricultural Bank of China", "中国银行": "Bank of China",
	"中国建设银行": "China Construction Bank", "中国邮政储蓄银行": "Postal Savings Bank of China", "包商银行（蒙商银行）": "Baoshang Bank (Mengshang Bank)",
	"内蒙古农村信用社": "Inner Mongolia Rural Credit Union", "其他银行": "Another bank",
}
