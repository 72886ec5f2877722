package lists

import (
	"slices"
	"strings"

	"github.com/entente/entente/node/screen"
)

// idLabels maps the labels OFAC (in remarks) and the CSL (in its ids column) put before
// an identifying number onto screen.Identifier schemes. Labels that carry no number worth
// matching exactly (Website, Email Address, Phone Number, Gender...) are absent, so those
// remark parts stay remarks.
var idLabels = map[string]string{
	// Passports and travel documents.
	"Passport":                  "passport",
	"Diplomatic Passport":       "passport",
	"Passport Booklet:":         "passport",
	"Passport No.":              "passport",
	"Travel Document Number":    "other",
	"Refugee Travel Document":   "other",
	"Seafarer's Identification": "other",

	// National identity numbers.
	"National ID No.":                       "national-id",
	"National ID Number":                    "national-id",
	"National Identification Number":        "national-id",
	"Identification Number":                 "national-id",
	"Cedula No.":                            "national-id",
	"C.U.R.P.":                              "national-id",
	"C.U.R.P. #":                            "national-id",
	"CURP #":                                "national-id",
	"D.N.I.":                                "national-id",
	"DNI":                                   "national-id",
	"Personal ID Card":                      "national-id",
	"Turkish Identification Number":         "national-id",
	"Numero de Identidad":                   "national-id",
	"Citizen's Card Number":                 "national-id",
	"Kenyan ID No.":                         "national-id",
	"Tazkira National ID Card":              "national-id",
	"Electoral Registry No.":                "national-id",
	"Credencial electoral":                  "national-id",
	"I.F.E.":                                "national-id",
	"SSN":                                   "national-id",
	"National Foreign ID Number":            "national-id",
	"C.U.I.":                                "national-id",
	"Residency Number":                      "other",
	"Birth Certificate Number":              "other",
	"Cartilla de Servicio Militar Nacional": "other",
	"C.U.I.P.":                              "other",
	"Driver's License No.":                  "other",
	"VisaNumberID":                          "other",

	// Tax numbers.
	"Tax ID No.":          "tax",
	"NIT #":               "tax",
	"RUC #":               "tax",
	"R.F.C.":              "tax",
	"R.F.C. #":            "tax",
	"RFC":                 "tax",
	"V.A.T. Number":       "tax",
	"C.U.I.T.":            "tax",
	"RIF #":               "tax",
	"Italian Fiscal Code": "tax",
	"US FEIN":             "tax",
	"RTN":                 "tax",

	// Company and other registrations.
	"Registration ID":                               "registration",
	"Registration Number":                           "registration",
	"Company Number":                                "registration",
	"UK Company Number":                             "registration",
	"Business Registration Number":                  "registration",
	"Business Registration Document #":              "registration",
	"Commercial Registry Number":                    "registration",
	"C.R. No.":                                      "registration",
	"Folio Mercantil No.":                           "registration",
	"Matricula Mercantil No":                        "registration",
	"Trade License No.":                             "registration",
	"Public Registration Number":                    "registration",
	"Chamber of Commerce Number":                    "registration",
	"Certificate of Incorporation Number":           "registration",
	"Enterprise Number":                             "registration",
	"Branch Unit Number":                            "registration",
	"Government Gazette Number":                     "registration",
	"LE Number":                                     "registration",
	"Business Number":                               "registration",
	"Registered Charity No.":                        "registration",
	"File Number":                                   "registration",
	"Dubai Chamber of Commerce Membership No.":      "registration",
	"Unified Social Credit Code (USCC)":             "registration",
	"United Social Credit Code Certificate (USCCC)": "registration",
	"Legal Entity Number":                           "lei", // demoted by identifier() unless it is a real LEI

	// Vessels and aircraft.
	"Vessel Registration Identification":     "imo",
	"Vessel Registration Identification IMO": "imo",
	"Identification Number IMO":              "imo",
	"Company Number IMO":                     "imo",
	"IMO":                                    "imo",
	"MMSI":                                   "other",
	"Aircraft Tail Number":                   "aircraft",
	"Aircraft Manufacturer's Serial Number (MSN)":                  "aircraft",
	"Aircraft Construction Number (also called L/N or S/N or F/N)": "aircraft",
	"Aircraft Mode S Transponder Code":                             "aircraft",
	"Aircraft Serial Identification":                               "aircraft",

	// Financial.
	"SWIFT/BIC":      "swift",
	"D-U-N-S Number": "duns",
	"ISIN":           "other",
	"BIK (RU)":       "other",
}

