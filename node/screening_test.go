package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/config"
	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screen"
	"github.com/entente/entente/node/screening"
	"github.com/entente/entente/policy"
)

// demoList is a small national list: two persons, an organisation and a vessel.
func demoList() []screen.Entity {
	return []screen.Entity{
		{ID: "P1", Type: "person", Names: []string{"Nicolas Maduro Moros"}, Countries: []string{"VEN"}, BirthDates: []string{"1962-11-23"}},
		{ID: "P2", Type: "person", Names: []string{"Floribert Ngabu Njabu", "Floribert Ndjabu"}, Countries: []string{"COD"}},
		{ID: "O1", Type: "organisation", Names: []string{"Rosoboron Trading LLC"}, Countries: []string{"RUS"}},
		{ID: "V1", Type: "vessel", Names: []string{"ARTAVIL"}, Identifiers: []screen.Identifier{{Scheme: "imo", Value: "9187629"}}},
	}
}

// listBody is an import body: the header, then one entity per line.
func listBody(tb testing.TB, format, version string, es []screen.Entity) []byte {
	tb.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	_ = enc.Encode(map[string]any{"format": format, "version": version, "counts": map[string]int{"entities": len(es)}})
	for _, e := range es {
		if err := enc.Encode(e); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

func importList(tb testing.TB, tn *testNode, name string, body []byte) (*api.ImportResponse, error) {
	tb.Helper()
	resp, err := tn.client(tb, tn.token(tb, "operator")).Do(context.Background(), "PUT", "/v1/lists/"+name, body, nil)
	if err != nil {
		return nil, err
	}
	var out api.ImportResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		tb.Fatal(err)
	}
	if want := http.StatusOK; out.Created {
		want = http.StatusCreated
		if resp.Status != want {
			tb.Errorf("import status %d, want %d", resp.Status, want)
		}
	}
	return &out, nil
}

func screenParty(tb testing.TB, tn *testNode, token string, req map[string]any) (*api.ScreenResponse, error) {
	tb.Helper()
	var out api.ScreenResponse
	err := tn.client(tb, token).JSON(context.Background(), "POST", "/v1/screen", req, &out)
	return &out, err
}

func lists_(tb testing.TB, tn *testNode) api.ListsResponse {
	tb.Helper()
	var out api.ListsResponse
	if err := tn.client(tb, tn.token(tb, "analyst")).JSON(context.Background(), "GET", "/v1/lists", nil, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func auditTrail(tb testing.TB, tn *testNode) []audit.Entry {
	tb.Helper()
	var out []audit.Entry
	after := uint64(0)
	for {
		es, err := tn.n.AuditEntries(after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, es...)
		if len(es) < 1000 {
			return out
		}
		after = es[len(es)-1].Seq
	}
}

func auditOf(tb testing.TB, tn *testNode, action string) []audit.Entry {
	tb.Helper()
	var out []audit.Entry
	for _, e := range auditTrail(tb, tn) {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// wantField fails unless err is an API error with status and field.
func wantField(tb testing.TB, what string, err error, status int, field string) *api.ErrorDetail {
	tb.Helper()
	ae := apiError(err)
	if ae == nil || ae.Status != status || ae.Field != field {
		tb.Errorf("%s: want %d naming %q, got %v", what, status, field, err)
		return nil
	}
	return &api.ErrorDetail{Status: ae.Status, Code: ae.Code, Field: ae.Field, Message: ae.Message}
}

// The story of one list: imported, listed, screened (audited with its version),
// re-imported unchanged, refused when malformed while the last good version serves,
// replaced, and still there after a restart.
func TestListImportScreenAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fra")
	if _, err := identity.Create(dir, "FRA", "127.0.0.1:8443"); err != nil {
		t.Fatal(err)
	}
	tn := startNodeAt(t, dir, nil)
	officer := tn.token(t, "officer")

	if _, err := screenParty(t, tn, officer, map[string]any{"names": []string{"anyone"}}); apiError(err) == nil || apiError(err).Code != "no_lists" {
		t.Fatalf("screening with no list: want 503 no_lists, got %v", err)
	}

	res, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList()))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Unchanged || res.List.Version != "v1" || res.List.Count != 4 || res.AuditSeq == 0 {
		t.Fatalf("import: %+v", res)
	}
	ls := lists_(t, tn)
	if len(ls.Lists) != 1 || ls.Lists[0].Name != "demo" || ls.Lists[0].Version != "v1" || ls.Lists[0].Count != 4 ||
		ls.Lists[0].Format != "national" || ls.Lists[0].ImportedAt == nil || ls.Lists[0].Importing {
		t.Fatalf("GET /v1/lists: %+v", ls)
	}
	if ls.Consensus.Available || ls.Consensus.Note == "" {
		t.Errorf("consensus on a node outside a federation: %+v", ls.Consensus)
	}

	out, err := screenParty(t, tn, officer, map[string]any{"names": []string{"MADURO MOROS, Nicolas"}, "countries": []string{"VE"}, "type": "person"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Hits) == 0 || out.Hits[0].EntityID != "P1" || out.Hits[0].List != "demo" || out.Hits[0].Entity == nil ||
		out.Hits[0].MatchedName != "Nicolas Maduro Moros" || len(out.Hits[0].Explanation.Components) == 0 {
		t.Fatalf("screen: %+v", out)
	}
	if len(out.Lists) != 1 || out.Lists[0] != (screening.ListRef{Name: "demo", Version: "v1"}) {
		t.Errorf("lists used: %+v", out.Lists)
	}
	// The exact identifier alone finds the vessel at 1.0.
	out, err = screenParty(t, tn, officer, map[string]any{"identifiers": []map[string]string{{"scheme": "imo", "value": "IMO 9187629"}}})
	if err != nil || len(out.Hits) != 1 || out.Hits[0].EntityID != "V1" || out.Hits[0].Score != 1 {
		t.Fatalf("identifier: %+v %v", out, err)
	}
	screens := auditOf(t, tn, node.ActionScreen)
	if len(screens) != 2 {
		t.Fatalf("%d screening audit entries, want 2", len(screens))
	}
	if d := screens[0].Detail; d["lists"] != "demo@v1" || d["hits"] == "" || d["hits"] == "0" || d["role"] != "officer" || !strings.HasPrefix(d["query"], "sha256:") {
		t.Errorf("screening audit detail: %v", d)
	}
	for _, e := range auditTrail(t, tn) {
		if b, _ := json.Marshal(e); strings.Contains(strings.ToLower(string(b)), "maduro moros, nicolas") {
			t.Errorf("the audit trail keeps the screened name: %s", b)
		}
	}
	if imports := auditOf(t, tn, node.ActionListImport); len(imports) != 1 || imports[0].Object != "list/demo" || imports[0].Detail["version"] != "v1" {
		t.Errorf("import audit: %+v", imports)
	}

	// The same version again: nothing written.
	res, err = importList(t, tn, "demo", listBody(t, "national", "v1", demoList()))
	if err != nil || !res.Unchanged || res.Created {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	if n := len(auditOf(t, tn, node.ActionListImport)); n != 1 {
		t.Errorf("an unchanged re-import was audited (%d entries)", n)
	}

	// A malformed v2 is refused with its line; v1 keeps serving.
	bad := listBody(t, "national", "v2", demoList()[:2])
	bad = append(bad, []byte(`{"id":"P3","names":[]}`+"\n")...)
	_, err = importList(t, tn, "demo", bad)
	if d := wantField(t, "malformed line", err, http.StatusBadRequest, "line 4: names"); d != nil && !strings.Contains(d.Message, "line 4") {
		t.Errorf("message %q does not name the line", d.Message)
	}
	truncated := listBody(t, "national", "v2", demoList())
	truncated = truncated[:bytes.LastIndexByte(truncated[:len(truncated)-1], '\n')+1]
	_, err = importList(t, tn, "demo", truncated)
	wantField(t, "truncated upload", err, http.StatusBadRequest, "line 1: counts.entities")
	_, err = importList(t, tn, "demo", listBody(t, "national", "v1", demoList()[:1]))
	if ae := apiError(err); ae == nil || ae.Status != http.StatusConflict || ae.Code != "version_conflict" {
		t.Errorf("same version, other content: %v", err)
	}
	if l := lists_(t, tn).Lists[0]; l.Version != "v1" || l.Count != 4 {
		t.Fatalf("after refused imports: %+v", l)
	}
	if out, err := screenParty(t, tn, officer, map[string]any{"names": []string{"Rosoboron Trading"}}); err != nil || len(out.Hits) == 0 || out.Hits[0].EntityID != "O1" {
		t.Fatalf("v1 no longer serves: %+v %v", out, err)
	}

	// v2 replaces it.
	res, err = importList(t, tn, "demo", listBody(t, "national", "v2", demoList()[1:]))
	if err != nil || res.Previous != "v1" || res.List.Version != "v2" || res.List.Count != 3 {
		t.Fatalf("v2: %+v %v", res, err)
	}

	// After a restart the node serves v2 from its database.
	tn.stop()
	tn2 := startNodeAt(t, dir, nil)
	if l := lists_(t, tn2).Lists; len(l) != 1 || l[0].Version != "v2" || l[0].Count != 3 {
		t.Fatalf("after restart: %+v", l)
	}
	out, err = screenParty(t, tn2, tn2.token(t, "analyst"), map[string]any{"names": []string{"NGABU NJABU, Floribert"}})
	if err != nil || len(out.Hits) == 0 || out.Hits[0].EntityID != "P2" {
		t.Fatalf("after restart: %+v %v", out, err)
	}
}

// Every screening route refuses the roles that may not use it, with a 403 that changes
// nothing.
func TestScreeningRoles(t *testing.T) {
	tn := startNode(t, nil)
	if _, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList())); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := []struct {
		method, path string
		body         any
		allowed      []string
	}{
		{"PUT", "/v1/lists/demo", listBody(t, "national", "v9", demoList()[:1]), []string{"operator"}},
		{"GET", "/v1/lists", nil, []string{"officer", "analyst", "steering", "auditor", "operator"}},
		{"POST", "/v1/screen", map[string]any{"names": []string{"x"}}, []string{"officer", "analyst"}},
		{"POST", "/v1/screen/batch", []byte(`{"names":["x"]}`), []string{"officer", "analyst"}},
		{"POST", "/v1/risk/assess", map[string]any{"control_codes": []string{"ML1"}, "destination": "DEU"}, []string{"officer", "analyst"}},
		{"GET", "/v1/alerts/local", nil, []string{"officer", "analyst", "auditor"}},
	}
	for _, role := range []string{"officer", "analyst", "steering", "integrator", "auditor", "operator"} {
		c := tn.client(t, tn.token(t, role))
		for _, cl := range calls {
			allowed := false
			for _, a := range cl.allowed {
				allowed = allowed || a == role
			}
			if allowed {
				continue // allowed calls are exercised by the other tests
			}
			_, err := c.Do(ctx, cl.method, cl.path, cl.body, nil)
			if ae := apiError(err); ae == nil || ae.Status != http.StatusForbidden {
				t.Errorf("%s %s %s: want 403, got %v", role, cl.method, cl.path, err)
			}
		}
	}
	if l := lists_(t, tn).Lists; l[0].Version != "v1" {
		t.Errorf("a refused import changed the list: %+v", l)
	}
	if n := len(auditOf(t, tn, node.ActionScreen)); n != 0 {
		t.Errorf("refused screenings were audited: %d", n)
	}
}

// Hostile and mistaken input gets a 400 (or 413) naming the field, and changes nothing.
func TestScreeningRefusesBadInput(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.MaxBodyBytes = 4096 })
	ctx := context.Background()
	// The import route has its own body limit: a list far larger than max_body_bytes is
	// accepted, while the other routes keep the node's limit.
	var big []screen.Entity
	for i := range 200 {
		big = append(big, screen.Entity{ID: fmt.Sprintf("B%03d", i), Type: "organisation", Names: []string{fmt.Sprintf("Bulk Trading Company Number %d Limited", i)}})
	}
	big = append(big, demoList()...)
	body := listBody(t, "national", "v1", big)
	if len(body) < 4*4096 {
		t.Fatalf("the big list is only %d bytes", len(body))
	}
	if _, err := importList(t, tn, "demo", body); err != nil {
		t.Fatalf("an import larger than max_body_bytes: %v", err)
	}
	officer := tn.client(t, tn.token(t, "officer"))
	_, err := officer.Do(ctx, "POST", "/v1/screen", []byte(`{"names":["`+strings.Repeat("x", 5000)+`"]}`), nil)
	wantField(t, "screen body over max_body_bytes", err, http.StatusRequestEntityTooLarge, "body")

	// Import lines: syntax, unknown field, over-long line, bad country.
	op := tn.client(t, tn.token(t, "operator"))
	hdr := `{"format":"national","version":"v2"}` + "\n"
	for _, tc := range []struct {
		name, body, field string
	}{
		{"syntax", hdr + `{"id":"A","names":["x"]}` + "\n" + `{"id":` + "\n", "line 3"},
		{"unknown field", hdr + `{"id":"A","names":["x"],"colour":"red"}` + "\n", "line 2: colour"},
		{"bad country", hdr + `{"id":"A","names":["x"],"countries":["Iran"]}` + "\n", "line 2: countries[0]"},
		{"duplicate id", hdr + `{"id":"A","names":["x"]}` + "\n" + `{"id":"A","names":["y"]}` + "\n", "line 3: id"},
		{"over-long line", hdr + `{"id":"A","names":["` + strings.Repeat("x", lists.MaxRecordBytes) + `"]}` + "\n", "line 2"},
		{"bad header", `{"format":"pdf","version":"v2"}` + "\n", "line 1: format"},
	} {
		_, err := op.Do(ctx, "PUT", "/v1/lists/demo", []byte(tc.body), nil)
		wantField(t, tc.name, err, http.StatusBadRequest, tc.field)
	}
	_, err = op.Do(ctx, "PUT", "/v1/lists/consensus", listBody(t, "national", "v1", demoList()), nil)
	wantField(t, "importing the consensus list", err, http.StatusBadRequest, "name")
	_, err = op.Do(ctx, "PUT", "/v1/lists/Bad%20Name", listBody(t, "national", "v1", demoList()), nil)
	wantField(t, "a bad list name", err, http.StatusBadRequest, "name")

	for _, tc := range []struct {
		body, field string
	}{
		{`{"names":["Maduro"],"countries":["ZZ"]}`, "countries[0]"},
		{`{"names":["Maduro"],"colour":"red"}`, "colour"},
		{`{"names":"Maduro"}`, "names"},
		{`{"names":[]}`, "names"},
		{`{"names":["Maduro"],"threshold":2}`, "threshold"},
		{`{"names":["Maduro"],"limit":1000}`, "limit"},
		{`{"names":["Maduro"],"date_of_birth":"23/11/1962"}`, "date_of_birth"},
		{`{"names":["Maduro"],"type":"robot"}`, "type"},
		{`{"names":["Maduro"],"lists":["nope"]}`, "lists[0]"},
		{`{"names":["Maduro"],"identifiers":[{"scheme":"ssn","value":"1"}]}`, "identifiers[0].scheme"},
		{`{"names":["Maduro"]} {}`, "body"},
		{``, "body"},
	} {
		_, err := officer.Do(ctx, "POST", "/v1/screen", []byte(tc.body), nil)
		wantField(t, tc.body, err, http.StatusBadRequest, tc.field)
	}
	if l := lists_(t, tn).Lists; len(l) != 1 || l[0].Version != "v1" {
		t.Errorf("refused imports changed the lists: %+v", l)
	}
	if n := len(auditOf(t, tn, node.ActionScreen)); n != 0 {
		t.Errorf("refused screenings were audited: %d", n)
	}

	_, err = officer.Do(ctx, "POST", "/v1/risk/assess", []byte(`{"control_codes":["ML1"],"destination":"Atlantis"}`), nil)
	wantField(t, "risk: bad destination", err, http.StatusBadRequest, "destination")
	_, err = officer.Do(ctx, "POST", "/v1/risk/assess", []byte(`{"control_codes":["XX9"],"destination":"DE"}`), nil)
	wantField(t, "risk: bad control code", err, http.StatusBadRequest, "control_codes[0]")
	_, err = officer.Do(ctx, "POST", "/v1/risk/assess", []byte(`{"control_codes":["ML1"],"destination":"DE","parties":[{"role":"buyer","name":"x"}]}`), nil)
	wantField(t, "risk: bad role", err, http.StatusBadRequest, "parties[0].role")
	_, err = officer.Do(ctx, "POST", "/v1/risk/assess", []byte(`{"control_codes":["ML1"],"destination":"DE","colour":1}`), nil)
	wantField(t, "risk: unknown field", err, http.StatusBadRequest, "colour")

	an := tn.client(t, tn.token(t, "analyst"))
	for _, q := range []string{"?before=x", "?limit=0", "?colour=red"} {
		_, err := an.Do(ctx, "GET", "/v1/alerts/local"+q, nil, nil)
		if ae := apiError(err); ae == nil || ae.Status != http.StatusBadRequest {
			t.Errorf("alerts %s: want 400, got %v", q, err)
		}
	}
}

