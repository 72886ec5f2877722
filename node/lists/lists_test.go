package lists

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/entente/entente/node/screen"
)

// sharedData is the directory of real public lists (see /work/shared/data/SOURCES.md).
const sharedData = "../../../shared/data"

// dataPath returns a path under sharedData, skipping the test when the data is absent
// (e.g. in a checkout without the shared data volume).
func dataPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real list data not available at %s (%v); see /work/shared/data/SOURCES.md", p, err)
	}
	return p
}

// parse parses and fails the test on error.
func parse(t testing.TB, format, path string) *Result {
	t.Helper()
	res, err := Parse(format, path, nil)
	if err != nil {
		t.Fatalf("Parse(%s, %s): %v", format, path, err)
	}
	return res
}

// byID finds an entity, failing the test when it is missing.
func byID(t testing.TB, res *Result, id string) screen.Entity {
	t.Helper()
	i, ok := slices.BinarySearchFunc(res.Entities, id, func(e screen.Entity, id string) int { return strings.Compare(e.ID, id) })
	if !ok {
		t.Fatalf("%s: no entity %q", res.Format, id)
	}
	return res.Entities[i]
}

func wantEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func hasID(e screen.Entity, id screen.Identifier) bool { return slices.Contains(e.Identifiers, id) }

func TestFormats(t *testing.T) {
	wantEqual(t, "Formats", Formats(), []string{"bis-dpl", "csl", "ftm", "ofac-cons", "ofac-sdn", "un-xml"})
}

func TestUnknownFormat(t *testing.T) {
	_, err := Read("ofac-xml", "x")
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name supported format %s", err, f)
		}
	}
}

func TestOFACSDN(t *testing.T) {
	res := parse(t, "ofac-sdn", dataPath(t, "ofac_sdn_2021"))
	// Verified on the raw file: grep -c $'\r$' sdn.csv = 8976 records; by SDN_Type
	// (grep of the third field) individual 4620, vessel 406, aircraft 277, -0- 3673.
	// SOURCES.md also says 8,976 records.
	wantEqual(t, "counts", [5]int{res.Counts.Entities, res.Counts.Persons, res.Counts.Organisations, res.Counts.Vessels, res.Counts.Aircraft},
		[5]int{8976, 4620, 3673, 406, 277})
	if res.Counts.Other != 0 || res.Counts.Skipped != 0 {
		t.Errorf("other=%d skipped=%d, want 0 (every alt/add/comment row belongs to an sdn.csv entry)", res.Counts.Other, res.Counts.Skipped)
	}
	// alt.csv has 11910 rows; remark a.k.a.s add more, exact duplicates are dropped.
	if res.Counts.Aliases < 11910 {
		t.Errorf("aliases = %d, want at least the 11910 rows of alt.csv", res.Counts.Aliases)
	}

	// sdn.csv: 10481,"SOLEIMANI, Qasem","individual","SDGT] [SYRIA] [NPWMD] [IRGC] [IFSR",...
	// "DOB 11 Mar 1957; POB Qom, Iran; nationality Iran; citizen Iran; ...; Diplomatic
	// Passport 008827 (Iran) issued 1999."; alt.csv has eight aliases.
	e := byID(t, res, "10481")
	wantEqual(t, "10481", e, screen.Entity{
		List: "ofac-sdn", ID: "10481", Type: "person",
		Names: []string{"SOLEIMANI, Qasem", "SOLEYMANI, Ghasem", "SALIMANI, Qasem", "SOLAIMANI, Qasem", "SOLEMANI, Qasem",
			"SOLEYMANI, Qasem", "SULAIMANI, Qasem", "SULEMANI, Qasem", "SULAYMAN, Qasim"},
		Countries:   []string{"IRN"},
		Identifiers: []screen.Identifier{{Scheme: "passport", Value: "008827", Country: "IRN"}},
		BirthDates:  []string{"1957-03-11"},
		Programs:    []string{"SDGT", "SYRIA", "NPWMD", "IRGC", "IFSR"},
		Remarks:     "DOB 11 Mar 1957; POB Qom, Iran; nationality Iran; citizen Iran; Additional Sanctions Information - Subject to Secondary Sanctions; Diplomatic Passport 008827 (Iran) issued 1999.",
	})

	// Vessel 15036 ARTAVIL: "Vessel Registration Identification IMO 9187629; MMSI
	// 572469210; f.k.a. 'ALPHA'", flag Iran.
	v := byID(t, res, "15036")
	if v.Type != "vessel" || v.Names[0] != "ARTAVIL" || !hasID(v, screen.Identifier{Scheme: "imo", Value: "9187629"}) {
		t.Errorf("15036 = %+v, want vessel ARTAVIL with IMO 9187629", v)
	}
	if v.Names[len(v.Names)-1] != "ALPHA" || !slices.Contains(v.Countries, "IRN") {
		t.Errorf("15036: weak alias ALPHA should come last and flag Iran give IRN: %+v", v)
	}

	// Aircraft 15431 EP-GOM: MSN 1023409321; the registration mark is an identifier too.
	a := byID(t, res, "15431")
	if a.Type != "aircraft" || !hasID(a, screen.Identifier{Scheme: "aircraft", Value: "EP-GOM"}) ||
		!hasID(a, screen.Identifier{Scheme: "aircraft", Value: "1023409321"}) {
		t.Errorf("15431 = %+v", a)
	}

	// 306 BANCO NACIONAL DE CUBA: four add.csv rows, alt.csv alias, remark a.k.a. 'BNC'
	// (a weak alias, hence last).
	b := byID(t, res, "306")
	wantEqual(t, "306 names", b.Names, []string{"BANCO NACIONAL DE CUBA", "NATIONAL BANK OF CUBA", "BNC"})
	wantEqual(t, "306 countries", b.Countries, []string{"CHE", "ESP", "JPN", "PAN"})
	wantEqual(t, "306 first address", b.Addresses[0], "Zweierstrasse 35, Zurich CH-8022, Switzerland")

	// 28264 LI, Jiadong: sdn.csv cuts the remark at "...; P"; sdn_comments.csv continues
	// "hone Number 8613314257947; ... Identification Number 210302198701102136 (China);
	// a.k.a. 'blackjack1987'; a.k.a. 'khaleesi'; Linked To: LAZARUS GROUP."
	li := byID(t, res, "28264")
	if !strings.Contains(li.Remarks, "; Phone Number 8613314257947;") {
		t.Errorf("28264 remarks not joined with the comments file: %q", li.Remarks)
	}
	wantEqual(t, "28264 names", li.Names, []string{"LI, Jiadong", "blackjack1987", "khaleesi"})
	if !hasID(li, screen.Identifier{Scheme: "national-id", Value: "210302198701102136", Country: "CHN"}) {
		t.Errorf("28264: identification number from the comments file missing: %+v", li.Identifiers)
	}

	// 12300 CIFUENTES VILLA: three DOBs, Colombian cedula, Mexican RFC.
	c := byID(t, res, "12300")
	wantEqual(t, "12300 birth dates", c.BirthDates, []string{"1965-05-13", "1968-04-13", "1964-07-07"})
	if !hasID(c, screen.Identifier{Scheme: "national-id", Value: "7548733", Country: "COL"}) {
		t.Errorf("12300 identifiers: %+v", c.Identifiers)
	}
}

