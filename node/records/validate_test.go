package records

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/entente/entente/policy"
)

func mustValidate(t testing.TB, body []byte) *Checked {
	t.Helper()
	in, err := Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, body)
	}
	c, err := Validate(in, policy.DefaultPolicy())
	if err != nil {
		t.Fatalf("Validate: %v\n%s", err, body)
	}
	return c
}

func fieldValue(t testing.TB, c *Checked, name string) string {
	t.Helper()
	for _, f := range c.Fields {
		if f.Name == name {
			return string(f.Value)
		}
	}
	t.Fatalf("field %s not in checked record", name)
	return ""
}

func TestValidateGoodEveryKind(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			fields := fieldsOf(t, kind)
			c := mustValidate(t, bodyOf(t, kind, fields, nil))
			if c.Kind != kind || c.Rationale != "new application" {
				t.Errorf("kind %q rationale %q", c.Kind, c.Rationale)
			}
			if len(c.Fields) != len(fields) {
				t.Errorf("%d checked fields, want %d", len(c.Fields), len(fields))
			}
			if !slices.IsSortedFunc(c.Fields, func(a, b CheckedField) int { return strings.Compare(a.Name, b.Name) }) {
				t.Error("fields not sorted by name")
			}
			for _, f := range c.Fields {
				if !json.Valid(f.Value) {
					t.Errorf("%s: canonical value is not JSON: %s", f.Name, f.Value)
				}
				want := policy.DefaultPolicy().DefaultMarking(kind, f.Name)
				if !f.Marking.Equal(want) {
					t.Errorf("%s: marking %s, want default %s", f.Name, f.Marking, want)
				}
			}
		})
	}
}

func TestValidateGoodMinimalEveryKind(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			fields := fieldsOf(t, kind)
			for _, f := range schemas[kind].fields {
				if !f.required {
					delete(fields, f.name)
				}
			}
			c := mustValidate(t, bodyOf(t, kind, fields, nil))
			var names []string
			for _, f := range schemas[kind].fields {
				if f.required {
					names = append(names, f.name)
				}
			}
			slices.Sort(names)
			var got []string
			for _, f := range c.Fields {
				got = append(got, f.Name)
			}
			if !slices.Equal(got, names) {
				t.Fatalf("fields %v, want %v", got, names)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	fields := fieldsOf(t, KindLicenceApplication)
	setPath(t, fields, "consignee", "null")                      // null counts as absent
	setPath(t, fields, "items[1].control_code", `" 5a002.a.1 "`) // trimmed, upper-cased
	setPath(t, fields, "items[1].value", `{"amount":-0,"currency":"USD"}`)
	setPath(t, fields, "applicant.aliases", `[]`)
	c := mustValidate(t, bodyOf(t, KindLicenceApplication, fields, map[string]string{
		"end_user":    "REL TO FRA, DEU",
		"destination": " PUBLIC ",
	}))
	if slices.ContainsFunc(c.Fields, func(f CheckedField) bool { return f.Name == "consignee" }) {
		t.Error("null consignee kept")
	}
	items := fieldValue(t, c, "items")
	for _, want := range []string{`"control_code":"ML1.A"`, `"control_code":"5A002.A.1"`, `"value":{"amount":0,"currency":"USD"}`} {
		if !strings.Contains(items, want) {
			t.Errorf("items %s lacks %s", items, want)
		}
	}
	applicant := fieldValue(t, c, "applicant")
	if !strings.Contains(applicant, `"name":"Acme Défense SA"`) || strings.Contains(applicant, "aliases") {
		t.Errorf("applicant not normalised: %s", applicant)
	}
	wantMarks := map[string]string{"end_user": "REL TO DEU,FRA", "destination": "PUBLIC", "applicant": "NATIONAL"}
	for _, f := range c.Fields {
		if w, ok := wantMarks[f.Name]; ok && f.Marking.String() != w {
			t.Errorf("%s marked %s, want %s", f.Name, f.Marking, w)
		}
	}
	// The canonical form of a party is fixed: members in declaration order.
	if got := fieldValue(t, c, "end_user"); got != `{"type":"person","name":"Иван Петров","date_of_birth":"1970-02-28"}` {
		t.Errorf("end_user canonical form %s", got)
	}
}

func TestValidateNameLimitsCountCharacters(t *testing.T) {
	fields := fieldsOf(t, KindLicenceApplication)
	setPath(t, fields, "applicant.name", quote(strings.Repeat("文", maxName))) // 1536 bytes, 512 characters
	mustValidate(t, bodyOf(t, KindLicenceApplication, fields, nil))
	setPath(t, fields, "applicant.name", quote(strings.Repeat("文", maxName+1)))
	in, err := Decode(bodyOf(t, KindLicenceApplication, fields, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Validate(in, policy.DefaultPolicy())
	fieldErrorAt(t, err, "fields.applicant.name")
}

type badCase struct {
	name     string
	kind     string
	set      map[string]any // path under fields -> raw JSON, or del
	markings map[string]string
	field    string // expected FieldError.Field
}

func badCases() []badCase {
	la, ld, eu, co, pa := KindLicenceApplication, KindLicenceDecision, KindEndUseCheck, KindConsignment, KindProcurementAward
	long := func(n int) string { return quote(strings.Repeat("x", n)) }
	return []badCase{
		// licence-application: fields
		{"unknown field", la, map[string]any{"foo": `1`}, nil, "fields.foo"},
		{"intermediaries not a list", la, map[string]any{"intermediaries": `{"type":"organisation","name":"X"}`}, nil, "fields.intermediaries"},
		{"intermediary without a type", la, map[string]any{"intermediaries": `[{"type":"organisation","name":"X"},{"name":"Y"}]`}, nil, "fields.intermediaries[1].type"},
		{"too many intermediaries", la, map[string]any{"intermediaries": jsonList(maxIntermediaries+1, `{"type":"organisation","name":"X"}`)}, nil, "fields.intermediaries"},
		{"applicant_reference blank", la, map[string]any{"applicant_reference": `"  "`}, nil, "fields.applicant_reference"},
		{"applicant missing", la, map[string]any{"applicant": del}, nil, "fields.applicant"},
		{"end_user missing", la, map[string]any{"end_user": del}, nil, "fields.end_user"},
		{"destination missing", la, map[string]any{"destination": del}, nil, "fields.destination"},
		{"items missing", la, map[string]any{"items": del}, nil, "fields.items"},
		{"end_use missing", la, map[string]any{"end_use": del}, nil, "fields.end_use"},
		{"submitted_on missing", la, map[string]any{"submitted_on": del}, nil, "fields.submitted_on"},
		{"applicant not an object", la, map[string]any{"applicant": `"Acme"`}, nil, "fields.applicant"},
		{"party type missing", la, map[string]any{"applicant.type": del}, nil, "fields.applicant.type"},
		{"party type unknown", la, map[string]any{"applicant.type": `"company"`}, nil, "fields.applicant.type"},
		{"party type wrong case", la, map[string]any{"applicant.type": `"Person"`}, nil, "fields.applicant.type"},
		{"party name missing", la, map[string]any{"applicant.name": del}, nil, "fields.applicant.name"},
		{"party name blank", la, map[string]any{"applicant.name": `"   "`}, nil, "fields.applicant.name"},
		{"party name too long", la, map[string]any{"applicant.name": long(maxName + 1)}, nil, "fields.applicant.name"},
		{"party name control char", la, map[string]any{"applicant.name": `"Acme\u0007"`}, nil, "fields.applicant.name"},
		{"party name newline", la, map[string]any{"applicant.name": `"Acme\nSA"`}, nil, "fields.applicant.name"},
		{"party name not a string", la, map[string]any{"applicant.name": `["Acme"]`}, nil, "fields.applicant.name"},
		{"party unknown member", la, map[string]any{"applicant.nmae": `"x"`}, nil, "fields.applicant.nmae"},
		{"party member wrong case", la, map[string]any{"applicant.Name": `"x"`}, nil, "fields.applicant.Name"},
		{"aliases too many", la, map[string]any{"applicant.aliases": jsonList(maxAliases+1, `"a"`)}, nil, "fields.applicant.aliases"},
		{"alias empty", la, map[string]any{"applicant.aliases": `["ACME",""]`}, nil, "fields.applicant.aliases[1]"},
		{"alias not a string", la, map[string]any{"applicant.aliases": `["ACME",7]`}, nil, "fields.applicant.aliases[1]"},
		{"address empty", la, map[string]any{"applicant.addresses[0]": `{}`}, nil, "fields.applicant.addresses[0]"},
		{"address bad country", la, map[string]any{"applicant.addresses[0].country": `"FRN"`}, nil, "fields.applicant.addresses[0].country"},
		{"address street too long", la, map[string]any{"applicant.addresses[0].street": long(maxName + 1)}, nil, "fields.applicant.addresses[0].street"},
		{"address unknown member", la, map[string]any{"applicant.addresses[0].zip": `"75001"`}, nil, "fields.applicant.addresses[0].zip"},
		{"addresses too many", la, map[string]any{"applicant.addresses": jsonList(maxPartyList+1, `{"city":"Paris"}`)}, nil, "fields.applicant.addresses"},
		{"countries lower case", la, map[string]any{"applicant.countries": `["FRA","deu"]`}, nil, "fields.applicant.countries[1]"},
		{"countries too many", la, map[string]any{"applicant.countries": jsonList(maxPartyList+1, `"FRA"`)}, nil, "fields.applicant.countries"},
		{"identifier scheme unknown", la, map[string]any{"applicant.identifiers[0].scheme": `"ssn"`}, nil, "fields.applicant.identifiers[0].scheme"},
		{"identifier value missing", la, map[string]any{"applicant.identifiers[0].value": del}, nil, "fields.applicant.identifiers[0].value"},
		{"identifier value too long", la, map[string]any{"applicant.identifiers[0].value": long(maxIdentifier + 1)}, nil, "fields.applicant.identifiers[0].value"},
		{"identifier bad country", la, map[string]any{"applicant.identifiers[0].country": `"XXX"`}, nil, "fields.applicant.identifiers[0].country"},
		{"identifiers too many", la, map[string]any{"applicant.identifiers": jsonList(maxPartyList+1, `{"scheme":"tax","value":"1"}`)}, nil, "fields.applicant.identifiers"},
		{"date of birth for an organisation", la, map[string]any{"applicant.date_of_birth": `"1970-01-01"`}, nil, "fields.applicant.date_of_birth"},
		{"date of birth not a calendar date", la, map[string]any{"end_user.date_of_birth": `"1970-02-30"`}, nil, "fields.end_user.date_of_birth"},
		{"date of birth wrong shape", la, map[string]any{"end_user.date_of_birth": `"1970-2-3"`}, nil, "fields.end_user.date_of_birth"},
		{"destination unknown", la, map[string]any{"destination": `"XYZ"`}, nil, "fields.destination"},
		{"destination alpha-2", la, map[string]any{"destination": `"AE"`}, nil, "fields.destination"},
		{"destination not a string", la, map[string]any{"destination": `5`}, nil, "fields.destination"},
		{"items empty", la, map[string]any{"items": `[]`}, nil, "fields.items"},
		{"items too many", la, map[string]any{"items": jsonList(maxItems+1, `{"description":"d","control_code":"ML1","quantity":1}`)}, nil, "fields.items"},
		{"items not an array", la, map[string]any{"items": `{"description":"d"}`}, nil, "fields.items"},
		{"item null", la, map[string]any{"items[1]": `null`}, nil, "fields.items[1]"},
		{"item control code ML23", la, map[string]any{"items[1].control_code": `"ML23"`}, nil, "fields.items[1].control_code"},
		{"item control code missing", la, map[string]any{"items[0].control_code": del}, nil, "fields.items[0].control_code"},
		{"item description missing", la, map[string]any{"items[0].description": del}, nil, "fields.items[0].description"},
		{"item quantity zero", la, map[string]any{"items[1].quantity": `0`}, nil, "fields.items[1].quantity"},
		{"item quantity negative", la, map[string]any{"items[1].quantity": `-1`}, nil, "fields.items[1].quantity"},
		{"item quantity missing", la, map[string]any{"items[1].quantity": del}, nil, "fields.items[1].quantity"},
		{"item quantity a string", la, map[string]any{"items[1].quantity": `"10"`}, nil, "fields.items[1].quantity"},
		{"item quantity out of float range", la, map[string]any{"items[1].quantity": `1e400`}, nil, "fields.items[1].quantity"},
		{"item currency lower case", la, map[string]any{"items[0].value.currency": `"eur"`}, nil, "fields.items[0].value.currency"},
		{"item currency unknown", la, map[string]any{"items[0].value.currency": `"XYZ"`}, nil, "fields.items[0].value.currency"},
		{"item amount negative", la, map[string]any{"items[0].value.amount": `-5`}, nil, "fields.items[0].value.amount"},
		{"item amount missing", la, map[string]any{"items[0].value.amount": del}, nil, "fields.items[0].value.amount"},
		{"item value unknown member", la, map[string]any{"items[0].value.x": `{}`}, nil, "fields.items[0].value.x"},
		{"item unit too long", la, map[string]any{"items[0].unit": long(maxName + 1)}, nil, "fields.items[0].unit"},
		{"end_use blank", la, map[string]any{"end_use": `" \n "`}, nil, "fields.end_use"},
		{"end_use too long", la, map[string]any{"end_use": long(maxText + 1)}, nil, "fields.end_use"},
		{"end_use control char", la, map[string]any{"end_use": `"a\u0000b"`}, nil, "fields.end_use"},
		{"submitted_on not a leap year", la, map[string]any{"submitted_on": `"2026-02-29"`}, nil, "fields.submitted_on"},
		{"submitted_on implausible year", la, map[string]any{"submitted_on": `"0226-01-15"`}, nil, "fields.submitted_on"},
		{"submitted_on with time", la, map[string]any{"submitted_on": `"2026-01-15T10:00:00Z"`}, nil, "fields.submitted_on"},
		{"value currency missing", la, map[string]any{"value.currency": del}, nil, "fields.value.currency"},
		{"value not an object", la, map[string]any{"value": `120005`}, nil, "fields.value"},
		// licence-application: markings
		{"marking for unknown field", la, nil, map[string]string{"foo": "PUBLIC"}, "markings.foo"},
		{"marking for absent field", la, map[string]any{"consignee": del}, map[string]string{"consignee": "PUBLIC"}, "markings.consignee"},
		{"marking unknown state", la, nil, map[string]string{"destination": "REL TO XXX"}, "markings.destination"},
		{"marking lower case", la, nil, map[string]string{"destination": "rel to deu"}, "markings.destination"},
		{"marking empty", la, nil, map[string]string{"end_use": ""}, "markings.end_use"},
		// licence-decision
		{"application_id missing", ld, map[string]any{"application_id": del}, nil, "fields.application_id"},
		{"application_id bad shape", ld, map[string]any{"application_id": `"FRA/LA/1"`}, nil, "fields.application_id"},
		{"decision unknown", ld, map[string]any{"decision": `"approved"`}, nil, "fields.decision"},
		{"decision missing", ld, map[string]any{"decision": del}, nil, "fields.decision"},
		{"rationale_text missing", ld, map[string]any{"rationale_text": del}, nil, "fields.rationale_text"},
		{"decided_on month 13", ld, map[string]any{"decided_on": `"2026-13-01"`}, nil, "fields.decided_on"},
		{"conditions entry empty", ld, map[string]any{"conditions": `["ok",""]`}, nil, "fields.conditions[1]"},
		{"conditions not an array", ld, map[string]any{"conditions": `"no re-export"`}, nil, "fields.conditions"},
		{"conditions too many", ld, map[string]any{"conditions": jsonList(maxConditions+1, `"c"`)}, nil, "fields.conditions"},
		{"valid_until before decided_on", ld, map[string]any{"valid_until": `"2026-01-31"`}, nil, "fields.valid_until"},
		{"valid_until not a date", ld, map[string]any{"valid_until": `"forever"`}, nil, "fields.valid_until"},
		{"field of another kind", ld, map[string]any{"applicant": `{}`}, nil, "fields.applicant"},
		// end-use-check
		{"licence_id missing", eu, map[string]any{"licence_id": del}, nil, "fields.licence_id"},
		{"end_user missing", eu, map[string]any{"end_user": del}, nil, "fields.end_user"},
		{"outcome unknown", eu, map[string]any{"outcome": `"ok"`}, nil, "fields.outcome"},
		{"location a name", eu, map[string]any{"location": `"Iran"`}, nil, "fields.location"},
		{"performed_on missing", eu, map[string]any{"performed_on": del}, nil, "fields.performed_on"},
		{"end_user identifier scheme missing", eu, map[string]any{"end_user.identifiers[0].scheme": del}, nil, "fields.end_user.identifiers[0].scheme"},
		{"findings not a string", eu, map[string]any{"findings": `[1]`}, nil, "fields.findings"},
		// consignment
		{"consignor missing", co, map[string]any{"consignor": del}, nil, "fields.consignor"},
		{"consignee missing", co, map[string]any{"consignee": del}, nil, "fields.consignee"},
		{"route unknown state", co, map[string]any{"route": `["TUR","XXX"]`}, nil, "fields.route[1]"},
		{"route too long", co, map[string]any{"route": jsonList(maxRoute+1, `"TUR"`)}, nil, "fields.route"},
		{"shipped_on slashes", co, map[string]any{"shipped_on": `"2026/03/10"`}, nil, "fields.shipped_on"},
		{"transport_document too long", co, map[string]any{"transport_document": long(maxName + 1)}, nil, "fields.transport_document"},
		{"item control code group F", co, map[string]any{"items[0].control_code": `"3F001"`}, nil, "fields.items[0].control_code"},
		{"consignee vessel imo value blank", co, map[string]any{"consignee.identifiers[0].value": `" "`}, nil, "fields.consignee.identifiers[0].value"},
		// procurement-award
		{"value missing", pa, map[string]any{"value": del}, nil, "fields.value"},
		{"reference empty", pa, map[string]any{"reference": `""`}, nil, "fields.reference"},
		{"contracting_authority with newline", pa, map[string]any{"contracting_authority": `"DGA\nParis"`}, nil, "fields.contracting_authority"},
		{"supplier type ship", pa, map[string]any{"supplier.type": `"ship"`}, nil, "fields.supplier.type"},
		{"awarded_on April 31", pa, map[string]any{"awarded_on": `"2026-04-31"`}, nil, "fields.awarded_on"},
		{"item currency alpha-2", pa, map[string]any{"items[0].value.currency": `"US"`}, nil, "fields.items[0].value.currency"},
		{"items missing", pa, map[string]any{"items": del}, nil, "fields.items"},
	}
}

func TestValidateBad(t *testing.T) {
	for _, c := range badCases() {
		t.Run(c.kind+"/"+c.name, func(t *testing.T) {
			fields := fieldsOf(t, c.kind)
			for path, v := range c.set {
				setPath(t, fields, path, v)
			}
			in, err := Decode(bodyOf(t, c.kind, fields, c.markings))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := Validate(in, policy.DefaultPolicy())
			if got != nil {
				t.Errorf("returned a record with an error")
			}
			fe := fieldErrorAt(t, err, c.field)
			if fe.Error() != fe.Field+": "+fe.Problem || fe.Problem == "" {
				t.Errorf("Error() = %q", fe.Error())
			}
		})
	}
}

func TestValidateUnknownFieldMessage(t *testing.T) {
	fields := fieldsOf(t, KindLicenceDecision)
	fields["x"] = 1
	in, err := Decode(bodyOf(t, KindLicenceDecision, fields, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Validate(in, policy.DefaultPolicy())
	want := "fields.x: unknown field for kind licence-decision (known: application_id, conditions, decided_on, decision, rationale_text, valid_until)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestValidateTopLevel(t *testing.T) {
	p := policy.DefaultPolicy()
	raw := func(kind string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(validFields[kind]), &m)
		return m
	}
	cases := []struct {
		name  string
		in    *Input
		field string
	}{
		{"nil input", nil, "body"},
		{"id with space", &Input{ID: "FRA LA 1", Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision)}, "id"},
		{"id starting with dash", &Input{ID: "-x", Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision)}, "id"},
		{"id too long", &Input{ID: strings.Repeat("a", 129), Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision)}, "id"},
		{"kind missing", &Input{Fields: raw(KindLicenceDecision)}, "kind"},
		{"kind unknown", &Input{Kind: "licence", Fields: raw(KindLicenceDecision)}, "kind"},
		{"rationale too long", &Input{Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision), Rationale: strings.Repeat("r", maxText+1)}, "rationale"},
		{"rationale control char", &Input{Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision), Rationale: "a\x1bb"}, "rationale"},
		{"no fields", &Input{Kind: KindLicenceDecision}, "fields.application_id"},
		// Validate does not trust that its input came through Decode.
		{"duplicate key in a raw field", &Input{Kind: KindEndUseCheck, Fields: func() map[string]json.RawMessage {
			m := raw(KindEndUseCheck)
			m["end_user"] = json.RawMessage(`{"type":"person","type":"vessel","name":"x"}`)
			return m
		}()}, "fields.end_user.type"},
		{"invalid UTF-8 in a raw field", &Input{Kind: KindEndUseCheck, Fields: func() map[string]json.RawMessage {
			m := raw(KindEndUseCheck)
			m["findings"] = json.RawMessage("\"\xff\"")
			return m
		}()}, "fields.findings"},
		{"malformed raw field", &Input{Kind: KindEndUseCheck, Fields: func() map[string]json.RawMessage {
			m := raw(KindEndUseCheck)
			m["findings"] = json.RawMessage(`"a" "b"`)
			return m
		}()}, "fields.findings"},
		{"raw field nested too deep", &Input{Kind: KindEndUseCheck, Fields: func() map[string]json.RawMessage {
			m := raw(KindEndUseCheck)
			m["findings"] = json.RawMessage(strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth))
			return m
		}()}, "fields.findings" + strings.Repeat("[0]", MaxDepth-2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate(c.in, p)
			fieldErrorAt(t, err, c.field)
		})
	}
	good := &Input{ID: "FRA-LD-2026.0001:a_b", Kind: KindLicenceDecision, Fields: raw(KindLicenceDecision), Rationale: "  first decision\n"}
	c, err := Validate(good, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != good.ID || c.Rationale != "first decision" {
		t.Fatalf("id %q rationale %q", c.ID, c.Rationale)
	}
}

