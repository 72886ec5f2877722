package lists

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/entente/entente/node/screen"
)

// fuzzMax is the file size limit during fuzzing: small, so that the limits are exercised
// and memory stays bounded whatever the fuzzer generates.
const fuzzMax = 1 << 20

// checkFuzz checks that a parser given arbitrary bytes either refuses them with a
// *ParseError or returns entities that keep the package's promises.
func checkFuzz(t *testing.T, err error, c *collector) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *ParseError", err, err)
		}
		if pe.File == "" || pe.Line < 0 {
			t.Fatalf("bad ParseError %+v", pe)
		}
		return
	}
	seen := map[string]bool{}
	for _, e := range c.entities {
		if seen[e.ID] {
			t.Fatalf("duplicate ID %q", e.ID)
		}
		seen[e.ID] = true
		checkEntity(t, e)
	}
	res := c.result("fuzz")
	checkInvariants(t, res.Entities)
}

func checkEntity(t *testing.T, e screen.Entity) {
	t.Helper()
	if e.ID == "" || len(e.Names) == 0 || len(e.Names) > MaxNames {
		t.Fatalf("entity %+v: ID or names out of bounds", e)
	}
	for _, n := range e.Names {
		if n == "" || !utf8.ValidString(n) {
			t.Fatalf("entity %q: bad name %q", e.ID, n)
		}
	}
}

// seedFile adds a real file's first bytes as a seed when the shared data is present.
func seedFile(f *testing.F, path string, n int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if len(b) > n {
		b = b[:n]
	}
	f.Add(b)
}

func FuzzOFAC(f *testing.F) {
	f.Add([]byte("36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a"))
	f.Add([]byte("10481,\"SOLEIMANI, Qasem\",\"individual\",\"SDGT] [IRGC\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 11 Mar 1957; alt. DOB 1955 to 1958; nationality Iran; Passport 008827 (Iran) issued 1999; a.k.a. 'X'.\"\r\n"))
	f.Add([]byte("15036,\"ARTAVIL\",\"vessel\",\"IRAN\",-0- ,\"T2EU4\",\"Tanker\",\"99,144\",\"56,068\",\"Iran\",-0- ,\"Vessel Registration Identification IMO 9187629; MMSI 572469210.\"\r\n"))
	f.Add([]byte("1,\"A\",\"xx\",,,,,,,,,\r\n2,\"unterminated"))
	seedFile(f, sharedData+"/ofac_sdn_2021/sdn.csv", 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		set := &ofacSet{byNum: map[string]*ofacEntry{}}
		c := &collector{list: "ofac-sdn"}
		err := set.readPrim(newSource("sdn.csv", bytes.NewReader(data), fuzzMax, nil))
		if err == nil {
			// The same bytes as the three secondary files exercise their decoders
			// against the entries just read.
			for _, step := range []struct {
				name string
				read func(*ofacSet, *source) error
			}{{"sdn_comments.csv", (*ofacSet).readComments}, {"add.csv", (*ofacSet).readAddresses}, {"alt.csv", (*ofacSet).readAliases}} {
				if e := step.read(set, newSource(step.name, bytes.NewReader(data), fuzzMax, nil)); e != nil {
					checkFuzz(t, e, c)
				}
			}
			set.finish(c)
		}
		checkFuzz(t, err, c)
	})
}

