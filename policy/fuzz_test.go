package policy

import (
	"strings"
	"testing"
)

// FuzzParseMarking checks that ParseMarking never panics, that whatever it accepts prints
// to a canonical form that reads back to an equal marking, and that an accepted marking is
// well formed (so that no odd input can produce a marking Recipients would misread).
func FuzzParseMarking(f *testing.F) {
	for _, s := range []string{"NATIONAL", "PUBLIC", "REL TO FEDERATION", "REL TO DEU,FRA", "REL TO FRA, DEU", "REL TO STEERING,NORDIC", "rel to fra", "REL TO", "REL TO FEDERATION,FRA", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarking(s)
		if err != nil {
			if m.Kind != 0 || m.To != nil {
				t.Fatalf("ParseMarking(%q) returned %+v with error %v", s, m, err)
			}
			return
		}
		canon := m.String()
		again, err := ParseMarking(canon)
		if err != nil {
			t.Fatalf("ParseMarking(%q) = %+v, but its String %q does not parse: %v", s, m, canon, err)
		}
		if !again.Equal(m) || again.String() != canon {
			t.Fatalf("ParseMarking(%q) = %v, re-parsed as %v", s, m, again)
		}
		if !MayLeave(m) && m.Kind != National {
			t.Fatalf("accepted marking %v may not leave", m)
		}
		if (m.Kind == RelTo) != (len(m.To) > 0) {
			t.Fatalf("marking %+v: To set for the wrong kind", m)
		}
		for i, to := range m.To {
			if i > 0 && m.To[i-1] >= to {
				t.Fatalf("To not sorted and unique: %v", m.To)
			}
			if strings.ContainsAny(to, " ,\t") || to == "FEDERATION" || to == "NATIONAL" || to == "PUBLIC" {
				t.Fatalf("To holds %q", to)
			}
			if isStateShaped(to) && ValidStateCode(to) != nil {
				t.Fatalf("To holds an invalid state code %q", to)
			}
		}
	})
}
