package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Day and Year are the calendar-free units Duration reads: a day is 24 hours and a year is
// 365 days. Retention periods are legal periods measured in years; exact calendar years
// would make expiry depend on time zones and leap days, which replicas must not disagree on.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// DefaultRetention is how long values of a kind the policy does not name are kept. It is
// long enough for the usual five-year record-keeping obligations: forgetting to name a kind
// must not destroy its data early.
const DefaultRetention = 5 * Year

// maxDurationLen bounds the text ParseDuration reads; no real duration comes near it.
const maxDurationLen = 64

// Duration is a time.Duration that reads and writes "720h", "90d" or "3y" forms.
type Duration time.Duration

// ParseDuration reads a Go duration ("720h", "1h30m"), whole days ("90d") or whole years
// ("3y", 365 days each). Retention is set by people in years; the Go forms remain for
// short test policies (seconds-long epochs and retention).
func ParseDuration(s string) (Duration, error) {
	if len(s) > maxDurationLen {
		return 0, fmt.Errorf("duration is %d bytes long; at most %d are allowed", len(s), maxDurationLen)
	}
	s = strings.TrimSpace(s)
	bad := func() error {
		return fmt.Errorf(`duration %q: want a Go duration such as "720h", or whole days or years such as "90d" or "3y"`, s)
	}
	if s == "" {
		return 0, bad()
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'd':
		unit = Day
	case 'y':
		unit = Year
	default:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad()
		}
		return Duration(d), nil
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, bad()
	}
	limit := int64(math.MaxInt64 / unit)
	if n > limit || n < -limit {
		return 0, fmt.Errorf("duration %q is too long: at most %d%c", s, limit, s[len(s)-1])
	}
	return Duration(time.Duration(n) * unit), nil
}

// String writes the most readable exact form: whole years as "3y", whole days as "30d",
// anything else as Go writes it ("1h30m0s"). ParseDuration reads every form back.
func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0s"
	case td%Year == 0:
		return strconv.FormatInt(int64(td/Year), 10) + "y"
	case td%Day == 0:
		return strconv.FormatInt(int64(td/Day), 10) + "d"
	default:
		return td.String()
	}
}

// MarshalText writes String, so JSON and YAML policies show "10y" rather than nanoseconds.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText reads any form ParseDuration accepts. Through it JSON accepts only strings:
// a bare number would leave its unit to guesswork.
func (d *Duration) UnmarshalText(text []byte) error {
	parsed, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// UnmarshalYAML reads a scalar with ParseDuration, so that a bare number ("720") is refused
// for want of a unit and a mapping or list is refused with its line number.
func (d *Duration) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as \"720h\", \"90d\" or \"3y\"", value.Line)
	}
	parsed, err := ParseDuration(value.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", value.Line, err)
	}
	*d = parsed
	return nil
}

// RetentionFor returns how long values of kind are kept: the policy's setting, or
// DefaultRetention for a kind the policy does not name (or names with a non-positive
// period, which Validate refuses anyway).
func (p Policy) RetentionFor(kind string) time.Duration {
	if d, ok := p.Retention[kind]; ok && d > 0 {
		return time.Duration(d)
	}
	return DefaultRetention
}

// epochSeconds is the key epoch in whole seconds. A policy that Validate would refuse
// (epoch under one second) gets the default epoch rather than a division by zero: these
// functions run inside the replicated state machine and must not panic.
func (p Policy) epochSeconds() int64 {
	s := int64(time.Duration(p.KeyEpoch) / time.Second)
	if s <= 0 {
		s = int64(defaultKeyEpoch / time.Second)
	}
	return s
}

// Epoch returns the sealing-key epoch that t falls into: the number of whole key epochs
// since the Unix epoch. Times before 1970 fall into epoch 0.
func (p Policy) Epoch(t time.Time) uint64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u / p.epochSeconds())
}

// maxEpochEnd is the last second EpochKeyExpiry computes with (9999-12-31T23:59:59Z).
// Epoch numbers beyond it are not reachable from real times, and saturating keeps the
// arithmetic from overflowing into the past, which would destroy keys early.
const maxEpochEnd = 253402300799

// EpochKeyExpiry returns when the keys of epoch for kind must be destroyed: the end of the
// epoch plus the kind's retention, so every value sealed in that epoch has expired by then.
func (p Policy) EpochKeyExpiry(kind string, epoch uint64) time.Time {
	secs := p.epochSeconds()
	end := int64(maxEpochEnd)
	if epoch < uint64(maxEpochEnd/secs) {
		end = int64(epoch+1) * secs
	}
	return time.Unix(end, 0).UTC().Add(p.RetentionFor(kind))
}

// Expired reports whether a value of kind created at created has outlived its retention at now.
// A value expires at exactly created plus retention, not a moment later.
func (p Policy) Expired(kind string, created, now time.Time) bool {
	return !now.Before(created.Add(p.RetentionFor(kind)))
}
