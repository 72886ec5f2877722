package ui

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/policy"
)

// The figures below are computed from what the node's API already serves (entries with
// their votes and dates, indicators, the alert feed), so the dashboard and an integrator
// reading the API can never disagree about them.

// fieldText is a shared field as the dashboard shows it: its text, or that it is sealed
// and for whom. A sealed field is never shown as empty.
type fieldText struct {
	Sealed  bool
	Marking string
	Text    string
}

// textOf opens a string field for display.
func textOf(f api.FieldView) fieldText {
	if f.Sealed {
		return fieldText{Sealed: true, Marking: f.Marking}
	}
	var s string
	if err := json.Unmarshal(f.Value, &s); err != nil {
		s = string(f.Value)
	}
	return fieldText{Marking: f.Marking, Text: s}
}

// entryRow is a watchlist entry flattened for tables, filters and detail pages.
type entryRow struct {
	ID, Kind, Origin, Status string
	Name                     fieldText
	Party                    *records.Party
	PartyField               fieldText
	Basis                    *api.Basis
	BasisField               fieldText
	Rationale                fieldText
	HasRationale             bool
	Entry                    api.WatchlistEntry
}

func rowOf(e api.WatchlistEntry) entryRow {
	r := entryRow{ID: e.ID, Kind: e.Kind, Origin: e.Origin, Status: e.Status, Entry: e}
	if f, ok := e.Fields["party"]; ok {
		r.PartyField = fieldText{Sealed: f.Sealed, Marking: f.Marking}
		var p records.Party
		if !f.Sealed && json.Unmarshal(f.Value, &p) == nil {
			r.Party = &p
			r.Name = fieldText{Marking: f.Marking, Text: p.Name}
		} else {
			r.Name = fieldText{Sealed: true, Marking: f.Marking}
		}
	} else {
		r.Name = fieldText{Text: e.ID}
	}
	if f, ok := e.Fields["basis"]; ok {
		r.BasisField = fieldText{Sealed: f.Sealed, Marking: f.Marking}
		var b api.Basis
		if !f.Sealed && json.Unmarshal(f.Value, &b) == nil {
			r.Basis = &b
		}
	}
	if f, ok := e.Fields["rationale"]; ok {
		r.Rationale, r.HasRationale = textOf(f), true
	}
	return r
}

// matches reports whether the row passes the watchlist filters.
type watchlistFilter struct {
	Q, Kind, Country, Regime, Code, Origin, Status string
}

func (f watchlistFilter) Any() bool {
	return f != watchlistFilter{}
}

