package risk

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseControlCode(t *testing.T) {
	valid := []struct {
		in   string
		want ControlCode
	}{
		{"ML1", ControlCode{Regime: RegimeMilitary, Category: 1, Raw: "ML1"}},
		{" ml4.a ", ControlCode{Regime: RegimeMilitary, Category: 4, Raw: "ML4.A"}},
		{"ML10.b.1", ControlCode{Regime: RegimeMilitary, Category: 10, Raw: "ML10.B.1"}},
		{"ML22", ControlCode{Regime: RegimeMilitary, Category: 22, Raw: "ML22"}},
		{"0A001", ControlCode{Regime: RegimeDualUse, Category: 0, Group: "A", Advanced: true, Raw: "0A001"}},
		{"1C350", ControlCode{Regime: RegimeDualUse, Category: 1, Group: "C", Advanced: true, Raw: "1C350"}},
		{"1C010", ControlCode{Regime: RegimeDualUse, Category: 1, Group: "C", Raw: "1C010"}},
		{"3A001.a.7", ControlCode{Regime: RegimeDualUse, Category: 3, Group: "A", Advanced: true, Raw: "3A001.A.7"}},
		{"3A090", ControlCode{Regime: RegimeDualUse, Category: 3, Group: "A", Advanced: true, Raw: "3A090"}},
		{"5A002.a.1", ControlCode{Regime: RegimeDualUse, Category: 5, Group: "A", Raw: "5A002.A.1"}},
		{"6A003", ControlCode{Regime: RegimeDualUse, Category: 6, Group: "A", Advanced: true, Raw: "6A003"}},
		{"6A001", ControlCode{Regime: RegimeDualUse, Category: 6, Group: "A", Raw: "6A001"}},
		{"7A103", ControlCode{Regime: RegimeDualUse, Category: 7, Group: "A", Advanced: true, Raw: "7A103"}},
		{"9E003", ControlCode{Regime: RegimeDualUse, Category: 9, Group: "E", Advanced: true, Raw: "9E003"}},
		{"9D004", ControlCode{Regime: RegimeDualUse, Category: 9, Group: "D", Raw: "9D004"}},
		{"EAR99", ControlCode{Regime: RegimeUncontrolled, Raw: "EAR99"}},
		{"ear99", ControlCode{Regime: RegimeUncontrolled, Raw: "EAR99"}},
		{"", ControlCode{Regime: RegimeUncontrolled}},
		{"  ", ControlCode{Regime: RegimeUncontrolled}},
	}
	for _, c := range valid {
		got, err := ParseControlCode(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseControlCode(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"ML0", "ML23", "ML", "M4", "3F001", "3A01", "3A0011", "A3001", "ML4..a", "ML4.a.", "EAR98", "ML４", "ML4ABC"} {
		if got, err := ParseControlCode(in); err == nil {
			t.Errorf("ParseControlCode(%q) = %+v, want an error", in, got)
		}
	}
}

func TestCodePath(t *testing.T) {
	for in, want := range map[string]string{
		"ML4":       "ML4",
		"ML4.A.1":   "ML4 A 1",
		"ML4A1":     "ML4 A 1",
		"ML10.B.1":  "ML10 B 1",
		"3A001A7B":  "3A001 A 7 B",
		"5A002.A.1": "5A002 A 1",
		"ML8.A.12B": "ML8 A 12 B",
	} {
		if got := strings.Join(codePath(in), " "); got != want {
			t.Errorf("codePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestItemFactor(t *testing.T) {
	for _, c := range []struct {
		codes []string
		want  float64
		ref   string
	}{
		{[]string{"EAR99"}, 0, ""},
		{[]string{"", "EAR99"}, 0, ""},
		{[]string{"ML1"}, 20, "ML1"},
		{[]string{"ML13"}, 8, "ML13"},
		{[]string{"ML7.b"}, 28, "ML7.B"},
		{[]string{"ML1", "ML4.a", "EAR99"}, 26, "ML4.A"},
		{[]string{"ML10", "ML19"}, 24, "ML10"}, // tie: the alphabetically first code
		{[]string{"4A003"}, 8, "4A003"},
		{[]string{"4D001"}, 11, "4D001"},
		{[]string{"4E001"}, 13, "4E001"},
		{[]string{"2B001"}, 12, "2B001"},
		{[]string{"1C350"}, 18, "1C350"},
		{[]string{"0A001"}, 24, "0A001"},
		{[]string{"0E001"}, 29, "0E001"},
		{[]string{"9E101"}, 25, "9E101"},
		{[]string{"9E003"}, 25, "9E003"},
		{[]string{"3A090.a"}, 18, "3A090.A"},
		{[]string{"5A002.a.1"}, 8, "5A002.A.1"},
	} {
		in := base()
		in.ControlCodes = c.codes
		a := mustAssess(t, in)
		if got := points(a, "item"); got != c.want {
			t.Errorf("%v: item points %v, want %v", c.codes, got, c.want)
		}
		for _, r := range a.Reasons {
			if r.Factor == "item" && r.Ref != c.ref {
				t.Errorf("%v: item ref %q, want %q", c.codes, r.Ref, c.ref)
			}
		}
	}
}

// TestItemWeights checks that no item passes the item ceiling, so the tables and the
// ceiling the combination factor divides by agree.
func TestItemWeights(t *testing.T) {
	for i := 1; i <= 22; i++ {
		if p := military[i].points; p <= 0 || p > itemCeiling {
			t.Errorf("ML%d: %d points", i, p)
		}
	}
	for cat := range dualUse {
		for g := range groups {
			p, _ := itemPoints(ControlCode{Regime: RegimeDualUse, Category: cat, Group: g, Advanced: true})
			if p > itemCeiling {
				t.Errorf("%d%s advanced: %d points", cat, g, p)
			}
		}
	}
}

func TestDestinationFactor(t *testing.T) {
	for _, c := range []struct {
		name string
		inds []Indicator
		want float64
	}{
		{"none", nil, 0},
		{"severity 5 alone", []Indicator{indicator("A", "destination", "IRN", 5, 0)}, 15},
		{"severity 5, 1 corroboration", []Indicator{indicator("A", "destination", "IRN", 5, 1)}, 22.5},
		{"severity 5, 2 corroborations", []Indicator{indicator("A", "destination", "IRN", 5, 2)}, 26.25},
		{"severity 1", []Indicator{indicator("A", "destination", "IRN", 1, 0)}, 3},
		{"subject case and space folded", []Indicator{indicator("A", "diversion", " irn ", 5, 0)}, 15},
		{"failed end-use check", []Indicator{indicator("A", "failed-end-use-check", "IRN", 5, 0)}, 15},
		{"noisy-OR", []Indicator{indicator("A", "destination", "IRN", 5, 2), indicator("B", "diversion", "IRN", 4, 1)}, 28.5},
		{"other state", []Indicator{indicator("A", "destination", "PRK", 5, 9)}, 0},
		{"route kind goes to route", []Indicator{indicator("A", "route", "IRN", 5, 0)}, 0},
		{"many strong stay under the ceiling", []Indicator{
			indicator("A", "destination", "IRN", 5, 9), indicator("B", "destination", "IRN", 5, 9),
			indicator("C", "destination", "IRN", 5, 9)}, 30},
	} {
		in := base()
		in.Destination = "IRN"
		in.Indicators = c.inds
		a := mustAssess(t, in)
		if got := points(a, "destination"); got != c.want {
			t.Errorf("%s: destination points %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRouteAndItemIndicators(t *testing.T) {
	for _, c := range []struct {
		name   string
		ind    Indicator
		factor string
		want   float64
	}{
		{"route via transit", indicator("A", "route", "OMN", 3, 0), "route", 4.5},
		{"route about the destination", indicator("A", "route", "IRN", 5, 1), "route", 11.25},
		{"diversion at a transit state", indicator("A", "diversion", "OMN", 5, 0), "route", 7.5},
		{"destination kind about a transit state", indicator("A", "destination", "OMN", 5, 0), "route", 7.5},
		{"failed end-use check at a transit state does not apply", indicator("A", "failed-end-use-check", "OMN", 5, 0), "route", 0},
		{"route elsewhere", indicator("A", "route", "TUR", 5, 0), "route", 0},
		{"item parent", indicator("A", "item", "ML4", 5, 0), "item-indicator", 7.5},
		{"item exact, dots ignored", indicator("A", "item", "ml4a", 5, 0), "item-indicator", 7.5},
		{"item child does not cover the parent", indicator("A", "item", "ML10.b.1.a", 5, 0), "item-indicator", 0},
		{"ML1 does not cover ML10", indicator("A", "item", "ML1", 5, 0), "item-indicator", 0},
		{"other sub-item", indicator("A", "item", "ML4.b", 5, 0), "item-indicator", 0},
		{"free-text subject", indicator("A", "item", "missiles", 5, 0), "item-indicator", 0},
	} {
		in := base()
		in.Destination, in.Transit = "IRN", []string{"OMN"}
		in.ControlCodes = []string{"ML4.a", "ML10.b"}
		in.Indicators = []Indicator{c.ind}
		a := mustAssess(t, in)
		if got := points(a, c.factor); got != c.want {
			t.Errorf("%s: %s points %v, want %v", c.name, c.factor, got, c.want)
		}
	}
}

func TestPartyFactor(t *testing.T) {
	parties := []Party{
		{Role: RoleEndUser, Name: "Zenith Aero", Country: "MYS"},
		{Role: RoleConsignee, Name: "Straits Logistics", Country: "SGP"},
	}
	hit := func(role, list, id string, score float64, consensus bool) Hit {
		return Hit{PartyRole: role, Score: score, List: list, EntityID: id, MatchedName: "x", Consensus: consensus}
	}
	for _, c := range []struct {
		name   string
		hits   []Hit
		inds   []Indicator
		factor string
		want   float64
	}{
		{"strong consensus hit", []Hit{hit(RoleEndUser, "consensus", "C1", 0.92, true)}, nil, "screening-hit", 73.6},
		{"consensus hit on the consignee", []Hit{hit(RoleConsignee, "consensus", "C1", 1, true)}, nil, "screening-hit", 80},
		{"national hit", []Hit{hit(RoleEndUser, "national", "N1", 1, false)}, nil, "screening-hit", 40},
		{"two national hits", []Hit{hit(RoleEndUser, "national", "N1", 1, false), hit(RoleConsignee, "ofac-sdn", "S1", 1, false)}, nil, "screening-hit", 60},
		{"one entity counts once", []Hit{hit(RoleEndUser, "national", "N1", 0.6, false), hit(RoleConsignee, "national", "N1", 1, false)}, nil, "screening-hit", 40},
		{"zero score", []Hit{hit(RoleEndUser, "consensus", "C1", 0, true)}, nil, "screening-hit", 0},
		{"end-user indicator by name", nil, []Indicator{indicator("A", "end-user", "zenith  AERO", 5, 2)}, "end-user-indicator", 35},
		{"end-user indicator by country", nil, []Indicator{indicator("A", "end-user", "sgp", 5, 0)}, "end-user-indicator", 20},
		{"supply-chain indicator", nil, []Indicator{indicator("A", "supply-chain", "Straits Logistics", 5, 0)}, "supply-chain-indicator", 20},
		{"end-user indicator elsewhere", nil, []Indicator{indicator("A", "end-user", "Other Co", 5, 0)}, "end-user-indicator", 0},
	} {
		in := base()
		in.Parties, in.Hits, in.Indicators = parties, c.hits, c.inds
		a := mustAssess(t, in)
		if got := points(a, c.factor); got != c.want {
			t.Errorf("%s: %s points %v, want %v", c.name, c.factor, got, c.want)
		}
	}
}

func TestCombination(t *testing.T) {
	for _, c := range []struct {
		name  string
		codes []string
		inds  []Indicator
		want  float64
		score float64
	}{
		{"no destination risk", []string{"ML4"}, nil, 0, 26},
		{"uncontrolled item", []string{"EAR99"}, []Indicator{indicator("A", "destination", "IRN", 5, 0)}, 0, 15},
		{"one uncorroborated indicator and ML4", []string{"ML4"}, []Indicator{indicator("A", "destination", "IRN", 5, 0)}, 10.83, 51.83},
		{"high destination risk and ML4", []string{"ML4"}, []Indicator{indicator("A", "destination", "IRN", 5, 2), indicator("B", "diversion", "IRN", 4, 1)}, 20.58, 75.08},
	} {
		in := base()
		in.Destination, in.ControlCodes, in.Indicators = "IRN", c.codes, c.inds
		a := mustAssess(t, in)
		if got := points(a, "sensitive-item-destination"); got != c.want || a.Score != c.score {
			t.Errorf("%s: combination %v, score %v; want %v, %v", c.name, got, a.Score, c.want, c.score)
		}
	}
}

func TestIgnoredIndicators(t *testing.T) {
	in := base()
	in.Destination = "IRN"
	in.ControlCodes = []string{"ML4"}
	expired := indicator("OLD", "destination", "IRN", 5, 3)
	expired.ValidUntil = at.Add(-time.Second)
	withdrawn := indicator("GONE", "destination", "IRN", 5, 3)
	withdrawn.Withdrawn = true
	clean := mustAssess(t, in)

	in.Indicators = []Indicator{expired, withdrawn}
	a := mustAssess(t, in)
	if a.Score != clean.Score {
		t.Errorf("expired and withdrawn indicators changed the score: %v, want %v", a.Score, clean.Score)
	}
	seen := map[string]string{}
	for _, r := range a.Reasons {
		if r.Factor == "indicator-ignored" {
			if r.Points != 0 {
				t.Errorf("%s: %v points", r.Ref, r.Points)
			}
			seen[r.Ref] = r.Detail
		}
	}
	if !strings.Contains(seen["OLD"], "expired") || !strings.Contains(seen["GONE"], "withdrawn") {
		t.Errorf("ignored indicators not explained: %v", seen)
	}

	// Valid until exactly the assessment time still counts.
	expired.ValidUntil = at
	in.Indicators = []Indicator{expired}
	if a := mustAssess(t, in); points(a, "destination") == 0 {
		t.Error("an indicator valid until exactly At was ignored")
	}
	// An ignored indicator that would not apply anyway is not mentioned.
	withdrawn.Subject = "PRK"
	in.Indicators = []Indicator{withdrawn}
	if a := mustAssess(t, in); len(a.Reasons) != len(clean.Reasons) {
		t.Errorf("an inapplicable indicator was mentioned: %+v", a.Reasons)
	}
}

func TestValueIsNotScored(t *testing.T) {
	in := base()
	in.ControlCodes = []string{"ML1"}
	a := mustAssess(t, in)
	in.Value = 1e9
	b := mustAssess(t, in)
	if a.Score != b.Score || points(b, "value") != 0 || len(b.Reasons) != len(a.Reasons)+1 {
		t.Errorf("value changed the score or was not reported: %+v", b)
	}
}

func TestCap(t *testing.T) {
	in := base()
	in.Destination = "IRN"
	in.ControlCodes = []string{"ML7"}
	in.Parties = []Party{{Role: RoleEndUser, Name: "X"}}
	in.Hits = []Hit{{PartyRole: RoleEndUser, Score: 1, List: "consensus", EntityID: "C1", Consensus: true}}
	in.Indicators = []Indicator{indicator("A", "destination", "IRN", 5, 5)}
	a := mustAssess(t, in)
	if a.Score != 100 || a.Band != BandDeny {
		t.Fatalf("score %v %s, want 100 deny-recommended", a.Score, a.Band)
	}
	last := a.Reasons[len(a.Reasons)-1]
	if last.Factor != "cap" || last.Points >= 0 || !strings.Contains(last.Detail, "capped at 100") {
		t.Errorf("last reason %+v, want a negative cap", last)
	}
	var positive float64
	for _, r := range a.Reasons {
		positive += max(r.Points, 0)
	}
	if math.Abs(positive+last.Points-100) > 1e-9 {
		t.Errorf("cap %v does not bring %v to 100", last.Points, positive)
	}
}

func TestBands(t *testing.T) {
	for _, c := range []struct {
		score float64
		want  string
	}{
		{0, BandLow}, {24.99, BandLow}, {25, BandMedium}, {49.99, BandMedium}, {50, BandHigh},
		{69.99, BandHigh}, {70, BandDeny}, {100, BandDeny},
	} {
		if got := band(c.score); got != c.want {
			t.Errorf("band(%v) = %s, want %s", c.score, got, c.want)
		}
	}
	// The documented boundary: a consensus hit of 0.875 alone is deny-recommended.
	for score, want := range map[float64]string{0.875: BandDeny, 0.874: BandHigh, 0.3125: BandMedium, 0.31: BandLow} {
		in := base()
		in.Parties = []Party{{Role: RoleEndUser, Name: "X"}}
		in.Hits = []Hit{{PartyRole: RoleEndUser, Score: score, List: "consensus", EntityID: "C1", Consensus: true}}
		if a := mustAssess(t, in); a.Band != want {
			t.Errorf("consensus hit %v alone: %v %s, want %s", score, a.Score, a.Band, want)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	valid := func() Input {
		in := base()
		in.Transit = []string{"OMN"}
		in.Parties = []Party{{Role: RoleEndUser, Name: "X", Country: "IRN"}}
		in.Hits = []Hit{{PartyRole: RoleEndUser, Score: 0.5, List: "national", EntityID: "N1"}}
		in.Indicators = []Indicator{indicator("A", "route", "OMN", 3, 0), indicator("B", "item", "ML1", 3, 0)}
		return in
	}
	mustAssess(t, valid())
	for _, c := range []struct {
		field string
		edit  func(*Input)
	}{
		{"at", func(in *Input) { in.At = time.Time{} }},
		{"destination", func(in *Input) { in.Destination = "FRN" }},
		{"destination", func(in *Input) { in.Destination = "irn" }},
		{"value", func(in *Input) { in.Value = math.NaN() }},
		{"value", func(in *Input) { in.Value = -1 }},
		{"control_codes", func(in *Input) { in.ControlCodes = nil }},
		{"control_codes", func(in *Input) { in.ControlCodes = make([]string, maxItems+1) }},
		{"control_codes[1]", func(in *Input) { in.ControlCodes = []string{"ML1", "ML23"} }},
		{"transit[0]", func(in *Input) { in.Transit = []string{"XXX"} }},
		{"transit", func(in *Input) { in.Transit = make([]string, maxTransit+1) }},
		{"parties[0].role", func(in *Input) { in.Parties[0].Role = "buyer" }},
		{"parties[0].name", func(in *Input) { in.Parties[0].Name = " " }},
		{"parties[0].name", func(in *Input) { in.Parties[0].Name = strings.Repeat("x", maxName+1) }},
		{"parties[0].country", func(in *Input) { in.Parties[0].Country = "ZZZ" }},
		{"hits[0].party_role", func(in *Input) { in.Hits[0].PartyRole = RoleConsignee }},
		{"hits[0].score", func(in *Input) { in.Hits[0].Score = 1.01 }},
		{"hits[0].score", func(in *Input) { in.Hits[0].Score = -0.1 }},
		{"hits[0].score", func(in *Input) { in.Hits[0].Score = math.NaN() }},
		{"hits[0].list", func(in *Input) { in.Hits[0].List = "" }},
		{"hits[0].entity_id", func(in *Input) { in.Hits[0].EntityID = "" }},
		{"hits[0].matched_name", func(in *Input) { in.Hits[0].MatchedName = "\xff" }},
		{"indicators[1].id", func(in *Input) { in.Indicators[1].ID = "A" }},
		{"indicators[0].id", func(in *Input) { in.Indicators[0].ID = "" }},
		{"indicators[0].kind", func(in *Input) { in.Indicators[0].Kind = "weather" }},
		{"indicators[0].severity", func(in *Input) { in.Indicators[0].Severity = 0 }},
		{"indicators[1].severity", func(in *Input) { in.Indicators[1].Severity = 6 }},
		{"indicators[0].corroborations", func(in *Input) { in.Indicators[0].Corroborations = -1 }},
		{"indicators[0].valid_until", func(in *Input) { in.Indicators[0].ValidUntil = time.Time{} }},
	} {
		in := valid()
		c.edit(&in)
		_, err := Assess(in)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("want an InputError on %s, got %v", c.field, err)
		} else if !strings.HasPrefix(err.Error(), c.field+": ") {
			t.Errorf("error %q does not name %s", err, c.field)
		}
	}
}

func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		in := randomInput(r)
		want := mustAssess(t, in)
		for range 3 {
			s := shuffled(r, in)
			s.At = in.At.In(time.FixedZone("X", 3*3600)) // the same instant elsewhere
			if got := mustAssess(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("shuffled input gave another answer:\n%+v\nwant\n%+v", got, want)
			}
		}
	}
}

// TestMonotonic checks that more or stronger evidence never lowers the score.
func TestMonotonic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		in := randomInput(r)
		was := mustAssess(t, in).Score
		for i := range in.Indicators {
			up := shuffled(r, in)
			up.Indicators = append([]Indicator(nil), in.Indicators...)
			if up.Indicators[i].Severity < 5 {
				up.Indicators[i].Severity++
				if s := mustAssess(t, up).Score; s < was {
					t.Fatalf("raising indicators[%d].severity lowered the score from %v to %v: %+v", i, was, s, in)
				}
			}
			up.Indicators[i] = in.Indicators[i]
			up.Indicators[i].Corroborations++
			if s := mustAssess(t, up).Score; s < was {
				t.Fatalf("corroborating indicators[%d] lowered the score from %v to %v", i, was, s)
			}
		}
		if len(in.Parties) > 0 {
			more := in
			p := in.Parties[r.IntN(len(in.Parties))]
			more.Hits = append(append([]Hit(nil), in.Hits...), Hit{PartyRole: p.Role, Score: float64(r.IntN(101)) / 100,
				List: []string{"consensus", "national"}[r.IntN(2)], EntityID: []string{"E0", "E1", "NEW"}[r.IntN(3)], Consensus: r.IntN(2) == 0})
			if s := mustAssess(t, more).Score; s < was {
				t.Fatalf("adding a hit lowered the score from %v to %v", was, s)
			}
		}
		more := in
		more.Indicators = append(append([]Indicator(nil), in.Indicators...), indicator("NEW", "destination", in.Destination, 1+r.IntN(5), r.IntN(3)))
		if s := mustAssess(t, more).Score; s < was {
			t.Fatalf("adding an indicator lowered the score from %v to %v", was, s)
		}
	}
}

func TestInputErrorMessage(t *testing.T) {
	_, err := Assess(Input{At: at, Destination: "DEU", ControlCodes: []string{"ML99"}})
	if err == nil || !strings.Contains(err.Error(), "control_codes[0]: ") || !strings.Contains(err.Error(), "ML1 to ML22") {
		t.Errorf("error %v does not explain the code", err)
	}
}
