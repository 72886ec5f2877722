package records

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/entente/entente/policy"
)

// Checked is a record that passed Validate: every field decoded by the schema of its
// kind, normalised (trimmed, control codes upper-cased) and re-encoded canonically, with
// the marking it will be sealed under. It is what the node seals and stores; the same
// Checked always produces the same bytes.
type Checked struct {
	ID        string
	Kind      string
	Rationale string
	// Fields holds the fields present in the input, sorted by Name.
	Fields []CheckedField
}

// CheckedField is one validated field.
type CheckedField struct {
	Name string
	// Value is the canonical JSON of the typed, normalised value: fixed member order,
	// absent optional members omitted, so that equal values have equal bytes.
	Value json.RawMessage
	// Marking is the client's marking for the field, or the policy default for the kind
	// and field when it sent none.
	Marking policy.Marking
}

// Validate checks in against the schema of its kind and returns the canonical record.
// It refuses an unknown kind, unknown fields for the kind, values of the wrong type or
// shape, missing required fields, and markings that do not parse or name a field that is
// not in the record. The first problem found is returned as a *FieldError naming its
// path; problems are looked for in a fixed order (id, kind, rationale, fields by name,
// required fields, rules across fields, markings by name), so the same input always gets
// the same error. Fields without a marking get p.DefaultMarking(kind, field).
//
// Validate does not trust in to come from Decode: it re-checks each raw field value for
// well-formed JSON, UTF-8, depth and duplicate keys.
func Validate(in *Input, p policy.Policy) (*Checked, error) {
	if in == nil {
		return nil, fieldErr("body", "missing")
	}
	if in.ID != "" {
		if err := checkID("id", in.ID); err != nil {
			return nil, err
		}
	}
	if in.Kind == "" {
		return nil, fieldErr("kind", "required, one of %s", strings.Join(knownKinds, ", "))
	}
	schema, ok := schemas[in.Kind]
	if !ok {
		return nil, fieldErr("kind", "unknown kind %q (known: %s)", clip(in.Kind), strings.Join(knownKinds, ", "))
	}
	rationale, err := normText("rationale", in.Rationale, false)
	if err != nil {
		return nil, err
	}
	out := &Checked{ID: in.ID, Kind: in.Kind, Rationale: rationale}
	known := strings.Join(schema.names(), ", ")
	vals := make(map[string]any, len(in.Fields))
	for _, name := range sortedKeys(in.Fields) {
		path := "fields." + name
		spec, ok := schema.field(name)
		if !ok {
			return nil, fieldErr(path, "unknown field for kind %s (known: %s)", in.Kind, known)
		}
		raw := in.Fields[name]
		if err := scanJSON(raw, path, 2, nil); err != nil {
			return nil, err
		}
		if isNull(raw) {
			continue
		}
		v, err := spec.decode(path, raw)
		if err != nil {
			return nil, err
		}
		canon, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("records: encode %s: %w", path, err)
		}
		vals[name] = v
		out.Fields = append(out.Fields, CheckedField{Name: name, Value: canon})
	}
	for _, f := range schema.fields {
		if _, ok := vals[f.name]; f.required && !ok {
			return nil, fieldErr("fields."+f.name, "required for kind %s", in.Kind)
		}
	}
	if schema.check != nil {
		if err := schema.check(vals); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(in.Markings) {
		path := "markings." + name
		if _, ok := schema.field(name); !ok {
			return nil, fieldErr(path, "unknown field for kind %s (known: %s)", in.Kind, known)
		}
		if _, ok := vals[name]; !ok {
			return nil, fieldErr(path, "field %s is not in this record, so it cannot be marked", name)
		}
		if _, err := policy.ParseMarking(in.Markings[name]); err != nil {
			return nil, fieldErr(path, "%v", err)
		}
	}
	for i := range out.Fields {
		f := &out.Fields[i]
		if s, ok := in.Markings[f.Name]; ok {
			f.Marking, _ = policy.ParseMarking(s) // parsed without error above
		} else {
			f.Marking = p.DefaultMarking(in.Kind, f.Name)
		}
	}
	return out, nil
}
