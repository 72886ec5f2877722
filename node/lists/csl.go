package lists

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	"github.com/entente/entente/node/screen"
)

// cslColumns are the columns both known layouts of the Consolidated Screening List CSV
// share: the 2019 layout (no _id) and the current one (_id first). The header is matched
// by name, so column order does not matter and extra columns are ignored.
var cslColumns = []string{"source", "entity_number", "type", "programs", "name", "addresses", "alt_names", "ids"}

var cslTypes = map[string]string{"individual": "person", "entity": "organisation", "vessel": "vessel", "aircraft": "aircraft", "": ""}

func parseCSL(path string, m *meter, c *collector) error {
	size, _, err := statInput(path, false)
	if err != nil {
		return err
	}
	m.start(size)
	return openInput(path, m, func(src *source) error { return readCSL(src, c) })
}

func readCSL(src *source, c *collector) error {
	r := newCSV(src, ',')
	header, hline, err := r.next()
	if err == io.EOF {
		return errorf(src.name, 0, "file has no header")
	}
	if err != nil {
		return err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(clean(h))] = i
	}
	for _, want := range cslColumns {
		if _, ok := col[want]; !ok {
			return errorf(src.name, hline, "header lacks column %q: not a Consolidated Screening List CSV", want)
		}
	}
	seen := map[string]string{} // ID -> content hash
	for {
		rec, line, err := r.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec) != len(header) {
			return errorf(src.name, line, "want %d fields as in the header, got %d", len(header), len(rec))
		}
		src.lim.m.record()
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return clean(rec[i])
			}
			return ""
		}
		typ, ok := cslTypes[strings.ToLower(get("type"))]
		if !ok {
			return errorf(src.name, line, "field %d (type): %q is not Individual, Entity, Vessel, Aircraft or empty", col["type"]+1, get("type"))
		}
		// The ID is the source's own where it has one: the current layout's _id, which
		// for OFAC-derived rows equals the OFAC ent_num, so the 2019 layout's
		// entity_number gives the same IDs. Rows from BIS and State lists in the 2019
		// layout have neither; they get a digest of source, name and addresses, which
		// survives amendments to dates, notices and remarks. Should two different
		// rows still share an ID, the later one is told apart by its full digest.
		sum := contentHash(rec)
		id := get("_id")
		if id == "" {
			id = get("entity_number")
		}
		if id == "" {
			id = contentHash([]string{get("source"), get("name"), get("addresses")})[:32]
		}
		if prev, dup := seen[id]; dup {
			if prev == sum {
				c.skipped++ // the same row published twice
				continue
			}
			id += "~" + sum[:12]
		}
		seen[id] = sum

		e := screen.Entity{ID: id, Type: typ, Names: []string{get("name")}}
		e.Names = append(e.Names, splitList(get("alt_names"), ";")...)
		e.Programs = append([]string{get("source")}, splitList(get("programs"), ";")...)
		for _, a := range splitList(get("addresses"), ";") {
			e.Addresses = append(e.Addresses, a)
			if i := strings.LastIndex(a, ", "); i >= 0 && len(a)-i == 4 {
				if code, ok := CountryCode(a[i+2:]); ok {
					e.Countries = append(e.Countries, code)
				}
			} else if len(a) == 2 {
				if code, ok := CountryCode(a); ok {
					e.Countries = append(e.Countries, code)
				}
			}
		}
		codes, unknown := countries(CountryCode, append(splitList(get("citizenships"), ";"), splitList(get("nationalities"), ";")...)...)
		e.Countries = append(e.Countries, codes...)
		if code, ok := CountryCode(get("vessel_flag")); ok {
			e.Countries = append(e.Countries, code)
		}
		for _, d := range splitList(get("dates_of_birth"), ";") {
			e.BirthDates = append(e.BirthDates, birthDates(d)...)
		}
		var notes []string
		for _, item := range splitList(get("ids"), ";") {
			if id, ok := cslIdentifier(item); ok {
				e.Identifiers = append(e.Identifiers, id)
			} else {
				notes = append(notes, item)
			}
		}

		remark(&e.Remarks, get("remarks"))
		for _, f := range []struct{ label, col string }{
			{"Title", "title"}, {"Place of birth", "places_of_birth"}, {"Call sign", "call_sign"},
			{"Vessel type", "vessel_type"}, {"Vessel flag", "vessel_flag"}, {"Vessel owner", "vessel_owner"},
			{"Federal Register", "federal_register_notice"}, {"Start date", "start_date"}, {"End date", "end_date"},
			{"License requirement", "license_requirement"}, {"License policy", "license_policy"},
		} {
			if v := get(f.col); v != "" {
				remark(&e.Remarks, f.label+": "+v)
			}
		}
		for _, n := range unknown {
			remark(&e.Remarks, "Country: "+n)
		}
		for _, n := range notes {
			remark(&e.Remarks, n)
		}
		c.add(e, nil)
	}
}

// cslIdentifier reads one item of the ids column. The 2019 layout writes
// "[country, ]value, label" ("CO, 811038291-3, NIT #"), the current one
// "label, value[, country]" ("Passport, U00242309, TR"); the label is recognised at
// whichever end it stands. Items without a known label ("Gender, Male", "Website, ...")
// are not identifiers.
func cslIdentifier(item string) (screen.Identifier, bool) {
	parts := strings.Split(item, ", ")
	if len(parts) < 2 || len(parts) > 3 {
		return screen.Identifier{}, false
	}
	country := ""
	if scheme, ok := lookupLabel(parts[0]); ok {
		if len(parts) == 3 {
			country = parts[2]
		}
		return identifier(scheme, parts[1], country)
	}
	last := len(parts) - 1
	if scheme, ok := lookupLabel(parts[last]); ok {
		if len(parts) == 3 {
			country = parts[0]
		}
		return identifier(scheme, parts[last-1], country)
	}
	return screen.Identifier{}, false
}

// contentHash digests a record's fields, unambiguously separated.
func contentHash(rec []string) string {
	h := sha256.New()
	for _, f := range rec {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