func TestOFACCons(t *testing.T) {
	res := parse(t, "ofac-cons", dataPath(t, "ofac_nonsdn"))
	// grep -c $'\r$' cons_prim.csv = 442; grep -c ',"individual",' = 79.
	wantEqual(t, "counts", [3]int{res.Counts.Entities, res.Counts.Persons, res.Counts.Organisations}, [3]int{442, 79, 363})
	// 17016 GAZPROMBANK: the LEI, tax and registration numbers are only in
	// cons_comments.csv; SWIFT/BIC is in cons_prim.csv.
	g := byID(t, res, "17016")
	for _, id := range []screen.Identifier{
		{Scheme: "swift", Value: "GAZPRUMM"},
		{Scheme: "tax", Value: "7744001497", Country: "RUS"},
		{Scheme: "lei", Value: "253400WSS48YWMBUA688"},
		{Scheme: "registration", Value: "1027700167110", Country: "RUS"},
	} {
		if !hasID(g, id) {
			t.Errorf("17016 lacks %+v: %+v", id, g.Identifiers)
		}
	}
	if g.List != "ofac-cons" || g.Names[0] != "GAZPROMBANK JOINT STOCK COMPANY" || !slices.Contains(g.Names, "BANK GPB JSC") {
		t.Errorf("17016 = %+v", g)
	}
}

