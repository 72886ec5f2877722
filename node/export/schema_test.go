package export

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSchemasRejectWhatTheSpecForbids checks the transcribed schemas themselves: a
// schema that accepted everything would make every validation in these tests pass.
// Each case is a valid object with one rule broken.
func TestSchemasRejectWhatTheSpecForbids(t *testing.T) {
	const identity = `{"type":"identity","spec_version":"2.1","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8",` +
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"X"%s}`
	cases := []struct {
		name, schema, doc string
		valid             bool
	}{
		{"identity ok", "stix/identity.json", sprintf(identity, ``), true},
		{"identity custom x_ property", "stix/identity.json", sprintf(identity, `,"x_entente_kind":"k"`), true},
		{"identity custom property without x_", "stix/identity.json", sprintf(identity, `,"entente_kind":"k"`), false},
		{"identity custom property upper case", "stix/identity.json", sprintf(identity, `,"x_Kind":"k"`), false},
		{"identity without name", "stix/identity.json", `{"type":"identity","spec_version":"2.1","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`, false},
		{"identity seconds-only created", "stix/identity.json", `{"type":"identity","spec_version":"2.1","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00.000Z","name":"X"}`, false},
		{"identity local time", "stix/identity.json", `{"type":"identity","spec_version":"2.1","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000+01:00","modified":"2026-01-01T00:00:00.000Z","name":"X"}`, false},
		{"identity wrong id type", "stix/identity.json", `{"type":"identity","spec_version":"2.1","id":"indicator--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"X"}`, false},
		{"identity spec 2.0", "stix/identity.json", `{"type":"identity","spec_version":"2.0","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"X"}`, false},
		{"identity bad uuid variant", "stix/identity.json", `{"type":"identity","spec_version":"2.1","id":"identity--6ba7b811-9dad-51d1-c0b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"X"}`, false},
		{"identity empty marking refs", "stix/identity.json", sprintf(identity, `,"object_marking_refs":[]`), false},
		{"identity granular without selectors", "stix/identity.json", sprintf(identity, `,"granular_markings":[{"marking_ref":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","selectors":[]}]`), false},
		{"identity external ref without id", "stix/identity.json", sprintf(identity, `,"external_references":[{"source_name":"entente"}]`), false},
		{"indicator ok", "stix/indicator.json", `{"type":"indicator","spec_version":"2.1","id":"indicator--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[a:b = 'c']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, true},
		{"indicator without pattern", "stix/indicator.json", `{"type":"indicator","spec_version":"2.1","id":"indicator--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, false},
		{"tlp 2.0 ok", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"clear"}}}`, true},
		{"tlp 2.0 unknown level", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"white"}}}`, false},
		{"statement ok", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2022-10-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"s"}}`, true},
		{"statement without text", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2022-10-01T00:00:00.000Z","definition_type":"statement","definition":{}}`, false},
		{"marking without definition", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2022-10-01T00:00:00.000Z","name":"n"}`, false},
		{"marking versioned", "stix/marking-definition.json", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--6ba7b811-9dad-51d1-80b4-00c04fd430c8","created":"2022-10-01T00:00:00.000Z","modified":"2022-10-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"s"}}`, false},
		{"bundle with spec_version", "stix/bundle.json", `{"type":"bundle","id":"bundle--6ba7b811-9dad-51d1-80b4-00c04fd430c8","spec_version":"2.1","objects":[{"type":"x","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8"}]}`, false},
		{"envelope next without more", "taxii/envelope.json", `{"next":"abc"}`, false},
		{"envelope object without id", "taxii/envelope.json", `{"more":false,"objects":[{"type":"identity"}]}`, false},
		{"collection without can_write", "taxii/collection.json", `{"id":"6ba7b811-9dad-51d1-80b4-00c04fd430c8","title":"t","can_read":true}`, false},
		{"api root without 2.1", "taxii/api-root.json", `{"title":"t","versions":["application/taxii+json;version=2.0"],"max_content_length":0}`, false},
		{"discovery protocol-relative root", "taxii/discovery.json", `{"title":"t","api_roots":["//evil/x/"]}`, false},
		{"error without title", "taxii/error.json", `{"http_status":"404"}`, false},
		{"manifest record without version", "taxii/manifest.json", `{"objects":[{"id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","date_added":"2026-01-01T00:00:00Z"}]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(c.doc)))
			if err != nil {
				t.Fatal(err)
			}
			err = schema(t, c.schema).Validate(v)
			if c.valid && err != nil {
				t.Errorf("refused a valid document: %v", err)
			}
			if !c.valid && err == nil {
				t.Errorf("accepted %s", c.doc)
			}
		})
	}
}

func sprintf(format, arg string) string {
	return string(bytes.Replace([]byte(format), []byte("%s"), []byte(arg), 1))
}
