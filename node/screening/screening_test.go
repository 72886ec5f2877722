package screening_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/records"
	"github.com/entente/entente/node/screen"
	"github.com/entente/entente/node/screening"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a small list: two persons, an organisation with a legal form and a vessel.
func fixture() []screen.Entity {
	return []screen.Entity{
		{ID: "P1", Type: "person", Names: []string{"Nicolas Maduro Moros"}, Countries: []string{"VEN"}, BirthDates: []string{"1962-11-23"}},
		{ID: "P2", Type: "person", Names: []string{"Floribert Ngabu Njabu", "Floribert Ndjabu"}, Countries: []string{"COD"}},
		{ID: "O1", Type: "organisation", Names: []string{"Qeshm Gyro Trading LLC"}, Countries: []string{"IRN"}},
		{ID: "V1", Type: "vessel", Names: []string{"ARTAVIL"}, Identifiers: []screen.Identifier{{Scheme: "imo", Value: "9187629"}}},
	}
}

// body encodes a header and entities as an import body.
func body(t testing.TB, hdr any, es []screen.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(hdr); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func header(version string, n int) map[string]any {
	return map[string]any{"format": "national", "version": version, "counts": map[string]int{"entities": n}}
}

func openDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func noAudit(*bbolt.Tx, screening.Meta, *screening.Meta) error { return nil }

func TestReadImportRefusesBadLines(t *testing.T) {
	good := `{"format":"national","version":"v1"}` + "\n"
	for _, tc := range []struct {
		name, body string
		line       int
		field      string
	}{
		{"empty", "", 1, ""},
		{"header only", good, 2, ""},
		{"bad format", `{"format":"excel","version":"v1"}` + "\n", 1, "format"},
		{"no version", `{"format":"un-xml"}` + "\n", 1, "version"},
		{"header unknown field", `{"format":"national","version":"v1","colour":"red"}` + "\n", 1, "colour"},
		{"syntax", good + `{"id":"A","names":["x"]}` + "\n" + `{"id":"B",` + "\n", 3, ""},
		{"unknown field", good + `{"id":"A","names":["x"],"colour":"red"}` + "\n", 2, "colour"},
		{"wrong type", good + `{"id":"A","names":"x"}` + "\n", 2, "names"},
		{"no id", good + `{"names":["x"]}` + "\n", 2, "id"},
		{"no names", good + `{"id":"A"}` + "\n", 2, "names"},
		{"empty primary", good + `{"id":"A","names":[" "]}` + "\n", 2, "names[0]"},
		{"duplicate id", good + `{"id":"A","names":["x"]}` + "\n" + `{"id":"A","names":["y"]}` + "\n", 3, "id"},
		{"bad country", good + `{"id":"A","names":["x"],"countries":["IR"]}` + "\n", 2, "countries[0]"},
		{"bad scheme", good + `{"id":"A","names":["x"],"identifiers":[{"scheme":"ssn","value":"1"}]}` + "\n", 2, "identifiers[0].scheme"},
		{"bad date", good + `{"id":"A","names":["x"],"birth_dates":["1970-02-30"]}` + "\n", 2, "birth_dates[0]"},
		{"bad type", good + `{"id":"A","names":["x"],"type":"robot"}` + "\n", 2, "type"},
		{"other list", good + `{"list":"ofac-sdn","id":"A","names":["x"]}` + "\n", 2, "list"},
		{"trailing data", good + `{"id":"A","names":["x"]} {}` + "\n", 2, ""},
		{"not utf-8", good + "{\"id\":\"A\",\"names\":[\"\xff\"]}\n", 2, ""},
		{"count mismatch", `{"format":"national","version":"v1","counts":{"entities":3}}` + "\n" + `{"id":"A","names":["x"]}` + "\n", 1, "counts.entities"},
		{"too many names", good + `{"id":"A","names":[` + strings.Repeat(`"x",`, 500) + `"y"]}` + "\n", 2, "names"},
	} {
		_, _, err := screening.ReadImport(strings.NewReader(tc.body), "demo", screening.Limits{})
		var le *screening.LineError
		if !errors.As(err, &le) {
			t.Errorf("%s: error %v, want a LineError", tc.name, err)
			continue
		}
		if le.Line != tc.line || le.Field != tc.field {
			t.Errorf("%s: line %d field %q (%v), want line %d field %q", tc.name, le.Line, le.Field, err, tc.line, tc.field)
		}
	}
	// A line longer than the limit names its line.
	long := good + `{"id":"A","names":["` + strings.Repeat("x", 2000) + `"]}` + "\n"
	_, _, err := screening.ReadImport(strings.NewReader(long), "demo", screening.Limits{MaxLineBytes: 1024})
	var le *screening.LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Reason, "longer than 1024 bytes") {
		t.Errorf("long line: %v", err)
	}
	// More entities than the limit.
	_, _, err = screening.ReadImport(bytes.NewReader(body(t, header("v1", 4), fixture())), "demo", screening.Limits{MaxEntities: 3})
	if !errors.As(err, &le) || le.Line != 5 {
		t.Errorf("entity limit: %v", err)
	}
}