func TestUN(t *testing.T) {
	res := parse(t, "un-xml", dataPath(t, "un/UN_consolidated.xml"))
	// grep -c '<INDIVIDUAL>' = 730, grep -c '<ENTITY>' = 273, as SOURCES.md says.
	wantEqual(t, "counts", [3]int{res.Counts.Entities, res.Counts.Persons, res.Counts.Organisations}, [3]int{1003, 730, 273})

	// IQi.001: SADDAM HUSSEIN AL-TIKRITI, original script صدام حسين التكريتي, Low
	// quality alias "Abu Ali", DOB 1937-04-28, nationality Iraq.
	wantEqual(t, "IQi.001", byID(t, res, "IQi.001"), screen.Entity{
		List: "un", ID: "IQi.001", Type: "person",
		Names:      []string{"SADDAM HUSSEIN AL-TIKRITI", "صدام حسين التكريتي", "Abu Ali"},
		Countries:  []string{"IRQ"},
		BirthDates: []string{"1937-04-28"},
		Programs:   []string{"Iraq"},
		Remarks:    "Place of birth: al-Awja, near Tikrit, Iraq; Low quality aliases: Abu Ali",
	})

	// CDi.003: the Low quality alias "Rumuli" is listed first in the XML but goes last.
	g := byID(t, res, "CDi.003")
	wantEqual(t, "CDi.003 names", g.Names, []string{"GASTON IYAMUREMYE", "Byiringiro Victor Rumuli", "Victor Rumuri", "Michel Byiringiro", "Rumuli"})

	// QDi.290: Cyrillic original-script name.
	if u := byID(t, res, "QDi.290"); !slices.Contains(u.Names, "Умаров Доку Хаматович") {
		t.Errorf("QDi.290 names = %q", u.Names)
	}
	// CFi.002: passport D00001184 issued by the Central African Republic.
	if n := byID(t, res, "CFi.002"); !hasID(n, screen.Identifier{Scheme: "passport", Value: "D00001184", Country: "CAF"}) {
		t.Errorf("CFi.002 identifiers = %+v", n.Identifiers)
	}
	// CDi.030: DATE_OF_BIRTH BETWEEN 1973 and 1974.
	wantEqual(t, "CDi.030 birth dates", byID(t, res, "CDi.030").BirthDates, []string{"1973", "1974"})
	// CDe.001 ADF: entity with a.k.a. and f.k.a. aliases, accents preserved.
	adf := byID(t, res, "CDe.001")
	if adf.Type != "organisation" || !slices.Contains(adf.Names, "Forces Démocratiques Alliées-Armée Nationale de Libération de l’Ouganda") {
		t.Errorf("CDe.001 = %+v", adf)
	}
}

func TestCSL2019(t *testing.T) {
	res := parse(t, "csl", dataPath(t, "csl/csl_2019_subset.csv"))
	// tail -n +2 csl_2019_subset.csv | wc -l = 115 rows, no quoted newlines.
	if res.Counts.Entities != 115 {
		t.Errorf("entities = %d, want 115", res.Counts.Entities)
	}
	// Row with entity_number 17254 (SSI): AK TRANSNEFT OAO, ids
	// "1027700049486, Registration ID; 00044463, Government Gazette Number; 7706061801, Tax ID No.".
	tr := byID(t, res, "17254")
	if tr.Type != "organisation" || tr.Names[0] != "AK TRANSNEFT OAO" || !slices.Contains(tr.Names, "TRANSNEFT") ||
		!hasID(tr, screen.Identifier{Scheme: "tax", Value: "7706061801"}) ||
		!hasID(tr, screen.Identifier{Scheme: "registration", Value: "1027700049486"}) {
		t.Errorf("17254 = %+v", tr)
	}
	if tr.Programs[0] != "Sectoral Sanctions Identifications List (SSI) - Treasury Department" || !slices.Contains(tr.Countries, "RUS") {
		t.Errorf("17254 programs/countries = %q %q", tr.Programs, tr.Countries)
	}
	// "CO, 811038291-3, NIT #": country first in the 2019 layout; vessel IMO 8898831.
	var nit, imo bool
	for _, e := range res.Entities {
		nit = nit || hasID(e, screen.Identifier{Scheme: "tax", Value: "811038291-3", Country: "COL"})
		imo = imo || (e.Type == "vessel" && hasID(e, screen.Identifier{Scheme: "imo", Value: "8898831"}))
	}
	if !nit || !imo {
		t.Errorf("NIT 811038291-3 (COL) found: %v; vessel IMO 8898831 found: %v", nit, imo)
	}
}

func TestCSLCurrent(t *testing.T) {
	res := parse(t, "csl", dataPath(t, "csl/consolidated_sample.csv"))
	// grep -c '^"' consolidated_sample.csv = 13 rows (the last has no newline).
	if res.Counts.Entities != 13 {
		t.Errorf("entities = %d, want 13", res.Counts.Entities)
	}
	// _id is the ID; "Komitas 26/114, Yerevan, Armenia, AM" gives ARM.
	a := byID(t, res, "1b5979e8fd3920a1a0985bf5088dad930a6a5562d1513f9e4b015e42")
	wantEqual(t, "Atlas", [3]any{a.Names[0], a.Countries, a.Programs}, [3]any{"Atlas Sanatgaran", []string{"ARM"}, []string{"Unverified List (UVL) - Bureau of Industry and Security"}})
	// "Passport, 836238033, KP": label first in the current layout.
	var found bool
	for _, e := range res.Entities {
		found = found || hasID(e, screen.Identifier{Scheme: "passport", Value: "836238033", Country: "PRK"})
	}
	if !found {
		t.Error("passport 836238033 (PRK) not found")
	}
}

func TestDPL(t *testing.T) {
	res := parse(t, "bis-dpl", dataPath(t, "bis/dpl_2022.txt"))
	// 581 data rows; one entity per denial order. Verified with
	//   tail -n +2 dpl_2022.txt | awk -F'\t' '{n=toupper($1); gsub(/ +/," ",n); print n FS $7}' | sort -u | wc -l
	// = 461 distinct (name, effective date) pairs.
	if res.Counts.Entities != 461 || res.Counts.Other != 461 {
		t.Errorf("counts = %+v, want 461 entities of unknown type", res.Counts)
	}
	// ABDULAH AL NASSER, effective 03/04/2002, has two address rows.
	var got *screen.Entity
	for i, e := range res.Entities {
		if e.Names[0] == "ABDULAH AL NASSER" {
			got = &res.Entities[i]
		}
	}
	if got == nil {
		t.Fatal("ABDULAH AL NASSER missing")
	}
	wantEqual(t, "addresses", got.Addresses, []string{"605 TRAIL LAKE DRIVE, RICHARDSON, TX, 75081, US", "908 AUDELIA ROAD, SUIE 200, PMB #245, RICHARDSON, TX, 75081, US"})
	wantEqual(t, "countries", got.Countries, []string{"USA"})
	// "FUYI SUN A/K/A FRANK SUN": the name as published, then its parts.
	var fuyi bool
	for _, e := range res.Entities {
		fuyi = fuyi || slices.Equal(e.Names, []string{"FUYI SUN A/K/A FRANK SUN", "FUYI SUN", "FRANK SUN"})
	}
	if !fuyi {
		t.Error("FUYI SUN A/K/A FRANK SUN not split into aliases")
	}
}

func TestFTM(t *testing.T) {
	res := parse(t, "ftm", "testdata/opensanctions_sample.ftm.json")
	// 14 entity lines and one blank line; the Address and Sanction lines are skipped.
	wantEqual(t, "counts", res.Counts, Counts{Entities: 12, Persons: 4, Organisations: 6, Vessels: 1, Aircraft: 1,
		Aliases: res.Counts.Aliases, Identifiers: res.Counts.Identifiers, Skipped: 2})
	wantEqual(t, "ofac-10481", byID(t, res, "ofac-10481"), screen.Entity{
		List: "ftm", ID: "ofac-10481", Type: "person",
		Names:       []string{"Qasem SOLEIMANI", "Ghasem SOLEYMANI", "Qasim SULAYMAN", "قاسم سلیمانی"},
		Countries:   []string{"IRN"},
		Identifiers: []screen.Identifier{{Scheme: "passport", Value: "008827"}},
		BirthDates:  []string{"1957-03-11"},
		Programs:    []string{"SDGT", "IRGC"},
	})
	s := byID(t, res, "unsc-6908048")
	wantEqual(t, "Saddam names", s.Names, []string{"Saddam Hussein Al-Tikriti", "صدام حسين التكريتي", "Abu Ali"})
	wantEqual(t, "Saddam remarks", s.Remarks, "Place of birth: al-Awja, near Tikrit, Iraq; Weak aliases: Abu Ali")
	if p := byID(t, res, "Q7747"); !slices.Contains(p.Names, "Владимир Владимирович Путин") || !slices.Equal(p.Countries, []string{"RUS"}) ||
		!strings.Contains(p.Remarks, "suhh") {
		t.Errorf("Q7747 = %+v (Soviet Union code suhh should be dropped to remarks)", p)
	}
	g := byID(t, res, "ofac-17016")
	for _, id := range []screen.Identifier{{Scheme: "lei", Value: "253400WSS48YWMBUA688"}, {Scheme: "swift", Value: "GAZPRUMM"}, {Scheme: "tax", Value: "7744001497"}} {
		if !hasID(g, id) {
			t.Errorf("ofac-17016 lacks %+v", id)
		}
	}
	if v := byID(t, res, "ofac-15036"); v.Type != "vessel" || !hasID(v, screen.Identifier{Scheme: "imo", Value: "9187629"}) || !slices.Equal(v.Countries, []string{"IRN"}) {
		t.Errorf("ofac-15036 = %+v", v)
	}
	if a := byID(t, res, "ofac-15431"); a.Type != "aircraft" || !hasID(a, screen.Identifier{Scheme: "aircraft", Value: "EP-GOM"}) {
		t.Errorf("ofac-15431 = %+v", a)
	}
	if k := byID(t, res, "fixture-xk-1"); k.Countries != nil || !strings.Contains(k.Remarks, "Country: xk") {
		t.Errorf("fixture-xk-1: Kosovo has no ISO code and must stay out of Countries: %+v", k)
	}
}

// TestIdempotent re-imports every real list: the same files must give the same Version
// and deep-equal entities in the same order.
func TestIdempotent(t *testing.T) {
	for _, c := range realLists(t) {
		t.Run(c.format+"/"+filepath.Base(c.path), func(t *testing.T) {
			a, b := parse(t, c.format, c.path), parse(t, c.format, c.path)
			if a.Version != b.Version || !strings.HasPrefix(a.Version, "sha256:") || len(a.Version) != len("sha256:")+64 {
				t.Errorf("versions %q and %q", a.Version, b.Version)
			}
			if !reflect.DeepEqual(a.Entities, b.Entities) {
				t.Error("entities differ between two reads")
			}
			checkInvariants(t, a.Entities)
		})
	}
}

