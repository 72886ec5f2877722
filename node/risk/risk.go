package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Model names the scoring model. Any change to a weight, a formula or a threshold gets a
// new version, so that two assessments are comparable exactly when their Model matches.
const Model = "entente-risk/1"

// Bands, from the least to the most serious.
const (
	BandLow    = "low"
	BandMedium = "medium"
	BandHigh   = "high"
	BandDeny   = "deny-recommended"
)

// Band thresholds: a score at or above one is in that band.
const (
	mediumFrom = 25
	highFrom   = 50
	denyFrom   = 70
)

// Factor ceilings, in points. Each noisy-OR factor approaches its ceiling as evidence
// accumulates but never passes it.
const (
	itemCeiling          = 30 // the most sensitive item
	destinationCeiling   = 30 // indicators about the destination
	combinationCeiling   = 25 // a sensitive item going to a risky destination
	routeCeiling         = 15 // indicators about the route
	itemIndicatorCeiling = 15 // indicators about the items
	partyCeiling         = 80 // screening hits and indicators about the parties
	scoreCeiling         = 100
)

// Hit weights: a consensus listing is the federation's joint decision; a national or
// imported listing is one state's, so it counts half.
const (
	consensusWeight   = 1.0
	otherListWeight   = 0.5
	partyIndicatorWgt = 0.5 // an end-user or supply-chain indicator is one state's view, like a national listing
)

// Limits on the input, so that one request cannot make the node do unbounded work.
const (
	maxItems      = 1000
	maxIndicators = 100_000
	maxParties    = 64
	maxHits       = 1000
	maxTransit    = 32
	maxName       = 512 // characters, as in records
)

// Party roles, named as the licence-application fields they come from.
const (
	RoleApplicant    = "applicant"
	RoleEndUser      = "end_user"
	RoleConsignee    = "consignee"
	RoleIntermediary = "intermediary"
)

var roles = []string{RoleApplicant, RoleConsignee, RoleEndUser, RoleIntermediary}

// indicatorKinds are the federation's indicator kinds (federation/command).
var indicatorKinds = []string{"destination", "diversion", "end-user", "failed-end-use-check", "item", "route", "supply-chain"}

// Input is what an assessment looks at. The JSON names are those of the API request, and
// the ones InputError uses to point at a field.
type Input struct {
	// ControlCodes are the items' control codes, one per item: ML1-ML22 with sub-items,
	// dual-use codes such as 5A002.a.1, or "EAR99"/"" for an uncontrolled item.
	ControlCodes []string `json:"control_codes"`
	// Destination is the ISO 3166-1 alpha-3 code of the destination state.
	Destination string `json:"destination"`
	// Value is the declared total value. It is reported but not scored: it carries no
	// currency, so any threshold would mean different things in EUR and JPY.
	Value float64 `json:"value,omitempty"`
	// Indicators are every indicator the federation holds; Assess picks those that
	// apply, so the caller need not know the matching rules.
	Indicators []Indicator `json:"indicators,omitempty"`
	// Parties are the end user, consignee, intermediaries and applicant.
	Parties []Party `json:"parties,omitempty"`
	// Hits are the screening hits of the parties.
	Hits []Hit `json:"hits,omitempty"`
	// Transit are the states the goods pass through, ISO 3166-1 alpha-3.
	Transit []string `json:"transit,omitempty"`
	// At is the assessment time; indicators valid until before it are ignored. It is an
	// argument so that a past assessment can be recomputed exactly.
	At time.Time `json:"at"`
}

// Indicator is a federation risk indicator as the node holds it.
type Indicator struct {
	// ID is the federation's indicator id; reasons cite it.
	ID string `json:"id"`
	// Kind is one of destination, end-user, item, route, diversion, failed-end-use-check
	// and supply-chain; it decides which factor the indicator can count in.
	Kind string `json:"kind"`
	// Subject is the opened subject: a state code, a party name or a control code.
	Subject string `json:"subject"`
	// Originator is the publishing state, shown in reasons.
	Originator string `json:"originator,omitempty"`
	// Severity is 1 (least) to 5 (most), as the originator rated it.
	Severity int `json:"severity"`
	// Corroborations counts the other states that backed the indicator.
	Corroborations int       `json:"corroborations,omitempty"`
	ValidUntil     time.Time `json:"valid_until"`
	Withdrawn      bool      `json:"withdrawn,omitempty"`
}