// idPrefixes are the lower-cased labels, longest first, so that "Company Number IMO"
// wins over "Company Number" when matching the start of a remark.
var idPrefixes = func() []string {
	var p []string
	for l := range idLabels {
		p = append(p, l)
	}
	slices.SortFunc(p, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return p
}()

// lookupLabel finds the scheme of an exact label, ignoring case.
func lookupLabel(label string) (scheme string, ok bool) {
	label = clean(label)
	for _, l := range idPrefixes {
		if strings.EqualFold(l, label) {
			return idLabels[l], true
		}
	}
	return "", false
}

// matchLabel finds the longest label that starts s, followed by a space, and returns its
// scheme and the rest of s.
func matchLabel(s string) (scheme, rest string, ok bool) {
	for _, l := range idPrefixes {
		if len(s) > len(l) && strings.EqualFold(s[:len(l)], l) && s[len(l)] == ' ' {
			return idLabels[l], strings.TrimSpace(s[len(l):]), true
		}
	}
	return "", "", false
}

// identifier builds an Identifier from a published value such as "A1234 (Iran) issued
// 2001 expires 2011": issue and expiry notes are cut, a trailing parenthesis becomes the
// country when it names one (and is dropped either way, "(Bogota)" is no part of the
// number), IMO numbers lose their "IMO" prefix, and an "LEI" that is not the 20
// characters of ISO 17442 is demoted to a registration number. ok is false when nothing
// is left.
func identifier(scheme, value, country string) (screen.Identifier, bool) {
	value = clean(value)
	for _, cut := range []string{" issued ", " expires ", ", issued", " expired "} {
		if i := strings.Index(value, cut); i > 0 {
			value = value[:i]
		}
	}
	value = strings.TrimSpace(strings.TrimSuffix(value, "."))
	if strings.HasSuffix(value, ")") {
		if i := strings.LastIndex(value, " ("); i > 0 {
			if c, ok := CountryCode(value[i+2 : len(value)-1]); ok && country == "" {
				country = c
			}
			value = strings.TrimSpace(value[:i])
		}
	}
	if scheme == "imo" {
		if len(value) > 3 && strings.EqualFold(value[:3], "IMO") {
			value = strings.TrimSpace(value[3:])
		}
	}
	if scheme == "lei" && !isLEI(value) {
		scheme = "registration"
	}
	if value == "" || len(value) > 128 {
		return screen.Identifier{}, false
	}
	id := screen.Identifier{Scheme: scheme, Value: value}
	if c, ok := CountryCode(country); ok {
		id.Country = c
	}
	return id, true
}

func isLEI(s string) bool {
	if len(s) != 20 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// remarkFacts are what OFAC remarks say in a structured way.
type remarkFacts struct {
	birthDates  []string
	countries   []string
	identifiers []screen.Identifier
	weak        []string // a.k.a. / f.k.a. / n.k.a. names given in the remarks
}

// parseRemarks reads an OFAC remark: "DOB 12 Jan 1960; POB Tehran, Iran; Passport A1234
// (Iran); nationality Iran; alt. Gender Male; a.k.a. 'NICK'." Parts are separated by
// "; " and may start with "alt.". Unknown parts are ignored here; the remark text itself
// is kept whole in Entity.Remarks.
func parseRemarks(s string) remarkFacts {
	var f remarkFacts
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	for _, part := range strings.Split(s, ";") {
		p := strings.TrimSpace(part)
		if len(p) > 5 && strings.EqualFold(p[:5], "alt. ") {
			p = strings.TrimSpace(p[5:])
		}
		p = strings.TrimSuffix(p, ".")
		switch key, rest := firstWord(p); {
		case key == "DOB":
			f.birthDates = append(f.birthDates, birthDates(rest)...)
		case key == "nationality" || key == "citizen":
			if c, ok := countryName(rest); ok {
				f.countries = append(f.countries, c)
			}
		case strings.HasPrefix(p, "Nationality of Registration "):
			if c, ok := countryName(strings.TrimPrefix(p, "Nationality of Registration ")); ok {
				f.countries = append(f.countries, c)
			}
		case key == "a.k.a." || key == "f.k.a." || key == "n.k.a.":
			f.weak = append(f.weak, strings.Trim(rest, "'\" "))
		case strings.HasPrefix(p, "Digital Currency Address - "):
			// "Digital Currency Address - XBT 1Ef..." : the address is the identifier.
			if fs := strings.Fields(strings.TrimPrefix(p, "Digital Currency Address - ")); len(fs) == 2 {
				f.identifiers = append(f.identifiers, screen.Identifier{Scheme: "other", Value: fs[1]})
			}
		default:
			if scheme, rest, ok := matchLabel(p); ok {
				if id, ok := identifier(scheme, rest, ""); ok {
					f.identifiers = append(f.identifiers, id)
				}
			}
		}
	}
	return f
}

func firstWord(s string) (word, rest string) {
	w, r, _ := strings.Cut(s, " ")
	return w, strings.TrimSpace(r)
}