type listFile struct{ format, path string }

func realLists(t *testing.T) []listFile {
	l := []listFile{{"ftm", "testdata/opensanctions_sample.ftm.json"}}
	if _, err := os.Stat(sharedData); err != nil {
		t.Logf("real list data not available at %s; only the FTM fixture is checked", sharedData)
		return l
	}
	return append(l,
		listFile{"ofac-sdn", filepath.Join(sharedData, "ofac_sdn_2021")},
		listFile{"ofac-cons", filepath.Join(sharedData, "ofac_nonsdn")},
		listFile{"un-xml", filepath.Join(sharedData, "un/UN_consolidated.xml")},
		listFile{"csl", filepath.Join(sharedData, "csl/csl_2019_subset.csv")},
		listFile{"csl", filepath.Join(sharedData, "csl/consolidated_sample.csv")},
		listFile{"bis-dpl", filepath.Join(sharedData, "bis/dpl_2022.txt")},
	)
}

// checkInvariants checks what every importer promises about its entities.
func checkInvariants(t testing.TB, es []screen.Entity) {
	t.Helper()
	for i, e := range es {
		if e.ID == "" || len(e.Names) == 0 || e.Names[0] == "" || len(e.Names) > MaxNames {
			t.Fatalf("entity %d: bad ID or names: %+v", i, e)
		}
		if i > 0 && es[i-1].ID >= e.ID {
			t.Fatalf("entities not sorted by unique ID at %d: %q, %q", i, es[i-1].ID, e.ID)
		}
		switch e.Type {
		case "", "person", "organisation", "vessel", "aircraft":
		default:
			t.Fatalf("%s: type %q", e.ID, e.Type)
		}
		for _, c := range e.Countries {
			if code, ok := CountryCode(c); !ok || code != c {
				t.Fatalf("%s: country %q is not an ISO alpha-3 code", e.ID, c)
			}
		}
		for _, d := range e.BirthDates {
			if len(d) != 4 && len(d) != 7 && len(d) != 10 {
				t.Fatalf("%s: birth date %q", e.ID, d)
			}
		}
		for _, id := range e.Identifiers {
			switch id.Scheme {
			case "imo", "passport", "national-id", "registration", "tax", "lei", "duns", "swift", "aircraft", "other":
			default:
				t.Fatalf("%s: identifier scheme %q", e.ID, id.Scheme)
			}
		}
	}
}

