package risk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)

// base is a minimal valid input: one uncontrolled item, no parties, nothing to score.
func base() Input {
	return Input{ControlCodes: []string{"EAR99"}, Destination: "DEU", At: at}
}

func mustAssess(t testing.TB, in Input) Assessment {
	t.Helper()
	a, err := Assess(in)
	if err != nil {
		t.Fatalf("Assess: %v", err)
	}
	checkInvariants(t, a)
	return a
}

// checkInvariants checks what every assessment promises: score in range, band matching
// it, reasons adding up to it and in order.
func checkInvariants(t testing.TB, a Assessment) {
	t.Helper()
	if a.Score < 0 || a.Score > 100 || math.IsNaN(a.Score) {
		t.Fatalf("score %v outside [0, 100]", a.Score)
	}
	if a.Band != band(a.Score) {
		t.Fatalf("band %s for score %v", a.Band, a.Score)
	}
	if a.Model != Model {
		t.Fatalf("model %q", a.Model)
	}
	var sum float64
	for _, r := range a.Reasons {
		sum += r.Points
	}
	if math.Abs(sum-a.Score) > 1e-6 {
		t.Fatalf("reasons add up to %v, score is %v", sum, a.Score)
	}
	if !slices.IsSortedFunc(a.Reasons, func(x, y Reason) int {
		if x.Points != y.Points {
			if x.Points > y.Points {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Factor+"\x00"+x.Ref, y.Factor+"\x00"+y.Ref)
	}) {
		t.Fatalf("reasons out of order: %+v", a.Reasons)
	}
}

// points returns the total points of the reasons with the given factor.
func points(a Assessment, factor string) float64 {
	var p float64
	for _, r := range a.Reasons {
		if r.Factor == factor {
			p += r.Points
		}
	}
	return math.Round(p*100) / 100
}

func indicator(id, kind, subject string, severity, corroborations int) Indicator {
	return Indicator{ID: id, Kind: kind, Subject: subject, Originator: "FRA", Severity: severity,
		Corroborations: corroborations, ValidUntil: at.Add(30 * 24 * time.Hour)}
}

// randomInput builds a valid input with a bit of everything, for the property tests.
func randomInput(r *rand.Rand) Input {
	codes := []string{"ML1", "ML4.a", "ML10.b.1", "ML22", "0A001", "1C350", "3A090", "5A002.a.1", "9E003", "4A003", "EAR99", ""}
	states := []string{"IRN", "OMN", "ARE", "TUR", "DEU"}
	names := []string{"Acme Trading", "Zenith Aero", "Blue Harbour Ltd"}
	kinds := indicatorKinds
	in := Input{Destination: states[r.IntN(len(states))], At: at, Value: float64(r.IntN(3)) * 1e5}
	for range 1 + r.IntN(4) {
		in.ControlCodes = append(in.ControlCodes, codes[r.IntN(len(codes))])
	}
	for i := range r.IntN(3) {
		in.Transit = append(in.Transit, states[(i+r.IntN(len(states)))%len(states)])
	}
	for i, role := range roles {
		if r.IntN(3) > 0 {
			in.Parties = append(in.Parties, Party{Role: role, Name: names[(i+r.IntN(2))%len(names)], Country: states[r.IntN(len(states))]})
		}
	}
	for i := range r.IntN(4) {
		if len(in.Parties) == 0 {
			break
		}
		p := in.Parties[r.IntN(len(in.Parties))]
		in.Hits = append(in.Hits, Hit{PartyRole: p.Role, Score: float64(r.IntN(101)) / 100, List: []string{"consensus", "national", "ofac-sdn"}[r.IntN(3)],
			EntityID: fmt.Sprintf("E%d", i%3), MatchedName: p.Name, Consensus: r.IntN(2) == 0})
	}
	for i := range r.IntN(8) {
		kind := kinds[r.IntN(len(kinds))]
		var subject string
		switch kind {
		case "item":
			subject = []string{"ML4", "ML1", "1C", "9E003", "3A090.a"}[r.IntN(5)]
		case "end-user", "supply-chain":
			subject = append(names, states...)[r.IntN(len(names)+len(states))]
		default:
			subject = states[r.IntN(len(states))]
		}
		ind := indicator(fmt.Sprintf("I-%d", i), kind, subject, 1+r.IntN(5), r.IntN(4))
		ind.Withdrawn = r.IntN(6) == 0
		if r.IntN(6) == 0 {
			ind.ValidUntil = at.Add(-time.Hour)
		}
		in.Indicators = append(in.Indicators, ind)
	}
	return in
}

// shuffled returns a copy of in with every list in another order.
func shuffled(r *rand.Rand, in Input) Input {
	out := in
	out.ControlCodes = slices.Clone(in.ControlCodes)
	out.Transit = slices.Clone(in.Transit)
	out.Parties = slices.Clone(in.Parties)
	out.Hits = slices.Clone(in.Hits)
	out.Indicators = slices.Clone(in.Indicators)
	r.Shuffle(len(out.ControlCodes), func(i, j int) { out.ControlCodes[i], out.ControlCodes[j] = out.ControlCodes[j], out.ControlCodes[i] })
	r.Shuffle(len(out.Transit), func(i, j int) { out.Transit[i], out.Transit[j] = out.Transit[j], out.Transit[i] })
	r.Shuffle(len(out.Parties), func(i, j int) { out.Parties[i], out.Parties[j] = out.Parties[j], out.Parties[i] })
	r.Shuffle(len(out.Hits), func(i, j int) { out.Hits[i], out.Hits[j] = out.Hits[j], out.Hits[i] })
	r.Shuffle(len(out.Indicators), func(i, j int) { out.Indicators[i], out.Indicators[j] = out.Indicators[j], out.Indicators[i] })
	return out
}
