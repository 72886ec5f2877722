package screening

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screen"
)

// Limits bound what one import may hold. The defaults are far above the real lists
// (OFAC SDN about 18,000 entities, the UN list about 1,000) and sized so that a
// million-name list fits, while a hostile body cannot make the node hold more.
type Limits struct {
	// MaxEntities bounds the entities of one list.
	MaxEntities int
	// MaxLineBytes bounds one line of the body: one entity.
	MaxLineBytes int
}

// DefaultLimits are the limits the node uses.
var DefaultLimits = Limits{MaxEntities: 2_000_000, MaxLineBytes: lists.MaxRecordBytes}

// Bounds on one entity's parts. Real lists stay far below them (an OFAC entry has a few
// dozen aliases at most); they stop one line from carrying a megabyte of aliases.
const (
	maxIDBytes      = 256
	maxNameBytes    = 2048
	maxAddresses    = 100
	maxAddressBytes = 2048
	maxCountries    = 300
	maxIdentifiers  = 200
	maxIDValueBytes = 256
	maxBirthDates   = 100
	maxPrograms     = 100
	maxProgramBytes = 256
	maxRemarksBytes = 64 << 10
	maxVersionBytes = 128
)

// FieldError is a request or entity field that is wrong, and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// LineError is a refused line of an import body: the 1-based line, the field on it, and
// the reason. The whole import is refused with it; nothing is stored.
type LineError struct {
	Line   int
	Field  string
	Reason string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// Header is the first line of an import body. Counts, when given, are the importer's;
// the entity count is checked against the lines that follow, so a truncated upload is
// refused instead of replacing a list with part of it.
type Header struct {
	Format  string  `json:"format"`
	Version string  `json:"version"`
	Counts  *Counts `json:"counts,omitempty"`
}

// Formats are the formats an import header may name: those of package lists, and
// FormatNational for a list a state keeps in the import form itself.
func Formats() []string {
	return append(lists.Formats(), FormatNational)
}

// ReadImport reads an import body: a Header line, then one screen.Entity per line as JSON
// (blank lines are ignored). Every line is decoded strictly (no unknown fields, no
// trailing data) and every entity checked (see CheckEntity); an entity's list must be
// empty or name, and is set to name. The first problem is returned as a *LineError; a
// read error (such as the body limit) is returned as is. Entities come back sorted by ID.
func ReadImport(r io.Reader, name string, lim Limits) (*Header, []screen.Entity, error) {
	if lim.MaxEntities <= 0 {
		lim.MaxEntities = DefaultLimits.MaxEntities
	}
	if lim.MaxLineBytes <= 0 {
		lim.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	sc := bufio.NewScanner(r)
	// The initial buffer must not exceed the limit: the larger of the two is the real one.
	sc.Buffer(make([]byte, 0, min(64<<10, lim.MaxLineBytes)), lim.MaxLineBytes)
	var hdr *Header
	var out []screen.Entity
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if hdr == nil {
			h, err := readHeader(b)
			if err != nil {
				return nil, nil, &LineError{Line: line, Field: err.Field, Reason: err.Reason}
			}
			hdr = h
			continue
		}
		if len(out) >= lim.MaxEntities {
			return nil, nil, &LineError{Line: line, Reason: fmt.Sprintf("more than %d entities; the node does not hold a larger list", lim.MaxEntities)}
		}
		var e screen.Entity
		if fe := DecodeStrict(b, &e); fe != nil {
			return nil, nil, &LineError{Line: line, Field: fe.Field, Reason: fe.Reason}
		}
		if e.List != "" && e.List != name {
			return nil, nil, &LineError{Line: line, Field: "list", Reason: fmt.Sprintf("%q, but the import is for list %q: leave it empty or import into %q", clip(e.List), name, clip(e.List))}
		}
		e.List = name
		if fe := CheckEntity(&e); fe != nil {
			return nil, nil, &LineError{Line: line, Field: fe.Field, Reason: fe.Reason}
		}
		if first, dup := seen[e.ID]; dup {
			return nil, nil, &LineError{Line: line, Field: "id", Reason: fmt.Sprintf("%q is also the id on line %d; ids are unique within a list", clip(e.ID), first)}
		}
		seen[e.ID] = line
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, &LineError{Line: line + 1, Reason: fmt.Sprintf("longer than %d bytes; one entity per line", lim.MaxLineBytes)}
		}
		return nil, nil, err
	}
	if hdr == nil {
		return nil, nil, &LineError{Line: 1, Reason: `the body is empty: send a header line {"format","version","counts"} and then one entity per line`}
	}
	if len(out) == 0 {
		return nil, nil, &LineError{Line: line + 1, Reason: "the header is followed by no entity; an empty list would switch screening against it off"}
	}
	if hdr.Counts != nil && hdr.Counts.Entities != len(out) {
		return nil, nil, &LineError{Line: 1, Field: "counts.entities", Reason: fmt.Sprintf("the header announces %d entities but %d follow: the upload is incomplete or the header is wrong", hdr.Counts.Entities, len(out))}
	}
	slices.SortFunc(out, func(a, b screen.Entity) int { return strings.Compare(a.ID, b.ID) })
	return hdr, out, nil
}

