package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeGood(t *testing.T) {
	body := []byte(` {"id":"FRA-LA-2026-0001","kind":"licence-application",
		"fields":{"destination":"IRN","consignee":null,"end_use":"\ud83d\ude00 \\ud800 literal"},
		"markings":{"destination":"REL TO DEU","end_use":null},
		"rationale":"r"}` + "\n\t ")
	in, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != "FRA-LA-2026-0001" || in.Kind != "licence-application" || in.Rationale != "r" {
		t.Errorf("top level: %+v", in)
	}
	if len(in.Fields) != 2 || string(in.Fields["destination"]) != `"IRN"` {
		t.Errorf("fields: %v (null consignee must be dropped)", in.Fields)
	}
	if len(in.Markings) != 1 || in.Markings["destination"] != "REL TO DEU" {
		t.Errorf("markings: %v (null marking must be dropped)", in.Markings)
	}
}

func TestDecodeHostile(t *testing.T) {
	nested := func(n int, open, close string) string {
		return `{"kind":"x","fields":{"a":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}}`
	}
	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"invalid UTF-8 in a value", "{\"kind\":\"licence-application\",\"rationale\":\"\xff\"}", "body"},
		{"invalid UTF-8 in a key", "{\"k\xc3\":1}", "body"},
		{"invalid UTF-8 outside strings", "{\"kind\":\"x\"}\xfe", "body"},
		{"truncated UTF-8 sequence", "{\"rationale\":\"\xe2\x82\"}", "body"},
		{"lone high surrogate escape", `{"rationale":"\ud800"}`, "body"},
		{"lone low surrogate escape", `{"rationale":"\udc00x"}`, "body"},
		{"high surrogate followed by non-surrogate", `{"rationale":"\ud800\u0041"}`, "body"},
		{"10k nested arrays", nested(10000, "[", "]"), "fields.a" + strings.Repeat("[0]", MaxDepth-2)},
		{"10k nested objects", `{"fields":{"a":` + strings.Repeat(`{"b":`, 10000) + `1` + strings.Repeat("}", 10000) + `}}`, "fields.a" + strings.Repeat(".b", MaxDepth-2)},
		{"one level too deep", nested(MaxDepth-1, "[", "]"), "fields.a" + strings.Repeat("[0]", MaxDepth-2)},
		{"duplicate top-level key", `{"kind":"a","kind":"b"}`, "kind"},
		{"duplicate key by escape", `{"kind":"a","\u006bind":"b"}`, "kind"},
		{"duplicate nested key", `{"fields":{"applicant":{"name":"a","name":"b"}}}`, "fields.applicant.name"},
		{"duplicate key in array element", `{"fields":{"items":[{},{"q":1,"q":2}]}}`, "fields.items[1].q"},
		{"duplicate field", `{"fields":{"end_use":"a","end_use":"b"}}`, "fields.end_use"},
		{"trailing garbage", `{"kind":"a"} x`, "body"},
		{"trailing second object", `{"kind":"a"}{}`, "body"},
		{"trailing comma", `{"kind":"a"},`, "body"},
		{"unknown top-level field", `{"kind":"a","extra":1}`, "extra"},
		{"top-level field in other case", `{"KIND":"a"}`, "KIND"},
		{"wrong type kind", `{"kind":5}`, "kind"},
		{"wrong type id", `{"id":true}`, "id"},
		{"wrong type rationale", `{"rationale":{}}`, "rationale"},
		{"wrong type fields", `{"fields":[]}`, "fields"},
		{"wrong type markings", `{"markings":"PUBLIC"}`, "markings"},
		{"wrong type marking value", `{"markings":{"end_use":5}}`, "markings.end_use"},
		{"not an object", `["kind"]`, "body"},
		{"a string", `"kind"`, "body"},
		{"null", `null`, "body"},
		{"empty", ``, "body"},
		{"whitespace only", " \n", "body"},
		{"truncated", `{"kind":`, "body"},
		{"missing colon", `{"kind" "a"}`, "body"},
		{"single quotes", `{'kind':'a'}`, "body"},
		{"bare NaN", `{"fields":{"a":NaN}}`, "body"},
		{"unknown escape", `{"kind":"a\qb"}`, "body"},
		{"raw tab in a string", "{\"kind\":\"a\tb\"}", "body"},
		{"short unicode escape", `{"kind":"\u12"}`, "body"},
		{"leading zero", `{"fields":{"a":01}}`, "body"},
		{"dot without digits", `{"fields":{"a":1.}}`, "body"},
		{"lone minus", `{"fields":{"a":-}}`, "body"},
		{"leading dot", `{"fields":{"a":.5}}`, "body"},
		{"empty exponent", `{"fields":{"a":1e}}`, "body"},
		{"plus sign", `{"fields":{"a":+1}}`, "body"},
		{"truncated true", `{"fields":{"a":tru}}`, "body"},
		{"truncated null", `{"fields":{"a":nul`, "body"},
		{"trailing comma in array", `{"fields":{"a":[1,]}}`, "body"},
		{"trailing comma in object", `{"fields":{"a":{"b":1,}}}`, "body"},
		{"missing comma in array", `{"fields":{"a":[1 2]}}`, "body"},
		{"missing comma in object", `{"kind":"a" "id":"b"}`, "body"},
		{"comma only", `{,}`, "body"},
		{"unquoted key", `{kind:"a"}`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Decode([]byte(c.body))
			if in != nil {
				t.Error("returned an input with an error")
			}
			fieldErrorAt(t, err, c.field)
		})
	}
}

