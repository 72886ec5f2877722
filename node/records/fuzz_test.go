package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/entente/entente/policy"
)

// FuzzDecodeValidate feeds arbitrary bodies through Decode and Validate. Neither may
// panic; every refusal must be ErrTooLarge or a *FieldError; and whatever Validate
// accepts must be a fixed point: feeding the canonical record back in, both as an Input
// and as a re-encoded body, validates to exactly the same record.
func FuzzDecodeValidate(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzDecodeValidate; a few are added here too so that
	// the target starts from every kind even if that directory is pruned.
	for _, kind := range Kinds {
		f.Add([]byte(`{"kind":"` + kind + `","fields":` + validFields[kind] + `,"rationale":"seed"}`))
	}
	p := policy.DefaultPolicy()
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Decode(data)
		var fe *FieldError
		switch {
		case err == nil && !json.Valid(data):
			t.Fatalf("Decode accepted what encoding/json calls invalid: %q", data)
		case errors.As(err, &fe) && strings.HasPrefix(fe.Problem, "malformed JSON") && json.Valid(data):
			t.Fatalf("Decode calls valid JSON malformed (%v): %q", err, data)
		}
		if err != nil {
			checkRefusal(t, "Decode", err)
			return
		}
		c, err := Validate(in, p)
		if err != nil {
			checkRefusal(t, "Validate", err)
			return
		}
		if !slices.IsSortedFunc(c.Fields, func(a, b CheckedField) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("fields not sorted: %v", c.Fields)
		}
		again := toInput(c)
		c2, err := Validate(again, p)
		if err != nil {
			t.Fatalf("canonical record refused: %v\ninput %s", err, data)
		}
		sameChecked(t, c, c2)

		body, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("encode canonical input: %v", err)
		}
		in3, err := Decode(body)
		if err != nil {
			t.Fatalf("canonical body refused by Decode: %v\n%s", err, body)
		}
		c3, err := Validate(in3, p)
		if err != nil {
			t.Fatalf("canonical body refused by Validate: %v\n%s", err, body)
		}
		sameChecked(t, c, c3)
	})
}

func checkRefusal(t *testing.T, stage string, err error) {
	t.Helper()
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.Field == "" || fe.Problem == "" {
			t.Fatalf("%s: FieldError without field or problem: %#v", stage, fe)
		}
		return
	}
	if stage == "Decode" && errors.Is(err, ErrTooLarge) {
		return
	}
	t.Fatalf("%s: refusal is neither a *FieldError nor ErrTooLarge: %T %v", stage, err, err)
}

// toInput turns a checked record back into an input, every marking explicit.
func toInput(c *Checked) *Input {
	in := &Input{ID: c.ID, Kind: c.Kind, Rationale: c.Rationale, Fields: map[string]json.RawMessage{}, Markings: map[string]string{}}
	for _, f := range c.Fields {
		in.Fields[f.Name] = f.Value
		in.Markings[f.Name] = f.Marking.String()
	}
	return in
}

func sameChecked(t *testing.T, a, b *Checked) {
	t.Helper()
	if a.ID != b.ID || a.Kind != b.Kind || a.Rationale != b.Rationale || len(a.Fields) != len(b.Fields) {
		t.Fatalf("not a fixed point:\n%+v\n%+v", a, b)
	}
	for i := range a.Fields {
		fa, fb := a.Fields[i], b.Fields[i]
		if fa.Name != fb.Name || !bytes.Equal(fa.Value, fb.Value) || !fa.Marking.Equal(fb.Marking) {
			t.Fatalf("field %s not a fixed point:\n%s %s\n%s %s", fa.Name, fa.Value, fa.Marking, fb.Value, fb.Marking)
		}
	}
}
