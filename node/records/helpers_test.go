package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Valid fields per kind, as a client would send them. Each exercises every field of its
// kind, with non-Latin scripts in names.
var validFields = map[string]string{
	KindLicenceApplication: `{
		"applicant": {"type":"organisation","name":"  Acme Défense SA ","aliases":["ACME"],
			"addresses":[{"street":"1 rue de Rivoli","city":"Paris","postal_code":"75001","country":"FRA"}],
			"countries":["FRA"],
			"identifiers":[{"scheme":"lei","value":"529900T8BM49AURSDO55","country":"FRA"}]},
		"consignee": {"type":"organisation","name":"شركة الاستيراد","countries":["ARE"]},
		"end_user": {"type":"person","name":"Иван Петров","date_of_birth":"1970-02-28"},
		"destination": "ARE",
		"items": [
			{"description":"Assault rifle","control_code":"ml1.a","quantity":10,"unit":"pcs","value":{"amount":12000.5,"currency":"EUR"}},
			{"description":"Night vision","control_code":"6a003.b.4","quantity":2}],
		"end_use": "Police use only.\nNo re-export.",
		"submitted_on": "2026-01-15",
		"value": {"amount":120005,"currency":"EUR"},
		"intermediaries": [{"type":"organisation","name":"Transit Logistik GmbH","countries":["DEU"]}],
		"applicant_reference": "ACME-2026-17"}`,
	KindLicenceDecision: `{
		"application_id": "FRA-LA-2026-0001",
		"decision": "granted",
		"rationale_text": "End user verified; no diversion risk found.",
		"decided_on": "2026-02-01",
		"conditions": ["No re-export without consent", "End-use certificate on delivery"],
		"valid_until": "2027-02-01"}`,
	KindEndUseCheck: `{
		"licence_id": "FRA-LD-2026-0001",
		"end_user": {"type":"organisation","name":"Ministry of Interior",
			"identifiers":[{"scheme":"registration","value":"MOI-1"}]},
		"location": "ARE",
		"performed_on": "2026-06-30",
		"outcome": "satisfactory",
		"findings": "All 10 items accounted for."}`,
	KindConsignment: `{
		"licence_id": "FRA-LD-2026-0001",
		"consignor": {"type":"organisation","name":"Acme Défense SA"},
		"consignee": {"type":"vessel","name":"MV Ocean Star","identifiers":[{"scheme":"imo","value":"9321483"}]},
		"items": [{"description":"Assault rifle","control_code":"ML1","quantity":10}],
		"destination": "ARE",
		"route": ["TUR","SAU"],
		"shipped_on": "2026-03-10",
		"transport_document": "AWB 057-12345675"}`,
	KindProcurementAward: `{
		"supplier": {"type":"organisation","name":"北方工业","aliases":["Norinco"]},
		"contracting_authority": "Direction générale de l'armement",
		"items": [{"description":"Radar","control_code":"ML5.b","quantity":1,"value":{"amount":5e6,"currency":"EUR"}}],
		"value": {"amount":5000000,"currency":"EUR"},
		"awarded_on": "2026-04-30",
		"reference": "DGA-2026-017"}`,
}

// fieldsOf returns the valid fields of kind as a generic tree a test can change.
func fieldsOf(t testing.TB, kind string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validFields[kind]), &m); err != nil {
		t.Fatalf("fixture %s: %v", kind, err)
	}
	return m
}

// del marks a member to delete in setPath.
var del = &struct{ deleted bool }{true}

var segRE = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

// setPath sets (or, with del, removes) the member at path, such as
// "applicant.addresses[0].country", in a generic JSON tree. raw values are inserted as
// json.RawMessage so a test can insert any JSON text.
func setPath(t testing.TB, root map[string]any, path string, value any) {
	t.Helper()
	if s, ok := value.(string); ok {
		value = json.RawMessage(s)
	}
	var cur any = root
	segs := strings.Split(path, ".")
	for si, seg := range segs {
		m := segRE.FindStringSubmatch(seg)
		if m == nil {
			t.Fatalf("bad path segment %q", seg)
		}
		var idx []int
		for _, p := range strings.Split(strings.Trim(m[2], "[]"), "][") {
			if p != "" {
				n, _ := strconv.Atoi(p)
				idx = append(idx, n)
			}
		}
		last := si == len(segs)-1
		obj, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("path %s: %s is not an object", path, seg)
		}
		if last && len(idx) == 0 {
			if value == del {
				delete(obj, m[1])
			} else {
				obj[m[1]] = value
			}
			return
		}
		cur = obj[m[1]]
		for i, n := range idx {
			arr, ok := cur.([]any)
			if !ok || n >= len(arr) {
				t.Fatalf("path %s: no element %d", path, n)
			}
			if last && i == len(idx)-1 {
				arr[n] = value
				return
			}
			cur = arr[n]
		}
	}
}

// bodyOf builds a request body.
func bodyOf(t testing.TB, kind string, fields map[string]any, markings map[string]string) []byte {
	t.Helper()
	in := map[string]any{"kind": kind, "fields": fields, "rationale": "new application"}
	if markings != nil {
		in["markings"] = markings
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("build body: %v", err)
	}
	return data
}

// fieldErrorAt asserts that err is a *FieldError for exactly field.
func fieldErrorAt(t testing.TB, err error, field string) *FieldError {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want a *FieldError at %s", err, err, field)
	}
	if fe.Field != field {
		t.Fatalf("got error at %q (%s), want at %q", fe.Field, fe.Problem, field)
	}
	return fe
}

// jsonList returns a JSON array of n copies of elem, or of elem(i) for a format string.
func jsonList(n int, elem string) string {
	parts := make([]string, n)
	for i := range parts {
		if strings.Contains(elem, "%") {
			parts[i] = fmt.Sprintf(elem, i)
		} else {
			parts[i] = elem
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