// httpsClient is a plain HTTP client pinned to the node's certificate, for the streamed
// batch responses the verifying client does not read (their signature is a trailer).
func (tn *testNode) httpsClient(tb testing.TB) *http.Client {
	tb.Helper()
	pin := tn.id.TLSPin
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || identity.Pin(cs.PeerCertificates[0]) != pin {
				return errors.New("certificate does not match the pin")
			}
			return nil
		}}}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

type batchResult struct {
	status  int
	lines   []map[string]json.RawMessage
	summary api.BatchSummary
	err     api.ErrorBody
}

// batch posts body to /v1/screen/batch and checks the trailer signature over the exact
// streamed bytes.
func batch(tb testing.TB, tn *testNode, token, contentType, query string, body []byte) batchResult {
	tb.Helper()
	req, err := http.NewRequest("POST", tn.url+"/v1/screen/batch"+query, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := tn.httpsClient(tb).Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	sig := resp.Header.Get(api.SignatureHeader)
	if resp.StatusCode == http.StatusOK {
		// Streamed: the signature can only follow the body.
		if sig != "" {
			tb.Errorf("a streamed response carries its signature in the header")
		}
		sig = resp.Trailer.Get(api.SignatureHeader)
	}
	if _, err := jws.VerifyDetached(tn.n.KeySet(), data, sig); err != nil {
		tb.Fatalf("batch response signature: %v\n%s", err, data)
	}
	out := batchResult{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(data, &out.err)
		return out
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		tb.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("line %q: %v", sc.Text(), err)
		}
		if s, ok := m["summary"]; ok {
			if err := json.Unmarshal(s, &out.summary); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		out.lines = append(out.lines, m)
	}
	return out
}

func lineOf(tb testing.TB, m map[string]json.RawMessage) (int, []screening.HitView, *api.ErrorDetail) {
	tb.Helper()
	var n int
	var hits []screening.HitView
	var e *api.ErrorDetail
	_ = json.Unmarshal(m["line"], &n)
	if h, ok := m["hits"]; ok {
		_ = json.Unmarshal(h, &hits)
	}
	if x, ok := m["error"]; ok {
		_ = json.Unmarshal(x, &e)
	}
	return n, hits, e
}

func TestScreenBatch(t *testing.T) {
	tn := startNode(t, nil)
	officer := tn.token(t, "officer")
	if r := batch(t, tn, officer, "application/x-ndjson", "", []byte(`{"names":["x"]}`)); r.status != http.StatusServiceUnavailable || r.err.Error.Code != "no_lists" {
		t.Fatalf("batch with no list: %+v", r)
	}
	if _, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList())); err != nil {
		t.Fatal(err)
	}
	nd := strings.Join([]string{
		`{"names":["MADURO MOROS, Nicolas"],"countries":["VE"]}`,
		``,
		`{"names":["Jean Dupont"]}`,
		`{"names":["ARTAVIL"],"countries":["ZZ"]}`,
		`{"names":["Rosoboron Trading"],"colour":1}`,
		`not json`,
		`{"identifiers":[{"scheme":"imo","value":"9187629"}]}`,
	}, "\n") + "\n"
	r := batch(t, tn, officer, "application/x-ndjson", "?limit=3", []byte(nd))
	if r.status != http.StatusOK || len(r.lines) != 6 {
		t.Fatalf("ndjson batch: %+v", r)
	}
	want := []struct {
		line   int
		entity string // "" for no hit
		field  string // set for an error line
	}{{1, "P1", ""}, {3, "", ""}, {4, "", "countries[0]"}, {5, "", "colour"}, {6, "", "body"}, {7, "V1", ""}}
	for i, w := range want {
		n, hits, e := lineOf(t, r.lines[i])
		switch {
		case n != w.line:
			t.Errorf("result %d is for line %d, want %d", i, n, w.line)
		case w.field != "":
			if e == nil || e.Field != w.field || e.Status != http.StatusBadRequest {
				t.Errorf("line %d: error %+v, want field %s", n, e, w.field)
			}
		case w.entity == "":
			if e != nil || hits == nil || len(hits) != 0 {
				t.Errorf("line %d: want an empty hit list, got %v %+v", n, r.lines[i], e)
			}
		default:
			if len(hits) == 0 || hits[0].EntityID != w.entity || hits[0].Entity != nil || len(hits) > 3 {
				t.Errorf("line %d: hits %+v, want %s first (at most 3, no entity)", n, hits, w.entity)
			}
		}
	}
	s := r.summary
	if s.Format != "ndjson" || s.Lines != 6 || s.Screened != 3 || s.Errors != 3 || s.WithHits != 2 || !s.Complete || s.AuditSeq == 0 ||
		len(s.Lists) != 1 || s.Lists[0].Version != "v1" {
		t.Errorf("summary %+v", s)
	}
	entries := auditOf(t, tn, node.ActionScreenBatch)
	if len(entries) != 1 || entries[0].Seq != s.AuditSeq || entries[0].Detail["lists"] != "demo@v1" || entries[0].Detail["lines"] != "6" || entries[0].Detail["with_hits"] != "2" {
		t.Errorf("batch audit %+v", entries)
	}

	csv := "name,country,type,identifier_scheme,identifier_value\n" +
		"\"NGABU NJABU, Floribert\",CD,person,,\n" +
		"Helion Optronique SAS,FR,organisation,,\n" +
		"x,y\n"
	r = batch(t, tn, officer, "text/csv", "", []byte(csv))
	if r.status != http.StatusOK || len(r.lines) != 3 || r.summary.Format != "csv" {
		t.Fatalf("csv batch: %+v", r)
	}
	if n, hits, _ := lineOf(t, r.lines[0]); n != 2 || len(hits) == 0 || hits[0].EntityID != "P2" {
		t.Errorf("csv line 2: %v", r.lines[0])
	}
	if n, _, e := lineOf(t, r.lines[2]); n != 4 || e == nil {
		t.Errorf("csv line 4: %v", r.lines[2])
	}

	// Refused before anything is screened: a CSV header with an unknown column, an unknown
	// list, a bad content type, a body over the route's limit.
	for _, tc := range []struct {
		ct, query string
		body      []byte
		status    int
		field     string
	}{
		{"text/csv", "", []byte("name,colour\nx,y\n"), http.StatusBadRequest, "header"},
		{"application/x-ndjson", "?lists=nope", []byte(`{"names":["x"]}`), http.StatusBadRequest, "lists[0]"},
		{"application/x-ndjson", "?threshold=7", []byte(`{"names":["x"]}`), http.StatusBadRequest, "threshold"},
		{"application/pdf", "", []byte(`{"names":["x"]}`), http.StatusBadRequest, "Content-Type"},
		{"application/x-ndjson", "", bytes.Repeat([]byte(`{"names":["Jean Dupont"]}`+"\n"), screening.MaxBatchBytes/25+10), http.StatusRequestEntityTooLarge, "body"},
	} {
		r := batch(t, tn, officer, tc.ct, tc.query, tc.body)
		if r.status != tc.status || r.err.Error.Field != tc.field {
			t.Errorf("%s %s: status %d field %q, want %d %q", tc.ct, tc.query, r.status, r.err.Error.Field, tc.status, tc.field)
		}
	}
	if n := len(auditOf(t, tn, node.ActionScreenBatch)); n != 2 {
		t.Errorf("%d batch audit entries, want 2 (refused batches are not screened)", n)
	}
}

