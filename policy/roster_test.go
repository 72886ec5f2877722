package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestRecipients(t *testing.T) {
	roster := Roster{Members: []RosterMember{
		{Code: "FRA", Role: RoleVoter},
		{Code: "DEU", Role: RoleVoter},
		{Code: "GBR", Role: RoleMember},
		{Code: "SWE", Role: RoleMember},
		{Code: "NOR", Role: RoleObserver},
		{Code: "ITA", Role: RoleVoter},
	}}
	p := DefaultPolicy()
	p.Groups = map[string][]string{
		"NORDIC": {"SWE", "NOR", "FIN"}, // FIN is not on the roster
		"WEST":   {"FRA", "GBR"},
	}
	mk := func(s string) Marking {
		t.Helper()
		m, err := ParseMarking(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name    string
		m       Marking
		origin  string
		want    []string
		wantErr string
	}{
		{"national", mk("NATIONAL"), "FRA", []string{"FRA"}, ""},
		{"national from non-member origin", mk("NATIONAL"), "USA", []string{"USA"}, ""},
		{"rel to one state adds origin", mk("REL TO DEU"), "FRA", []string{"DEU", "FRA"}, ""},
		{"rel to origin only", mk("REL TO FRA"), "FRA", []string{"FRA"}, ""},
		{"rel to origin not on roster", mk("REL TO USA"), "USA", []string{"USA"}, ""},
		{"rel to states", mk("REL TO GBR,DEU"), "ITA", []string{"DEU", "GBR", "ITA"}, ""},
		{"steering", mk("REL TO STEERING"), "GBR", []string{"DEU", "FRA", "GBR", "ITA"}, ""},
		{"steering already includes origin", mk("REL TO STEERING"), "FRA", []string{"DEU", "FRA", "ITA"}, ""},
		{"group drops non-roster member", mk("REL TO NORDIC"), "FRA", []string{"FRA", "NOR", "SWE"}, ""},
		{"group and state overlap dedupes", mk("REL TO WEST,FRA,GBR"), "DEU", []string{"DEU", "FRA", "GBR"}, ""},
		{"group plus steering", mk("REL TO NORDIC,STEERING"), "GBR", []string{"DEU", "FRA", "GBR", "ITA", "NOR", "SWE"}, ""},
		{"federation", mk("REL TO FEDERATION"), "FRA", []string{"DEU", "FRA", "GBR", "ITA", "NOR", "SWE"}, ""},
		{"public", mk("PUBLIC"), "FRA", []string{"DEU", "FRA", "GBR", "ITA", "NOR", "SWE"}, ""},
		{"federation includes non-member origin", mk("REL TO FEDERATION"), "USA", []string{"DEU", "FRA", "GBR", "ITA", "NOR", "SWE", "USA"}, ""},
		{"state not on roster", mk("REL TO USA"), "FRA", nil, "state USA is not on the roster"},
		{"unknown group", mk("REL TO EU"), "FRA", nil, `group "EU" is not defined`},
		{"bad origin", mk("NATIONAL"), "XXX", nil, `origin: "XXX" is not an ISO 3166-1 alpha-3 state code`},
		{"empty origin", mk("PUBLIC"), "", nil, "origin"},
		{"zero marking", Marking{}, "FRA", nil, "invalid marking"},
		{"rel to without list", Marking{Kind: RelTo}, "FRA", nil, "names no states"},
		{"hand-built bad state", Marking{Kind: RelTo, To: []string{"QQQ"}}, "FRA", nil, `"QQQ" is not an ISO`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Recipients(tt.m, roster, p, tt.origin)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Recipients(%v, %s) = %v, %v; want error containing %q", tt.m, tt.origin, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Recipients(%v, %s): %v", tt.m, tt.origin, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Recipients(%v, %s) = %v, want %v", tt.m, tt.origin, got, tt.want)
			}
		})
	}
}

func TestRecipientsSteeringIsBuiltIn(t *testing.T) {
	// A policy that (invalidly) defines STEERING must not redirect the built-in group.
	roster := Roster{Members: []RosterMember{{Code: "FRA", Role: RoleVoter}, {Code: "GBR", Role: RoleMember}}}
	p := Policy{Groups: map[string][]string{"STEERING": {"GBR"}}}
	got, err := Recipients(Marking{Kind: RelTo, To: []string{"STEERING"}}, roster, p, "FRA")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"FRA"}) {
		t.Errorf("STEERING expanded to %v, want [FRA] (the voters)", got)
	}
}

func TestRosterHelpers(t *testing.T) {
	r := Roster{Members: []RosterMember{
		{Code: "GBR", Role: RoleMember}, {Code: "FRA", Role: RoleVoter}, {Code: "DEU", Role: RoleVoter}, {Code: "FRA", Role: RoleVoter},
	}}
	if got := r.Voters(); !slices.Equal(got, []string{"DEU", "FRA"}) {
		t.Errorf("Voters() = %v", got)
	}
	if got := r.Codes(); !slices.Equal(got, []string{"DEU", "FRA", "GBR"}) {
		t.Errorf("Codes() = %v", got)
	}
	if !r.Has("GBR") || r.Has("USA") {
		t.Error("Has gives wrong answers")
	}
	if got := (Roster{}).Voters(); len(got) != 0 {
		t.Errorf("empty roster voters = %v", got)
	}
}
