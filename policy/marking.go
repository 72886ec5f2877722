package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MarkingKind says how widely a value may be released.
type MarkingKind int

// Marking kinds, from most to least restrictive.
const (
	// National values never leave the node, not even encrypted.
	National MarkingKind = iota + 1
	// RelTo values are released to the listed states and named groups (the originator always reads its own).
	RelTo
	// Federation values are released to every current member of the federation.
	Federation
	// Public values may be read by anyone.
	Public
)

// Canonical marking words. They are reserved: no group may take one of these names.
const (
	wordNational   = "NATIONAL"
	wordPublic     = "PUBLIC"
	wordFederation = "FEDERATION"
	wordRelTo      = "REL TO"
	// GroupSteering is the built-in group of the steering body: every roster member whose
	// role is voter. It is built in so that it always follows the roster and no policy
	// change can point it somewhere else.
	GroupSteering = "STEERING"
)

// MaxMarkingLen caps the length of a marking ParseMarking accepts. Markings arrive in API
// requests and replicated commands; a bound keeps a hostile one from costing more than a
// real one (some 120 states and groups fit).
const MaxMarkingLen = 512

// groupNameRE is the shape of a group name. Three-letter names are excluded separately
// (see isGroupName) so that a mistyped state code is never read as a group.
var groupNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_-]{1,31}$`)

// Marking is a parsed releasability marking such as "REL TO DEU,FRA".
// The zero value is invalid. To holds sorted, de-duplicated state codes and group names
// and is set only for RelTo.
type Marking struct {
	Kind MarkingKind
	To   []string
}

// ParseMarking parses "NATIONAL", "PUBLIC", "REL TO FEDERATION" or "REL TO X,Y,..."
// where each X is an ISO 3166-1 alpha-3 code or a group name. Whitespace around commas
// is tolerated; anything else is an error that says what is wrong.
//
// Parsing is deliberately strict and case-sensitive: a marking decides who can read a
// value, so anything that is not plainly one of the canonical forms is refused rather than
// guessed at.
func ParseMarking(s string) (Marking, error) {
	if len(s) > MaxMarkingLen {
		return Marking{}, fmt.Errorf("marking is %d bytes long; at most %d are allowed", len(s), MaxMarkingLen)
	}
	t := strings.Trim(s, " \t")
	if t == "" {
		return Marking{}, errors.New(`marking is empty: use NATIONAL, PUBLIC, "REL TO FEDERATION" or "REL TO <states or groups>"`)
	}
	if strings.ContainsFunc(t, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
		return Marking{}, fmt.Errorf("marking %q: use upper case, for example %q", clip(t), "REL TO DEU,FRA")
	}
	switch t {
	case wordNational:
		return Marking{Kind: National}, nil
	case wordPublic:
		return Marking{Kind: Public}, nil
	case wordRelTo:
		return Marking{}, errors.New(`marking "REL TO" names no states or groups: list them after it, for example "REL TO DEU,FRA"`)
	}
	rest, ok := strings.CutPrefix(t, wordRelTo+" ")
	if !ok {
		return Marking{}, fmt.Errorf(`marking %q: want NATIONAL, PUBLIC, "REL TO FEDERATION" or "REL TO <states or groups>"`, clip(t))
	}
	rest = strings.Trim(rest, " \t")
	if rest == "" {
		return Marking{}, errors.New(`marking "REL TO" names no states or groups: list them after it, for example "REL TO DEU,FRA"`)
	}
	parts := strings.Split(rest, ",")
	to := make([]string, 0, len(parts))
	federation := false
	for i, p := range parts {
		p = strings.Trim(p, " \t")
		if err := checkRelToElement(p); err != nil {
			return Marking{}, fmt.Errorf("marking %q: element %d: %w", clip(t), i+1, err)
		}
		if p == wordFederation {
			federation = true
		}
		to = append(to, p)
	}
	slices.Sort(to)
	to = slices.Compact(to)
	if federation {
		if len(to) > 1 {
			return Marking{}, fmt.Errorf("marking %q: FEDERATION already releases to every member and cannot be combined with other states or groups", clip(t))
		}
		return Marking{Kind: Federation}, nil
	}
	return Marking{Kind: RelTo, To: to}, nil
}

// checkRelToElement checks one element of a REL TO list: FEDERATION, a state code or a
// group name.
func checkRelToElement(p string) error {
	switch {
	case p == "":
		return errors.New("empty entry between commas: remove the extra comma")
	case p == wordFederation:
		return nil
	case p == wordNational || p == wordPublic:
		return fmt.Errorf("%s is a marking of its own and cannot be released to", p)
	case isStateShaped(p):
		return ValidStateCode(p)
	case isGroupName(p):
		return nil
	default:
		return fmt.Errorf("%q is neither an ISO 3166-1 alpha-3 state code nor a group name (A-Z first, then A-Z, 0-9, _ or -, 2 to 32 characters, not 3 letters)", clip(p))
	}
}

// isGroupName reports whether s has the shape of a group name. Reserved words are not
// excluded here; Policy.Validate refuses them as group definitions.
func isGroupName(s string) bool {
	return groupNameRE.MatchString(s) && !isStateShaped(s)
}

// isStateShaped reports whether s looks like a state code (three upper-case letters).
func isStateShaped(s string) bool { return len(s) == 3 && isUpperLetters(s) }

func isUpperLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// String returns the canonical form ("REL TO DEU,FRA", sorted and de-duplicated).
// A marking that is not valid prints as "INVALID MARKING", which ParseMarking refuses, so
// an invalid marking can never be printed and read back as a valid one.
func (m Marking) String() string {
	switch m.Kind {
	case National:
		return wordNational
	case Public:
		return wordPublic
	case Federation:
		return wordRelTo + " " + wordFederation
	case RelTo:
		if len(m.To) == 0 {
			return invalidMarking
		}
		to := slices.Clone(m.To)
		slices.Sort(to)
		return wordRelTo + " " + strings.Join(slices.Compact(to), ",")
	default:
		return invalidMarking
	}
}

const invalidMarking = "INVALID MARKING"

// Equal reports whether m and o release to the same audience. Marking holds a slice and so
// cannot be compared with ==; comparing canonical forms also treats an unsorted To as equal
// to its sorted form.
func (m Marking) Equal(o Marking) bool {
	return m.Kind == o.Kind && m.String() == o.String()
}

// MarshalText writes the canonical form, so markings travel in JSON and YAML as the same
// strings people type. It refuses an invalid marking rather than writing one that would not
// read back.
func (m Marking) MarshalText() ([]byte, error) {
	s := m.String()
	if _, err := ParseMarking(s); err != nil {
		return nil, fmt.Errorf("marshal marking: %w", err)
	}
	return []byte(s), nil
}

// UnmarshalText parses a marking with ParseMarking, so JSON and YAML documents get the
// same strict checks as any other input.
func (m *Marking) UnmarshalText(text []byte) error {
	parsed, err := ParseMarking(string(text))
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// MayLeave reports whether a value with this marking may leave the node in any form.
// NATIONAL never may, not even encrypted. An invalid marking may not either: when in doubt,
// the value stays in the country.
func MayLeave(m Marking) bool {
	switch m.Kind {
	case RelTo:
		return len(m.To) > 0
	case Federation, Public:
		return true
	default:
		return false
	}
}

// clip shortens s for an error message so that hostile input cannot blow up logs.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
