// Package policy holds Entente's need-to-know, sovereignty, retention and role rules as
// pure, deterministic functions. Nothing here reads a clock, a file or the network: time,
// the roster and the federation policy are always passed in, so every replica and every
// test gets the same answer for the same inputs.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy is the federation policy as far as a single node needs it. It is loaded from
// YAML, validated, and later replicated by the federation.
type Policy struct {
	// Groups maps a group name (not a state code) to its member state codes.
	Groups map[string][]string `json:"groups" yaml:"groups"`
	// Retention maps a record or entry kind to how long it is kept.
	Retention map[string]Duration `json:"retention" yaml:"retention"`
	// KeyEpoch is the length of one sealing-key epoch; keys are destroyed by epoch.
	KeyEpoch Duration `json:"key_epoch" yaml:"key_epoch"`
	// FieldDefaults maps kind -> field -> default marking for fields sent without one.
	FieldDefaults map[string]map[string]string `json:"field_defaults" yaml:"field_defaults"`
	// Voting holds the federation's decision rules and deadlines.
	Voting Voting `json:"voting" yaml:"voting"`
}

// Key epoch bounds. Shorter than an hour and a node would spend its life distributing
// keys; longer than a year and a single destroyed key would shred too much at once (and
// keep early values readable long after their retention).
const (
	MinKeyEpoch     = time.Second
	MaxKeyEpoch     = 366 * Day
	defaultKeyEpoch = 7 * Day
)

// MaxPolicySize caps a policy document ParsePolicy reads. Real policies are a few
// kilobytes; the cap keeps a hostile proposal from costing more.
const MaxPolicySize = 1 << 20

// DefaultPolicy returns the built-in policy a node uses when none is configured.
// Every field is NATIONAL unless listed here: only the few fields partners need to act on
// (destinations, decisions, end-use outcomes) are released to the federation by default.
// Each call returns fresh maps, so callers may change the result freely.
func DefaultPolicy() Policy {
	fed := "REL TO FEDERATION"
	return Policy{
		Groups: map[string][]string{},
		Retention: map[string]Duration{
			"licence-application": Duration(10 * Year),
			"licence-decision":    Duration(10 * Year),
			"end-use-check":       Duration(10 * Year),
			"consignment":         Duration(7 * Year),
			"procurement-award":   Duration(10 * Year),
			"denied-party":        Duration(5 * Year),
			"end-user-of-concern": Duration(5 * Year),
			"debarred-supplier":   Duration(5 * Year),
			"indicator":           Duration(2 * Year),
			"audit":               Duration(20 * Year),
		},
		KeyEpoch: Duration(defaultKeyEpoch),
		FieldDefaults: map[string]map[string]string{
			"end-use-check":       {"outcome": fed},
			"consignment":         {"destination": fed},
			"licence-decision":    {"decision": fed},
			"licence-application": {"destination": fed},
		},
		Voting: DefaultVoting(),
	}
}

// policyFile is the YAML document as written. Pointers and nil maps tell a section that
// is absent from one that is present, so that absent sections keep their defaults.
type policyFile struct {
	Groups        map[string][]string          `yaml:"groups"`
	Retention     map[string]Duration          `yaml:"retention"`
	KeyEpoch      *Duration                    `yaml:"key_epoch"`
	FieldDefaults map[string]map[string]string `yaml:"field_defaults"`
	Voting        *votingFile                  `yaml:"voting"`
}

