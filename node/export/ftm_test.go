package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

// ftmProps lists, per schema, the FtM properties WriteFTM may write, transcribed from
// the FollowTheMoney schema definitions (Thing, LegalEntity, Person, Organization,
// Company, Vehicle, Vessel, Airplane, Interval, Sanction). A property missing from the
// real schema would be dropped silently by FtM tools, so the test refuses any other.
var ftmProps = func() map[string][]string {
	thing := []string{"name", "alias", "country", "address", "notes", "topics", "program", "summary", "description"}
	legal := append(slices.Clone(thing), "idNumber", "taxNumber", "registrationNumber", "leiCode", "dunsCode")
	vehicle := append(slices.Clone(thing), "registrationNumber")
	interval := []string{"startDate", "endDate", "date", "summary", "description"}
	return map[string][]string{
		"LegalEntity":  legal,
		"Person":       append(slices.Clone(legal), "birthDate", "passportNumber"),
		"Organization": append(slices.Clone(legal), "imoNumber"),
		"Company":      append(slices.Clone(legal), "imoNumber"),
		"Vessel":       append(slices.Clone(vehicle), "imoNumber"),
		"Airplane":     vehicle,
		"Sanction": append(slices.Clone(interval), "entity", "authority", "authorityId", "program", "provisions",
			"status", "reason", "country", "listingDate"),
	}
}()

var (
	ftmIDRE   = regexp.MustCompile(`^[0-9a-zA-Z]([0-9a-zA-Z.-]*[0-9a-zA-Z])?$`)
	ftmDateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	alpha2RE  = regexp.MustCompile(`^[a-z]{2}$`)
)

