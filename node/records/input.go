package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxBodyBytes caps a record request body. The largest legitimate record (500 items with
// long descriptions) fits in well under a megabyte; anything bigger is refused before it
// is parsed, so a hostile client cannot make the node parse more than that.
const MaxBodyBytes = 1 << 20

// MaxDepth caps JSON nesting. The deepest legitimate path is about six levels
// (body.fields.items[i].value.amount); 32 leaves room and stops stack-heavy inputs.
const MaxDepth = 32

// Errors callers branch on. They are returned wrapped, with the record id or the size
// that caused them; test with errors.Is.
var (
	// ErrTooLarge means the body exceeds MaxBodyBytes (HTTP 413).
	ErrTooLarge = errors.New("records: body too large")
	// ErrExists means Create was given an id that is already taken; nothing was written
	// (HTTP 409: pick another id, or Correct the existing record).
	ErrExists = errors.New("records: record already exists")
	// ErrNotFound means there is no record with that id, or not that version (HTTP 404).
	ErrNotFound = errors.New("records: record not found")
	// ErrConflict means a correction was based on a version that is no longer the latest:
	// someone else corrected the record first (HTTP 409: re-read, re-apply, retry).
	ErrConflict = errors.New("records: record changed since the version the correction is based on")
)

// FieldError says which part of the input is wrong and why, so that an API client can
// point at the offending field. Field is a JSON path such as
// "fields.items[2].control_code", or "body" when the body as a whole is at fault.
// Functions in this package return it as *FieldError.
type FieldError struct {
	Field   string
	Problem string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Input is a record as a client sends it (POST /v1/records). Fields stay raw until
// Validate decodes them by the schema of Kind, so that each field's problems are reported
// against its own path.
type Input struct {
	// ID is optional: the node generates one when it is empty.
	ID   string `json:"id,omitempty"`
	Kind string `json:"kind"`
	// Fields maps a field name of Kind to its JSON value.
	Fields map[string]json.RawMessage `json:"fields"`
	// Markings maps a field name to its releasability marking; fields without one get
	// the policy default for their kind.
	Markings map[string]string `json:"markings,omitempty"`
	// Rationale says why the record, or the correction, is made; it goes into the audit
	// trail.
	Rationale string `json:"rationale,omitempty"`
}

// topLevelKeys are the members an Input body may have, matched exactly (encoding/json
// alone would also accept "KIND" for "kind").
var topLevelKeys = []string{"fields", "id", "kind", "markings", "rationale"}

// Decode parses a request body strictly. It refuses bodies over MaxBodyBytes
// (ErrTooLarge), invalid UTF-8 (including lone surrogate escapes), nesting deeper than
// MaxDepth, duplicate keys at any level, unknown or mistyped top-level members, and
// anything after the object. Every refusal other than ErrTooLarge is a *FieldError. A
// JSON null counts as absent.
func Decode(data []byte) (*Input, error) {
	if len(data) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxBodyBytes)
	}
	if err := scanJSON(data, "", 0, topLevelKeys); err != nil {
		return nil, err
	}
	var raw struct {
		ID        string                     `json:"id"`
		Kind      string                     `json:"kind"`
		Fields    map[string]json.RawMessage `json:"fields"`
		Markings  map[string]json.RawMessage `json:"markings"`
		Rationale string                     `json:"rationale"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fieldErr(te.Field, "must be %s, not %s", jsonTypeName(te.Type.Kind().String()), te.Value)
		}
		return nil, fieldErr("body", "%v", err)
	}
	in := &Input{ID: raw.ID, Kind: raw.Kind, Rationale: raw.Rationale}
	for name, v := range raw.Fields {
		if isNull(v) {
			continue
		}
		if in.Fields == nil {
			in.Fields = make(map[string]json.RawMessage, len(raw.Fields))
		}
		in.Fields[name] = v
	}
	for _, name := range sortedKeys(raw.Markings) {
		v := raw.Markings[name]
		if isNull(v) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fieldErr("markings."+name, "must be a string such as \"REL TO DEU,FRA\"")
		}
		if in.Markings == nil {
			in.Markings = make(map[string]string, len(raw.Markings))
		}
		in.Markings[name] = s
	}
	return in, nil
}

// jsonTypeName names a Go reflect kind the way a JSON client thinks of it.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "float64", "float32", "int", "int64":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }
