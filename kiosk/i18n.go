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