func readFTM(t *testing.T, b []byte) []ftmEntity {
	t.Helper()
	var out []ftmEntity
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e ftmEntity
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func writeFixtureFTM(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteFTM(&buf, "entente_fra", fixtureEntries(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFTMShape checks every entity against what FtM tools accept: a valid id, a known
// schema, only that schema's properties, non-empty values, alpha-2 countries, ISO dates,
// and Sanction entities that point at a party in the same file.
func TestFTMShape(t *testing.T) {
	es := readFTM(t, writeFixtureFTM(t))
	ids := map[string]string{}
	for _, e := range es {
		if !ftmIDRE.MatchString(e.ID) {
			t.Errorf("id %q is not an FtM id", e.ID)
		}
		if _, dup := ids[e.ID]; dup {
			t.Errorf("id %q twice", e.ID)
		}
		ids[e.ID] = e.Schema
		allowed, ok := ftmProps[e.Schema]
		if !ok {
			t.Errorf("%s: schema %q", e.ID, e.Schema)
		}
		if len(e.Properties["name"]) == 0 && e.Schema != "Sanction" {
			t.Errorf("%s: no name", e.ID)
		}
		for prop, vs := range e.Properties {
			if !slices.Contains(allowed, prop) {
				t.Errorf("%s: %s has no property %q", e.ID, e.Schema, prop)
			}
			for _, v := range vs {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s: empty %s", e.ID, prop)
				}
			}
			if len(slices.Compact(slices.Sorted(slices.Values(vs)))) != len(vs) {
				t.Errorf("%s: duplicate values in %s: %v", e.ID, prop, vs)
			}
		}
		for _, c := range e.Properties["country"] {
			if !alpha2RE.MatchString(c) {
				t.Errorf("%s: country %q is not lower-case alpha-2", e.ID, c)
			}
		}
		for _, p := range []string{"birthDate", "startDate", "listingDate"} {
			for _, d := range e.Properties[p] {
				if !ftmDateRE.MatchString(d) {
					t.Errorf("%s: %s %q", e.ID, p, d)
				}
			}
		}
		if !slices.Equal(e.Datasets, []string{"entente_fra"}) || e.Referents == nil {
			t.Errorf("%s: datasets %v referents %v", e.ID, e.Datasets, e.Referents)
		}
	}
	for _, e := range es {
		if e.Schema != "Sanction" {
			if !e.Target {
				t.Errorf("%s: a listed party is a target", e.ID)
			}
			continue
		}
		if e.Target {
			t.Errorf("%s: a Sanction is not a target", e.ID)
		}
		ref := e.Properties["entity"]
		if len(ref) != 1 || ids[ref[0]] == "" || ids[ref[0]] == "Sanction" {
			t.Errorf("%s: entity %v is not a party in the file", e.ID, ref)
		}
	}
}

func TestFTMMapping(t *testing.T) {
	es := readFTM(t, writeFixtureFTM(t))
	byID := map[string]ftmEntity{}
	var order []string
	for _, e := range es {
		byID[e.ID] = e
		order = append(order, e.ID)
	}
	// In force only, in entry id order, party then sanction; 0004 (party sealed),
	// 0005 (nominated), 0006 (delisted) and 0008 (expired) are not listings here.
	want := []string{"entente-2026-0001", "entente-2026-0001.sanction", "entente-2026-0002", "entente-2026-0002.sanction",
		"entente-2026-0003", "entente-2026-0003.sanction", "entente-2026-0007", "entente-2026-0007.sanction",
		"entente-x.uweird.cid.d1", "entente-x.uweird.cid.d1.sanction"}
	if !slices.Equal(order, want) {
		t.Fatalf("entities\n got %v\nwant %v", order, want)
	}
	p := byID["entente-2026-0001"]
	check := func(e ftmEntity, prop string, want ...string) {
		t.Helper()
		if got := e.Properties[prop]; !slices.Equal(got, want) {
			t.Errorf("%s %s = %q, want %q", e.ID, prop, got, want)
		}
	}
	if p.Schema != "Person" {
		t.Errorf("person schema %s", p.Schema)
	}
	check(p, "alias", "I. Petrov", "Иван Петров")
	check(p, "country", "ru", "ae")
	check(p, "passportNumber", "753123456")
	check(p, "idNumber", "RU-99")
	check(p, "birthDate", "1970-05-04")
	check(p, "topics", "sanction", "export.control")
	check(p, "address", "1 Sheikh Zayed Rd, Dubai, United Arab Emirates")
	s := byID["entente-2026-0001.sanction"]
	check(s, "entity", "entente-2026-0001")
	check(s, "program", "EU 2021/821")
	check(s, "provisions", "9A012", "1C350")
	check(s, "reason", "Procured guidance components for a missile programme.")
	check(s, "startDate", "2026-03-03")
	check(s, "authority", ftmAuthority)
	check(s, "authorityId", "2026-0001")

	org := byID["entente-2026-0002"]
	if org.Schema != "Company" {
		t.Errorf("organisation with a registration number: schema %s", org.Schema)
	}
	check(org, "leiCode", "5493001KJTIIGC8Y1R12")
	check(org, "registrationNumber", "10-20-30")
	check(org, "topics", "sanction", "export.risk")
	v := byID["entente-2026-0003"]
	if v.Schema != "Vessel" {
		t.Errorf("vessel schema %s", v.Schema)
	}
	check(v, "imoNumber", "9123456")
	check(v, "notes", "Identifier (other): MMSI 123", withheldNotice([]string{"rationale"}))
	if _, ok := byID["entente-2026-0003.sanction"].Properties["reason"]; ok {
		t.Error("a sealed rationale must not become a reason")
	}
	check(byID["entente-2026-0003.sanction"], "description", withheldNotice([]string{"rationale"}))
	plane := byID["entente-2026-0007"]
	if plane.Schema != "Airplane" {
		t.Errorf("aircraft schema %s", plane.Schema)
	}
	if _, ok := plane.Properties["program"]; ok {
		t.Error("a sealed basis must not become a program")
	}
	check(plane, "notes", withheldNotice([]string{"basis", "rationale"}))
}

func TestFTMWithheldNeverExported(t *testing.T) {
	out := writeFixtureFTM(t)
	checkNoSecrets(t, "FtM", out)
	if bytes.Contains(out, []byte("NATIONAL")) {
		t.Error("FtM mentions NATIONAL")
	}
	if bytes.Contains(out, []byte("2026-0004")) {
		t.Error("an entry whose party is sealed was exported")
	}
}

func TestFTMDeterministic(t *testing.T) {
	a := writeFixtureFTM(t)
	for i := range 5 {
		es := fixtureEntries(t)
		rand.New(rand.NewPCG(uint64(i), 1)).Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		var b bytes.Buffer
		if err := WriteFTM(&b, "entente_fra", es); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b.Bytes()) {
			t.Fatal("shuffled input gave different output")
		}
	}
}

func TestFTMRefusesBadInput(t *testing.T) {
	for _, ds := range []string{"", "Entente", "entente-fra", "1x", strings.Repeat("a", 65)} {
		if err := WriteFTM(&bytes.Buffer{}, ds, nil); err == nil {
			t.Errorf("dataset %q accepted", ds)
		}
	}
	es := fixtureEntries(t)
	es[1].Fields["basis"] = api.FieldView{Marking: public, Value: json.RawMessage(`[1,2]`)}
	if err := WriteFTM(&bytes.Buffer{}, "entente", es); err == nil {
		t.Error("a corrupt basis was accepted")
	}
}

// TestFTMIDInjective checks on random entry ids that distinct entries never share an
// FtM id, that every id is valid in FtM, and that no party id ends like a sanction id.
func TestFTMIDInjective(t *testing.T) {
	const alphabet = "aZ09.-_:"
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	for range 20000 {
		n := 1 + r.IntN(6)
		b := make([]byte, n)
		b[0] = alphabet[r.IntN(4)] // ids start with a letter or digit
		for i := 1; i < n; i++ {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		id := string(b)
		if !entryIDRE.MatchString(id) {
			continue
		}
		f := FTMID(id)
		if prev, ok := seen[f]; ok && prev != id {
			t.Fatalf("%q and %q both map to %q", prev, id, f)
		}
		seen[f] = id
		if !ftmIDRE.MatchString(f) || !ftmIDRE.MatchString(f+".sanction") {
			t.Fatalf("%q maps to %q, not an FtM id", id, f)
		}
		if strings.Contains(f, ".s") {
			t.Fatalf("%q maps to %q, which could collide with a sanction id", id, f)
		}
	}
	if got := FTMID("2026-0001"); got != "entente-2026-0001" {
		t.Errorf("FTMID(2026-0001) = %q", got)
	}
}

// TestCountryTable checks that every state code the policy accepts converts.
func TestCountryTable(t *testing.T) {
	for _, c := range policy.StateCodes() {
		if !alpha2RE.MatchString(alpha2(c)) || countryName(c) == c {
			t.Errorf("%s: alpha-2 %q, name %q", c, alpha2(c), countryName(c))
		}
	}
	if len(countries) != len(policy.StateCodes()) {
		t.Errorf("country table has %d codes, policy %d", len(countries), len(policy.StateCodes()))
	}
}