func TestReadImportSortsAndNamesTheList(t *testing.T) {
	h, es, err := screening.ReadImport(bytes.NewReader(body(t, header("v1", 4), fixture())), "demo", screening.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != "v1" || len(es) != 4 {
		t.Fatalf("header %+v, %d entities", h, len(es))
	}
	for i, want := range []string{"O1", "P1", "P2", "V1"} {
		if es[i].ID != want || es[i].List != "demo" {
			t.Errorf("entity %d: %s in %q, want %s in demo", i, es[i].ID, es[i].List, want)
		}
	}
}

func importBody(t *testing.T, svc *screening.Service, name string, b []byte, commit func(*bbolt.Tx, screening.Meta, *screening.Meta) error) (*screening.ImportResult, error) {
	t.Helper()
	return svc.Import(name, bytes.NewReader(b), "tester", time.Unix(1_800_000_000, 0), screening.Limits{}, commit)
}

func search(t *testing.T, svc *screening.Service, names ...string) *screening.Result {
	t.Helper()
	res, err := svc.Snapshot().Screen(screening.Request{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// An import persists: a new Service on the same file serves the same list and finds the
// same entities; importing the same version again changes nothing; the same version with
// other content is refused; a failed import keeps the last good version.
func TestImportPersistsAndKeepsLastGood(t *testing.T) {
	db := openDB(t)
	svc, err := screening.Open(db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Snapshot().Screen(screening.Request{Names: []string{"x"}}); !errors.Is(err, screening.ErrNoLists) {
		t.Fatalf("screening with no list: %v, want ErrNoLists", err)
	}
	res, err := importBody(t, svc, "demo", body(t, header("v1", 4), fixture()), noAudit)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Unchanged || !res.Changed || res.Meta.Counts.Entities != 4 || res.Meta.Counts.Persons != 2 || res.Meta.Counts.Aliases != 1 {
		t.Fatalf("first import: %+v", res)
	}
	hits := search(t, svc, "MADURO MOROS, Nicolas").Hits
	if len(hits) == 0 || hits[0].EntityID != "P1" || hits[0].List != "demo" {
		t.Fatalf("reordered name: %+v", hits)
	}

	// Same version, same content: nothing happens, not even the commit.
	res, err = importBody(t, svc, "demo", body(t, header("v1", 4), fixture()), func(*bbolt.Tx, screening.Meta, *screening.Meta) error {
		t.Error("an unchanged import committed")
		return nil
	})
	if err != nil || !res.Unchanged || res.Changed {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	// Same version, other content: refused.
	if _, err := importBody(t, svc, "demo", body(t, header("v1", 1), fixture()[:1]), noAudit); !errors.Is(err, screening.ErrVersionConflict) {
		t.Fatalf("same version, other content: %v", err)
	}
	// A failing commit (the audit entry) stores nothing and keeps v1 serving.
	boom := errors.New("audit full")
	if _, err := importBody(t, svc, "demo", body(t, header("v2", 1), fixture()[:1]), func(*bbolt.Tx, screening.Meta, *screening.Meta) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing commit: %v", err)
	}
	// A malformed v2 is refused by line.
	bad := append(body(t, header("v2", 1), fixture()[:1]), []byte("{\"id\":\n")...)
	if _, err := importBody(t, svc, "demo", bad, noAudit); err == nil {
		t.Fatal("malformed import accepted")
	}
	if l, _ := svc.Snapshot().Get("demo"); l.Version != "v1" || l.Counts.Entities != 4 {
		t.Fatalf("after failed imports: %+v", l.Meta)
	}

	// A new Service on the same file loads what was stored.
	svc2, err := screening.Open(db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := svc2.Snapshot().Get("demo")
	if !ok || l.Version != "v1" || l.Index.Len() != 4 || l.Digest != res.Meta.Digest {
		t.Fatalf("reloaded: %+v", l)
	}
	if hits := search(t, svc2, "Ngabu Njabu Floribert").Hits; len(hits) == 0 || hits[0].EntityID != "P2" {
		t.Fatalf("reloaded search: %+v", hits)
	}

	// v2 replaces v1 in the file too.
	res, err = importBody(t, svc, "demo", body(t, header("v2", 1), fixture()[:1]), noAudit)
	if err != nil || res.Previous != "v1" || !res.Changed {
		t.Fatalf("v2: %+v %v", res, err)
	}
	svc3, err := screening.Open(db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := svc3.Snapshot().Get("demo"); l.Version != "v2" || l.Index.Len() != 1 {
		t.Fatalf("reloaded v2: %+v", l.Meta)
	}

	for _, name := range []string{"consensus", "UN", "", "../x", strings.Repeat("a", 65)} {
		if _, err := importBody(t, svc, name, body(t, header("v1", 4), fixture()), noAudit); err == nil {
			t.Errorf("list name %q accepted", name)
		}
	}
}

// Chunks: a list larger than one chunk round-trips entity for entity.
func TestStoreChunks(t *testing.T) {
	db := openDB(t)
	if err := db.Update(screening.EnsureBuckets); err != nil {
		t.Fatal(err)
	}
	var es []screen.Entity
	for i := range screening.ChunkSize*2 + 7 {
		es = append(es, screen.Entity{List: "big", ID: string(rune('a'+i%26)) + strings.Repeat("x", i%5) + "-" + itoa(i), Names: []string{"Name " + itoa(i)}})
	}
	m := screening.Meta{Name: "big", Format: "national", Version: "v1", Counts: screening.Count(es)}
	var chunks int
	if err := db.Update(func(tx *bbolt.Tx) error {
		var err error
		chunks, err = screening.SaveList(tx, m, es)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if chunks != 3 {
		t.Fatalf("chunks %d, want 3", chunks)
	}
	var got []screen.Entity
	if err := db.View(func(tx *bbolt.Tx) error {
		return screening.LoadEntities(tx, "big", func(e screen.Entity) error { got = append(got, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if screening.Digest(got) != screening.Digest(es) {
		t.Fatal("entities changed on the way through the store")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestRescreenRaisesEachAlertOnce(t *testing.T) {
	db := openDB(t)
	svc, err := screening.Open(db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	res, err := importBody(t, svc, "demo", body(t, header("v1", 4), fixture()), noAudit)
	if err != nil {
		t.Fatal(err)
	}
	parties := []screening.Party{
		{RecordID: "FRA-1", RecordKind: records.KindLicenceApplication, RecordVersion: 1, Field: "end_user",
			Query: screening.PartyQuery(records.Party{Type: "organisation", Name: "Qeshm Gyro Trading", Countries: []string{"IRN"}})},
		{RecordID: "FRA-1", RecordKind: records.KindLicenceApplication, RecordVersion: 1, Field: "applicant",
			Query: screening.PartyQuery(records.Party{Type: "organisation", Name: "Helion Optronique SAS"})},
		{RecordID: "FRA-2", RecordKind: records.KindConsignment, RecordVersion: 2, Field: "consignee",
			Query: screening.PartyQuery(records.Party{Type: "person", Name: "MADURO MOROS, Nicolas"})},
	}
	commits := 0
	audit := func(*bbolt.Tx, *screening.RescreenResult) error { commits++; return nil }
	r, err := svc.Rescreen(res.List, parties, time.Unix(1_800_000_000, 0), audit)
	if err != nil {
		t.Fatal(err)
	}
	if r.Parties != 3 || len(r.Alerts) != 2 || commits != 1 {
		t.Fatalf("first run: %+v", r)
	}
	r, err = svc.Rescreen(res.List, parties, time.Unix(1_800_000_100, 0), audit)
	if err != nil || len(r.Alerts) != 0 || r.Hits < 2 {
		t.Fatalf("second run raised alerts again: %+v %v", r, err)
	}
	as, err := svc.Alerts(0, 10)
	if err != nil || len(as) != 2 {
		t.Fatalf("alerts %+v %v", as, err)
	}
	if as[0].Seq <= as[1].Seq {
		t.Errorf("alerts not newest first: %d, %d", as[0].Seq, as[1].Seq)
	}
	byRecord := map[string]screening.Alert{}
	for _, a := range as {
		byRecord[a.RecordID] = a
	}
	if a := byRecord["FRA-1"]; a.EntityID != "O1" || a.Party != "end_user" || a.List != "demo" || a.ListVersion != "v1" || a.Score <= 0 {
		t.Errorf("FRA-1 alert %+v", a)
	}
	if a := byRecord["FRA-2"]; a.EntityID != "P1" || a.RecordVersion != 2 {
		t.Errorf("FRA-2 alert %+v", a)
	}
	page, _ := svc.Alerts(as[0].Seq, 10)
	if len(page) != 1 || page[0].Seq != as[1].Seq {
		t.Errorf("page before %d: %+v", as[0].Seq, page)
	}
	// A failing audit stores no alert.
	boom := errors.New("boom")
	parties[1].RecordID = "FRA-3"
	parties[1].Query = parties[0].Query
	if _, err := svc.Rescreen(res.List, parties, time.Unix(1_800_000_200, 0), func(*bbolt.Tx, *screening.RescreenResult) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if as, _ := svc.Alerts(0, 10); len(as) != 2 {
		t.Fatalf("a failed run stored alerts: %+v", as)
	}
}

func TestRequestQuery(t *testing.T) {
	q, err := screening.Request{Names: []string{"x"}, Countries: []string{"ir", "IRN", "Iran"}, DateOfBirth: "1970",
		Identifiers: []screen.Identifier{{Scheme: "imo", Value: "9187629", Country: "pa"}}}.Query()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(q.Countries, ",") != "IRN" || q.BirthDate != "1970" || q.Identifiers[0].Country != "PAN" {
		t.Fatalf("query %+v", q)
	}
	for _, tc := range []struct {
		req   screening.Request
		field string
	}{
		{screening.Request{}, "names"},
		{screening.Request{Names: []string{"a", " "}}, "names[1]"},
		{screening.Request{Names: []string{"a"}, Countries: []string{"XX"}}, "countries[0]"},
		{screening.Request{Names: []string{"a"}, Countries: []string{"IR", "Atlantis"}}, "countries[1]"},
		{screening.Request{Names: []string{"a"}, DateOfBirth: "70"}, "date_of_birth"},
		{screening.Request{Names: []string{"a"}, Threshold: 1.5}, "threshold"},
		{screening.Request{Names: []string{"a"}, Threshold: -1}, "threshold"},
		{screening.Request{Names: []string{"a"}, Limit: 101}, "limit"},
		{screening.Request{Names: []string{"a"}, Identifiers: []screen.Identifier{{Scheme: "ssn", Value: "1"}}}, "identifiers[0].scheme"},
		{screening.Request{Names: []string{"a"}, Identifiers: []screen.Identifier{{Value: ""}}}, "identifiers[0].value"},
		{screening.Request{Names: make([]string, 51)}, "names"},
	} {
		_, err := tc.req.Query()
		var fe *screening.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want field %s", tc.req, err, tc.field)
		}
	}
}

func TestBatchFormats(t *testing.T) {
	nd := "{\"names\":[\"a\"]}\n\n{\"names\":[\"b\"],\"limit\":3}\n{\"colour\":1}\n"
	b, err := screening.NewBatch([]byte(nd), "application/x-ndjson", screening.Request{Limit: 5, Lists: []string{"un"}})
	if err != nil {
		t.Fatal(err)
	}
	var items []screening.BatchItem
	for it, ok := b.Next(); ok; it, ok = b.Next() {
		items = append(items, it)
	}
	if len(items) != 3 || items[0].Line != 1 || items[1].Line != 3 || items[2].Line != 4 {
		t.Fatalf("ndjson items %+v", items)
	}
	if items[0].Req.Limit != 5 || items[1].Req.Limit != 3 || items[0].Req.Lists[0] != "un" {
		t.Errorf("defaults not applied: %+v", items[:2])
	}
	if items[2].Err == nil || items[2].Err.Field != "colour" {
		t.Errorf("unknown field line: %+v", items[2])
	}

	csv := "Name,country,type,identifier_scheme,identifier_value\n" +
		"\"MADURO MOROS, Nicolas; Nicolas Maduro\",VE,person,,\n" +
		"ARTAVIL,,vessel,IMO,9187629\n" +
		"only,two\n"
	b, err = screening.NewBatch([]byte(csv), "text/csv; charset=utf-8", screening.Request{})
	if err != nil {
		t.Fatal(err)
	}
	items = nil
	for it, ok := b.Next(); ok; it, ok = b.Next() {
		items = append(items, it)
	}
	if b.Format != screening.BatchCSV || len(items) != 3 {
		t.Fatalf("csv items %+v", items)
	}
	if r := items[0].Req; items[0].Line != 2 || len(r.Names) != 2 || r.Names[0] != "MADURO MOROS, Nicolas" || r.Countries[0] != "VE" || r.Type != "person" {
		t.Errorf("csv line 2: %+v", items[0])
	}
	if r := items[1].Req; len(r.Identifiers) != 1 || r.Identifiers[0].Scheme != "imo" || r.Identifiers[0].Value != "9187629" {
		t.Errorf("csv line 3: %+v", items[1])
	}
	if items[2].Err == nil || items[2].Line != 4 {
		t.Errorf("short row: %+v", items[2])
	}

	for _, tc := range []struct {
		body, ct, field string
	}{
		{"name,colour\nx,y\n", "text/csv", "header"},
		{"name,name\nx,y\n", "text/csv", "header"},
		{"type\nperson\n", "text/csv", "header"},
		{"", "text/csv", "body"},
		{"{}", "application/xml", "Content-Type"},
		{strings.Repeat("{}\n", screening.MaxBatchLines+2), "", "body"},
	} {
		_, err := screening.NewBatch([]byte(tc.body), tc.ct, screening.Request{})
		var fe *screening.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q (%s): %v, want field %s", clipped(tc.body), tc.ct, err, tc.field)
		}
	}
}

func clipped(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestConsensusEntity(t *testing.T) {
	e := screening.ConsensusEntity("FRA-N-1", "denied-party", records.Party{Type: "organisation", Name: "Qeshm Gyro Trading",
		Aliases: []string{"QGT", " "}, Countries: []string{"IRN", "IRN", "ARE"}, Addresses: []records.Address{{City: "Qeshm", Country: "IRN"}},
		Identifiers: []records.Identifier{{Scheme: "registration", Value: "123"}}})
	if e.List != "consensus" || e.ID != "FRA-N-1" || strings.Join(e.Names, "|") != "Qeshm Gyro Trading|QGT" ||
		strings.Join(e.Countries, ",") != "IRN,ARE" || e.Addresses[0] != "Qeshm, IRN" || e.Programs[0] != "denied-party" || len(e.Identifiers) != 1 {
		t.Fatalf("entity %+v", e)
	}
	if fe := screening.CheckEntity(&e); fe != nil {
		t.Fatalf("the consensus entity does not pass the import checks: %v", fe)
	}
}

func TestSetConsensusSwapsOnlyOnChange(t *testing.T) {
	svc, err := screening.Open(openDB(t), quiet)
	if err != nil {
		t.Fatal(err)
	}
	es := []screen.Entity{screening.ConsensusEntity("N-2", "denied-party", records.Party{Type: "person", Name: "Ivan Petrov"}),
		screening.ConsensusEntity("N-1", "denied-party", records.Party{Type: "organisation", Name: "Qeshm Gyro Trading"})}
	l, changed := svc.SetConsensus(es, "index-7", time.Unix(1, 0))
	if !changed || l.Version != "index-7" || l.Index.Len() != 2 {
		t.Fatalf("first build: %+v %v", l.Meta, changed)
	}
	// The same parties at a later index (a vote elsewhere, say) change nothing.
	es2 := []screen.Entity{es[1], es[0]}
	if l2, changed := svc.SetConsensus(es2, "index-9", time.Unix(2, 0)); changed || l2.Version != "index-7" {
		t.Fatalf("unchanged parties swapped: %+v", l2.Meta)
	}
	if hits := search(t, svc, "PETROV, Ivan").Hits; len(hits) != 1 || hits[0].List != "consensus" || hits[0].EntityID != "N-2" {
		t.Fatalf("consensus hit %+v", hits)
	}
}