func FuzzUNXML(f *testing.F) {
	f.Add([]byte(`<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>SADDAM</FIRST_NAME><REFERENCE_NUMBER>IQi.001</REFERENCE_NUMBER>` +
		`<NAME_ORIGINAL_SCRIPT>صدام حسين التكريتي</NAME_ORIGINAL_SCRIPT><INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Abu Ali</ALIAS_NAME></INDIVIDUAL_ALIAS>` +
		`<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1973</FROM_YEAR><TO_YEAR>1974</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>` +
		`<INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>D00001184</NUMBER><ISSUING_COUNTRY>Chad</ISSUING_COUNTRY></INDIVIDUAL_DOCUMENT>` +
		`</INDIVIDUAL></INDIVIDUALS><ENTITIES><ENTITY><FIRST_NAME>ADF</FIRST_NAME><DATAID>1</DATAID></ENTITY></ENTITIES></CONSOLIDATED_LIST>`))
	f.Add([]byte(`<?xml version="1.0"?><CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><CONSOLIDATED_LIST>&a;</CONSOLIDATED_LIST>`))
	seedFile(f, sharedData+"/un/UN_consolidated.xml", 8192)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &collector{list: "un"}
		checkFuzz(t, readUN(newSource("un.xml", bytes.NewReader(data), fuzzMax, nil), c), c)
	})
}

func FuzzCSL(f *testing.F) {
	f.Add([]byte("source,entity_number,type,programs,name,addresses,alt_names,ids,dates_of_birth,citizenships\n" +
		"\"Specially Designated Nationals (SDN) - Treasury Department\",9673,Individual,NS-PLC,\"ABU JHEISHEH, Mohammed\",\"Tulkarim, West Bank, PS\",\"A; B\",\"Passport, 836238033, KP; US, 80-0890696, Tax ID No.\",\"1974; 1975\",TR\n"))
	f.Add([]byte("\ufeff_id,source,entity_number,type,programs,name,addresses,alt_names,ids\n\"1\",\"S\",\"\",\"Vessel\",\"\",\"N\",\"CN\",\"\",\"IMO 8898831, Vessel Registration Identification\"\n\"1\",\"S\",\"\",\"\",\"\",\"M\",\"\",\"\",\"\"\n"))
	seedFile(f, sharedData+"/csl/consolidated_sample.csv", 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &collector{list: "csl"}
		checkFuzz(t, readCSL(newSource("csl.csv", bytes.NewReader(data), fuzzMax, nil), c), c)
	})
}

func FuzzDPL(f *testing.F) {
	f.Add([]byte("\"Name\"\t\"Street_Address\"\t\"City\"\t\"State\"\t\"Country\"\t\"Postal_Code\"\t\"Effective_Date\"\t\"Expiration_Date\"\t\"Standard_Order\"\t\"Last_Update\"\t\"Action\"\t\"FR_Citation\"\n" +
		"\"ABDULAH AL NASSER\"\t\"605 TRAIL LAKE DRIVE\"\t\"RICHARDSON\"\t\"TX\"\t\"US\"\t\"75081\"\t\"03/04/2002\"\t\"06/29/2056\"\t\"Y\"\t\"2006-07-11\"\t\"50 YEAR DENIAL\"\t\"67 F.R. 56530 9/4/02\"\n" +
		"\"ABDULAH AL NASSER\"\t\"908 AUDELIA ROAD\"\t\"RICHARDSON\"\t\"TX\"\t\"PRC\"\t\"75081\"\t\"03/04/2002\"\t\"\"\t\"Y\"\t\"\"\t\"\"\t\"\"\n"))
	seedFile(f, sharedData+"/bis/dpl_2022.txt", 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &collector{list: "bis-dpl"}
		checkFuzz(t, readDPL(newSource("dpl.txt", bytes.NewReader(data), fuzzMax, nil), c), c)
	})
}

func FuzzFTM(f *testing.F) {
	if b, err := os.ReadFile("testdata/opensanctions_sample.ftm.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","schema":"Airplane","properties":{"name":["EP-GOM"],"registrationNumber":["EP-GOM"],"birthDate":["1952-10-07T00:00:00"]}}` + "\n" + `{"id":"y","schema":"Sanction"}`))
	f.Add([]byte(`{"id":"x","schema":"Person","properties":{"name":[1]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &collector{list: "ftm"}
		checkFuzz(t, readFTM(newSource("ftm.json", bytes.NewReader(data), fuzzMax, nil), c), c)
	})
}