// Party is a party to the application.
type Party struct {
	// Role is RoleEndUser, RoleConsignee, RoleIntermediary or RoleApplicant.
	Role string `json:"role"`
	Name string `json:"name"`
	// Country is the party's ISO 3166-1 alpha-3 state, or empty if unknown.
	Country string `json:"country,omitempty"`
}

// Hit is a screening hit of one party against a listed entity.
type Hit struct {
	// PartyRole is the Role of the party that was screened.
	PartyRole string `json:"party_role"`
	// Score is the screening match score in [0, 1].
	Score       float64 `json:"score"`
	List        string  `json:"list"`
	EntityID    string  `json:"entity_id"`
	MatchedName string  `json:"matched_name,omitempty"`
	// Consensus is set for the federation's consensus watchlist.
	Consensus bool `json:"consensus,omitempty"`
}

// Assessment is the answer: a score, its band, and the reasons, whose points add up to the
// score so that an officer can see exactly where every point came from.
type Assessment struct {
	// Score is 0 to 100, in hundredths.
	Score   float64  `json:"score"`
	Band    string   `json:"band"`
	Reasons []Reason `json:"reasons"`
	// Model is the version of the scoring model, Model.
	Model string `json:"model"`
}

// Reason is one contribution to a score. Ignored indicators appear with zero points so
// that an officer knows they were seen; the cap, if reached, is a negative reason.
type Reason struct {
	Factor string  `json:"factor"`
	Detail string  `json:"detail"`
	Points float64 `json:"points"`
	// Ref is what the reason is about: an indicator id, "list/entity id", or a control code.
	Ref string `json:"ref,omitempty"`
}

// InputError is Assess's error for input it cannot score. Field is the JSON path of the
// offending value ("indicators[3].severity"), so that the API can point at it.
type InputError struct {
	Field string
	Msg   string
}

