package lists

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	"github.com/entente/entente/node/screen"
)

// dplColumns are the header columns of the BIS Denied Persons List TSV that the import
// needs; they are matched by name, case-insensitively.
var dplColumns = []string{"name", "street_address", "city", "state", "country", "postal_code", "effective_date"}

func parseDPL(path string, m *meter, c *collector) error {
	size, _, err := statInput(path, false)
	if err != nil {
		return err
	}
	m.start(size)
	return openInput(path, m, func(src *source) error { return readDPL(src, c) })
}

// readDPL reads the DPL. The DPL has one row per denied party and address, so a party
// denied under one order at three addresses takes three rows. Rows with the same name
// and effective date (one denial order) become one entity with all their addresses; the
// ID digests that pair, the only stable key the DPL has.
func readDPL(src *source, c *collector) error {
	r := newCSV(src, '\t')
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
	for _, want := range dplColumns {
		if _, ok := col[want]; !ok {
			return errorf(src.name, hline, "header lacks column %q: not a Denied Persons List TSV", want)
		}
	}
	byID := map[string]*screen.Entity{}
	var order []*screen.Entity
	for {
		rec, line, err := r.next()
		if err == io.EOF {
			break
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
		name := get("name")
		if name == "" {
			c.skipped++
			continue
		}
		key := sha256.Sum256([]byte(strings.ToUpper(name) + "\x00" + get("effective_date")))
		id := hex.EncodeToString(key[:16])
		e, ok := byID[id]
		if !ok {
			e = &screen.Entity{ID: id, Names: append([]string{name}, dplAliases(name)...)}
			byID[id] = e
			order = append(order, e)
		}
		e.Addresses = append(e.Addresses, joinNonEmpty(", ", get("street_address"), get("city"), get("state"), get("postal_code"), get("country")))
		if code, ok := CountryCode(get("country")); ok {
			e.Countries = append(e.Countries, code)
		}
		for _, part := range []string{
			prefixed("Effective ", get("effective_date")), prefixed("expires ", get("expiration_date")),
			prefixed("standard order: ", get("standard_order")), get("action"), get("fr_citation"),
		} {
			if part != "" && !strings.Contains(e.Remarks, part) {
				remark(&e.Remarks, part)
			}
		}
	}
	for _, e := range order {
		c.add(*e, nil)
	}
	return nil
}

// dplAliases splits names such as "FUYI SUN A/K/A FRANK SUN" or "SIBERIAN AIRLINES D/B/A
// S7 AIRLINES" into their parts, which become aliases after the name as published.
func dplAliases(name string) []string {
	var parts []string
	rest := name
	for {
		i, n := -1, 0
		for _, sep := range []string{" A/K/A ", " F/K/A ", " D/B/A ", " N/K/A "} {
			if j := strings.Index(strings.ToUpper(rest), sep); j >= 0 && (i < 0 || j < i) {
				i, n = j, len(sep)
			}
		}
		if i < 0 {
			break
		}
		parts = append(parts, rest[:i])
		rest = rest[i+n:]
	}
	if parts == nil {
		return nil
	}
	return append(parts, rest)
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
