package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

func TestUIReviewFigures(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	es := []api.WatchlistEntry{
		{ID: "a", Status: "listed", Nominated: at(-10 * time.Hour), Decided: at(-9 * time.Hour), ReviewDue: at(2 * time.Hour),
			Votes: []api.VoteView{{Position: "endorse", At: now.Add(-9 * time.Hour)}, {Position: "object", At: now.Add(-9 * time.Hour)}}},
		{ID: "b", Status: "delisted", Nominated: at(-8 * time.Hour), Decided: at(-5 * time.Hour)},
		{ID: "c", Status: "listed", Nominated: at(-6 * time.Hour), Decided: at(-1 * time.Hour)},
		{ID: "d", Status: "disputed", Nominated: at(-6 * time.Hour), Decided: at(-1 * time.Hour),
			Votes: []api.VoteView{{Position: "object", At: now.Add(-2 * time.Hour)}, {Position: "object", At: now.Add(-2 * time.Hour)}}},
		{ID: "e", Status: "review-due", Nominated: at(-7 * time.Hour), Decided: at(-6 * time.Hour)},
	}
	ins := []api.IndicatorView{
		{Kind: "diversion", Subject: api.FieldView{Value: []byte(`"COD"`)}},
		{Kind: "failed-end-use-check", Subject: api.FieldView{Value: []byte(`"COD"`)}},
		{Kind: "failed-end-use-check", Subject: api.FieldView{Marking: "REL TO DEU", Sealed: true}},
		{Kind: "destination", Subject: api.FieldView{Value: []byte(`"CAF"`)}},
	}
	v := reviewFigures(es, ins, []time.Time{now.Add(-3 * time.Hour)}, now)
	// Listed: a (1h), b (3h), c (5h), e (1h); the disputed entry's decision is not a listing.
	if v.Listed != 4 || v.MedianListing != "2 hours" {
		t.Errorf("listed %d, median %q; want 4 and 2 hours", v.Listed, v.MedianListing)
	}
	if v.Votes != 4 || v.Objections != 3 || v.ObjectionRate != 0.75 {
		t.Errorf("votes %d, objections %d, rate %v", v.Votes, v.Objections, v.ObjectionRate)
	}
	if v.ReviewDue != 1 || v.DueSoon != 1 || v.Delistings != 1 {
		t.Errorf("review due %d, falling due %d, delistings %d", v.ReviewDue, v.DueSoon, v.Delistings)
	}
	if got := strings.Join(v.ByDestination.Labels, ","); got != "COD,sealed (REL TO DEU)" {
		t.Errorf("destinations %q", got)
	}
	if v.ByDestination.Series[0].Values[0] != 1 || v.ByDestination.Series[1].Values[0] != 1 {
		t.Errorf("COD: %v", v.ByDestination.Series)
	}
	sum := 0.0
	for _, x := range v.Charts[3].Series[0].Values {
		sum += x
	}
	if sum != 1 {
		t.Errorf("delistings chart sums to %v", sum)
	}
}

func TestUITallyFollowsThePolicy(t *testing.T) {
	voters := map[string]bool{"FRA": true, "DEU": true, "GBR": true}
	e := api.WatchlistEntry{Origin: "FRA", Votes: []api.VoteView{{State: "DEU", Position: "endorse"}, {State: "GBR", Position: "object", Blocking: true}, {State: "NLD", Position: "endorse"}}}
	tl := tallyOf(e, voters, policy.DefaultVoting())
	if len(tl.EndorsingVoters) != 2 || tl.Needed != 2 || !tl.Blocked || tl.Met {
		t.Errorf("tally %+v: want FRA and DEU endorsing, 2 needed, blocked by GBR", tl)
	}
	nb := policy.DefaultVoting()
	nb.BlockingObjections = false
	if tl := tallyOf(e, voters, nb); !tl.Met {
		t.Errorf("without blocking objections the listing should stand: %+v", tl)
	}
}

func TestUIRisingRisk(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ind := func(subject string, sev int, published time.Duration, status string) api.IndicatorView {
		return api.IndicatorView{Kind: "destination", Severity: sev, Status: status, Subject: api.FieldView{Value: []byte(`"` + subject + `"`)},
			Published: now.Add(published), ValidUntil: now.Add(24 * time.Hour)}
	}
	ins := []api.IndicatorView{ind("CAF", 3, -90*24*time.Hour, "active"), ind("CAF", 4, -time.Hour, "active"), ind("IRN", 5, -80*24*time.Hour, "active"), ind("SYR", 5, -time.Hour, "withdrawn")}
	trends, period := risingRisk(ins, now)
	if period != 30*24*time.Hour {
		t.Errorf("period %s", period)
	}
	if len(trends) != 2 || trends[0].Destination != "CAF" || trends[0].Before != 3 || trends[0].Now != 7 || !trends[0].Rising() || trends[1].Rising() {
		t.Errorf("trends %+v", trends)
	}
}

func TestUIChartsEscapeTheirText(t *testing.T) {
	c := barChart("x", `<b>title</b>`, "d", []string{`<script>alert(1)</script>`}, []series{{Name: `"><img>`, Class: "s-now", Values: []float64{2}}})
	s := string(c.SVG)
	if strings.Contains(s, "<script>") || strings.Contains(s, "<img>") || strings.Contains(s, "<b>") {
		t.Fatalf("chart text not escaped: %s", s)
	}
	c = columnChart("y", "t", "d", []string{"a", "b"}, series{Name: "n", Class: "s-now", Values: []float64{1, 3}})
	if strings.Count(string(c.SVG), "<rect ") != 2 || c.Empty {
		t.Fatalf("column chart: %s", c.SVG)
	}
}

func TestUIBuckets(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := newBuckets(now.Add(-10*time.Minute), now, 12)
	if b.Width != time.Minute || b.index(now) != b.N-1 || b.index(now.Add(-time.Hour)) != -1 {
		t.Errorf("10 minutes: %+v", b)
	}
	b = newBuckets(now.Add(-200*24*time.Hour), now, 12)
	if b.Width != 30*24*time.Hour || b.index(now) < 0 {
		t.Errorf("200 days: %+v index(now)=%d", b, b.index(now))
	}
}
