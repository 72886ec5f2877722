package lists

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/entente/entente/node/screen"
)

// collector gathers the entities of one import and what was skipped.
type collector struct {
	list     string
	entities []screen.Entity
	skipped  int
}

// add cleans e (see tidy), appends weak aliases after the other names, and keeps it if
// it has a name. Weak aliases (UN "Low" quality, OFAC remark a.k.a.s, FTM weakAlias) come
// last so that a consumer showing "primary name and first aliases" shows strong ones.
func (c *collector) add(e screen.Entity, weak []string) {
	e.List = c.list
	e.Names = append(e.Names, weak...)
	c.skipped += tidy(&e)
	if len(e.Names) == 0 {
		c.skipped++
		return
	}
	c.entities = append(c.entities, e)
}

// mainFile names the file an import-wide error is about.
func (c *collector) mainFile(path string) string {
	switch c.list {
	case "ofac-sdn":
		return ofacSDN.prim
	case "ofac-cons":
		return ofacCons.prim
	}
	return filepath.Base(path)
}

// result sorts the entities by ID and computes counts and version.
func (c *collector) result(format string) *Result {
	slices.SortFunc(c.entities, func(a, b screen.Entity) int { return strings.Compare(a.ID, b.ID) })
	r := &Result{Format: format, Entities: c.entities, Version: version(c.entities)}
	r.Counts.Skipped = c.skipped
	for _, e := range c.entities {
		r.Counts.Entities++
		switch e.Type {
		case "person":
			r.Counts.Persons++
		case "organisation":
			r.Counts.Organisations++
		case "vessel":
			r.Counts.Vessels++
		case "aircraft":
			r.Counts.Aircraft++
		default:
			r.Counts.Other++
		}
		r.Counts.Aliases += len(e.Names) - 1
		r.Counts.Identifiers += len(e.Identifiers)
	}
	return r
}

// tidy normalises an entity so that equal sources give deep-equal entities: whitespace
// is collapsed, empty values and exact duplicates are dropped (first occurrence wins, so
// the primary name stays first), empty slices become nil, and names beyond MaxNames are
// dropped. It returns how many names were dropped for the cap.
func tidy(e *screen.Entity) (dropped int) {
	e.Names = uniq(e.Names)
	if len(e.Names) > MaxNames {
		dropped = len(e.Names) - MaxNames
		e.Names = e.Names[:MaxNames:MaxNames]
	}
	e.Countries = uniq(e.Countries)
	e.Addresses = uniq(e.Addresses)
	e.BirthDates = uniq(e.BirthDates)
	e.Programs = uniq(e.Programs)
	e.Remarks = clean(e.Remarks)
	var ids []screen.Identifier
	seen := map[screen.Identifier]bool{}
	for _, id := range e.Identifiers {
		id.Value = clean(id.Value)
		if id.Value == "" || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	e.Identifiers = ids
	return dropped
}

// uniq cleans each value and drops empties and exact duplicates, keeping order.
func uniq(in []string) []string {
	var out []string
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = clean(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// clean trims and collapses runs of white space (the UN XML wraps long values over
// several indented lines) into single spaces.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// isClean reports, with a byte scan, that s is plain: ASCII with single inner spaces and
// none at either end. Most values are, and this spares them strings.Fields.
func isClean(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80, c < ' ':
			return false // possibly a Unicode space, or a control character
		case c == ' ' && s[i+1] == ' ':
			return false
		}
	}
	return true
}

// splitList splits a sep-separated source field into cleaned, non-empty parts.
func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = clean(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// joinNonEmpty joins the cleaned non-empty parts with sep; used to build address text.
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = clean(p); p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// countries converts country values to alpha-3 codes with lookup (CountryCode or
// countryName); values the table does not know are returned separately so the caller can
// keep them in Remarks.
func countries(lookup func(string) (string, bool), values ...string) (codes, unknown []string) {
	for _, v := range values {
		v = clean(v)
		if v == "" {
			continue
		}
		if c, ok := lookup(v); ok {
			codes = append(codes, c)
		} else {
			unknown = append(unknown, v)
		}
	}
	return codes, unknown
}

// remark appends a part to a "; "-separated remark.
func remark(r *string, part string) {
	part = clean(part)
	if part == "" {
		return
	}
	if *r != "" {
		*r += "; "
	}
	*r += part
}
