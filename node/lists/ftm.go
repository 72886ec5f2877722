package lists

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/entente/entente/node/screen"
)

// ftmTypes maps the FollowTheMoney schemata screening cares about. Other schemata in an
// OpenSanctions export (Address, Sanction, Ownership, Identification...) describe
// relations or details rather than parties; they are skipped and counted.
var ftmTypes = map[string]string{
	"Person":       "person",
	"Company":      "organisation",
	"Organization": "organisation",
	"LegalEntity":  "organisation",
	"PublicBody":   "organisation",
	"Vessel":       "vessel",
	"Airplane":     "aircraft",
}

// ftmIDProps maps identifier properties to schemes. registrationNumber of an Airplane is
// its registration mark and is handled separately.
var ftmIDProps = []struct{ prop, scheme string }{
	{"imoNumber", "imo"},
	{"passportNumber", "passport"},
	{"idNumber", "national-id"},
	{"registrationNumber", "registration"},
	{"ogrnCode", "registration"},
	{"taxNumber", "tax"},
	{"innCode", "tax"},
	{"vatCode", "tax"},
	{"leiCode", "lei"},
	{"swiftBic", "swift"},
	{"dunsCode", "duns"},
	{"mmsi", "other"},
}

// ftmRecord is one line of an FTM export. Properties are decoded lazily so that
// properties the import does not use may hold anything (nested entities, numbers).
type ftmRecord struct {
	ID         string                     `json:"id"`
	Schema     string                     `json:"schema"`
	Caption    string                     `json:"caption"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func parseFTM(path string, m *meter, c *collector) error {
	size, _, err := statInput(path, false)
	if err != nil {
		return err
	}
	m.start(size)
	return openInput(path, m, func(src *source) error { return readFTM(src, c) })
}

// readFTM reads FTM JSON lines, one entity per line.
func readFTM(src *source, c *collector) error {
	src.lim.records = false // the scanner enforces the line limit itself
	sc := bufio.NewScanner(src.br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxRecordBytes+1)
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		if src.lim.n > src.lim.max {
			// The scanner hands over the partial line the limit cut off; refuse the
			// file rather than report that line as bad JSON.
			return &ParseError{File: src.name, Reason: errFileTooLarge.Error(), err: errFileTooLarge}
		}
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return errorf(src.name, line, "line is not valid UTF-8")
		}
		src.lim.m.record()
		var r ftmRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return errorf(src.name, line, "invalid JSON: %v", err)
		}
		e, weak, err := r.entity()
		if err != nil {
			return errorf(src.name, line, "%v", err)
		}
		if e == nil {
			c.skipped++
			continue
		}
		if first, dup := seen[e.ID]; dup {
			return errorf(src.name, line, "duplicate id %q (first on line %d)", e.ID, first)
		}
		seen[e.ID] = line
		c.add(*e, weak)
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return &ParseError{File: src.name, Line: line + 1, Reason: "line longer than 1 MiB", err: errRecordTooLong}
	case errors.Is(err, errFileTooLarge):
		return &ParseError{File: src.name, Reason: errFileTooLarge.Error(), err: err}
	case err != nil:
		return &ParseError{File: src.name, Line: line + 1, Reason: err.Error(), err: err}
	}
	return nil
}

// entity maps a record; nil for a schema screening does not use.
func (r *ftmRecord) entity() (*screen.Entity, []string, error) {
	typ, ok := ftmTypes[r.Schema]
	if !ok {
		if r.Schema == "" {
			return nil, nil, fmt.Errorf("entity has no schema")
		}
		return nil, nil, nil
	}
	if clean(r.ID) == "" {
		return nil, nil, fmt.Errorf("%s entity has no id", r.Schema)
	}
	var bad error
	prop := func(name string) []string {
		raw, ok := r.Properties[name]
		if !ok || bad != nil {
			return nil
		}
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil {
			bad = fmt.Errorf("property %q is not a list of strings", name)
		}
		return v
	}
	e := &screen.Entity{ID: clean(r.ID), Type: typ}
	e.Names = append(prop("name"), r.Caption)
	e.Names = append(e.Names, prop("alias")...)
	e.Names = append(e.Names, prop("previousName")...)
	weak := prop("weakAlias")

	var values []string
	for _, p := range []string{"nationality", "citizenship", "country", "jurisdiction", "flag"} {
		values = append(values, prop(p)...)
	}
	codes, unknown := countries(CountryCode, values...)
	e.Countries = codes
	for _, d := range prop("birthDate") {
		// FTM dates are ISO prefixes ("1952", "1952-10", "1952-10-07", sometimes with
		// a time); keep the date part.
		if len(d) > 10 {
			d = d[:10]
		}
		e.BirthDates = append(e.BirthDates, birthDates(d)...)
	}
	for _, p := range ftmIDProps {
		scheme := p.scheme
		if p.prop == "registrationNumber" && typ == "aircraft" {
			scheme = "aircraft"
		}
		for _, v := range prop(p.prop) {
			if id, ok := identifier(scheme, v, ""); ok {
				e.Identifiers = append(e.Identifiers, id)
			}
		}
	}
	e.Addresses = prop("address")
	e.Programs = append(prop("program"), prop("programId")...)
	for _, n := range prop("notes") {
		remark(&e.Remarks, n)
	}
	for _, n := range unknown {
		remark(&e.Remarks, "Country: "+n)
	}
	if len(weak) > 0 {
		// Noted so that an officer reviewing a hit on one sees it is a weak alias.
		remark(&e.Remarks, "Weak aliases: "+strings.Join(uniq(weak), "; "))
	}
	if bad != nil {
		return nil, nil, bad
	}
	return e, weak, nil
}
