package export

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

// stixObj is a decoded STIX object, for checking properties.
type stixObj map[string]any

func decodeObjects(t *testing.T, raws []json.RawMessage) []stixObj {
	t.Helper()
	out := make([]stixObj, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (o stixObj) str(k string) string { s, _ := o[k].(string); return s }

func (o stixObj) strs(k string) []string {
	var out []string
	if l, ok := o[k].([]any); ok {
		for _, v := range l {
			s, _ := v.(string)
			out = append(out, s)
		}
	}
	return out
}

// byExternalID finds the object whose external reference carries id.
func byExternalID(objs []stixObj, id string) stixObj {
	for _, o := range objs {
		refs, _ := o["external_references"].([]any)
		for _, r := range refs {
			if m, _ := r.(map[string]any); m["external_id"] == id {
				return o
			}
		}
	}
	return nil
}

func fixtureSTIX(t *testing.T) []json.RawMessage {
	t.Helper()
	raws, err := STIXObjects(fixtureEntries(t), fixtureIndicators(t), "FRA")
	if err != nil {
		t.Fatal(err)
	}
	return raws
}

// TestSTIXObjectsMatchSchemas validates every emitted object against the transcribed
// STIX 2.1 schema of its type, and the bundle against the bundle schema.
func TestSTIXObjectsMatchSchemas(t *testing.T) {
	raws := fixtureSTIX(t)
	for _, r := range raws {
		validate(t, stixSchemaFor(t, r), r)
	}
	var buf bytes.Buffer
	if err := WriteSTIXBundle(&buf, raws); err != nil {
		t.Fatal(err)
	}
	validate(t, "stix/bundle.json", bytes.TrimSpace(buf.Bytes()))
}

// TestSTIXInvariants checks the rules JSON Schema cannot state: references resolve,
// selectors name properties that exist, modified is not before created, valid_until is
// after valid_from, ids are unique, and custom properties are named x_entente_*.
func TestSTIXInvariants(t *testing.T) {
	objs := decodeObjects(t, fixtureSTIX(t))
	ids := map[string]bool{}
	for _, o := range objs {
		id := o.str("id")
		if ids[id] {
			t.Errorf("id %s emitted twice", id)
		}
		ids[id] = true
	}
	producer := objs[0]
	if producer.str("type") != "identity" || producer.str("name") != "FRA" || producer.str("identity_class") != "organization" {
		t.Fatalf("first object is not the producer identity: %v", producer)
	}
	custom := regexp.MustCompile(`^x_entente_[a-z0-9_]+$`)
	for _, o := range objs {
		id := o.str("id")
		for _, ref := range o.strs("object_marking_refs") {
			if !ids[ref] {
				t.Errorf("%s: marking %s is not in the export", id, ref)
			}
		}
		gms, _ := o["granular_markings"].([]any)
		for _, g := range gms {
			m := g.(map[string]any)
			if ref, _ := m["marking_ref"].(string); !ids[ref] {
				t.Errorf("%s: granular marking %s is not in the export", id, ref)
			}
			for _, sel := range m["selectors"].([]any) {
				if _, ok := o[sel.(string)]; !ok {
					t.Errorf("%s: selector %q names no property", id, sel)
				}
			}
		}
		if o.str("type") == "marking-definition" {
			if _, ok := o["modified"]; ok {
				t.Errorf("%s: marking definitions are not versioned", id)
			}
			continue
		}
		if o.str("spec_version") != "2.1" {
			t.Errorf("%s: spec_version %q", id, o.str("spec_version"))
		}
		if id != producer.str("id") && o.str("created_by_ref") != producer.str("id") {
			t.Errorf("%s: created_by_ref %q, want the producer", id, o.str("created_by_ref"))
		}
		created, _ := time.Parse(time.RFC3339, o.str("created"))
		modified, _ := time.Parse(time.RFC3339, o.str("modified"))
		if modified.Before(created) {
			t.Errorf("%s: modified %s before created %s", id, modified, created)
		}
		if o["revoked"] == true && !modified.After(created) {
			t.Errorf("%s: a revoked version must be later than the first", id)
		}
		if vu := o.str("valid_until"); vu != "" {
			from, _ := time.Parse(time.RFC3339, o.str("valid_from"))
			until, _ := time.Parse(time.RFC3339, vu)
			if !until.After(from) {
				t.Errorf("%s: valid_until %s not after valid_from %s", id, until, from)
			}
		}
		for k := range o {
			if strings.HasPrefix(k, "x_") && !custom.MatchString(k) {
				t.Errorf("%s: custom property %q is not x_entente_*", id, k)
			}
		}
	}
}

// TestSTIXMapping checks the mapping of each fixture case, including the marking table
// in the package documentation.
func TestSTIXMapping(t *testing.T) {
	objs := decodeObjects(t, fixtureSTIX(t))
	markings := map[string]stixObj{}
	for _, o := range objs {
		if o.str("type") == "marking-definition" {
			markings[o.str("id")] = o
		}
	}
	statementDEUFRA := "marking-definition--" + uuid5("marking:REL TO DEU,FRA")

	p := byExternalID(objs, "2026-0001")
	if p == nil {
		t.Fatal("listed person missing")
	}
	if p.str("identity_class") != "individual" || p.str("name") != "Ivan Petrov" || p.str("x_entente_status") != "listed" {
		t.Errorf("person: %v", p)
	}
	if got := p.strs("object_marking_refs"); !slices.Equal(got, []string{tlpAmber.id}) {
		t.Errorf("REL TO FEDERATION party marked %v, want TLP:AMBER", got)
	}
	// The rationale is REL TO DEU,FRA, narrower than the party: it gets the statement
	// and AMBER+STRICT on description. The basis is PUBLIC, wider: nothing more.
	gm, _ := json.Marshal(p["granular_markings"])
	want := `[{"marking_ref":"` + tlpAmberStrict.id + `","selectors":["description"]},{"marking_ref":"` + statementDEUFRA + `","selectors":["description"]}]`
	if tlpAmberStrict.id > statementDEUFRA {
		want = `[{"marking_ref":"` + statementDEUFRA + `","selectors":["description"]},{"marking_ref":"` + tlpAmberStrict.id + `","selectors":["description"]}]`
	}
	if string(gm) != want {
		t.Errorf("granular markings\n got %s\nwant %s", gm, want)
	}
	if st := markings[statementDEUFRA]; st.str("definition_type") != "statement" || st.str("name") != "REL TO DEU,FRA" ||
		!strings.Contains(st["definition"].(map[string]any)["statement"].(string), "DEU (Germany), FRA (France)") {
		t.Errorf("statement marking: %v", st)
	}
	if _, ok := markings[tlpClear.id]; !ok {
		t.Error("TLP:CLEAR missing (PUBLIC values and the producer use it)")
	}
	for _, tlp := range []tlpMarking{tlpClear, tlpAmber, tlpAmberStrict} {
		m := markings[tlp.id]
		ext, _ := m["extensions"].(map[string]any)[tlp2Extension].(map[string]any)
		if m.str("name") != tlp.name || m.str("created") != "2022-10-01T00:00:00.000Z" || ext["tlp_2_0"] != tlp.level {
			t.Errorf("%s is not the OASIS definition: %v", tlp.name, m)
		}
	}

	org := byExternalID(objs, "2026-0002")
	if org.str("identity_class") != "organization" || !slices.Equal(org.strs("object_marking_refs"), []string{tlpClear.id}) || org["granular_markings"] != nil {
		t.Errorf("public organisation: %v", org)
	}
	if org.str("x_entente_status") != "listed" {
		t.Errorf("review-due is still listed: %v", org.str("x_entente_status"))
	}
	vessel := byExternalID(objs, "2026-0003")
	if vessel.str("identity_class") != "unspecified" || vessel.str("x_entente_party_type") != "vessel" {
		t.Errorf("vessel: %v", vessel)
	}
	if got := vessel.strs("x_entente_sealed_fields"); !slices.Equal(got, []string{"rationale"}) || vessel["description"] != nil {
		t.Errorf("vessel with sealed rationale: sealed %v, description %v", got, vessel["description"])
	}
	for _, id := range []string{"2026-0004", "2026-0005"} {
		if o := byExternalID(objs, id); o != nil {
			t.Errorf("%s must not be exported (party sealed / only nominated): %v", id, o)
		}
	}
	delisted := byExternalID(objs, "2026-0006")
	if delisted["revoked"] != true || delisted.str("x_entente_status") != "delisted" || delisted.str("modified") != stixTime(*at(400)) {
		t.Errorf("delisted entry: %v", delisted)
	}
	expired := byExternalID(objs, "2026-0008")
	if expired["revoked"] != true || expired.str("modified") != stixTime(*at(500)) {
		t.Errorf("expired entry: %v", expired)
	}
	sealedBasis := byExternalID(objs, "2026-0007")
	if got := sealedBasis.strs("x_entente_sealed_fields"); !slices.Equal(got, []string{"basis", "rationale"}) || sealedBasis["x_entente_basis"] != nil {
		t.Errorf("sealed basis and rationale: %v", sealedBasis)
	}
	weird := byExternalID(objs, "x_weird:id.1")
	if got := weird.strs("x_entente_sealed_fields"); !slices.Equal(got, []string{"rationale"}) {
		t.Errorf("NATIONAL rationale must be withheld: %v", weird)
	}

	ind := byExternalID(objs, "ind-1")
	if ind.str("pattern") != "[x-entente-risk-subject:kind = 'destination' AND x-entente-risk-subject:value = 'IRN']" ||
		ind.str("pattern_type") != "stix" || ind["x_entente_severity"] != 3.0 || ind.str("valid_until") != stixTime(*at(2000)) {
		t.Errorf("indicator: %v", ind)
	}
	// Evidence REL TO FEDERATION under a PUBLIC subject: AMBER on description.
	gm, _ = json.Marshal(ind["granular_markings"])
	if string(gm) != `[{"marking_ref":"`+tlpAmber.id+`","selectors":["description"]}]` {
		t.Errorf("indicator granular markings: %s", gm)
	}
	withdrawn := byExternalID(objs, "ind-2")
	if withdrawn["revoked"] != true || withdrawn.str("pattern") != `[x-entente-risk-subject:kind = 'end-user' AND x-entente-risk-subject:value = 'O\'Brien \\ Trading']` ||
		!slices.Equal(withdrawn.strs("x_entente_sealed_fields"), []string{"evidence"}) {
		t.Errorf("withdrawn indicator: %v", withdrawn)
	}
	if byExternalID(objs, "ind-3") != nil || byExternalID(objs, "ind-5") != nil {
		t.Error("an indicator with a sealed subject, or purged, must not be exported")
	}
	if e := byExternalID(objs, "ind-4"); e == nil || e["description"] != nil || !slices.Equal(e.strs("x_entente_sealed_fields"), []string{"evidence"}) {
		t.Errorf("expired indicator with NATIONAL evidence: %v", e)
	}
}

// TestSTIXWithheldNeverExported checks that no value of a withheld field appears in any
// object, and that withheld fields are named instead.
func TestSTIXWithheldNeverExported(t *testing.T) {
	var all []byte
	for _, r := range fixtureSTIX(t) {
		all = append(append(all, r...), '\n')
	}
	checkNoSecrets(t, "STIX", all)
	if bytes.Contains(all, []byte("NATIONAL")) {
		t.Error("STIX output mentions NATIONAL")
	}
}

// TestSTIXDeterministic checks that the same input gives the same bytes, whatever the
// order of the input slices.
func TestSTIXDeterministic(t *testing.T) {
	a := fixtureSTIX(t)
	for i := range 5 {
		es, is := fixtureEntries(t), fixtureIndicators(t)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		r.Shuffle(len(is), func(i, j int) { is[i], is[j] = is[j], is[i] })
		b, err := STIXObjects(es, is, "FRA")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			t.Fatalf("shuffled input gave different output")
		}
	}
	var b1, b2 bytes.Buffer
	if err := WriteSTIXBundle(&b1, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteSTIXBundle(&b2, fixtureSTIX(t)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("bundles differ")
	}
	// Another producer renders the same entries as different objects.
	other, err := STIXObjects(fixtureEntries(t), nil, "DEU")
	if err != nil {
		t.Fatal(err)
	}
	if byExternalID(decodeObjects(t, other), "2026-0001").str("id") == byExternalID(decodeObjects(t, a), "2026-0001").str("id") {
		t.Error("two producers gave a party the same id")
	}
}

func TestSTIXRefusesBadInput(t *testing.T) {
	good := fixtureEntries(t)
	cases := map[string]func() ([]api.WatchlistEntry, []api.IndicatorView, string){
		"producer not a state": func() ([]api.WatchlistEntry, []api.IndicatorView, string) { return good, nil, "XXX" },
		"duplicate entry": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			return append(fixtureEntries(t), fixtureEntries(t)[0]), nil, "FRA"
		},
		"bad entry id": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			es := fixtureEntries(t)
			es[0].ID = "../../etc"
			return es, nil, "FRA"
		},
		"corrupt party": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			es := fixtureEntries(t)
			es[1].Fields["party"] = api.FieldView{Marking: public, Value: json.RawMessage(`{"name":1}`)}
			return es, nil, "FRA"
		},
		"listed without a time": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			es := fixtureEntries(t)
			es[1].Nominated, es[1].Decided = nil, nil
			return es, nil, "FRA"
		},
		"indicator valid_until before publication": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			is := fixtureIndicators(t)
			is[1].ValidUntil = is[1].Published
			return nil, is, "FRA"
		},
		"huge value": func() ([]api.WatchlistEntry, []api.IndicatorView, string) {
			es := fixtureEntries(t)
			es[1].Fields["rationale"] = open(t, public, strings.Repeat("x", maxValueBytes))
			return es, nil, "FRA"
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			es, is, p := c()
			if _, err := STIXObjects(es, is, p); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestCoveredBy(t *testing.T) {
	m := func(s string) policy.Marking {
		p, err := policy.ParseMarking(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		field, obj string
		want       bool
	}{
		{public, federation, true},
		{federation, federation, true},
		{federation, public, false},
		{relDEUFRA, federation, false},
		{federation, relDEUFRA, true},
		{"REL TO DEU,FRA,GBR", relDEUFRA, true},
		{relDEUFRA, "REL TO DEU,FRA,GBR", false},
		{steering, relDEUFRA, false},
	}
	for _, c := range cases {
		if got := coveredBy(m(c.field), m(c.obj)); got != c.want {
			t.Errorf("coveredBy(%s, %s) = %v", c.field, c.obj, got)
		}
	}
}

func TestUUID5(t *testing.T) {
	// RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got := formatUUID(uuid5With(dns, "www.example.com")); got != "2ed6657d-e927-568b-95e1-2665a8aea6a2" {
		t.Errorf("uuid5 = %s", got)
	}
	if id := CollectionID("watchlist"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) || id == CollectionID("indicators") {
		t.Errorf("CollectionID = %s", id)
	}
}