func TestVersionChangesWithContent(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) *Result {
		if err := os.WriteFile(filepath.Join(dir, "sdn.csv"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return parse(t, "ofac-sdn", dir)
	}
	a := write("36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n")
	b := write("36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 1960\"\r\n")
	if a.Version == b.Version {
		t.Error("changing a remark did not change the version")
	}
}

func TestProgress(t *testing.T) {
	path := dataPath(t, "un/UN_consolidated.xml")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var calls [][2]int64
	if _, err := Parse("un-xml", path, func(done, total int64) { calls = append(calls, [2]int64{done, total}) }); err != nil {
		t.Fatal(err)
	}
	if len(calls) < 2 || len(calls) > 102 {
		t.Fatalf("%d progress calls, want a few and at most ~1 per percent", len(calls))
	}
	for i, c := range calls {
		if c[1] != fi.Size() || (i > 0 && c[0] < calls[i-1][0]) {
			t.Fatalf("call %d = %v: want total %d and done non-decreasing", i, c, fi.Size())
		}
	}
	if last := calls[len(calls)-1]; last[0] != last[1] {
		t.Errorf("last call %v, want done == total", last)
	}
}

// TestMalformed checks that each broken input is refused with a ParseError naming the
// file and line.
func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		format, path, file string
		line               int
		reason             string
	}{
		{"ofac-sdn", "testdata/malformed/ofac_badtype", "sdn.csv", 3, `field 3 (SDN_Type): "xx" is not individual, vessel, aircraft or -0-`},
		{"ofac-sdn", "testdata/malformed/ofac_columns", "sdn.csv", 3, "want 12 fields"},
		{"ofac-sdn", "testdata/malformed/ofac_badutf8", "sdn.csv", 2, "field 2 is not valid UTF-8"},
		{"ofac-sdn", "testdata/malformed/ofac_empty", "sdn.csv", 0, "file is empty"},
		{"ofac-sdn", "testdata/malformed/ofac_nosdn", "sdn.csv", 0, "file not found"},
		{"ofac-sdn", "testdata/opensanctions_sample.ftm.json", "opensanctions_sample.ftm.json", 0, "expects a directory"},
		{"ofac-cons", "testdata/malformed/ofac_badtype", "cons_prim.csv", 0, "file not found"},
		{"un-xml", "testdata/malformed/un_truncated.xml", "un_truncated.xml", 16, "unexpected EOF"},
		{"un-xml", "testdata/malformed/un_badutf8.xml", "un_badutf8.xml", 16, "invalid UTF-8"},
		{"un-xml", "testdata/malformed/un_wrongroot.xml", "un_wrongroot.xml", 2, "not a UN consolidated list"},
		{"un-xml", "testdata/malformed/un_noref.xml", "un_noref.xml", 4, "neither REFERENCE_NUMBER nor DATAID"},
		{"un-xml", "testdata/malformed", "malformed", 0, "is a directory"},
		{"csl", "testdata/malformed/csl_columns.csv", "csl_columns.csv", 3, "want 29 fields as in the header, got 27"},
		{"csl", "testdata/malformed/csl_header.csv", "csl_header.csv", 1, `header lacks column "source"`},
		{"csl", "testdata/malformed/csl_badtype.csv", "csl_badtype.csv", 3, `field 4 (type): "Company"`},
		{"csl", "testdata/malformed/empty.csv", "empty.csv", 0, "file is empty"},
		{"csl", "testdata/malformed/header_only.csv", "header_only.csv", 0, "contains no entities"},
		{"csl", "testdata/malformed/no_such_file.csv", "no_such_file.csv", 0, "file not found"},
		{"bis-dpl", "testdata/malformed/dpl_columns.txt", "dpl_columns.txt", 3, "want 12 fields as in the header, got 11"},
		{"bis-dpl", "testdata/malformed/dpl_badutf8.txt", "dpl_badutf8.txt", 3, "field 1 is not valid UTF-8"},
		{"bis-dpl", "testdata/malformed/dpl_badquote.txt", "dpl_badquote.txt", 3, `extraneous or missing " in quoted-field`},
		{"bis-dpl", "testdata/malformed/csl_header.csv", "csl_header.csv", 1, "not a Denied Persons List"},
		{"ftm", "testdata/malformed/ftm_badjson.json", "ftm_badjson.json", 2, "invalid JSON"},
		{"ftm", "testdata/malformed/ftm_badutf8.json", "ftm_badutf8.json", 2, "not valid UTF-8"},
		{"ftm", "testdata/malformed/ftm_noid.json", "ftm_noid.json", 3, "Person entity has no id"},
		{"ftm", "testdata/malformed/ftm_badprop.json", "ftm_badprop.json", 2, `property "name" is not a list of strings`},
		{"ftm", "testdata/malformed/ftm_dupid.json", "ftm_dupid.json", 2, `duplicate id "ofac-7152" (first on line 1)`},
	} {
		t.Run(c.format+"/"+filepath.Base(c.path), func(t *testing.T) {
			checkParseError(t, c.format, c.path, c.file, c.line, c.reason)
		})
	}
}

func checkParseError(t *testing.T, format, path, file string, line int, reason string) {
	t.Helper()
	res, err := Parse(format, path, nil)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse = %v, %v; want a *ParseError", res, err)
	}
	if pe.File != file || pe.Line != line || !strings.Contains(pe.Reason, reason) {
		t.Errorf("got %q (file %q line %d), want file %q line %d reason containing %q", err, pe.File, pe.Line, file, line, reason)
	}
	if !strings.HasPrefix(err.Error(), "lists: "+file) {
		t.Errorf("message %q does not start with the file name", err)
	}
}

func TestMissingFileIsNotExist(t *testing.T) {
	_, err := Read("un-xml", "testdata/no-such.xml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
}

// TestOversizedRecords writes a record just over MaxRecordBytes and one far over it (the
// latter trips the reader-level backstop) in each format; both must be refused at the
// line of the record. The files are generated rather than kept in testdata to keep the
// repository small.
func TestOversizedRecords(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{MaxRecordBytes + 10, 3 * MaxRecordBytes} {
		big := strings.Repeat("A", size)
		ofacDir := filepath.Join(dir, fmt.Sprintf("ofac%d", size))
		if err := os.Mkdir(ofacDir, 0o755); err != nil {
			t.Fatal(err)
		}
		sdnLine := "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
		files := map[string]string{
			filepath.Join(ofacDir, "sdn.csv"): sdnLine + "173,\"" + big + "\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n",
			filepath.Join(dir, "big.xml"):     "<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>X</REFERENCE_NUMBER><COMMENTS1>" + big + "</COMMENTS1></INDIVIDUAL>\n</INDIVIDUALS></CONSOLIDATED_LIST>\n",
			filepath.Join(dir, "big.json"):    "{\"id\":\"a\",\"schema\":\"Person\",\"properties\":{\"name\":[\"A\"]}}\n{\"id\":\"b\",\"schema\":\"Person\",\"properties\":{\"name\":[\"" + big + "\"]}}\n",
			filepath.Join(dir, "big.txt"):     "Name\tStreet_Address\tCity\tState\tCountry\tPostal_Code\tEffective_Date\nA\tB\tC\tD\tUS\t1\t01/01/2020\n" + big + "\tB\tC\tD\tUS\t1\t01/01/2020\n",
		}
		for path, body := range files {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			checkParseError(t, "ofac-sdn", ofacDir, "sdn.csv", 2, "longer than 1 MiB")
			checkParseError(t, "un-xml", filepath.Join(dir, "big.xml"), "big.xml", 3, "longer than 1 MiB")
			checkParseError(t, "ftm", filepath.Join(dir, "big.json"), "big.json", 2, "longer than 1 MiB")
			checkParseError(t, "bis-dpl", filepath.Join(dir, "big.txt"), "big.txt", 3, "longer than 1 MiB")
		})
	}
}