func readHeader(b []byte) (*Header, *FieldError) {
	var h Header
	if fe := DecodeStrict(b, &h); fe != nil {
		return nil, fe
	}
	if !slices.Contains(Formats(), h.Format) {
		return nil, &FieldError{"format", fmt.Sprintf("%q is not a known format (%s)", clip(h.Format), strings.Join(Formats(), ", "))}
	}
	if h.Version == "" || len(h.Version) > maxVersionBytes || !printable(h.Version) {
		return nil, &FieldError{"version", fmt.Sprintf("required: 1 to %d printable characters naming this version of the list (lists.Parse gives a content digest)", maxVersionBytes)}
	}
	return &h, nil
}

// DecodeStrict decodes one JSON object from b: valid UTF-8, no unknown fields, nothing
// after it. The error names the field when it can ("" when the line as a whole is bad).
func DecodeStrict(b []byte, v any) *FieldError {
	if !utf8.Valid(b) {
		return &FieldError{"", "not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if dec.More() {
		return &FieldError{"", "data after the JSON object: one object per line"}
	}
	return nil
}

// jsonFieldError turns a decoding error into a FieldError naming the field.
func jsonFieldError(err error) *FieldError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return &FieldError{f, fmt.Sprintf("is JSON %s; want %s", te.Value, te.Type)}
	case errors.As(err, &se):
		return &FieldError{"", fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &FieldError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field"}
	}
	return &FieldError{"", "not a JSON object: " + err.Error()}
}

var entityTypes = []string{"", "person", "organisation", "vessel", "aircraft"}

var identifierSchemes = []string{"imo", "passport", "national-id", "registration", "tax", "lei", "duns", "swift", "aircraft", "other"}