// A licence application pending at the node is re-screened when a list changes: a new
// match raises one local alert naming the record and the entry, and never a second.
func TestRescreenRaisesLocalAlerts(t *testing.T) {
	tn := startNode(t, nil)
	ctx := context.Background()
	if _, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList())); err != nil {
		t.Fatal(err)
	}
	officer := tn.client(t, tn.token(t, "officer"))
	app := tenFieldLicence("APP-1")
	fields := app["fields"].(map[string]any)
	fields["end_user"] = map[string]any{"type": "organisation", "name": "Qeshm Gyro Trading Co., Ltd.", "countries": []string{"IRN"}}
	if _, err := officer.Do(ctx, "POST", "/v1/records", app, nil); err != nil {
		t.Fatal(err)
	}
	decided := tenFieldLicence("APP-2")
	decided["fields"].(map[string]any)["end_user"] = map[string]any{"type": "organisation", "name": "Qeshm Gyro Trading", "countries": []string{"IRN"}}
	if _, err := officer.Do(ctx, "POST", "/v1/records", decided, nil); err != nil {
		t.Fatal(err)
	}
	decision := map[string]any{"kind": "licence-decision", "fields": map[string]any{"application_id": "APP-2", "decision": "refused",
		"rationale_text": "end user of concern", "decided_on": "2026-11-20"}}
	if _, err := officer.Do(ctx, "POST", "/v1/records", decision, nil); err != nil {
		t.Fatal(err)
	}

	v2 := append(demoList(), screen.Entity{ID: "O2", Type: "organisation", Names: []string{"Qeshm Gyro Trading LLC"}, Countries: []string{"IRN"}})
	res, err := importList(t, tn, "demo", listBody(t, "national", "v2", v2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rescreen == nil || res.Rescreen.Records != 1 || res.Rescreen.Alerts != 1 {
		t.Fatalf("re-screening after the import: %+v", res.Rescreen)
	}
	var page api.LocalAlertsResponse
	if err := tn.client(t, tn.token(t, "auditor")).JSON(ctx, "GET", "/v1/alerts/local", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Alerts) != 1 {
		t.Fatalf("alerts: %+v", page)
	}
	a := page.Alerts[0]
	if a.RecordID != "APP-1" || a.RecordKind != "licence-application" || a.Party != "end_user" || a.PartyName != "Qeshm Gyro Trading Co., Ltd." ||
		a.List != "demo" || a.ListVersion != "v2" || a.EntityID != "O2" || a.Score < screen.DefaultThreshold || a.PartySealed {
		t.Errorf("alert %+v", a)
	}
	if rs := auditOf(t, tn, node.ActionRescreen); len(rs) != 2 || rs[1].Detail["alerts"] != "1" || rs[1].Detail["version"] != "v2" {
		t.Errorf("re-screening audit: %+v", rs)
	}

	// v3 changes something else: the same record and entity raise no second alert.
	v3 := append(v2, screen.Entity{ID: "P9", Type: "person", Names: []string{"Ivan Petrovich Sidorov"}})
	res, err = importList(t, tn, "demo", listBody(t, "national", "v3", v3))
	if err != nil || res.Rescreen == nil || res.Rescreen.Alerts != 0 || res.Rescreen.Hits == 0 {
		t.Fatalf("v3: %+v %v", res, err)
	}
	if err := tn.client(t, tn.token(t, "analyst")).JSON(ctx, "GET", "/v1/alerts/local", nil, &page); err != nil || len(page.Alerts) != 1 {
		t.Fatalf("alerts after v3: %+v %v", page, err)
	}
}

func TestRiskAssess(t *testing.T) {
	tn := startNode(t, nil)
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))
	req := map[string]any{"control_codes": []string{"ML4.a", "EAR99"}, "destination": "VE", "value": 1e6, "transit": []string{"PA"},
		"parties": []map[string]string{{"role": "end_user", "name": "MADURO MOROS, Nicolas", "country": "VE"}, {"role": "applicant", "name": "Helion Optronique SAS", "country": "FR"}}}
	var before api.RiskResponse
	if err := officer.JSON(ctx, "POST", "/v1/risk/assess", req, &before); err != nil {
		t.Fatal(err)
	}
	if len(before.Warnings) == 0 || len(before.Hits) != 0 || before.Model == "" || before.AuditSeq == 0 {
		t.Errorf("assessment with no list: %+v", before)
	}
	if _, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList())); err != nil {
		t.Fatal(err)
	}
	var after api.RiskResponse
	if err := officer.JSON(ctx, "POST", "/v1/risk/assess", req, &after); err != nil {
		t.Fatal(err)
	}
	if len(after.Hits) == 0 || after.Hits[0].EntityID != "P1" || after.Hits[0].PartyRole != "end_user" || after.Hits[0].Consensus {
		t.Fatalf("hits %+v", after.Hits)
	}
	if after.Score <= before.Score || len(after.Lists) != 1 || after.Lists[0].Version != "v1" {
		t.Errorf("score %v -> %v with a listed end user; lists %+v", before.Score, after.Score, after.Lists)
	}
	found := false
	for _, r := range after.Reasons {
		found = found || (r.Factor == "screening-hit" && strings.Contains(r.Ref, "P1"))
	}
	if !found {
		t.Errorf("no screening-hit reason for the listed end user: %+v", after.Reasons)
	}
	entries := auditOf(t, tn, node.ActionRiskAssess)
	if len(entries) != 2 || entries[1].Detail["band"] != after.Band || entries[1].Detail["lists"] != "demo@v1" || entries[1].Detail["destination"] != "VEN" {
		t.Errorf("risk audit: %+v", entries)
	}
}

