package lists

import (
	"strconv"
	"strings"
	"time"
)

// maxYearSpan bounds how many years a birth-date range expands to. Sources give ranges
// such as "01 Jan 1961 to 31 Dec 1962" or UN FROM_YEAR/TO_YEAR; screening compares
// years, so a range becomes each year in it, but a corrupt range must not become
// thousands of dates.
const maxYearSpan = 20

// birthDates converts a published date of birth to screen.Entity form ("YYYY",
// "YYYY-MM" or "YYYY-MM-DD"). It understands the OFAC forms "12 Jan 1960", "Jan 1960",
// "1960", "circa 1960", "1979-1982" and "A to B", and ISO dates. It returns nil for
// anything else; the text stays in the remarks.
func birthDates(s string) []string {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "."))
	for _, p := range []string{"circa ", "approximately ", "approx. ", "about "} {
		if len(s) > len(p) && strings.EqualFold(s[:len(p)], p) {
			s = strings.TrimSpace(s[len(p):])
		}
	}
	if a, b, ok := strings.Cut(s, " to "); ok {
		return dateRange(parseDate(a), parseDate(b))
	}
	// "1979-1982": a year range, not an ISO date.
	if len(s) == 9 && s[4] == '-' {
		return dateRange(parseDate(s[:4]), parseDate(s[5:]))
	}
	if d := parseDate(s); d.year != 0 {
		return []string{d.String()}
	}
	return nil
}

// date is a possibly partial date; zero fields are unknown.
type date struct{ year, month, day int }

func (d date) String() string {
	switch {
	case d.day != 0:
		return time.Date(d.year, time.Month(d.month), d.day, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	case d.month != 0:
		return time.Date(d.year, time.Month(d.month), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	}
	return strconv.Itoa(d.year)
}

var dateLayouts = []struct {
	layout     string
	month, day bool
}{
	{"2 Jan 2006", true, true}, // also reads "02 Jan 2006"
	{"2006-01-02", true, true},
	{"Jan 2006", true, false},
	{"2006-01", true, false},
	{"2006", false, false},
}

// parseDate parses one of the layouts above; an invalid date (30 Feb) is the zero date.
func parseDate(s string) date {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		t, err := time.Parse(l.layout, s)
		if err != nil || t.Year() < 1000 {
			continue
		}
		d := date{year: t.Year()}
		if l.month {
			d.month = int(t.Month())
		}
		if l.day {
			d.day = t.Day()
		}
		return d
	}
	return date{}
}

// dateRange turns a range into dates: within one month it is that month, otherwise
// each year from start to end.
func dateRange(a, b date) []string {
	switch {
	case a.year == 0 || b.year == 0 || b.year < a.year:
		return nil
	case a.year == b.year && a.month != 0 && a.month == b.month:
		return []string{date{year: a.year, month: a.month}.String()}
	case b.year-a.year > maxYearSpan:
		return []string{strconv.Itoa(a.year), strconv.Itoa(b.year)}
	}
	var out []string
	for y := a.year; y <= b.year; y++ {
		out = append(out, strconv.Itoa(y))
	}
	return out
}
