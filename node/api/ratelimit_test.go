package api

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/policy"
)

// The bucket: a burst, then refusals with the wait until the next request, refill at the
// rate and never beyond the burst. The clock is the test's, so nothing depends on timing.
func TestTokenBucket(t *testing.T) {
	l := newRateLimiter(2, 3, prometheus.NewRegistry())
	t0 := time.Unix(1_700_000_000, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.take("a", t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok=%v wait=%s, want a refusal and 500ms", ok, wait)
	}
	if ok, _ := l.take("a", t0.Add(499*time.Millisecond)); ok {
		t.Fatal("allowed before a request had refilled")
	}
	if ok, _ := l.take("a", t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after a request had refilled")
	}
	// A long idle refills to the burst and no further.
	later := t0.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a", later); !ok {
			t.Fatalf("after an idle hour, request %d refused", i+1)
		}
	}
	if ok, _ := l.take("a", later); ok {
		t.Fatal("the bucket refilled beyond its burst")
	}
	if ok, _ := l.take("b", later); !ok {
		t.Fatal("another token was refused")
	}
}

// Memory is bounded: idle (refilled) buckets are swept, and the cap holds even when every
// tracked token is busy.
func TestRateLimiterMemory(t *testing.T) {
	l := newRateLimiter(1, 1, prometheus.NewRegistry())
	l.max = 100
	t0 := time.Unix(1_700_000_000, 0)
	l.lastSweep = t0
	for i := 0; i < 1000; i++ {
		l.take(fmt.Sprint("busy-", i), t0)
		if n := l.tracked(); n > l.max {
			t.Fatalf("%d buckets tracked, cap %d", n, l.max)
		}
	}
	// Once they have refilled, the next sweep forgets them all but the one in use.
	l.take("fresh", t0.Add(sweepEvery))
	if n := l.tracked(); n != 1 {
		t.Fatalf("%d buckets after a sweep, want 1", n)
	}
}

// fakeLimited is a Service with just what the rate-limit tests reach; any other method
// panics (the embedded interface is nil).
type fakeLimited struct {
	Service
	signer *jws.Signer
	keys   *jws.KeySet
}

func (f *fakeLimited) Signer() *jws.Signer { return f.signer }
func (f *fakeLimited) KeySet() *jws.KeySet { return f.keys }
func (f *fakeLimited) Ready() error        { return nil }

// Authenticate takes the bearer value as the token id, so the test chooses tokens.
func (f *fakeLimited) Authenticate(raw string) (access.Principal, error) {
	if raw == "" {
		return access.Principal{}, access.ErrNoToken
	}
	return access.Principal{TokenID: raw, Subject: "subject-" + raw, Role: policy.RoleOfficer}, nil
}
func (f *fakeLimited) PeerState(string) (string, bool) { return "DEU", true }
func (f *fakeLimited) FederationStatus() (*federation.Status, error) {
	return &federation.Status{Role: "follower"}, nil
}

func newTestSigner(t *testing.T) *jws.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jws.NewSigner(priv)
}

func newLimitedServer(t *testing.T, admin bool) (*Server, *fakeLimited, *prometheus.Registry) {
	t.Helper()
	signer := newTestSigner(t)
	svc := &fakeLimited{signer: signer, keys: jws.NewKeySet()}
	svc.keys.Add(signer.Public())
	reg := prometheus.NewRegistry()
	s := New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{MaxBodyBytes: 1 << 20, Registry: reg, RateLimit: 1, RateBurst: 2, Admin: admin})
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now } // the clock stands still: no refill mid-test
	return s, svc, reg
}

func getAs(s *Server, path, token string, peer bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if peer {
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{RawSubjectPublicKeyInfo: []byte("a member's key")}}}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// Over the API: a token over its budget gets a signed 429 with Retry-After and a counted
// refusal; another token is unaffected; the public probes, member nodes and the admin
// socket are never limited.
func TestRateLimitOverTheAPI(t *testing.T) {
	s, svc, reg := newLimitedServer(t, false)
	for i := 0; i < 2; i++ {
		if w := getAs(s, "/v1/whoami", "A", false); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := getAs(s, "/v1/whoami", "A", false)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d, Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	var eb ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code != "rate_limited" || eb.Error.Status != 429 {
		t.Fatalf("429 body: %s (%v)", w.Body, err)
	}
	if _, err := jws.VerifyDetached(svc.keys, w.Body.Bytes(), w.Header().Get(SignatureHeader)); err != nil {
		t.Fatalf("the 429 is not signed: %v", err)
	}
	// A 429 is refused before authorisation and the handler: it costs the node little.
	if got := refusals(t, reg, "GET /v1/whoami"); got != 1 {
		t.Fatalf("refusals counted: %g, want 1", got)
	}

	// Per token: B has its own budget.
	if w := getAs(s, "/v1/whoami", "B", false); w.Code != 200 {
		t.Fatalf("token B refused because of A: %d", w.Code)
	}
	// Exempt: the probes (no token) and the member nodes' routes.
	for i := 0; i < 10; i++ {
		if w := getAs(s, "/healthz", "", false); w.Code != 200 {
			t.Fatalf("healthz %d: %d", i, w.Code)
		}
		if w := getAs(s, "/v1/federation/peer-status", "", true); w.Code != 200 {
			t.Fatalf("peer-status %d: %d %s", i, w.Code, w.Body)
		}
	}
	// A refused request does not reach authorisation, so a token cannot probe routes
	// while over its limit; and once a request has refilled, A is served again.
	now := s.now().Add(time.Second)
	s.now = func() time.Time { return now }
	if w := getAs(s, "/v1/whoami", "A", false); w.Code != 200 {
		t.Fatalf("after a second, A is still refused: %d", w.Code)
	}

	// The admin socket is the operator's way in when the API is busiest.
	admin, _, _ := newLimitedServer(t, true)
	if admin.limiter != nil {
		t.Fatal("the admin socket has a rate limiter")
	}
	for i := 0; i < 10; i++ {
		if w := getAs(admin, "/v1/whoami", "", false); w.Code != 200 {
			t.Fatalf("admin request %d: %d %s", i, w.Code, w.Body)
		}
	}
}

// refusals reads the refusal counter of route from the registry the node serves.
func refusals(t *testing.T, reg *prometheus.Registry, route string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "entente_http_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// RateLimit 0 turns the limit off.
func TestRateLimitOff(t *testing.T) {
	signer := newTestSigner(t)
	svc := &fakeLimited{signer: signer, keys: jws.NewKeySet()}
	s := New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{MaxBodyBytes: 1 << 20})
	for i := 0; i < 1000; i++ {
		if w := getAs(s, "/v1/whoami", "A", false); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
}
