package lists

import (
	"strings"
	"unicode"
)

// CountryCode converts a country as the lists publish it (an ISO 3166-1 alpha-2 or
// alpha-3 code, or an English name in the spelling of OFAC, the UN, BIS or OpenSanctions)
// to its ISO 3166-1 alpha-3 code in upper case. Matching ignores case, accents,
// punctuation and a leading or trailing "the". Places without a current ISO 3166-1 code
// (Kosovo, the Netherlands Antilles, the Soviet Union, "Region: Crimea") and anything
// else unknown give ok=false: screening must not match on a code the source never meant.
func CountryCode(s string) (alpha3 string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) == 2 || len(s) == 3 {
		if c, ok := byCode[strings.ToUpper(s)]; ok {
			return c, true
		}
	}
	c, ok := byName[countryKey(s)]
	return c, ok
}

// countryName converts a country name, never a code. OFAC and the UN write countries as
// names only, and the UN uses "na" for "not available", which CountryCode would read as
// Namibia's alpha-2 code.
func countryName(s string) (alpha3 string, ok bool) {
	c, ok := byName[countryKey(s)]
	return c, ok
}

// countryKey normalises a country name for lookup: lower case, common Latin accents
// folded, punctuation as spaces, "st" read as "saint", and the filler words "the" and
// "and" dropped, so "Bahamas, The", "The Bahamas" and "bahamas" meet, as do
// "Côte d'Ivoire" and "Cote d Ivoire".
func countryKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := foldAccents[r]; ok {
			r = f
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	out := words[:0]
	for _, w := range words {
		switch w {
		case "the", "and":
			continue
		case "st":
			w = "saint"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

var foldAccents = map[rune]rune{
	'à': 'a', 'á': 'a', 'â': 'a', 'ã': 'a', 'ä': 'a', 'å': 'a',
	'ç': 'c', 'è': 'e', 'é': 'e', 'ê': 'e', 'ë': 'e',
	'ì': 'i', 'í': 'i', 'î': 'i', 'ï': 'i', 'ñ': 'n',
	'ò': 'o', 'ó': 'o', 'ô': 'o', 'õ': 'o', 'ö': 'o', 'ø': 'o',
	'ù': 'u', 'ú': 'u', 'û': 'u', 'ü': 'u', 'ý': 'y', 'ÿ': 'y',
}

var (
	byCode = map[string]string{} // alpha-2 and alpha-3 -> alpha-3
	byName = map[string]string{} // countryKey(name) -> alpha-3
)

func init() {
	for _, line := range strings.Split(strings.TrimSpace(iso3166), "\n") {
		a2, rest, _ := strings.Cut(line, " ")
		a3, name, _ := strings.Cut(rest, " ")
		byCode[a2] = a3
		byCode[a3] = a3
		byName[countryKey(name)] = a3
	}
	for _, line := range strings.Split(strings.TrimSpace(countryVariants), "\n") {
		a3, names, _ := strings.Cut(line, " ")
		if _, ok := byCode[a3]; !ok {
			panic("lists: country variant for unknown code " + a3)
		}
		for _, n := range strings.Split(names, "|") {
			byName[countryKey(n)] = a3
		}
	}
}

// iso3166 is ISO 3166-1: alpha-2, alpha-3, English short name.
const iso3166 = `
AD AND Andorra
AE ARE United Arab Emirates
AF AFG Afghanistan
AG ATG Antigua and Barbuda
AI AIA Anguilla
AL ALB Albania
AM ARM Armenia
AO AGO Angola
AQ ATA Antarctica
AR ARG Argentina
AS ASM American Samoa
AT AUT Austria
AU AUS Australia
AW ABW Aruba
AX ALA Åland Islands
AZ AZE Azerbaijan
BA BIH Bosnia and Herzegovina
BB BRB Barbados
BD BGD Bangladesh
BE BEL Belgium
BF BFA Burkina Faso
BG BGR Bulgaria
BH BHR Bahrain
BI BDI Burundi
BJ BEN Benin
BL BLM Saint Barthélemy
BM BMU Bermuda
BN BRN Brunei Darussalam
BO BOL Bolivia (Plurinational State of)
BQ BES Bonaire, Sint Eustatius and Saba
BR BRA Brazil
BS BHS Bahamas
BT BTN Bhutan
BV BVT Bouvet Island
BW BWA Botswana
BY BLR Belarus
BZ BLZ Belize
CA CAN Canada
CC CCK Cocos (Keeling) Islands
CD COD Congo, Democratic Republic of the
CF CAF Central African Republic
CG COG Congo
CH CHE Switzerland
CI CIV Côte d'Ivoire
CK COK Cook Islands
CL CHL Chile
CM CMR Cameroon
CN CHN China
CO COL Colombia
CR CRI Costa Rica
CU CUB Cuba
CV CPV Cabo Verde
CW CUW Curaçao
CX CXR Christmas Island
CY CYP Cyprus
CZ CZE Czechia
DE DEU Germany
DJ DJI Djibouti
DK DNK Denmark
DM DMA Dominica
DO DOM Dominican Republic
DZ DZA Algeria
EC ECU Ecuador
EE EST Estonia
EG EGY Egypt
EH ESH Western Sahara
ER ERI Eritrea
ES ESP Spain
ET ETH Ethiopia
FI FIN Finland
FJ FJI Fiji
FK FLK Falkland Islands (Malvinas)
FM FSM Micronesia (Federated States of)
FO FRO Faroe Islands
FR FRA France
GA GAB Gabon
GB GBR United Kingdom of Great Britain and Northern Ireland
GD GRD Grenada
GE GEO Georgia
GF GUF French Guiana
GG GGY Guernsey
GH GHA Ghana
GI GIB Gibraltar
GL GRL Greenland
GM GMB Gambia
GN GIN Guinea
GP GLP Guadeloupe
GQ GNQ Equatorial Guinea
GR GRC Greece
GS SGS South Georgia and the South Sandwich Islands
GT GTM Guatemala
GU GUM Guam
GW GNB Guinea-Bissau
GY GUY Guyana
HK HKG Hong Kong
HM HMD Heard Island and McDonald Islands
HN HND Honduras
HR HRV Croatia
HT HTI Haiti
HU HUN Hungary
ID IDN Indonesia
IE IRL Ireland
IL ISR Israel
IM IMN Isle of Man
IN IND India
IO IOT British Indian Ocean Territory
IQ IRQ Iraq
IR IRN Iran (Islamic Republic of)
IS ISL Iceland
IT ITA Italy
JE JEY Jersey
JM JAM Jamaica
JO JOR Jordan
JP JPN Japan
KE KEN Kenya
KG KGZ Kyrgyzstan
KH KHM Cambodia
KI KIR Kiribati
KM COM Comoros
KN KNA Saint Kitts and Nevis
KP PRK Korea (Democratic People's Republic of)
KR KOR Korea, Republic of
KW KWT Kuwait
KY CYM Cayman Islands
KZ KAZ Kazakhstan
LA LAO Lao People's Democratic Republic
LB LBN Lebanon
LC LCA Saint Lucia
LI LIE Liechtenstein
LK LKA Sri Lanka
LR LBR Liberia
LS LSO Lesotho
LT LTU Lithuania
LU LUX Luxembourg
LV LVA Latvia
LY LBY Libya
MA MAR Morocco
MC MCO Monaco
MD MDA Moldova, Republic of
ME MNE Montenegro
MF MAF Saint Martin (French part)
MG MDG Madagascar
MH MHL Marshall Islands
MK MKD North Macedonia
ML MLI Mali
MM MMR Myanmar
MN MNG Mongolia
MO MAC Macao
MP MNP Northern Mariana Islands
MQ MTQ Martinique
MR MRT Mauritania
MS MSR Montserrat
MT MLT Malta
MU MUS Mauritius
MV MDV Maldives
MW MWI Malawi
MX MEX Mexico
MY MYS Malaysia
MZ MOZ Mozambique
NA NAM Namibia
NC NCL New Caledonia
NE NER Niger
NF NFK Norfolk Island
NG NGA Nigeria
NI NIC Nicaragua
NL NLD Netherlands
NO NOR Norway
NP NPL Nepal
NR NRU Nauru
NU NIU Niue
NZ NZL New Zealand
OM OMN Oman
PA PAN Panama
PE PER Peru
PF PYF French Polynesia
PG PNG Papua New Guinea
PH PHL Philippines
PK PAK Pakistan
PL POL Poland
PM SPM Saint Pierre and Miquelon
PN PCN Pitcairn
PR PRI Puerto Rico
PS PSE Palestine, State of
PT PRT Portugal
PW PLW Palau
PY PRY Paraguay
QA QAT Qatar
RE REU Réunion
RO ROU Romania
RS SRB Serbia
RU RUS Russian Federation
RW RWA Rwanda
SA SAU Saudi Arabia
SB SLB Solomon Islands
SC SYC Seychelles
SD SDN Sudan
SE SWE Sweden
SG SGP Singapore
SH SHN Saint Helena, Ascension and Tristan da Cunha
SI SVN Slovenia
SJ SJM Svalbard and Jan Mayen
SK SVK Slovakia
SL SLE Sierra Leone
SM SMR San Marino
SN SEN Senegal
SO SOM Somalia
SR SUR Suriname
SS SSD South Sudan
ST STP Sao Tome and Principe
SV SLV El Salvador
SX SXM Sint Maarten (Dutch part)
SY SYR Syrian Arab Republic
SZ SWZ Eswatini
TC TCA Turks and Caicos Islands
TD TCD Chad
TF ATF French Southern Territories
TG TGO Togo
TH THA Thailand
TJ TJK Tajikistan
TK TKL Tokelau
TL TLS Timor-Leste
TM TKM Turkmenistan
TN TUN Tunisia
TO TON Tonga
TR TUR Türkiye
TT TTO Trinidad and Tobago
TV TUV Tuvalu
TW TWN Taiwan, Province of China
TZ TZA Tanzania, United Republic of
UA UKR Ukraine
UG UGA Uganda
UM UMI United States Minor Outlying Islands
US USA United States of America
UY URY Uruguay
UZ UZB Uzbekistan
VA VAT Holy See
VC VCT Saint Vincent and the Grenadines
VE VEN Venezuela (Bolivarian Republic of)
VG VGB Virgin Islands (British)
VI VIR Virgin Islands (U.S.)
VN VNM Viet Nam
VU VUT Vanuatu
WF WLF Wallis and Futuna
WS WSM Samoa
YE YEM Yemen
YT MYT Mayotte
ZA ZAF South Africa
ZM ZMB Zambia
ZW ZWE Zimbabwe
`

// countryVariants are the other names the sources use: OFAC's "Korea, North" and "Burma",
// the UN's formal names, common short forms. West Bank and Gaza map to Palestine, whose
// ISO 3166-1 entry covers both; OFAC also gives "Palestinian" as a country.
const countryVariants = `
ARE UAE|U.A.E.
BHS Bahamas, The
BIH Bosnia-Herzegovina|Bosnia
BOL Bolivia|Plurinational State of Bolivia
BRN Brunei
CHN People's Republic of China|China, People's Republic of|PRC|Mainland China
CIV Cote d Ivoire|Ivory Coast
COD Democratic Republic of the Congo|Congo, The Democratic Republic of the|Congo (Kinshasa)|DR Congo|DRC
COG Republic of the Congo|Congo, Republic of the|Congo (Brazzaville)|Congo-Brazzaville
CPV Cape Verde
CZE Czech Republic
DEU Federal Republic of Germany
FLK Falkland Islands
FSM Micronesia, Federated States of|Federated States of Micronesia|Micronesia
GBR United Kingdom|UK|U.K.|Great Britain|Britain|England|Scotland|Wales|Northern Ireland
GMB Gambia, The
HKG Hong Kong SAR|China, Hong Kong Special Administrative Region|Hong Kong Special Administrative Region of China
IRN Iran|Islamic Republic of Iran|Iran, Islamic Republic of
KGZ Kyrgyz Republic
KNA Saint Christopher and Nevis
KOR Korea, South|South Korea|Republic of Korea
LAO Laos|Lao PDR
MAC Macau|China, Macao Special Administrative Region|Macao Special Administrative Region of China
MDA Moldova|Republic of Moldova
MKD Macedonia|Macedonia, The Former Yugoslav Republic of|The former Yugoslav Republic of Macedonia|Republic of North Macedonia
MMR Burma
NLD The Netherlands|Holland
PRK Korea, North|North Korea|Democratic People's Republic of Korea|DPRK
PSE Palestine|State of Palestine|Palestinian|Palestinian Territories|Occupied Palestinian Territory|West Bank|Gaza|Gaza Strip|West Bank and Gaza
RUS Russia
SHN Saint Helena
SJM Svalbard
STP São Tomé and Príncipe
SVK Slovak Republic
SWZ Swaziland|Kingdom of Eswatini
SXM Sint Maarten
MAF Saint Martin
SYR Syria
TLS East Timor
TUR Turkey|Turkiye|Republic of Türkiye
TWN Taiwan|Republic of China|Chinese Taipei
TZA Tanzania|United Republic of Tanzania
USA United States|US|U.S.|U.S.A.|United States of America
VAT Vatican|Vatican City|Vatican City State|Holy See (Vatican City State)
VEN Venezuela|Bolivarian Republic of Venezuela
VGB Virgin Islands, British|British Virgin Islands
VIR Virgin Islands, U.S.|US Virgin Islands|United States Virgin Islands
VNM Vietnam
`
