package command

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/policy"
)

const summary = "Consultations on nominations run for fourteen days instead of ten."

func amended() *policy.Policy {
	p := policy.DefaultPolicy()
	p.Voting.Consultation = policy.Duration(14 * policy.Day)
	return &p
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("error %v, want ErrInvalid naming %s", err, field)
	}
}

// TestPolicyAmendmentShape refuses an amendment without a plain-language summary of the
// right length, with an invalid policy, or mixed with an admission, naming the field.
func TestPolicyAmendmentShape(t *testing.T) {
	invalidPolicy := amended()
	invalidPolicy.Voting.Consultation = 0
	badGroup := amended()
	badGroup.Groups = map[string][]string{"NATO": {"XXA"}}
	cases := []struct {
		name  string
		p     *Membership
		field string
	}{
		{"no summary", &Membership{ID: "P", Action: "policy", Policy: amended()}, "summary"},
		{"short summary", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: "Longer window."}, "summary"},
		{"long summary", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: strings.Repeat("a", MaxSummary+1)}, "summary"},
		{"markup", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: summary + " <script>x</script>"}, "summary"},
		{"control", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: summary + "\x07"}, "summary"},
		{"padded", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: " " + summary}, "summary"},
		{"no policy", &Membership{ID: "P", Action: "policy", Summary: summary}, "policy"},
		{"invalid policy", &Membership{ID: "P", Action: "policy", Policy: invalidPolicy, Summary: summary}, "policy.voting.consultation"},
		{"invalid group", &Membership{ID: "P", Action: "policy", Policy: badGroup, Summary: summary}, "policy.groups.NATO"},
		{"with a state", &Membership{ID: "P", Action: "policy", Policy: amended(), Summary: summary, State: "ITA"}, "member"},
		{"admission with a policy", &Membership{ID: "P", Action: "remove", State: "ITA", Policy: amended()}, "policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("FRA", tc.p)
			wantField(t, err, tc.field)
		})
	}
	// Exactly the bounds pass.
	for _, s := range []string{strings.Repeat("é", MinSummary), strings.Repeat("a", MaxSummary), "Line one of the summary.\nLine two."} {
		if err := CheckSummary(s); err != nil {
			t.Errorf("summary of %d characters: %v", len([]rune(s)), err)
		}
	}
}

// TestPolicyAmendmentRoundTrip signs, frames and decodes an amendment to the same policy.
func TestPolicyAmendmentRoundTrip(t *testing.T) {
	f := newFixture(t)
	c, err := New("FRA", &Membership{ID: "P-1", Action: "policy", Policy: amended(), Summary: summary})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(f.signer); err != nil {
		t.Fatal(err)
	}
	raw, _ := c.Marshal()
	back, err := Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(back)
	if err != nil {
		t.Fatal(err)
	}
	m := p.(*Membership)
	if !SamePolicy(*m.Policy, *amended()) || m.Summary != summary {
		t.Fatalf("decoded %+v", m)
	}
}

// TestCheckAmendment refuses a change of key epoch and a proposal identical to the
// policy in force, naming the field, and accepts a real change.
func TestCheckAmendment(t *testing.T) {
	inForce := policy.DefaultPolicy()
	epoch := amended()
	epoch.KeyEpoch = policy.Duration(time.Duration(inForce.KeyEpoch) * 2)
	wantField(t, CheckAmendment(inForce, *epoch), "policy.key_epoch")
	same := policy.DefaultPolicy()
	same.Groups = nil // absent and empty say the same
	wantField(t, CheckAmendment(inForce, same), "policy")
	if err := CheckAmendment(inForce, *amended()); err != nil {
		t.Fatalf("a real change: %v", err)
	}
}
