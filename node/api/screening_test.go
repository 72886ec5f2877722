package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/screening"
	"github.com/entente/entente/policy"
)

// fakeScreening is a Service whose screening methods record what reached them; any
// other method panics (the embedded interface is nil), which fails the test loudly.
type fakeScreening struct {
	Service
	signer   *jws.Signer
	keys     *jws.KeySet
	imported int
	lines    int
}

func (f *fakeScreening) Signer() *jws.Signer { return f.signer }
func (f *fakeScreening) KeySet() *jws.KeySet { return f.keys }
func (f *fakeScreening) Ready() error        { return nil }
func (f *fakeScreening) Authenticate(raw string) (access.Principal, error) {
	return access.Principal{TokenID: "t", Subject: raw, Role: policy.Role(raw)}, nil
}

func (f *fakeScreening) ImportList(_ access.Principal, name string, body io.Reader) (*ImportResponse, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	f.imported = len(b)
	return &ImportResponse{List: ListView{Name: name}, Created: true}, nil
}

func (f *fakeScreening) ScreenBatch(_ access.Principal, b *screening.Batch, emit func(BatchLine) error) (*BatchSummary, error) {
	sum := &BatchSummary{Format: b.Format, Complete: true}
	for it, ok := b.Next(); ok; it, ok = b.Next() {
		l := BatchLine{Line: it.Line}
		if it.Err != nil {
			l.Error = &ErrorDetail{Status: 400, Code: "invalid_field", Field: it.Err.Field, Message: it.Err.Reason}
		}
		if err := emit(l); err != nil {
			sum.Complete = false
			return sum, err
		}
		f.lines++
		sum.Lines++
	}
	return sum, nil
}

func newFake(t *testing.T) (*fakeScreening, *httptest.Server) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := jws.NewSigner(priv)
	ks := jws.NewKeySet()
	ks.Add(priv.Public().(ed25519.PublicKey))
	f := &fakeScreening{signer: s, keys: ks}
	srv := httptest.NewServer(New(f, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return f, srv
}

func do(t *testing.T, srv *httptest.Server, method, path, role, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+role)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// The import and batch routes have their own body limits; every other route keeps the
// server's.
func TestRouteBodyLimits(t *testing.T) {
	f, srv := newFake(t)
	big := bytes.Repeat([]byte("x"), 64<<10)
	resp, _ := do(t, srv, "PUT", "/v1/lists/demo", "operator", "", big)
	if resp.StatusCode != http.StatusCreated || f.imported != len(big) {
		t.Fatalf("import of %d bytes with max_body_bytes 4096: status %d, %d bytes reached the node", len(big), resp.StatusCode, f.imported)
	}
	resp, body := do(t, srv, "POST", "/v1/screen", "officer", "", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("screen with %d bytes: status %d %s", len(big), resp.StatusCode, body)
	}
	for pattern := range routeBodyLimits {
		found := false
		for _, rt := range routes() {
			found = found || rt.pattern == pattern
		}
		if !found {
			t.Errorf("body limit for %q, which is not a route", pattern)
		}
	}
}

// A batch answer streams NDJSON lines and closes with the summary; its signature comes in
// the trailer and covers the exact bytes sent.
func TestBatchStreamsWithTrailerSignature(t *testing.T) {
	f, srv := newFake(t)
	resp, body := do(t, srv, "POST", "/v1/screen/batch", "officer", "application/x-ndjson", []byte("{\"names\":[\"a\"]}\n{\"colour\":1}\n"))
	if resp.StatusCode != http.StatusOK || f.lines != 2 {
		t.Fatalf("status %d, %d lines reached the node: %s", resp.StatusCode, f.lines, body)
	}
	if resp.Header.Get(SignatureHeader) != "" {
		t.Error("a streamed answer carries a header signature")
	}
	if _, err := jws.VerifyDetached(f.keys, body, resp.Trailer.Get(SignatureHeader)); err != nil {
		t.Fatalf("trailer signature: %v\n%s", err, body)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 3 || lines[0] != `{"line":1,"hits":[]}` || !strings.Contains(lines[1], `"field":"colour"`) || !strings.HasPrefix(lines[2], `{"summary":`) {
		t.Fatalf("lines:\n%s", body)
	}
	// Refused before streaming: a plain signed error.
	resp, body = do(t, srv, "POST", "/v1/screen/batch", "officer", "text/csv", []byte("colour\nred\n"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad CSV header: status %d %s", resp.StatusCode, body)
	}
	if _, err := jws.VerifyDetached(f.keys, body, resp.Header.Get(SignatureHeader)); err != nil {
		t.Fatalf("error signature: %v", err)
	}
	var eb ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error.Field != "header" {
		t.Errorf("error %s", body)
	}
	// A role that may not screen never reaches the service.
	resp, _ = do(t, srv, "POST", "/v1/screen/batch", "integrator", "application/x-ndjson", []byte("{\"names\":[\"a\"]}\n"))
	if resp.StatusCode != http.StatusForbidden || f.lines != 2 {
		t.Errorf("integrator: status %d", resp.StatusCode)
	}
}

func TestBatchLineJSON(t *testing.T) {
	for _, tc := range []struct {
		l    BatchLine
		want string
	}{
		{BatchLine{Line: 3}, `{"line":3,"hits":[]}`},
		{BatchLine{Line: 4, Error: &ErrorDetail{Status: 400, Code: "invalid_field", Field: "names", Message: "m"}}, `{"line":4,"error":{"status":400,"code":"invalid_field","field":"names","message":"m"}}`},
	} {
		b, err := json.Marshal(tc.l)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s %v, want %s", tc.l, b, err, tc.want)
		}
	}
}
