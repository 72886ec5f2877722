package risk

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/entente/entente/node/records"
)

func FuzzParseControlCode(f *testing.F) {
	for _, s := range []string{"ML1", "ml4.a", "ML10.b.1", "ML22", "ML23", "0A001", "1C350", "3A001a7b", "5A002.a.1", "9E003", "EAR99", "", "3A0011", "ML4..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseControlCode(s)
		if err != nil {
			return
		}
		switch c.Regime {
		case RegimeMilitary:
			if c.Category < 1 || c.Category > 22 || c.Group != "" || c.Advanced {
				t.Fatalf("%q: %+v", s, c)
			}
		case RegimeDualUse:
			if c.Category < 0 || c.Category > 9 || len(c.Group) != 1 || c.Group < "A" || c.Group > "E" {
				t.Fatalf("%q: %+v", s, c)
			}
		case RegimeUncontrolled:
			if c.Raw != "" && c.Raw != "EAR99" {
				t.Fatalf("%q: %+v", s, c)
			}
			return
		default:
			t.Fatalf("%q: regime %q", s, c.Regime)
		}
		// A code accepted here is one records accepts, and parsing is idempotent.
		if n, err := records.NormalizeControlCode(s); err != nil || n != c.Raw {
			t.Fatalf("%q: parsed as %q, records says %q, %v", s, c.Raw, n, err)
		}
		if again, err := ParseControlCode(c.Raw); err != nil || again != c {
			t.Fatalf("%q: re-parsing %q gave %+v, %v", s, c.Raw, again, err)
		}
		if p := codePath(c.Raw); len(p) == 0 || !strings.HasPrefix(strings.ReplaceAll(c.Raw, ".", ""), p[0]) {
			t.Fatalf("%q: code path %v", s, p)
		}
		if p, _ := itemPoints(c); p <= 0 || p > itemCeiling {
			t.Fatalf("%q: %d points", s, p)
		}
	})
}

func FuzzAssess(f *testing.F) {
	f.Add("ML4.a,EAR99", "IRN", "OMN", "end-user", "Zenith Aero", 5, 2, 0.92, true, int64(3600), false, 1e5)
	f.Add("5A002.a", "MYS", "", "item", "5A002", 3, 0, 0.4, false, int64(-60), true, 0.0)
	f.Add("0E001", "PRK", "CHN", "route", "CHN", 1, 9, 1.0, true, int64(0), false, -1.0)
	f.Fuzz(func(t *testing.T, codes, dest, transit, kind, subject string, severity, corroborations int, score float64,
		consensus bool, validFor int64, withdrawn bool, value float64) {
		in := Input{
			ControlCodes: strings.Split(codes, ","),
			Destination:  dest,
			Value:        value,
			Parties:      []Party{{Role: RoleEndUser, Name: subject, Country: dest}, {Role: RoleConsignee, Name: "Consignee"}},
			Hits: []Hit{{PartyRole: RoleEndUser, Score: score, List: "consensus", EntityID: "C1", MatchedName: subject, Consensus: consensus},
				{PartyRole: RoleConsignee, Score: 1 - score, List: "national", EntityID: "N1"}},
			Indicators: []Indicator{
				{ID: "A", Kind: kind, Subject: subject, Severity: severity, Corroborations: corroborations, ValidUntil: at.Add(time.Duration(validFor) * time.Second), Withdrawn: withdrawn},
				{ID: "B", Kind: "destination", Subject: dest, Severity: max(1, min(5, severity)), Corroborations: max(0, corroborations), ValidUntil: at.Add(time.Hour)},
			},
			At: at,
		}
		if transit != "" {
			in.Transit = strings.Split(transit, ",")
		}
		a, err := Assess(in)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		checkInvariants(t, a)
		for _, r := range a.Reasons {
			if math.IsNaN(r.Points) || !utf8.ValidString(r.Detail) {
				t.Fatalf("bad reason %+v", r)
			}
		}
		in.Hits[0], in.Hits[1] = in.Hits[1], in.Hits[0]
		in.Indicators[0], in.Indicators[1] = in.Indicators[1], in.Indicators[0]
		if again, err := Assess(in); err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("reordered input gave %+v, %v; want %+v", again, err, a)
		}
	})
}