// Error gives the field first, as the API's field errors do.
func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func inputErr(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Assess scores an application. It fails only on invalid input, with an *InputError.
func Assess(in Input) (Assessment, error) {
	codes, err := validate(in)
	if err != nil {
		return Assessment{}, err
	}
	a := assessor{in: in, codes: codes}
	return a.run(), nil
}

// assessor carries one assessment's lookups and results.
type assessor struct {
	in      Input
	codes   []ControlCode
	reasons []Reason
	cents   int64 // the score so far, in hundredths of a point
}

func (a *assessor) add(r Reason, cents int64) {
	r.Points = float64(cents) / 100
	a.reasons = append(a.reasons, r)
	a.cents += cents
}

func (a *assessor) run() Assessment {
	item := a.item()

	codePaths := map[string]bool{} // every prefix of every item's code path
	for _, c := range a.codes {
		p := codePath(c.Raw)
		for i := range p {
			codePaths[strings.Join(p[:i+1], ".")] = true
		}
	}
	names, countries := map[string][]string{}, map[string][]string{}
	for _, p := range a.in.Parties {
		n := normName(p.Name)
		names[n] = append(names[n], p.Role)
		if p.Country != "" {
			countries[p.Country] = append(countries[p.Country], p.Role)
		}
	}

	var pools [numPools][]contribution
	for _, ind := range a.in.Indicators {
		pool, about := a.classify(ind, codePaths, names, countries)
		if pool == noPool {
			continue
		}
		what := fmt.Sprintf("%s indicator %s about %s (severity %d, %s%s)",
			ind.Kind, ind.ID, about, ind.Severity, corroborated(ind.Corroborations), from(ind.Originator))
		switch {
		case ind.Withdrawn:
			a.add(Reason{Factor: "indicator-ignored", Ref: ind.ID, Detail: what + ": withdrawn by its originator"}, 0)
			continue
		case ind.ValidUntil.Before(a.in.At):
			a.add(Reason{Factor: "indicator-ignored", Ref: ind.ID,
				Detail: what + ": expired " + ind.ValidUntil.UTC().Format(time.RFC3339) + ", before the assessment time"}, 0)
			continue
		}
		s := strength(ind)
		c := contribution{factor: poolFactor[pool], ref: ind.ID, p: s, what: fmt.Sprintf("%s: strength %.3f", what, s)}
		if pool == partyPool {
			c.factor = ind.Kind + "-indicator"
			c.p *= partyIndicatorWgt
			c.what += fmt.Sprintf(" x weight %.1f", partyIndicatorWgt)
		}
		pools[pool] = append(pools[pool], c)
	}
	pools[partyPool] = append(pools[partyPool], a.hits()...)

	d := a.combine("destination risk", destinationCeiling, pools[destPool])
	a.combine("route risk", routeCeiling, pools[routePool])
	a.combine("item indicator risk", itemIndicatorCeiling, pools[itemPool])
	a.combine("party risk", partyCeiling, pools[partyPool])

	if d > 0 && item.points > 0 {
		c := int64(math.Round(combinationCeiling * 100 * d * float64(item.points) / itemCeiling))
		a.add(Reason{Factor: "sensitive-item-destination", Ref: item.code,
			Detail: fmt.Sprintf("sensitive item to a risky destination: %d x destination risk %.3f x item sensitivity %d/%d points", combinationCeiling, d, item.points, itemCeiling)}, c)
	}
	if a.in.Value > 0 {
		a.add(Reason{Factor: "value", Detail: "declared value " + strconv.FormatFloat(a.in.Value, 'f', -1, 64) + ", not scored: the input carries no currency"}, 0)
	}
	if a.cents > scoreCeiling*100 {
		over := a.cents - scoreCeiling*100
		a.add(Reason{Factor: "cap", Detail: fmt.Sprintf("the factors add up to %.2f; the score is capped at %d", float64(a.cents)/100, scoreCeiling)}, -over)
	}

	slices.SortFunc(a.reasons, func(x, y Reason) int {
		return cmp.Or(cmp.Compare(y.Points, x.Points), strings.Compare(x.Factor, y.Factor),
			strings.Compare(x.Ref, y.Ref), strings.Compare(x.Detail, y.Detail))
	})
	score := float64(a.cents) / 100
	return Assessment{Score: score, Band: band(score), Reasons: a.reasons, Model: Model}
}

type itemResult struct {
	points int
	code   string
}

// item scores the most sensitive item. Only the maximum counts: a thousand rifles are not
// a thousand times as sensitive as one, and quantity is the licensing officer's judgement.
func (a *assessor) item() itemResult {
	best, why, controlled := -1, "", 0
	var code string
	for _, c := range a.codes {
		if c.Regime == RegimeUncontrolled {
			continue
		}
		controlled++
		p, w := itemPoints(c)
		if p > best || (p == best && c.Raw < code) {
			best, why, code = p, w, c.Raw
		}
	}
	if controlled == 0 {
		a.add(Reason{Factor: "item", Detail: "no controlled items (EAR99 or no control code)"}, 0)
		return itemResult{}
	}
	a.add(Reason{Factor: "item", Ref: code, Detail: fmt.Sprintf("most sensitive of %d controlled item(s): %s points", controlled, why)}, int64(best)*100)
	return itemResult{points: best, code: code}
}

// classify returns the pool an indicator belongs to and what it is about in words, or a
// noPool if it does not apply. An indicator counts in one pool at most.
func (a *assessor) classify(ind Indicator, codePaths map[string]bool, names, countries map[string][]string) (pool, string) {
	state := strings.ToUpper(strings.TrimSpace(ind.Subject))
	transit := slices.Contains(a.in.Transit, state)
	switch ind.Kind {
	case "destination", "diversion", "failed-end-use-check":
		if state == a.in.Destination {
			return destPool, "destination " + state
		}
		if transit && ind.Kind != "failed-end-use-check" {
			return routePool, "transit state " + state
		}
	case "route":
		if state == a.in.Destination {
			return routePool, "destination " + state
		}
		if transit {
			return routePool, "transit state " + state
		}
	case "item":
		c, err := ParseControlCode(ind.Subject)
		if err == nil && c.Regime != RegimeUncontrolled && codePaths[strings.Join(codePath(c.Raw), ".")] {
			return itemPool, "items under " + c.Raw
		}
	case "end-user", "supply-chain":
		if r := names[normName(ind.Subject)]; len(r) > 0 {
			return partyPool, fmt.Sprintf("%q, a party (%s)", clip(ind.Subject), roleList(r))
		}
		if r := countries[state]; len(r) > 0 {
			return partyPool, fmt.Sprintf("parties in %s (%s)", state, roleList(r))
		}
	}
	return noPool, ""
}
