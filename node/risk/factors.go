package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// pool is one of the noisy-OR factors indicators and hits are combined in.
type pool int

const (
	noPool pool = iota
	destPool
	routePool
	itemPool
	partyPool
	numPools
)

// poolFactor is the Reason.Factor of a pool's indicators; party indicators name their
// kind instead, since an end-user and a supply-chain concern read differently.
var poolFactor = [numPools]string{destPool: "destination", routePool: "route", itemPool: "item-indicator"}

// contribution is one piece of evidence in a pool: p is its probability-like strength in
// [0, 1], what says in words what it is.
type contribution struct {
	factor, ref, what string
	p                 float64
}

// strength is an indicator's weight in [0, 1]: its severity as a fraction of 5, times a
// confidence that starts at one half for a single state's word and halves the remaining
// doubt with every corroborating state (1/2, 3/4, 7/8...).
func strength(ind Indicator) float64 {
	return float64(ind.Severity) / 5 * (1 - math.Pow(0.5, float64(1+ind.Corroborations)))
}

// combine adds a pool's reasons and returns its combined strength P = 1 - prod(1 - p),
// worth ceiling*P points. Noisy-OR gives diminishing returns, so no pile of weak evidence
// passes the ceiling. The members are taken strongest first and each is credited with
// the points it adds to those before it; all rounding is of the running total, so the
// reasons add up exactly to the pool's rounded points and the total only grows with any p.
func (a *assessor) combine(name string, ceiling int, cs []contribution) float64 {
	slices.SortFunc(cs, func(x, y contribution) int {
		return cmp.Or(cmp.Compare(y.p, x.p), strings.Compare(x.factor, y.factor), strings.Compare(x.ref, y.ref))
	})
	var p float64
	var cents int64
	for _, c := range cs {
		next := 1 - (1-p)*(1-c.p)
		nextCents := int64(math.Round(next * float64(ceiling) * 100))
		a.add(Reason{Factor: c.factor, Ref: c.ref,
			Detail: fmt.Sprintf("%s; %s %.3f -> %.3f of %d points", c.what, name, p, next, ceiling)}, nextCents-cents)
		p, cents = next, nextCents
	}
	return p
}

// hits turns screening hits into party-pool contributions. A listed entity counts once,
// at its strongest hit: the same entity matched as end user and as consignee is one
// listing, not two.
func (a *assessor) hits() []contribution {
	best := map[string]Hit{}
	var keys []string
	for _, h := range a.in.Hits {
		k := h.List + "/" + h.EntityID
		old, seen := best[k]
		if !seen {
			keys = append(keys, k)
		}
		if !seen || stronger(h, old) {
			best[k] = h
		}
	}
	slices.Sort(keys) // so that the output never follows the input's order
	out := make([]contribution, 0, len(keys))
	for _, k := range keys {
		h := best[k]
		list, w := "national or imported list", otherListWeight
		if h.Consensus {
			list, w = "consensus watchlist", consensusWeight
		}
		out = append(out, contribution{factor: "screening-hit", ref: k, p: hitP(h),
			what: fmt.Sprintf("%s matched %q (%s, list %s, entity %s): score %.3f x weight %.1f",
				h.PartyRole, clip(h.MatchedName), list, clip(h.List), clip(h.EntityID), h.Score, w)})
	}
	return out
}

// stronger orders hits of one entity: by weight, then on any tie by every other field, so
// that which hit is kept never depends on the input order.
func stronger(h, than Hit) bool {
	return cmp.Or(cmp.Compare(hitP(h), hitP(than)), cmp.Compare(h.Score, than.Score), boolCmp(h.Consensus, than.Consensus),
		strings.Compare(than.PartyRole, h.PartyRole), strings.Compare(than.MatchedName, h.MatchedName)) > 0
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func hitP(h Hit) float64 {
	if h.Consensus {
		return h.Score * consensusWeight
	}
	return h.Score * otherListWeight
}

func band(score float64) string {
	switch {
	case score >= denyFrom:
		return BandDeny
	case score >= highFrom:
		return BandHigh
	case score >= mediumFrom:
		return BandMedium
	}
	return BandLow
}

// normName folds case and white space, so that an indicator about "ACME  Trading" applies
// to a party named "Acme Trading"; screening does the fuzzy matching, not this package.
func normName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// roleList names the roles of matched parties, sorted and without repeats, so that the
// reason does not depend on the order of the parties.
func roleList(rs []string) string {
	rs = slices.Clone(rs)
	slices.Sort(rs)
	return strings.Join(slices.Compact(rs), ", ")
}

func corroborated(n int) string {
	switch n {
	case 0:
		return "not corroborated"
	case 1:
		return "corroborated by 1 state"
	}
	return fmt.Sprintf("corroborated by %d states", n)
}

func from(originator string) string {
	if originator == "" {
		return ""
	}
	return ", from " + clip(originator)
}

// clip shortens s for a reason or an error, so that a long value cannot make them huge.
func clip(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit]) + "..."
}
