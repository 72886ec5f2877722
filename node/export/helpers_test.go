package export

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/records"
)

// at returns a pointer to a fixed UTC time, n hours after the fixtures' epoch.
func at(hours int) *time.Time {
	t := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC).Add(time.Duration(hours) * time.Hour)
	return &t
}

// open makes an opened field.
func open(t testing.TB, marking string, v any) api.FieldView {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return api.FieldView{Marking: marking, Value: b}
}

// sealed makes a field this node cannot open.
func sealed(marking string) api.FieldView { return api.FieldView{Marking: marking, Sealed: true} }

const (
	public     = "PUBLIC"
	federation = "REL TO FEDERATION"
	relDEUFRA  = "REL TO DEU,FRA"
	steering   = "REL TO STEERING"
	national   = "NATIONAL"
)

// Secret values that must never appear in any export, because their fields are
// withheld. The fixtures put them only in sealed or NATIONAL fields.
var secrets = []string{"SECRET-NATIONAL-RATIONALE", "SECRET-SEALED-VALUE"}

// fixtureEntries is a watchlist that exercises every case the exports distinguish.
func fixtureEntries(t testing.TB) []api.WatchlistEntry {
	person := records.Party{Type: "person", Name: "Ivan Petrov", Aliases: []string{"I. Petrov", "Иван Петров", "Ivan Petrov"},
		Countries: []string{"RUS", "ARE"},
		Addresses: []records.Address{{Street: "1 Sheikh Zayed Rd", City: "Dubai", Country: "ARE"}},
		Identifiers: []records.Identifier{{Scheme: "passport", Value: "753123456", Country: "RUS"},
			{Scheme: "national-id", Value: "RU-99"}},
		DateOfBirth: "1970-05-04"}
	org := records.Party{Type: "organisation", Name: "=HYPERLINK(\"http://evil\",\"click\")",
		Aliases:   []string{"+Acme Trading", "-Acme", "@Acme", "\tAcme", "\rAcme", "Acme; Ltd"},
		Countries: []string{"IRN"},
		Identifiers: []records.Identifier{{Scheme: "lei", Value: "5493001KJTIIGC8Y1R12"},
			{Scheme: "registration", Value: "10-20-30"}, {Scheme: "tax", Value: "T-1"}}}
	vessel := records.Party{Type: "vessel", Name: "MV Sea Star", Countries: []string{"PAN"},
		Identifiers: []records.Identifier{{Scheme: "imo", Value: "9123456"}, {Scheme: "other", Value: "MMSI 123"}}}
	plane := records.Party{Type: "aircraft", Name: "EP-ABC"}
	gov := records.Party{Type: "organisation", Name: "Ministry of Procurement", Countries: []string{"SYR"}}
	odd := records.Party{Type: "person", Name: "O'Brien \\ \"Quote\" <b>", Aliases: []string{"O'B"}}
	basis := api.Basis{Regime: "EU 2021/821", ControlCodes: []string{"9A012", "1C350"}}
	return []api.WatchlistEntry{
		// Deliberately out of id order: exports must sort.
		{ID: "2026-0003", Kind: "denied-party", Origin: "GBR", Status: "listed",
			Fields: map[string]api.FieldView{"party": open(t, federation, vessel), "basis": open(t, federation, basis),
				"rationale": sealed(steering)},
			Nominated: at(0), Decided: at(72)},
		{ID: "2026-0001", Kind: "denied-party", Origin: "FRA", Status: "listed",
			Fields: map[string]api.FieldView{"party": open(t, federation, person), "basis": open(t, public, basis),
				"rationale": open(t, relDEUFRA, "Procured guidance components for a missile programme.")},
			Nominated: at(0), Decided: at(48), ReviewDue: at(24 * 365)},
		{ID: "2026-0002", Kind: "end-user-of-concern", Origin: "DEU", Status: "review-due",
			Fields: map[string]api.FieldView{"party": open(t, public, org), "basis": open(t, public, basis),
				"rationale": open(t, public, "-2+3 diverted dual-use items")},
			Nominated: at(1), Decided: at(49), ReviewDue: at(50)},
		{ID: "2026-0004", Kind: "denied-party", Origin: "FRA", Status: "appealed",
			Fields:    map[string]api.FieldView{"party": sealed(relDEUFRA), "basis": open(t, public, basis)},
			Nominated: at(2), Decided: at(50), AppealEnds: at(300)},
		{ID: "2026-0005", Kind: "denied-party", Origin: "FRA", Status: "nominated",
			Fields:    map[string]api.FieldView{"party": open(t, federation, plane), "basis": open(t, public, basis)},
			Nominated: at(3), WindowEnds: at(200)},
		{ID: "2026-0006", Kind: "debarred-supplier", Origin: "DEU", Status: "delisted",
			Fields:    map[string]api.FieldView{"party": open(t, public, gov), "basis": open(t, public, basis)},
			Nominated: at(4), Decided: at(52), AppealEnds: at(400)},
		{ID: "2026-0007", Kind: "denied-party", Origin: "GBR", Status: "listed",
			Fields: map[string]api.FieldView{"party": open(t, public, plane), "basis": sealed(federation),
				"rationale": {Marking: federation, Value: json.RawMessage(`"SECRET-SEALED-VALUE"`), Sealed: true}},
			Nominated: at(5), Decided: at(53)},
		{ID: "x_weird:id.1", Kind: "end-user-of-concern", Origin: "FRA", Status: "listed",
			Fields: map[string]api.FieldView{"party": open(t, public, odd), "basis": open(t, public, basis),
				"rationale": open(t, national, "SECRET-NATIONAL-RATIONALE")},
			Nominated: at(6), Decided: at(54)},
		{ID: "2026-0008", Kind: "denied-party", Origin: "FRA", Status: "expired",
			Fields:    map[string]api.FieldView{"party": open(t, public, person), "basis": open(t, public, basis)},
			Nominated: at(7), Decided: at(55), ReviewDue: at(500)},
	}
}