func (f watchlistFilter) matches(r entryRow) bool {
	if f.Kind != "" && r.Kind != f.Kind || f.Origin != "" && r.Origin != f.Origin || f.Status != "" && r.Status != f.Status {
		return false
	}
	if f.Country != "" && (r.Party == nil || !slices.Contains(r.Party.Countries, f.Country)) {
		return false
	}
	if f.Regime != "" && (r.Basis == nil || !strings.EqualFold(r.Basis.Regime, f.Regime)) {
		return false
	}
	if f.Code != "" {
		if r.Basis == nil {
			return false
		}
		want := strings.ToUpper(f.Code)
		found := false
		for _, c := range r.Basis.ControlCodes {
			// ML4 matches ML4 and its sub-items (ML4.a).
			if c == want || strings.HasPrefix(c, want+".") {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		return searchText(r).contains(q)
	}
	return true
}

type haystack []string

func (h haystack) contains(q string) bool {
	q = strings.ToLower(q)
	for _, s := range h {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

// searchText is what free-text search looks in: the id, names, aliases, identifiers
// and the rationale, where this caller may read them.
func searchText(r entryRow) haystack {
	h := haystack{r.ID}
	if p := r.Party; p != nil {
		h = append(h, p.Name)
		h = append(h, p.Aliases...)
		for _, id := range p.Identifiers {
			h = append(h, id.Value)
		}
	}
	if !r.Rationale.Sealed {
		h = append(h, r.Rationale.Text)
	}
	return h
}

// options are the distinct values a filter can take in the current watchlist.
type filterOptions struct {
	Kinds, Countries, Regimes, Codes, Origins, Statuses []string
}

func optionsOf(rows []entryRow) filterOptions {
	set := map[string]map[string]bool{}
	add := func(k, v string) {
		if v == "" {
			return
		}
		if set[k] == nil {
			set[k] = map[string]bool{}
		}
		set[k][v] = true
	}
	for _, r := range rows {
		add("kind", r.Kind)
		add("origin", r.Origin)
		add("status", r.Status)
		if r.Party != nil {
			for _, c := range r.Party.Countries {
				add("country", c)
			}
		}
		if r.Basis != nil {
			add("regime", r.Basis.Regime)
			for _, c := range r.Basis.ControlCodes {
				add("code", c)
			}
		}
	}
	list := func(k string) []string {
		var out []string
		for v := range set[k] {
			out = append(out, v)
		}
		sort.Strings(out)
		return out
	}
	return filterOptions{Kinds: list("kind"), Countries: list("country"), Regimes: list("regime"), Codes: list("code"), Origins: list("origin"), Statuses: list("status")}
}

// tally is where a nomination stands against the policy.
type tally struct {
	Voters             int
	Needed             int
	EndorsingVoters    []string
	Objections         []string
	BlockingObjections []string
	Blocked            bool
	Met                bool
}

// voterSet is the steering body: the roster's voters.
func voterSet(ms []federation.Member) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		if m.Role == policy.RoleVoter {
			out[m.Code] = true
		}
	}
	return out
}

// tallyOf counts a nomination's votes as the federation will when its window closes:
// the originator's nomination counts as its endorsement when it is a voter.
func tallyOf(e api.WatchlistEntry, voters map[string]bool, v policy.Voting) tally {
	t := tally{Voters: len(voters), Needed: v.EndorsementsNeeded(len(voters))}
	if voters[e.Origin] {
		t.EndorsingVoters = append(t.EndorsingVoters, e.Origin)
	}
	for _, vote := range e.Votes {
		switch vote.Position {
		case "endorse":
			if voters[vote.State] && vote.State != e.Origin {
				t.EndorsingVoters = append(t.EndorsingVoters, vote.State)
			}
		case "object":
			t.Objections = append(t.Objections, vote.State)
			if vote.Blocking && voters[vote.State] {
				t.BlockingObjections = append(t.BlockingObjections, vote.State)
			}
		}
	}
	sort.Strings(t.EndorsingVoters)
	t.Blocked = v.BlockingObjections && len(t.BlockingObjections) > 0
	t.Met = v.Listed(len(t.EndorsingVoters), len(t.BlockingObjections), len(voters))
	return t
}

// buckets divides a span of time into at most n equal, round-width periods for charts.
type buckets struct {
	Start time.Time
	Width time.Duration
	N     int
}

var bucketWidths = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour,
	7 * 24 * time.Hour, 30 * 24 * time.Hour, 91 * 24 * time.Hour, 365 * 24 * time.Hour}

func newBuckets(from, to time.Time, n int) buckets {
	if !to.After(from) {
		from = to.Add(-time.Minute)
	}
	w := bucketWidths[len(bucketWidths)-1]
	for _, c := range bucketWidths {
		if to.Sub(from.Truncate(c)) < time.Duration(n)*c {
			w = c
			break
		}
	}
	start := from.UTC().Truncate(w)
	count := int(to.Sub(start)/w) + 1
	return buckets{Start: start, Width: w, N: min(count, n)}
}

// index is the period t falls in, or -1.
func (b buckets) index(t time.Time) int {
	if t.Before(b.Start) {
		return -1
	}
	i := int(t.Sub(b.Start) / b.Width)
	if i >= b.N {
		return -1
	}
	return i
}

func (b buckets) labels() []string {
	out := make([]string, b.N)
	for i := range out {
		t := b.Start.Add(time.Duration(i) * b.Width)
		switch {
		case b.Width < time.Minute:
			out[i] = t.Format("15:04:05")
		case b.Width < 24*time.Hour:
			out[i] = t.Format("15:04")
		case b.Width < 30*24*time.Hour:
			out[i] = t.Format("2 Jan")
		default:
			out[i] = t.Format("Jan 2006")
		}
	}
	return out
}

// median of durations, in order statistics; zero for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// listedStatuses are the statuses of entries that were once listed, so their decision
// time is their listing time.
var listedStatuses = []string{"listed", "review-due", "appealed", "delisted"}

// destinationKinds are the indicator kinds whose subject is a destination.
var destinationKinds = []string{"destination", "diversion", "failed-end-use-check"}

// freshness classifies an indicator by age and remaining validity.
func freshness(in api.IndicatorView, now time.Time) string {
	switch {
	case in.Status != "" && in.Status != "active":
		return in.Status
	case !in.ValidUntil.After(now):
		return "expired"
	case in.ValidUntil.Sub(now) < 14*24*time.Hour:
		return "expiring"
	case now.Sub(in.Published) < 30*24*time.Hour:
		return "fresh"
	default:
		return "current"
	}
}

// riskAt is a destination's risk at t: the summed severity of its indicators in force
// then. Withdrawn indicators are left out, since the state that published them no
// longer stands by them.
func riskAt(ins []api.IndicatorView, t time.Time) map[string]int {
	out := map[string]int{}
	for _, in := range ins {
		if in.Status == "withdrawn" || in.Subject.Sealed || !slices.Contains(destinationKinds, in.Kind) {
			continue
		}
		if !in.Published.After(t) && in.ValidUntil.After(t) {
			out[textOf(in.Subject).Text] += in.Severity
		}
	}
	return out
}

// trend is one destination's risk now against the start of the comparison period.
type trend struct {
	Destination string
	Before, Now int
}

func (t trend) Rising() bool { return t.Now > t.Before }

// risingRisk compares every destination's risk now with its risk one period ago. The
// period is 30 days, or half the span of the indicators when they are younger.
func risingRisk(ins []api.IndicatorView, now time.Time) ([]trend, time.Duration) {
	earliest := now
	for _, in := range ins {
		if in.Published.Before(earliest) {
			earliest = in.Published
		}
	}
	period := 30 * 24 * time.Hour
	if span := now.Sub(earliest); span < 2*period {
		period = max(span/2, time.Minute).Round(time.Second)
	}
	before, after := riskAt(ins, now.Add(-period)), riskAt(ins, now)
	var out []trend
	for d := range after {
		out = append(out, trend{Destination: d, Before: before[d], Now: after[d]})
	}
	for d, v := range before {
		if _, ok := after[d]; !ok {
			out = append(out, trend{Destination: d, Before: v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := out[i].Now-out[i].Before, out[j].Now-out[j].Before
		if di != dj {
			return di > dj
		}
		return out[i].Destination < out[j].Destination
	})
	return out, period
}
