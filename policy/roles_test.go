package policy

import (
	"strings"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, r := range []Role{RoleOfficer, RoleAnalyst, RoleSteering, RoleIntegrator, RoleAuditor, RoleOperator} {
		got, err := ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "Officer", "admin", " officer", "officer ", "voter"} {
		_, err := ParseRole(bad)
		if err == nil {
			t.Errorf("ParseRole(%q) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "officer, analyst, steering, integrator, auditor, operator") {
			t.Errorf("ParseRole(%q) error %q does not list the valid roles", bad, err)
		}
	}
	if got := Roles(); len(got) != 6 {
		t.Errorf("Roles() = %v", got)
	}
}

func TestAllowedMatrix(t *testing.T) {
	actions := []Action{ActRecordWrite, ActRecordRead, ActAlertRead, ActAuditRead, ActTokenAdmin,
		ActWatchlistPropose, ActWatchlistVote, ActWatchlistRead, ActFederationRead, ActFederationAdmin, ActMembership}
	// want[role] lists, in the order of actions, whether it is allowed.
	want := map[Role][11]bool{
		RoleOfficer:    {true, true, true, false, false, true, true, true, true, false, false},
		RoleAnalyst:    {false, true, true, false, false, false, false, true, true, false, false},
		RoleSteering:   {false, false, true, false, false, false, true, true, true, false, true},
		RoleIntegrator: {false, false, true, false, false, false, false, true, false, false, false},
		RoleAuditor:    {false, false, false, true, false, false, false, false, true, false, false},
		RoleOperator:   {false, false, false, true, true, false, false, false, true, true, true},
		Role("root"):   {},
		Role(""):       {},
	}
	for role, row := range want {
		for i, a := range actions {
			if got := Allowed(role, a); got != row[i] {
				t.Errorf("Allowed(%q, %q) = %v, want %v", role, a, got, row[i])
			}
		}
		if Allowed(role, Action("record:delete")) {
			t.Errorf("Allowed(%q, unknown action) = true", role)
		}
	}
}

func TestMayReadMatrix(t *testing.T) {
	markings := []Marking{
		{Kind: National},
		{Kind: RelTo, To: []string{"FRA"}},
		{Kind: Federation},
		{Kind: Public},
		{},            // invalid
		{Kind: RelTo}, // invalid: no recipients
	}
	want := map[Role][6]bool{
		RoleOfficer:    {true, true, true, true, false, false},
		RoleAnalyst:    {true, true, true, true, false, false},
		RoleAuditor:    {true, true, true, true, false, false},
		RoleIntegrator: {false, true, true, true, false, false},
		RoleSteering:   {false, true, true, true, false, false},
		RoleOperator:   {false, false, false, true, false, false},
		Role("guest"):  {false, false, false, false, false, false},
	}
	for role, row := range want {
		for i, m := range markings {
			if got := MayRead(role, m); got != row[i] {
				t.Errorf("MayRead(%q, %v) = %v, want %v", role, m, got, row[i])
			}
		}
	}
}

// TestScreeningGrants pins who may import lists, read them, screen and read local alerts:
// importing changes every officer's results (operator only), screening is casework
// (officer, analyst), and local alerts name national records (never integrators or the
// steering body).
func TestScreeningGrants(t *testing.T) {
	actions := []Action{ActListImport, ActListRead, ActScreen, ActLocalAlertRead}
	want := map[Role][4]bool{
		RoleOfficer:    {false, true, true, true},
		RoleAnalyst:    {false, true, true, true},
		RoleSteering:   {false, true, false, false},
		RoleIntegrator: {false, false, false, false},
		RoleAuditor:    {false, true, false, true},
		RoleOperator:   {true, true, false, false},
		Role("root"):   {},
	}
	for role, row := range want {
		for i, a := range actions {
			if got := Allowed(role, a); got != row[i] {
				t.Errorf("Allowed(%q, %q) = %v, want %v", role, a, got, row[i])
			}
		}
	}
}