// fixtureIndicators exercises each indicator case.
func fixtureIndicators(t testing.TB) []api.IndicatorView {
	return []api.IndicatorView{
		{ID: "ind-2", Kind: "end-user", Origin: "DEU", Severity: 4, Status: "withdrawn",
			Subject: open(t, relDEUFRA, "O'Brien \\ Trading"), Evidence: sealed(relDEUFRA),
			Published: *at(10), ValidUntil: *at(1000)},
		{ID: "ind-1", Kind: "destination", Origin: "FRA", Severity: 3, Status: "active",
			Subject: open(t, public, "IRN"), Evidence: open(t, federation, "Three diversions via Dubai in 2025."),
			Published: *at(11), ValidUntil: *at(2000)},
		{ID: "ind-3", Kind: "item", Origin: "GBR", Severity: 5, Status: "active",
			Subject: sealed(steering), Evidence: open(t, public, "visible evidence"),
			Published: *at(12), ValidUntil: *at(2000)},
		{ID: "ind-4", Kind: "route", Origin: "GBR", Severity: 1, Status: "expired",
			Subject: open(t, federation, "ARE -> IRN"), Evidence: open(t, national, "SECRET-NATIONAL-RATIONALE"),
			Published: *at(13), ValidUntil: *at(14)},
		{ID: "ind-5", Kind: "route", Origin: "GBR", Severity: 1, Status: "purged",
			Subject: open(t, federation, "gone"), Published: *at(13), ValidUntil: *at(14)},
	}
}

// checkNoSecrets fails if out contains any value from a withheld field.
func checkNoSecrets(t *testing.T, what string, out []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%s contains the withheld value %q", what, s)
		}
	}
}

// schemaBase is where the transcribed schemas are registered; it cannot resolve, so
// nothing is ever fetched.
const schemaBase = "https://entente.invalid/schemas/"

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// schema returns the compiled schema of testdata/schemas/<name>, for example
// "stix/identity.json".
func schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		var names []string
		schemasErr = filepath.WalkDir("testdata/schemas", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			doc, err := jsonschema.UnmarshalJSON(f)
			if err != nil {
				return err
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, "testdata/schemas/"))
			names = append(names, rel)
			return c.AddResource(schemaBase+rel, doc)
		})
		if schemasErr != nil {
			return
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, n := range names {
			s, err := c.Compile(schemaBase + n)
			if err != nil {
				schemasErr = err
				return
			}
			schemas[n] = s
		}
	})
	if schemasErr != nil {
		t.Fatalf("compile schemas: %v", schemasErr)
	}
	s, ok := schemas[name]
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return s
}

// validate checks doc against the named schema.
func validate(t testing.TB, name string, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, doc)
	}
	if err := schema(t, name).Validate(v); err != nil {
		t.Errorf("%s: %v\n%s", name, err, doc)
	}
}

// stixSchemaFor returns the schema name of a STIX object by its type.
func stixSchemaFor(t testing.TB, obj []byte) string {
	t.Helper()
	var m struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	switch m.Type {
	case "identity", "indicator", "marking-definition", "bundle":
		return "stix/" + m.Type + ".json"
	}
	t.Fatalf("no schema for STIX type %q", m.Type)
	return ""
}
