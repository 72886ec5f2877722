package ui

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
)

// maxFeedScan bounds how many pages of the alert feed one page of figures reads.
const maxFeedScan = 50

// reviewView is the joint review: the figures a steering body reports on, each with its
// chart over time.
type reviewView struct {
	Listed        int
	MedianListing string
	Votes         int
	Objections    int
	ObjectionRate float64
	ReviewDue     int
	DueSoon       int
	Delistings    int
	FeedPartial   bool
	Charts        []chart
	ByDestination chart
	Period        string
}

func (h *Handler) review(w http.ResponseWriter, r *http.Request, v *viewer) {
	es, _, err := h.svc.Watchlist(r.Context(), v.p, "", false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	ins, _, err := h.svc.Indicators(r.Context(), v.p, false)
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	delisted, partial, err := h.alertTimes(v.p, []string{"delisted"})
	if err != nil {
		h.serviceError(w, r, v, err)
		return
	}
	view := reviewFigures(es, ins, delisted, h.opts.Now().UTC())
	view.FeedPartial = partial
	h.show(w, r, v, http.StatusOK, "review", "Joint review", view, "", "")
}

// reviewFigures computes the joint review from the watchlist, the indicators and the
// times of delistings.
func reviewFigures(es []api.WatchlistEntry, ins []api.IndicatorView, delisted []time.Time, now time.Time) reviewView {
	var view reviewView
	earliest := now
	for _, e := range es {
		if e.Nominated != nil && e.Nominated.Before(earliest) {
			earliest = *e.Nominated
		}
	}
	for _, t := range delisted {
		if t.Before(earliest) {
			earliest = t
		}
	}
	b := newBuckets(earliest, now, 12)
	labels := b.labels()
	view.Period = humanDuration(b.Width)

	// Time from nomination to listing, by the period of listing.
	var all []time.Duration
	per := make([][]time.Duration, b.N)
	// Objection rate, by the period of the vote.
	votes, objections := make([]float64, b.N), make([]float64, b.N)
	// Reviews falling due, by the period ahead in which they fall due.
	latest := now.Add(time.Duration(b.N) * b.Width)
	for _, e := range es {
		if e.ReviewDue != nil && e.ReviewDue.After(latest) && (e.Status == "listed" || e.Status == "appealed") {
			latest = *e.ReviewDue
		}
	}
	ahead := newBuckets(now, latest, 12)
	due := make([]float64, ahead.N)
	for _, e := range es {
		if e.Status == "review-due" {
			view.ReviewDue++
		}
		if e.Nominated != nil && e.Decided != nil && slices.Contains(listedStatuses, e.Status) {
			d := e.Decided.Sub(*e.Nominated)
			all = append(all, d)
			if i := b.index(*e.Decided); i >= 0 {
				per[i] = append(per[i], d)
			}
		}
		if e.ReviewDue != nil && (e.Status == "listed" || e.Status == "appealed") {
			if i := ahead.index(*e.ReviewDue); i >= 0 {
				due[i]++
				view.DueSoon++
			}
		}
		for _, vote := range e.Votes {
			view.Votes++
			obj := vote.Position == "object"
			if obj {
				view.Objections++
			}
			if i := b.index(vote.At); i >= 0 {
				votes[i]++
				if obj {
					objections[i]++
				}
			}
		}
	}
	view.Listed = len(all)
	view.MedianListing = "no listings yet"
	if len(all) > 0 {
		view.MedianListing = humanDuration(median(all))
	}
	if view.Votes > 0 {
		view.ObjectionRate = float64(view.Objections) / float64(view.Votes)
	}

	unit, unitName := durationUnit(median(all))
	med := series{Name: "median (" + unitName + ")", Class: "s-now"}
	for _, ds := range per {
		m := median(ds)
		med.Values = append(med.Values, float64(m)/float64(unit))
		if len(ds) == 0 {
			med.Text = append(med.Text, "none listed")
		} else {
			med.Text = append(med.Text, fmt.Sprintf("%s (%d listed)", humanDuration(m), len(ds)))
		}
	}
	rate := series{Name: "objection rate (%)", Class: "s-warn"}
	for i := range votes {
		pct := 0.0
		if votes[i] > 0 {
			pct = 100 * objections[i] / votes[i]
		}
		rate.Values = append(rate.Values, pct)
		rate.Text = append(rate.Text, fmt.Sprintf("%.0f%% of %.0f votes", pct, votes[i]))
	}
	dueS := series{Name: "reviews falling due", Class: "s-before", Values: due}
	dl := series{Name: "delistings", Class: "s-now", Values: make([]float64, b.N)}
	for _, t := range delisted {
		view.Delistings++
		if i := b.index(t); i >= 0 {
			dl.Values[i]++
		}
	}
	rateChart := columnChart("objection-rate", "Objection rate", "For each period, the share of votes cast in it that were objections, in per cent.", labels, rate)
	rateChart.Empty, rateChart.EmptyText = view.Votes == 0, "No votes have been cast yet."
	dueChart := columnChart("reviews-due", "Reviews falling due", "For each period ahead, how many listings fall due for review in it.", ahead.labels(), dueS)
	dueChart.EmptyText = "No listing falls due for review yet."
	dlChart := columnChart("delistings", "Delistings", "For each period, how many listings were delisted in it.", labels, dl)
	dlChart.EmptyText = "No listing has been delisted."
	medChart := columnChart("median-listing", "Median time from nomination to listing", "For each period, the median time from nomination to listing of the entries listed in it, in "+unitName+".", labels, med)
	medChart.EmptyText = "No nomination has been listed yet."
	view.Charts = []chart{medChart, rateChart, dueChart, dlChart}

	// Failed end-use checks and diversions, by destination.
	counts := map[string][2]float64{}
	for _, in := range ins {
		k := -1
		switch in.Kind {
		case "failed-end-use-check":
			k = 0
		case "diversion":
			k = 1
		}
		if k < 0 {
			continue
		}
		dest := "sealed (" + in.Subject.Marking + ")"
		if ft := textOf(in.Subject); !ft.Sealed {
			dest = ft.Text
		}
		c := counts[dest]
		c[k]++
		counts[dest] = c
	}
	dests := keys(counts)
	sort.SliceStable(dests, func(i, j int) bool {
		a, b := counts[dests[i]], counts[dests[j]]
		return a[0]+a[1] > b[0]+b[1]
	})
	failed := series{Name: "failed end-use checks", Class: "s-warn"}
	div := series{Name: "diversions", Class: "s-now"}
	for _, d := range dests {
		failed.Values = append(failed.Values, counts[d][0])
		div.Values = append(div.Values, counts[d][1])
	}
	view.ByDestination = barChart("by-destination", "Failed end-use checks and diversions by destination",
		"For each destination, how many failed end-use check and diversion indicators the federation holds.", dests, []series{failed, div})
	return view
}

// durationUnit picks the unit a chart of durations around d reads best in.
func durationUnit(d time.Duration) (time.Duration, string) {
	switch {
	case d < 2*time.Minute:
		return time.Second, "seconds"
	case d < 2*time.Hour:
		return time.Minute, "minutes"
	case d < 48*time.Hour:
		return time.Hour, "hours"
	default:
		return 24 * time.Hour, "days"
	}
}

// alertTimes reads the times of the alerts of kinds from the feed, at most maxFeedScan
// pages; partial reports that it stopped before the end.
func (h *Handler) alertTimes(p access.Principal, kinds []string) (times []time.Time, partial bool, err error) {
	var after uint64
	for range maxFeedScan {
		page, err := h.svc.AlertPage(p, after, 1000, kinds)
		if err != nil {
			return nil, false, err
		}
		for _, a := range page.Alerts {
			times = append(times, a.Time)
		}
		if page.Next <= after {
			return times, false, nil
		}
		after = page.Next
	}
	return times, true, nil
}
