package policy

import (
	"fmt"
	"strings"
)

// Role is what a client token allows its holder to do on a node.
type Role string

// Client roles.
const (
	RoleOfficer    Role = "officer"    // writes and reads national records
	RoleAnalyst    Role = "analyst"    // reads national records, watchlists and alerts
	RoleSteering   Role = "steering"   // reads watchlists and federation figures, votes
	RoleIntegrator Role = "integrator" // reads alerts and watchlists only
	RoleAuditor    Role = "auditor"    // reads the audit trail
	RoleOperator   Role = "operator"   // administers the node: tokens, keys
)

// Action is something a client asks the node to do.
type Action string

// Actions checked by Allowed.
const (
	ActRecordWrite Action = "record:write"
	ActRecordRead  Action = "record:read"
	ActAuditRead   Action = "audit:read"
	ActAlertRead   Action = "alert:read"
	ActTokenAdmin  Action = "token:admin"
	// ActWatchlistPropose is nominating a party and publishing, corroborating or
	// withdrawing a risk indicator on behalf of this state.
	ActWatchlistPropose Action = "watchlist:propose"
	// ActWatchlistVote is endorsing or objecting to a nomination, bringing an appeal and
	// deciding one, on behalf of this state.
	ActWatchlistVote Action = "watchlist:vote"
	// ActWatchlistRead is reading the consensus watchlist and the indicators.
	ActWatchlistRead Action = "watchlist:read"
	// ActFederationRead is reading the federation's members and status.
	ActFederationRead Action = "federation:read"
	// ActFederationAdmin is handing the chair on at once.
	ActFederationAdmin Action = "federation:admin"
	// ActMembership is proposing to admit or remove a state, and voting on such a
	// proposal, on behalf of this state: the steering body's business.
	ActMembership Action = "federation:membership"
	// ActListImport is replacing an imported screening list (OFAC, UN, CSL...): it changes
	// what every officer's screening finds, so it is the operator's, like the node's keys.
	ActListImport Action = "list:import"
	// ActListRead is seeing which screening lists the node holds, their versions and
	// sizes: no party data, so everyone who screens, oversees or runs the node may.
	ActListRead Action = "list:read"
	// ActScreen is screening parties against the lists and asking for a risk assessment:
	// casework, so the agency's officers and analysts only. Every screening is audited.
	ActScreen Action = "screen:run"
	// ActLocalAlertRead is reading the local alerts re-screening raises: they name
	// national records, so they stay with the agency and its auditors, unlike the
	// federation's alerts that integrators pull.
	ActLocalAlertRead Action = "alert:local:read"
)

// roles lists every role in the order error messages name them.
var roles = []Role{RoleOfficer, RoleAnalyst, RoleSteering, RoleIntegrator, RoleAuditor, RoleOperator}

// Roles returns every client role, for token-issuing tools and help texts.
func Roles() []Role {
	return append([]Role(nil), roles...)
}

// grants is the whole authorisation table in one place so that it can be read, reviewed
// and tested as a matrix. Anything not listed is refused.
var grants = map[Role][]Action{
	RoleOfficer:    {ActRecordWrite, ActRecordRead, ActAlertRead, ActWatchlistPropose, ActWatchlistVote, ActWatchlistRead, ActFederationRead, ActListRead, ActScreen, ActLocalAlertRead},
	RoleAnalyst:    {ActRecordRead, ActAlertRead, ActWatchlistRead, ActFederationRead, ActListRead, ActScreen, ActLocalAlertRead},
	RoleSteering:   {ActAlertRead, ActWatchlistVote, ActWatchlistRead, ActFederationRead, ActMembership, ActListRead},
	RoleIntegrator: {ActAlertRead, ActWatchlistRead},
	RoleAuditor:    {ActAuditRead, ActFederationRead, ActListRead, ActLocalAlertRead},
	RoleOperator:   {ActTokenAdmin, ActAuditRead, ActFederationRead, ActFederationAdmin, ActMembership, ActListImport, ActListRead},
}

// ParseRole validates a role name, so that a token can never be issued for a role that
// Allowed does not know (and would therefore silently refuse everything).
func ParseRole(s string) (Role, error) {
	for _, r := range roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: valid roles are %s", clip(s), strings.Join(names, ", "))
}

// Allowed reports whether role may perform action. Unknown roles and actions are refused.
func Allowed(r Role, a Action) bool {
	for _, granted := range grants[r] {
		if granted == a {
			return true
		}
	}
	return false
}

// MayRead reports whether a holder of role may see the opened value of a field with
// marking m on its own node (for example integrators never see NATIONAL values).
//
// Officers, analysts and auditors work inside the national agency and read everything the
// node can open. Integrators and the steering body read everything released beyond the
// country but never NATIONAL values. Operators run the machine, not the casework: they see
// only PUBLIC values. Unknown roles and invalid markings read nothing.
func MayRead(r Role, m Marking) bool {
	if m.Kind == RelTo && len(m.To) == 0 {
		return false
	}
	switch m.Kind {
	case National, RelTo, Federation, Public:
	default:
		return false
	}
	switch r {
	case RoleOfficer, RoleAnalyst, RoleAuditor:
		return true
	case RoleIntegrator, RoleSteering:
		return m.Kind != National
	case RoleOperator:
		return m.Kind == Public
	default:
		return false
	}
}