// CheckEntity checks one entity of an import: an id, at least one name, every part
// within its bound and in the form screening expects (alpha-3 countries, ISO dates,
// known identifier schemes). It trims names and drops blank aliases.
func CheckEntity(e *screen.Entity) *FieldError {
	if strings.TrimSpace(e.ID) == "" {
		return &FieldError{"id", "required: the entity's id in its source list"}
	}
	if len(e.ID) > maxIDBytes || !printable(e.ID) {
		return &FieldError{"id", fmt.Sprintf("at most %d printable characters", maxIDBytes)}
	}
	if !slices.Contains(entityTypes, e.Type) {
		return &FieldError{"type", fmt.Sprintf("%q is not person, organisation, vessel, aircraft or empty", clip(e.Type))}
	}
	if len(e.Names) == 0 {
		return &FieldError{"names", "required: at least the entity's primary name"}
	}
	if len(e.Names) > lists.MaxNames {
		return &FieldError{"names", fmt.Sprintf("%d names; at most %d", len(e.Names), lists.MaxNames)}
	}
	names := e.Names[:0]
	for i, n := range e.Names {
		n = strings.TrimSpace(n)
		if len(n) > maxNameBytes {
			return &FieldError{fmt.Sprintf("names[%d]", i), fmt.Sprintf("%d bytes; at most %d", len(n), maxNameBytes)}
		}
		if n == "" {
			if i == 0 {
				return &FieldError{"names[0]", "the primary name is empty"}
			}
			continue
		}
		names = append(names, n)
	}
	e.Names = names
	if len(e.Countries) > maxCountries {
		return &FieldError{"countries", fmt.Sprintf("%d countries; at most %d", len(e.Countries), maxCountries)}
	}
	for i, c := range e.Countries {
		if !alpha3(c) {
			return &FieldError{fmt.Sprintf("countries[%d]", i), fmt.Sprintf("%q is not an upper-case ISO 3166-1 alpha-3 code", clip(c))}
		}
	}
	if len(e.Addresses) > maxAddresses {
		return &FieldError{"addresses", fmt.Sprintf("%d addresses; at most %d", len(e.Addresses), maxAddresses)}
	}
	for i, a := range e.Addresses {
		if len(a) > maxAddressBytes {
			return &FieldError{fmt.Sprintf("addresses[%d]", i), fmt.Sprintf("%d bytes; at most %d", len(a), maxAddressBytes)}
		}
	}
	if len(e.Identifiers) > maxIdentifiers {
		return &FieldError{"identifiers", fmt.Sprintf("%d identifiers; at most %d", len(e.Identifiers), maxIdentifiers)}
	}
	for i, id := range e.Identifiers {
		p := fmt.Sprintf("identifiers[%d]", i)
		if !slices.Contains(identifierSchemes, id.Scheme) {
			return &FieldError{p + ".scheme", fmt.Sprintf("%q is not one of %s", clip(id.Scheme), strings.Join(identifierSchemes, ", "))}
		}
		if strings.TrimSpace(id.Value) == "" || len(id.Value) > maxIDValueBytes {
			return &FieldError{p + ".value", fmt.Sprintf("required, at most %d bytes", maxIDValueBytes)}
		}
		if id.Country != "" && !alpha3(id.Country) {
			return &FieldError{p + ".country", fmt.Sprintf("%q is not an upper-case ISO 3166-1 alpha-3 code", clip(id.Country))}
		}
	}
	if len(e.BirthDates) > maxBirthDates {
		return &FieldError{"birth_dates", fmt.Sprintf("%d dates; at most %d", len(e.BirthDates), maxBirthDates)}
	}
	for i, d := range e.BirthDates {
		if !validDate(d) {
			return &FieldError{fmt.Sprintf("birth_dates[%d]", i), fmt.Sprintf("%q is not YYYY, YYYY-MM or YYYY-MM-DD", clip(d))}
		}
	}
	if len(e.Programs) > maxPrograms {
		return &FieldError{"programs", fmt.Sprintf("%d programmes; at most %d", len(e.Programs), maxPrograms)}
	}
	for i, p := range e.Programs {
		if len(p) > maxProgramBytes {
			return &FieldError{fmt.Sprintf("programs[%d]", i), fmt.Sprintf("%d bytes; at most %d", len(p), maxProgramBytes)}
		}
	}
	if len(e.Remarks) > maxRemarksBytes {
		return &FieldError{"remarks", fmt.Sprintf("%d bytes; at most %d", len(e.Remarks), maxRemarksBytes)}
	}
	return nil
}

// Digest is "sha256:" and the hex digest of the entities' JSON lines, in the order given.
// It is computed as lists.Result.Version is, so an unchanged import of a parsed list has
// its parser's version as digest.
func Digest(es []screen.Entity) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for i := range es {
		// Strings and slices of strings only: encoding cannot fail.
		_ = enc.Encode(&es[i])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func alpha3(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// validDate checks YYYY, YYYY-MM or YYYY-MM-DD with a real month and day.
func validDate(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return false
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		if i > 0 && len(p) != 2 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
			nums[i] = nums[i]*10 + int(c-'0')
		}
	}
	if nums[0] < 1000 {
		return false
	}
	if len(nums) > 1 && (nums[1] < 1 || nums[1] > 12) {
		return false
	}
	if len(nums) > 2 {
		days := [...]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[nums[1]-1]
		if nums[1] == 2 && !(nums[0]%4 == 0 && (nums[0]%100 != 0 || nums[0]%400 == 0)) {
			days = 28
		}
		if nums[2] < 1 || nums[2] > days {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
