package screen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Adjustments: agreement moves the score a fraction of the way to 1, so it never
// reaches 1 and never reorders two hits it applies to equally; conflict subtracts.
const (
	countryAgree     = 0.15
	countryConflict  = 0.05
	birthAgreeDay    = 0.25
	birthAgreeYear   = 0.12
	birthConflict    = 0.10
	birthConflictDay = 0.04
	typeAgree        = 0.05
	typeConflict     = 0.10
	// maxAgreementLift is the most the agreements can add, so candidates are kept from
	// that far below the threshold when the query has something to agree with.
	maxAgreementLift = 0.12
)

// queryContext is the non-name part of a query, folded once.
type queryContext struct {
	typ       string
	countries []string
	birth     date
	hasBirth  bool
}

func newQueryContext(q *Query) *queryContext {
	c := &queryContext{typ: normType(q.Type)}
	for _, cc := range q.Countries {
		c.countries = append(c.countries, strings.ToUpper(strings.TrimSpace(cc)))
	}
	if q.BirthDate != "" {
		c.birth, c.hasBirth = parseDate(q.BirthDate)
	}
	return c
}

func (c *queryContext) lifts() bool {
	return c.typ != "" || len(c.countries) > 0 || c.hasBirth
}

// finalScore combines name, identifier and the adjustments into the hit's score.
func (ix *Index) finalScore(h *entityHit, c *queryContext) {
	h.comps = h.comps[:0]
	name := 0.0
	if h.name >= 0 {
		name = h.nameScore
		h.comps = append(h.comps, Component{Name: "name", Contribution: name})
	}
	if h.ident != nil {
		h.comps = append(h.comps, Component{Name: "identifier", Detail: "exact " + describeIdent(h.ident), Contribution: 1 - name})
		h.score = 1
		return
	}
	s := name
	e := &ix.entities[h.entity]
	add := func(comp, detail string, delta float64) {
		if delta == 0 {
			return
		}
		next := math.Min(1, math.Max(0, s+delta))
		h.comps = append(h.comps, Component{Name: comp, Detail: detail, Contribution: next - s})
		s = next
	}
	if len(c.countries) > 0 && len(e.Countries) > 0 {
		if common := commonCountry(c.countries, e.Countries); common != "" {
			add("country", "agrees: "+common, countryAgree*(1-s))
		} else {
			add("country", fmt.Sprintf("conflicts: query %s, entity %s", strings.Join(c.countries, ","), strings.Join(e.Countries, ",")), -countryConflict)
		}
	}
	if c.hasBirth && len(e.BirthDates) > 0 {
		agree, conflict, detail := compareBirth(c.birth, e.BirthDates)
		switch {
		case agree >= 3:
			add("birth-date", "agrees: "+detail, birthAgreeDay*(1-s))
		case agree > 0:
			add("birth-date", "agrees: "+detail, birthAgreeYear*(1-s))
		case conflict == 2:
			add("birth-date", "conflicts: "+detail, -birthConflict)
		case conflict == 1:
			add("birth-date", "conflicts: "+detail, -birthConflictDay)
		}
	}
	if c.typ != "" && e.Type != "" {
		et := normType(e.Type)
		if et == c.typ {
			add("type", "agrees: "+et, typeAgree*(1-s))
		} else {
			add("type", fmt.Sprintf("conflicts: query %s, entity %s", c.typ, et), -typeConflict)
		}
	}
	h.score = s
}

func describeIdent(m *IdentifierMatch) string {
	if m.Scheme != "" {
		return m.Scheme + " " + m.Normalised
	}
	return m.Normalised
}

func commonCountry(q, e []string) string {
	for _, a := range q {
		for _, b := range e {
			if strings.EqualFold(a, b) {
				return a
			}
		}
	}
	return ""
}

// date is a possibly partial date; month and day are 0 when not given.
type date struct{ y, m, d int }

func (d date) String() string {
	switch {
	case d.d > 0:
		return fmt.Sprintf("%04d-%02d-%02d", d.y, d.m, d.d)
	case d.m > 0:
		return fmt.Sprintf("%04d-%02d", d.y, d.m)
	}
	return fmt.Sprintf("%04d", d.y)
}

func parseDate(s string) (date, bool) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return date{}, false
	}
	var d date
	var err error
	if d.y, err = strconv.Atoi(parts[0]); err != nil || d.y < 1000 {
		return date{}, false
	}
	if len(parts) > 1 {
		if len(parts[1]) != 2 {
			return date{}, false
		}
		if d.m, err = strconv.Atoi(parts[1]); err != nil || d.m < 1 || d.m > 12 {
			return date{}, false
		}
	}
	if len(parts) > 2 {
		if len(parts[2]) != 2 {
			return date{}, false
		}
		if d.d, err = strconv.Atoi(parts[2]); err != nil || d.d < 1 || d.d > daysIn(d.y, d.m) {
			return date{}, false
		}
	}
	return d, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// compareBirth compares the query's date of birth with the entity's. agree is the
// precision both agree to (1 year, 2 month, 3 day), 0 if none agrees; conflict is 2 when
// every entity date is more than a year off, 1 when only month or day disagree. A year
// off either way is neither: lists often record approximate years.
func compareBirth(q date, entity []string) (agree, conflict int, detail string) {
	conflict = 2
	parsed := 0
	for _, s := range entity {
		e, ok := parseDate(s)
		if !ok {
			continue
		}
		parsed++
		dy := abs(e.y - q.y)
		if dy > 1 {
			continue
		}
		if dy == 1 {
			conflict = 0
			continue
		}
		level := 1
		c := 0
		if q.m > 0 && e.m > 0 {
			if q.m != e.m {
				c = 1
			} else {
				level = 2
				if q.d > 0 && e.d > 0 {
					if q.d != e.d {
						c = 1
					} else {
						level = 3
					}
				}
			}
		}
		if c == 0 && level > agree {
			agree = level
			detail = fmt.Sprintf("query %s, entity %s", q, s)
		}
		if c == 1 {
			conflict = min(conflict, 1)
			if detail == "" {
				detail = fmt.Sprintf("query %s, entity %s", q, s)
			}
		}
	}
	if parsed == 0 {
		return 0, 0, ""
	}
	if agree > 0 {
		return agree, 0, detail
	}
	if conflict == 2 {
		detail = fmt.Sprintf("query %s, entity %s", q, strings.Join(entity, ", "))
	}
	return 0, conflict, detail
}
