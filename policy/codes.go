package policy

import (
	"fmt"
	"slices"
)

// stateCodes is every officially assigned ISO 3166-1 alpha-3 code (249), sorted so that
// ValidStateCode can binary-search it. It is data rather than a call into a library so that
// every node, whatever it was built with, agrees on which codes exist: a code accepted by
// one replica and refused by another would split the federation.
var stateCodes = []string{
	"ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
	"ATG", "AUS", "AUT", "AZE",
	"BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ",
	"BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA",
	"CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM",
	"CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE",
	"DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
	"ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH",
	"FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
	"GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
	"GRL", "GTM", "GUF", "GUM", "GUY",
	"HKG", "HMD", "HND", "HRV", "HTI", "HUN",
	"IDN", "IMN", "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA",
	"JAM", "JEY", "JOR", "JPN",
	"KAZ", "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT",
	"LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO", "LTU", "LUX", "LVA",
	"MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD", "MLI", "MLT", "MMR",
	"MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS", "MWI", "MYS", "MYT",
	"NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL", "NRU", "NZL",
	"OMN",
	"PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY", "PSE",
	"PYF",
	"QAT",
	"REU", "ROU", "RUS", "RWA",
	"SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM",
	"SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR",
	"TCA", "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV",
	"TWN", "TZA",
	"UGA", "UKR", "UMI", "URY", "USA", "UZB",
	"VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT",
	"WLF", "WSM",
	"YEM",
	"ZAF", "ZMB", "ZWE",
}

// ValidStateCode returns nil if code is an assigned ISO 3166-1 alpha-3 code. Markings,
// rosters and groups all name states this way, so a typo such as "FRN" must be caught
// where it is typed rather than silently releasing a value to nobody.
func ValidStateCode(code string) error {
	if _, ok := slices.BinarySearch(stateCodes, code); ok {
		return nil
	}
	return fmt.Errorf("%q is not an ISO 3166-1 alpha-3 state code (for example FRA, DEU, GBR)", clip(code))
}

// StateCodes returns every assigned ISO 3166-1 alpha-3 code, sorted, for callers that
// offer a choice of states (a dashboard, a genesis-file generator). The slice is a copy.
func StateCodes() []string {
	return slices.Clone(stateCodes)
}