func TestValidateUsesPolicyDefaults(t *testing.T) {
	p := policy.DefaultPolicy()
	p.FieldDefaults[KindEndUseCheck] = map[string]string{"findings": "REL TO DEU", "outcome": "PUBLIC"}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal([]byte(validFields[KindEndUseCheck]), &fields)
	c, err := Validate(&Input{Kind: KindEndUseCheck, Fields: fields, Markings: map[string]string{"outcome": "NATIONAL"}}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"findings": "REL TO DEU", "outcome": "NATIONAL", "location": "NATIONAL"}
	for _, f := range c.Fields {
		if w, ok := want[f.Name]; ok && f.Marking.String() != w {
			t.Errorf("%s: %s, want %s", f.Name, f.Marking, w)
		}
	}
}

func TestControlCodes(t *testing.T) {
	good := map[string]string{
		"ML1": "ML1", "ML4": "ML4", "ml4": "ML4", "ML10": "ML10", "ML22": "ML22", "ML4.a": "ML4.A",
		"ML10b": "ML10B", "ML8.a.1": "ML8.A.1", "ml10.b.2": "ML10.B.2", " ML13 ": "ML13",
		"3A001": "3A001", "9E003": "9E003", "5A002.a.1": "5A002.A.1", "0A501": "0A501",
		"3a001.a.7.b": "3A001.A.7.B", "1C011": "1C011", "5D002": "5D002", "3A001a7": "3A001A7",
	}
	for in, want := range good {
		got, err := normalizeControlCode(in)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "ML", "ML0", "ML23", "ML100", "ML4.", "ML4..a", "ML4.1", "ML-4", "M L4",
		"3F001", "10A001", "3A01", "3A0011", "3A001.", "A3001", "3Z001", "3A001.a.", "3A001 a",
		"ML4.ſ", "3A001.\u212a", // non-ASCII letters that upper-case to ASCII
		"ML1" + strings.Repeat(".a.1", 10),
	}
	for _, in := range bad {
		if got, err := normalizeControlCode(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

func TestCurrencyListSorted(t *testing.T) {
	// validCurrency binary-searches the list.
	if !slices.IsSorted(currencies) {
		t.Fatal("currencies not sorted")
	}
	for _, c := range []string{"EUR", "USD", "GBP", "JPY", "AED", "ZWG"} {
		if err := validCurrency(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, c := range []string{"eur", "XXX", "XTS", "EURO", ""} {
		if err := validCurrency(c); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
}

// benchBody is a licence application with every field filled and ten items.
func benchBody(b *testing.B) []byte {
	fields := fieldsOf(b, KindLicenceApplication)
	items := jsonList(10, `{"description":"Item %d for the police","control_code":"ML1.a","quantity":10,"unit":"pcs","value":{"amount":1000,"currency":"EUR"}}`)
	setPath(b, fields, "items", items)
	return bodyOf(b, KindLicenceApplication, fields, map[string]string{"end_user": "REL TO DEU"})
}

// BenchmarkDecodeValidate measures the whole trust-boundary path of a record write:
// strict decoding of the body and validation of every field of a licence application.
func BenchmarkDecodeValidate(b *testing.B) {
	body := benchBody(b)
	p := policy.DefaultPolicy()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		in, err := Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Validate(in, p); err != nil {
			b.Fatal(err)
		}
	}
}
