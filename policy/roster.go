package policy

import (
	"fmt"
	"slices"
)

// MemberRole is a state's role in the federation.
type MemberRole string

// Member roles.
const (
	RoleVoter    MemberRole = "voter"    // steering body member
	RoleMember   MemberRole = "member"   // full member without a vote
	RoleObserver MemberRole = "observer" // observer
)

// RosterMember is one state on the roster, as far as policy needs it.
type RosterMember struct {
	Code string     `json:"code" yaml:"code"`
	Role MemberRole `json:"role" yaml:"role"`
}

// Roster is the set of member states. STEERING always names the voters.
type Roster struct {
	Members []RosterMember `json:"members" yaml:"members"`
}

// Has reports whether code is on the roster. Recipients uses it to refuse releasing a
// value to a state that holds no key in the federation.
func (r Roster) Has(code string) bool {
	return slices.ContainsFunc(r.Members, func(m RosterMember) bool { return m.Code == code })
}

// Voters returns the sorted codes of the roster members with role voter: the members of
// the built-in STEERING group.
func (r Roster) Voters() []string {
	var out []string
	for _, m := range r.Members {
		if m.Role == RoleVoter {
			out = append(out, m.Code)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Codes returns the sorted codes of every roster member.
func (r Roster) Codes() []string {
	out := make([]string, 0, len(r.Members))
	for _, m := range r.Members {
		out = append(out, m.Code)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Recipients expands a marking into the sorted state codes that may read a value
// originated by origin: NATIONAL gives [origin]; REL TO expands groups (from p.Groups and
// the built-in STEERING) and always includes origin; FEDERATION and PUBLIC give every
// roster member plus origin. A state or group that is not known is an error naming it.
//
// A state named directly must be on the roster (or be origin): naming a state that holds
// no key is a mistake the writer should hear about, not a silent loss of a recipient.
// Members of a named group who are not (or no longer) on the roster are left out instead,
// because a group is federation policy that outlives any one admission or departure, and a
// departed state must not receive new values.
func Recipients(m Marking, r Roster, p Policy, origin string) ([]string, error) {
	if err := ValidStateCode(origin); err != nil {
		return nil, fmt.Errorf("recipients: origin: %w", err)
	}
	out := []string{origin}
	switch m.Kind {
	case National:
		return out, nil
	case Federation, Public:
		out = append(out, r.Codes()...)
	case RelTo:
		if len(m.To) == 0 {
			return nil, fmt.Errorf("recipients: marking REL TO names no states or groups")
		}
		for _, name := range m.To {
			switch {
			case isStateShaped(name):
				if err := ValidStateCode(name); err != nil {
					return nil, fmt.Errorf("recipients: %w", err)
				}
				if name != origin && !r.Has(name) {
					return nil, fmt.Errorf("recipients: state %s is not on the roster: it holds no key and cannot be released to", name)
				}
				out = append(out, name)
			case name == GroupSteering:
				out = append(out, r.Voters()...)
			default:
				members, ok := p.Groups[name]
				if !ok {
					return nil, fmt.Errorf("recipients: group %q is not defined in the federation policy", clip(name))
				}
				for _, code := range members {
					if r.Has(code) {
						out = append(out, code)
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("recipients: invalid marking (kind %d)", m.Kind)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
