package records

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Control-list codes. Two lists are in use:
//
//   - the EU Common Military List / Wassenaar Munitions List: "ML1" to "ML22";
//   - the EU dual-use list (Annex I of Regulation 2021/821, following Wassenaar): a
//     category digit 0-9, a product group A-E, three digits ("3A001", "9E003",
//     "0A501").
//
// Either may be followed by sub-items: letters and numbers alternating, starting with a
// letter, each optionally preceded by a dot ("ML4.a", "ML10b", "5A002.a.1", "3A001a7b").
// Starting with a letter is what keeps "ML23" from reading as ML2 sub-item 3 and
// "3A0011" from reading as 3A001 sub-item 1. Codes are matched case-insensitively and
// stored upper-case, as typed otherwise: dots are not added or removed.
var (
	subItems        = `(?:\.?[A-Z]{1,2}(?:\.?[0-9]{1,3}\.?[A-Z]{1,2})*(?:\.?[0-9]{1,3})?)?`
	munitionsCodeRE = regexp.MustCompile(`^ML(?:[1-9]|1[0-9]|2[0-2])` + subItems + `$`)
	dualUseCodeRE   = regexp.MustCompile(`^[0-9][A-E][0-9]{3}` + subItems + `$`)
)

// maxControlCode bounds a code's length; the longest real ones are about 15 characters.
const maxControlCode = 32

// normalizeControlCode returns code upper-cased if it is a Munitions List or dual-use
// control code, or an error saying why not. Only ASCII is upper-cased: strings.ToUpper
// would also turn look-alikes such as U+017F (long s) or U+212A (Kelvin sign) into
// letters of a valid code.
func normalizeControlCode(code string) (string, error) {
	c := strings.TrimSpace(code)
	if strings.ContainsFunc(c, func(r rune) bool { return r >= 0x80 }) {
		return "", fmt.Errorf("%q is not a control code: only ASCII letters, digits and dots are used", clip(code))
	}
	c = strings.ToUpper(c)
	switch {
	case c == "":
		return "", fmt.Errorf("required, must not be empty")
	case len(c) > maxControlCode:
		return "", fmt.Errorf("control code is %d characters long; at most %d", len(c), maxControlCode)
	case munitionsCodeRE.MatchString(c), dualUseCodeRE.MatchString(c):
		return c, nil
	case strings.HasPrefix(c, "ML"):
		return "", fmt.Errorf("%q is not a Munitions List code: want ML1 to ML22, optionally with sub-items such as ML4.a", clip(code))
	default:
		return "", fmt.Errorf("%q is not a control code: want ML1 to ML22 (e.g. ML10.b) or a dual-use code of category 0-9, group A-E and three digits (e.g. 3A001, 5A002.a.1)", clip(code))
	}
}

// currencies are the ISO 4217 alphabetic codes accepted for Money: those in use, plus
// codes withdrawn since 2018 (HRK, ANG, SLL, CUC, ZWL, VEF, MRO, STD, BYR), because a
// record may describe an older contract in the currency it was signed in. Fund, metal
// and testing codes (XAU, XTS, XXX...) are left out: no licence or award is priced in them.
var currencies = []string{
	"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
	"BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BYR", "BZD",
	"CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUC", "CUP", "CVE", "CZK",
	"DJF", "DKK", "DOP", "DZD",
	"EGP", "ERN", "ETB", "EUR",
	"FJD", "FKP",
	"GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
	"HKD", "HNL", "HRK", "HTG", "HUF",
	"IDR", "ILS", "INR", "IQD", "IRR", "ISK",
	"JMD", "JOD", "JPY",
	"KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
	"LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
	"MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRO", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN",
	"NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
	"OMR",
	"PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
	"QAR",
	"RON", "RSD", "RUB", "RWF",
	"SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STD", "STN", "SVC", "SYP", "SZL",
	"THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
	"UAH", "UGX", "USD", "UYU", "UZS",
	"VED", "VEF", "VES", "VND", "VUV",
	"WST",
	"XAF", "XCD", "XCG", "XOF", "XPF",
	"YER",
	"ZAR", "ZMW", "ZWG", "ZWL",
}

func validCurrency(c string) error {
	if _, ok := slices.BinarySearch(currencies, c); ok {
		return nil
	}
	if up := strings.ToUpper(c); up != c {
		if _, ok := slices.BinarySearch(currencies, up); ok {
			return fmt.Errorf("%q: write currency codes in upper case (%s)", clip(c), up)
		}
	}
	return fmt.Errorf("%q is not an ISO 4217 currency code (for example EUR, USD, GBP)", clip(c))
}

// clip shortens s for an error message, so that a hostile value cannot make errors huge.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "..."
}