// TestFileTooLarge drives the file size limit with a small limit, since a 2 GiB file
// is no test input.
func TestFileTooLarge(t *testing.T) {
	body := strings.Repeat("{\"id\":\"a\",\"schema\":\"Address\"}\n", 100)
	err := readFTM(newSource("huge.json", strings.NewReader(body), 1000, nil), &collector{list: "ftm"})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "huge.json" || !strings.Contains(pe.Reason, "larger than 2 GiB") {
		t.Errorf("err = %v", err)
	}
	c := &collector{list: "csl"}
	err = readCSL(newSource("huge.csv", strings.NewReader("source,entity_number,type,programs,name,addresses,alt_names,ids\n"+strings.Repeat("S,,,,N,,,\n", 200)), 1000, nil), c)
	if !errors.As(err, &pe) || pe.File != "huge.csv" || !strings.Contains(pe.Reason, "larger than 2 GiB") {
		t.Errorf("err = %v", err)
	}
}

func TestNameCap(t *testing.T) {
	var aliases []string
	for i := range MaxNames + 100 {
		aliases = append(aliases, fmt.Sprintf("%q", fmt.Sprint("ALIAS ", i)))
	}
	path := filepath.Join(t.TempDir(), "many.json")
	line := `{"id":"m","schema":"Company","properties":{"name":["MANY"],"alias":[` + strings.Join(aliases, ",") + `]}}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	res := parse(t, "ftm", path)
	if n := len(res.Entities[0].Names); n != MaxNames || res.Counts.Skipped != 101 {
		t.Errorf("names = %d, skipped = %d; want %d names and 101 dropped", n, res.Counts.Skipped, MaxNames)
	}
}

func TestCountryCode(t *testing.T) {
	for in, want := range map[string]string{
		"Iran": "IRN", "Iran (Islamic Republic of)": "IRN", "Korea, North": "PRK", "Democratic People's Republic of Korea": "PRK",
		"Korea, South": "KOR", "Russia": "RUS", "Russian Federation": "RUS", "Syria": "SYR", "Syrian Arab Republic": "SYR",
		"United Arab Emirates": "ARE", "Burma": "MMR", "Myanmar": "MMR", "AE": "ARE", "ae": "ARE", "irn": "IRN",
		"Congo, Democratic Republic of the": "COD", "Democratic Republic of the Congo": "COD", "Congo": "COG",
		"Congo, Republic of the": "COG", "Bahamas, The": "BHS", "The Gambia": "GMB", "Cote d Ivoire": "CIV",
		"Côte d'Ivoire": "CIV", "Türkiye": "TUR", "Turkey": "TUR", "Viet Nam": "VNM", "Vietnam": "VNM",
		"United Kingdom of Great Britain and Northern Ireland": "GBR", "UK": "GBR", "GB": "GBR",
		"United States of America": "USA", "US": "USA", "China, Hong Kong Special Administrative Region": "HKG",
		"Macau": "MAC", "Virgin Islands, British": "VGB", "West Bank": "PSE", "Palestinian": "PSE", "State of Palestine": "PSE",
		"United Republic of Tanzania": "TZA", "Macedonia, The Former Yugoslav Republic of": "MKD", "PRC": "CHN",
		"Saint Kitts and Nevis": "KNA", "St. Kitts and Nevis": "KNA", "Trinidad & Tobago": "TTO", " Laos ": "LAO",
	} {
		if got, ok := CountryCode(in); !ok || got != want {
			t.Errorf("CountryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Kosovo", "XK", "Netherlands Antilles", "former Soviet Union", "suhh", "Region: Crimea", "undetermined", "NM", "ZZZ"} {
		if got, ok := CountryCode(in); ok {
			t.Errorf("CountryCode(%q) = %q, want unknown", in, got)
		}
	}
	if c, ok := countryName("na"); ok {
		t.Errorf(`countryName("na") = %q; the UN's "not available" must not become Namibia`, c)
	}
	alpha3 := map[string]bool{}
	for _, c := range byCode {
		alpha3[c] = true
	}
	if len(alpha3) != 249 {
		t.Errorf("table has %d alpha-3 codes, ISO 3166-1 has 249", len(alpha3))
	}
}