// TestScannerAgreesWithEncodingJSON checks the hand-written scanner against
// json.Valid on inputs that differ only in syntax (no duplicate keys, lone surrogates or
// deep nesting, which the scanner refuses on purpose).
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.0`, `1E+5`, `0.5e-3`, `123456789012345678901234567890`, `true`, `false`, `null`,
		`{"a":[1,2,{"b":null}],"c":"\/\b\f\n\r\t\"\\ \u00e9 \ud83d\ude00"}`, " \t\n\r[ 1 , 2 ] ",
		`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x10`, `Infinity`, `NaN`, `tru`, `nulll`, `[1,]`, `{"a":1,}`, `[1 2]`,
		`{"a" 1}`, `{"a":}`, `{:1}`, `{1:1}`, `[`, `]`, `{"a":1}}`, `"abc`, `"a\x"`, `"\u00g0"`, "\"a\x01\"", `'a'`, ``, ` `,
		"\"\u00e9\"", `[[],[[]],{}]`, `{"":""}`,
	}
	for _, in := range inputs {
		got := scanJSON([]byte(in), "", 0, nil) == nil
		if want := json.Valid([]byte(in)); got != want {
			t.Errorf("%q: scanner says valid=%v, encoding/json says %v", in, got, want)
		}
	}
}

func TestDecodeDepthBoundary(t *testing.T) {
	// body (1) > fields (2) > a (3) ... exactly MaxDepth levels is fine.
	body := `{"fields":{"a":` + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + `}}`
	if _, err := Decode([]byte(body)); err != nil {
		t.Fatalf("%d levels refused: %v", MaxDepth, err)
	}
}

func TestDecodeTooLarge(t *testing.T) {
	ok := []byte(`{"kind":"a"}`)
	ok = append(ok, bytes.Repeat([]byte(" "), MaxBodyBytes-len(ok))...)
	if _, err := Decode(ok); err != nil {
		t.Fatalf("body of exactly MaxBodyBytes refused: %v", err)
	}
	huge := append(ok, ' ')
	_, err := Decode(huge)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		t.Fatalf("ErrTooLarge must not be a FieldError (it maps to 413, not 400)")
	}
}

func TestDecodeErrorMessages(t *testing.T) {
	_, err := Decode([]byte(`{"kind":"a","extra":1}`))
	if err == nil || !strings.Contains(err.Error(), "extra: unknown field") || !strings.Contains(err.Error(), "fields, id, kind, markings, rationale") {
		t.Fatalf("unknown field error %v does not name the field and the known ones", err)
	}
	_, err = Decode([]byte(`{"kind":5}`))
	if err == nil || err.Error() != "kind: must be a string, not number" {
		t.Fatalf("wrong type error: %v", err)
	}
}