// The real UN Security Council list, parsed as `entente import` parses it, imported and
// screened with reordered and respelled names.
func TestImportRealUNList(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "un", "UN_consolidated.xml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the UN list is not at %s (see ../shared/data/SOURCES.md): %v", path, err)
	}
	res, err := lists.Parse("un-xml", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, nil)
	imp, err := importList(t, tn, "un", listBody(t, res.Format, res.Version, res.Entities))
	if err != nil {
		t.Fatal(err)
	}
	if imp.List.Count != len(res.Entities) || imp.List.Version != res.Version {
		t.Fatalf("import: %+v", imp.List)
	}
	// An unchanged re-import is recognised.
	if again, err := importList(t, tn, "un", listBody(t, res.Format, res.Version, res.Entities)); err != nil || !again.Unchanged {
		t.Fatalf("re-import: %+v %v", again, err)
	}
	analyst := tn.token(t, "analyst")
	for _, tc := range []struct{ query, id string }{
		{"NGABU NJABU, Floribert", "CDi.021"},
		{"Njabu Floribert Ngabu", "CDi.021"},
		{"MPAMO, Iruta Douglas", "CDi.011"},
		{"Kakwavu Bukande Jerome", "CDi.005"},
		{"Bwambale Frank Kakolele", "CDi.002"},
	} {
		out, err := screenParty(t, tn, analyst, map[string]any{"names": []string{tc.query}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Hits) == 0 || out.Hits[0].EntityID != tc.id || out.Hits[0].List != "un" {
			t.Errorf("%q: want %s first, got %+v", tc.query, tc.id, out.Hits)
		}
	}
}