// ParsePolicy parses and validates a YAML policy document.
//
// The document is layered over DefaultPolicy: a section that is absent keeps the defaults,
// and a section that is present overrides them key by key (a retention section that names
// only consignment leaves audit at 20 years). Layering key by key means a short policy can
// never shorten a retention period by omission, which would shred data early. Unknown
// settings are refused, so a misspelt key cannot be silently ignored. An empty document
// is the default policy.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > MaxPolicySize {
		return Policy{}, fmt.Errorf("policy: document is %d bytes; at most %d are allowed", len(data), MaxPolicySize)
	}
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Policy{}, errors.New("policy: the file holds more than one YAML document; keep the policy in one")
	}

	p := DefaultPolicy()
	for name, members := range f.Groups {
		p.Groups[name] = members
	}
	for kind, d := range f.Retention {
		p.Retention[kind] = d
	}
	if f.KeyEpoch != nil {
		p.KeyEpoch = *f.KeyEpoch
	}
	for kind, fields := range f.FieldDefaults {
		if p.FieldDefaults[kind] == nil {
			p.FieldDefaults[kind] = map[string]string{}
		}
		for field, marking := range fields {
			p.FieldDefaults[kind][field] = marking
		}
	}
	if f.Voting != nil {
		f.Voting.apply(&p.Voting)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Validate checks the policy and names the first bad setting. Settings are checked in a
// fixed order (sections as declared, keys sorted) so that every node reports the same
// setting for the same document.
func (p Policy) Validate() error {
	for _, name := range sortedKeys(p.Groups) {
		if err := validateGroupName(name); err != nil {
			return fmt.Errorf("policy: groups.%s: %w", clip(name), err)
		}
		members := p.Groups[name]
		if len(members) == 0 {
			return fmt.Errorf("policy: groups.%s: a group needs at least one state", name)
		}
		for _, code := range members {
			if err := ValidStateCode(code); err != nil {
				return fmt.Errorf("policy: groups.%s: %w", name, err)
			}
		}
	}
	for _, kind := range sortedKeys(p.Retention) {
		if kind == "" {
			return errors.New("policy: retention: a kind name is empty")
		}
		if d := p.Retention[kind]; d <= 0 {
			return fmt.Errorf("policy: retention.%s: %s is not a positive period; give one such as \"5y\"", clip(kind), d)
		}
	}
	if e := time.Duration(p.KeyEpoch); e < MinKeyEpoch || e > MaxKeyEpoch {
		return fmt.Errorf("policy: key_epoch: %s is outside %s to %s", p.KeyEpoch, Duration(MinKeyEpoch), Duration(MaxKeyEpoch))
	}
	if err := p.Voting.validate(); err != nil {
		return err
	}
	for _, kind := range sortedKeys(p.FieldDefaults) {
		if kind == "" {
			return errors.New("policy: field_defaults: a kind name is empty")
		}
		fields := p.FieldDefaults[kind]
		for _, field := range sortedKeys(fields) {
			if field == "" {
				return fmt.Errorf("policy: field_defaults.%s: a field name is empty", clip(kind))
			}
			m, err := ParseMarking(fields[field])
			if err != nil {
				return fmt.Errorf("policy: field_defaults.%s.%s: %w", clip(kind), clip(field), err)
			}
			for _, name := range m.To {
				if isStateShaped(name) || name == GroupSteering {
					continue
				}
				if _, ok := p.Groups[name]; !ok {
					return fmt.Errorf("policy: field_defaults.%s.%s: group %s is not defined under groups", clip(kind), clip(field), name)
				}
			}
		}
	}
	return nil
}

// validateGroupName refuses group names that could be confused with a state code or a
// marking word: a marking must mean the same thing to every reader.
func validateGroupName(name string) error {
	switch {
	case name == GroupSteering:
		return errors.New("STEERING is built in (the roster's voters) and cannot be redefined")
	case name == wordFederation || name == wordNational || name == wordPublic:
		return fmt.Errorf("%s is a marking word and cannot name a group", name)
	case ValidStateCode(name) == nil:
		return fmt.Errorf("%s is a state code and cannot name a group", name)
	case isStateShaped(name):
		return fmt.Errorf("%s has three letters and would read as a state code: use a longer group name", name)
	case !isGroupName(name):
		return fmt.Errorf("%q is not a group name: A-Z first, then A-Z, 0-9, _ or -, 2 to 32 characters", clip(name))
	}
	return nil
}

// DefaultMarking returns the marking a field of kind gets when the client sends none.
// Fields with no configured default are NATIONAL: least privilege. So is a configured
// default that does not parse (Validate refuses those): a broken setting must keep data
// in the country, not release it.
func (p Policy) DefaultMarking(kind, field string) Marking {
	if s, ok := p.FieldDefaults[kind][field]; ok {
		if m, err := ParseMarking(s); err == nil {
			return m
		}
	}
	return Marking{Kind: National}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