func TestBirthDates(t *testing.T) {
	for in, want := range map[string][]string{
		"12 Jan 1960":                 {"1960-01-12"},
		"Jan 1960":                    {"1960-01"},
		"1960":                        {"1960"},
		"circa 1960":                  {"1960"},
		"circa 1979-1982":             {"1979", "1980", "1981", "1982"},
		"01 Jan 1961 to 31 Dec 1962":  {"1961", "1962"},
		"01 Feb 1960 to 29 Feb 1960":  {"1960-02"},
		"26 Sep 1946 to 07 Dec 1946.": {"1946"},
		"1900 to 1990":                {"1900", "1990"},
		"1960-03-01":                  {"1960-03-01"},
		"30 Feb 1960":                 nil,
		"unknown":                     nil,
	} {
		wantEqual(t, in, birthDates(in), want)
	}
}

func TestParseRemarks(t *testing.T) {
	f := parseRemarks("DOB 12 Jan 1960; alt. DOB 1961; POB Tehran, Iran; Passport A1234 (Iran) issued 2001 expires 2011; " +
		"IMO 9187629; nationality Iran; alt. citizen Korea, North; Registration ID 14063277; Tax ID No. 7706061801 (Russia); " +
		"Legal Entity Number 851683897 (Netherlands); Gender Male; a.k.a. 'NICK'; Company Number IMO 5055293.")
	wantEqual(t, "dates", f.birthDates, []string{"1960-01-12", "1961"})
	wantEqual(t, "countries", f.countries, []string{"IRN", "PRK"})
	wantEqual(t, "weak", f.weak, []string{"NICK"})
	wantEqual(t, "ids", f.identifiers, []screen.Identifier{
		{Scheme: "passport", Value: "A1234", Country: "IRN"},
		{Scheme: "imo", Value: "9187629"},
		{Scheme: "registration", Value: "14063277"},
		{Scheme: "tax", Value: "7706061801", Country: "RUS"},
		{Scheme: "registration", Value: "851683897", Country: "NLD"},
		{Scheme: "imo", Value: "5055293"},
	})
}

func TestCSLIdentifier(t *testing.T) {
	for in, want := range map[string]screen.Identifier{
		"US, 80-0890696, Tax ID No.":                      {Scheme: "tax", Value: "80-0890696", Country: "USA"},
		"01200175 (Bogota), Matricula Mercantil No":       {Scheme: "registration", Value: "01200175"},
		"IMO 8898831, Vessel Registration Identification": {Scheme: "imo", Value: "8898831"},
		"Passport, 836238033, KP":                         {Scheme: "passport", Value: "836238033", Country: "PRK"},
		"V.A.T. Number, CHE-267.936.404, CH":              {Scheme: "tax", Value: "CHE-267.936.404", Country: "CHE"},
		"RKBZCHZZ, SWIFT/BIC":                             {Scheme: "swift", Value: "RKBZCHZZ"},
		"Registration ID, C122790":                        {Scheme: "registration", Value: "C122790"},
	} {
		got, ok := cslIdentifier(in)
		if !ok || got != want {
			t.Errorf("cslIdentifier(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"Gender, Male", "www.aictc.ir, Website", "Subject to Secondary Sanctions, Additional Sanctions Information -"} {
		if got, ok := cslIdentifier(in); ok {
			t.Errorf("cslIdentifier(%q) = %+v, want no identifier", in, got)
		}
	}
}

// TestOFACJoin checks how the four OFAC files combine: remark overflow is joined exactly
// at the cut (here just after a space), rows for unknown entities are skipped and
// counted, and an empty optional file is accepted.
func TestOFACJoin(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"sdn.csv":          "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Registration ID 123; Passport \"\r\n\x1a",
		"sdn_comments.csv": "36,\"A1234 (Iran); a.k.a. 'AEROCARIBE'.\"\r\n",
		"alt.csv":          "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \r\n99,13,\"aka\",\"ORPHAN\",-0- \r\n",
		"add.csv":          "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := parse(t, "ofac-sdn", dir)
	wantEqual(t, "entities", res.Entities, []screen.Entity{{
		List: "ofac-sdn", ID: "36", Type: "organisation",
		Names:       []string{"AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN", "AEROCARIBE"},
		Identifiers: []screen.Identifier{{Scheme: "registration", Value: "123"}, {Scheme: "passport", Value: "A1234", Country: "IRN"}},
		Programs:    []string{"CUBA"},
		Remarks:     "Registration ID 123; Passport A1234 (Iran); a.k.a. 'AEROCARIBE'.",
	}})
	if res.Counts.Skipped != 1 {
		t.Errorf("skipped = %d, want 1 (the alias row for unknown ent_num 99)", res.Counts.Skipped)
	}
	entities, err := Read("ofac-sdn", dir)
	if err != nil || !reflect.DeepEqual(entities, res.Entities) {
		t.Errorf("Read = %v, %v; want the entities of Parse", entities, err)
	}
}