// startNodeAt starts a node on an existing data directory.
func startNodeAt(tb testing.TB, dir string, mutate func(*config.Config)) *testNode {
	tb.Helper()
	id, err := identity.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.New()
	cfg.DataDir = dir
	// Tests and benchmarks drive one token far harder than a fair integrator would; a
	// test of the limit itself sets it again in mutate.
	cfg.RateLimit = 0
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	n, err := node.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), node.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	tn := &testNode{n: n, url: "https://" + ln.Addr().String(), id: id}
	var once bool
	tn.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		if err := n.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	}
	tb.Cleanup(tn.stop)
	c := tn.client(tb, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Do(context.Background(), "GET", "/readyz", nil, nil); err == nil {
			return tn
		} else if time.Now().After(deadline) {
			tb.Fatalf("node not ready: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startFederatedNode starts a one-state federation (FRA, the only voter) with a
// consultation of one second, so that a nomination is listed a second after it is made.
func startFederatedNode(t testing.TB) *testNode {
	t.Helper()
	return startFederatedNodeWith(t, nil)
}

// startFederatedNodeWith is startFederatedNode with further settings.
func startFederatedNodeWith(t testing.TB, mutate func(*config.Config)) *testNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fra")
	id, err := identity.Create(dir, "FRA", "127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	raftAddr, gossipAddr := freeAddr(t), freeAddr(t)
	card := id.Card("127.0.0.1:8443")
	card.RaftAddr, card.GossipAddr = raftAddr, gossipAddr
	pol := policy.DefaultPolicy()
	pol.Voting.Consultation = policy.Duration(time.Second)
	g, err := node.BuildGenesis("screening-test", []identity.Card{card}, []string{"FRA"}, nil, pol)
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	genesis := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(genesis, gb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := node.GenerateGossipKey(filepath.Join(dir, "gossip.key")); err != nil {
		t.Fatal(err)
	}
	return startNodeAt(t, dir, func(c *config.Config) {
		c.Genesis, c.RaftAddr, c.GossipAddr = genesis, raftAddr, gossipAddr
		c.RaftHeartbeat = 100 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
}

// eventually polls cond until it holds or the deadline passes; it asserts an outcome, not
// a duration.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The consensus list: a party nominated and listed in the federation becomes screenable
// as list "consensus" once the screening goroutine sees the applied index move, and a
// pending licence application naming it raises a local alert.
func TestConsensusListFollowsTheFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a one-node federation")
	}
	tn := startFederatedNode(t) // Serve starts the screening goroutine
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))

	app := tenFieldLicence("APP-C")
	app["fields"].(map[string]any)["consignee"] = map[string]any{"type": "organisation", "name": "Gulf Star Shipping FZE", "countries": []string{"ARE"}}
	if _, err := officer.Do(ctx, "POST", "/v1/records", app, nil); err != nil {
		t.Fatal(err)
	}
	nom := api.NominationRequest{ID: "FRA-N-1", Kind: "denied-party", Basis: api.Basis{Regime: "national list", ControlCodes: []string{"ML4"}},
		Party: json.RawMessage(`{"type":"organisation","name":"Gulf Star Shipping FZE","aliases":["Gulf Star Shipping"],"countries":["ARE"]}`)}
	eventually(t, "nomination accepted", func() (bool, string) {
		_, err := officer.Do(ctx, "POST", "/v1/watchlist/nominations", nom, nil)
		return err == nil, fmt.Sprint(err)
	})
	analyst := tn.client(t, tn.token(t, "analyst"))
	eventually(t, "the consensus list holds the listed party", func() (bool, string) {
		var ls api.ListsResponse
		if err := analyst.JSON(ctx, "GET", "/v1/lists", nil, &ls); err != nil {
			return false, err.Error()
		}
		return ls.Consensus.Available && ls.Consensus.Count == 1, fmt.Sprintf("%+v", ls.Consensus)
	})
	out, err := screenParty(t, tn, tn.token(t, "analyst"), map[string]any{"names": []string{"GULF STAR SHIPPING"}, "countries": []string{"AE"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Hits) == 0 || out.Hits[0].List != "consensus" || out.Hits[0].EntityID != "FRA-N-1" || out.Lists[0].Name != "consensus" ||
		!strings.HasPrefix(out.Lists[0].Version, "index-") {
		t.Fatalf("screening against the consensus list: %+v", out)
	}
	var page api.LocalAlertsResponse
	if err := analyst.JSON(ctx, "GET", "/v1/alerts/local", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Alerts) != 1 || page.Alerts[0].RecordID != "APP-C" || page.Alerts[0].Party != "consignee" || page.Alerts[0].List != "consensus" ||
		page.Alerts[0].EntityID != "FRA-N-1" || page.Alerts[0].PartyName != "Gulf Star Shipping FZE" {
		t.Fatalf("local alerts: %+v", page)
	}
	// A refresh with nothing new changes nothing and raises nothing.
	if changed, err := tn.n.RefreshConsensus(ctx); err != nil || changed {
		t.Fatalf("refresh without a change: %v %v", changed, err)
	}

	// The risk assessment counts a consensus hit as one, and the federation's destination
	// indicator this node may open.
	ind := api.IndicatorRequest{Kind: "destination", Subject: "ARE", Severity: 4, Evidence: "diversion to a third country", ValidUntil: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)}
	if _, err := officer.Do(ctx, "POST", "/v1/indicators", ind, nil); err != nil {
		t.Fatal(err)
	}
	var risk api.RiskResponse
	if err := officer.JSON(ctx, "POST", "/v1/risk/assess", map[string]any{"control_codes": []string{"ML4.a"}, "destination": "AE",
		"parties": []map[string]string{{"role": "consignee", "name": "Gulf Star Shipping FZE", "country": "ARE"}}}, &risk); err != nil {
		t.Fatal(err)
	}
	if len(risk.Hits) == 0 || !risk.Hits[0].Consensus {
		t.Fatalf("risk hits: %+v", risk.Hits)
	}
	dest := false
	for _, r := range risk.Reasons {
		dest = dest || (r.Factor == "destination" && r.Points > 0)
	}
	if risk.Indicators != 1 || !dest {
		t.Errorf("the destination indicator was not considered: %d indicators, reasons %+v", risk.Indicators, risk.Reasons)
	}
}

// While an import's body is still arriving, GET /v1/lists shows the import in progress
// and the last good version serving; a second import of the same list is refused.
func TestImportInProgress(t *testing.T) {
	tn := startNode(t, nil)
	if _, err := importList(t, tn, "demo", listBody(t, "national", "v1", demoList())); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", tn.url+"/v1/lists/demo", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.token(t, "operator"))
	type answer struct {
		status int
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := tn.httpsClient(t).Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		resp.Body.Close()
		done <- answer{status: resp.StatusCode}
	}()
	v2 := listBody(t, "national", "v2", demoList()[:2])
	half := bytes.IndexByte(v2, '\n') + 1
	if _, err := pw.Write(v2[:half]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the import shows as in progress", func() (bool, string) {
		l := lists_(t, tn).Lists
		return len(l) == 1 && l[0].Importing && l[0].ImportStarted != nil && l[0].Version == "v1", fmt.Sprintf("%+v", l)
	})
	_, err = importList(t, tn, "demo", listBody(t, "national", "v3", demoList()[:1]))
	if ae := apiError(err); ae == nil || ae.Status != http.StatusConflict || ae.Code != "import_in_progress" {
		t.Errorf("a concurrent import: want 409 import_in_progress, got %v", err)
	}
	if _, err := pw.Write(v2[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if a := <-done; a.err != nil || a.status != http.StatusOK {
		t.Fatalf("the slow import: %+v", a)
	}
	if l := lists_(t, tn).Lists; len(l) != 1 || l[0].Importing || l[0].Version != "v2" {
		t.Fatalf("after the import: %+v", l)
	}
}
