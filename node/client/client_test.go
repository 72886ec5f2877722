package client_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newSigner(t *testing.T) *jws.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jws.NewSigner(priv)
}

func keySetOf(signers ...*jws.Signer) *jws.KeySet {
	ks := jws.NewKeySet()
	for _, s := range signers {
		ks.Add(s.Public())
	}
	return ks
}

// writeSigned answers as the node does: the detached JWS of the exact body in the
// signature header.
func writeSigned(t *testing.T, w http.ResponseWriter, s *jws.Signer, status int, body []byte) {
	sig, err := s.Detached(body)
	if err != nil {
		t.Error(err)
		return
	}
	w.Header().Set(client.SignatureHeader, sig)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// signedHandler serves body with status, signed by whichever signer cur holds when the
// request arrives, and counts the requests it sees.
func signedHandler(t *testing.T, cur *atomic.Pointer[jws.Signer], status int, body []byte, hits *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		writeSigned(t, w, cur.Load(), status, body)
	})
}

func fixed(s *jws.Signer) *atomic.Pointer[jws.Signer] {
	var p atomic.Pointer[jws.Signer]
	p.Store(s)
	return &p
}

func startTLS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return startTLSWith(t, h, nil)
}

// startTLSWith starts a TLS server with cert (httptest's own when nil) whose log, such
// as the handshakes the pin refuses, goes to the test log.
func startTLSWith(t *testing.T, h http.Handler, cert *tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(testWriter{t}, "server: ", 0)
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newClient pins srv's certificate unless o names a pin, and bounds every request so that
// a hang fails the test instead of stalling it.
func newClient(t *testing.T, srv *httptest.Server, o client.Options) *client.Client {
	t.Helper()
	if o.TLSPin == "" && srv.TLS != nil {
		o.TLSPin = client.Pin(srv.Certificate())
	}
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	c, err := client.New(srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdle)
	return c
}

// otherCert is a self-signed certificate for a key no test server uses.
func otherCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "other node"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"example.com"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestSignedResponse(t *testing.T) {
	s := newSigner(t)
	body := []byte(`{"alerts":[{"id":"a1","kind":"listing"}],"cursor":"c42"}`)
	srv := startTLS(t, signedHandler(t, fixed(s), http.StatusOK, body, nil))
	c := newClient(t, srv, client.Options{Keys: keySetOf(s)})

	resp, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK || !bytes.Equal(resp.Body, body) || resp.KID != s.KID() {
		t.Fatalf("response status %d kid %q body %s; want 200, %q, %s", resp.Status, resp.KID, resp.Body, s.KID(), body)
	}
	if resp.Signature == "" || resp.Signature != resp.Header.Get(client.SignatureHeader) {
		t.Fatalf("Signature %q, header %q", resp.Signature, resp.Header.Get(client.SignatureHeader))
	}

	var out struct {
		Cursor string `json:"cursor"`
	}
	if err := c.JSON(t.Context(), http.MethodGet, "/v1/alerts", nil, &out); err != nil || out.Cursor != "c42" {
		t.Fatalf("JSON = %+v, %v", out, err)
	}
}

func TestSignedErrorBecomesAPIError(t *testing.T) {
	s := newSigner(t)
	body := []byte(`{"error":{"status":409,"code":"version_conflict","field":"base_version","message":"record r1 is at version 4","hint":"fetch the record and correct version 4"}}`)
	srv := startTLS(t, signedHandler(t, fixed(s), http.StatusConflict, body, nil))
	c := newClient(t, srv, client.Options{Keys: keySetOf(s)})

	resp, err := c.Do(t.Context(), http.MethodPut, "/v1/records/r1", map[string]int{"base_version": 3}, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want *APIError", err, err)
	}
	want := client.APIError{Status: 409, Code: "version_conflict", Field: "base_version", Message: "record r1 is at version 4", Hint: "fetch the record and correct version 4"}
	if *ae != want {
		t.Fatalf("APIError %+v, want %+v", *ae, want)
	}
	if errors.Is(err, client.ErrUnsigned) {
		t.Fatalf("a verified error reported as unsigned: %v", err)
	}
	if resp == nil || resp.Status != http.StatusConflict || resp.KID != s.KID() {
		t.Fatalf("response %+v, want the verified 409", resp)
	}
	for _, part := range []string{"409", "version_conflict", "base_version", "version 4", "fetch the record"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error text %q lacks %q", err, part)
		}
	}

	// JSON reports the same error and does not decode the error body into out.
	out := map[string]any{}
	err = c.JSON(t.Context(), http.MethodGet, "/v1/records/r1", nil, &out)
	if !errors.As(err, &ae) || ae.Code != "version_conflict" || len(out) != 0 {
		t.Fatalf("JSON = %v, %v", out, err)
	}
}

func TestSignedNonJSONErrorBecomesAPIError(t *testing.T) {
	s := newSigner(t)
	srv := startTLS(t, signedHandler(t, fixed(s), http.StatusBadGateway, []byte("upstream went away\n"), nil))
	c := newClient(t, srv, client.Options{Keys: keySetOf(s)})

	_, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want *APIError", err)
	}
	if want := (client.APIError{Status: 502, Code: "http_error", Message: "upstream went away"}); *ae != want {
		t.Fatalf("APIError %+v, want %+v", *ae, want)
	}
}

// A response whose signature does not verify is refused whole: no body, no status, and
// no APIError built from text an attacker could have written.
func TestUnverifiedResponseRefused(t *testing.T) {
	s := newSigner(t)
	stranger := newSigner(t)
	body := []byte(`{"alerts":[{"id":"a1","kind":"listing"}]}`)
	altered := []byte(`{"alerts":[{"id":"a2","kind":"listing"}]}`)
	errBody := []byte(`{"error":{"status":403,"code":"forbidden","message":"call this number"}}`)
	sigOf := func(s *jws.Signer, b []byte) string {
		sig, err := s.Detached(b)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	cases := map[string]struct {
		status int
		sig    string // "" sends no signature header
		body   []byte
	}{
		"body altered after signing": {http.StatusOK, sigOf(s, body), altered},
		"no signature header":        {http.StatusOK, "", body},
		"signed by unpinned key":     {http.StatusOK, sigOf(stranger, body), body},
		"garbage signature":          {http.StatusOK, "not.a.signature", body},
		"signature of empty body":    {http.StatusOK, sigOf(s, nil), body},
		"unsigned error":             {http.StatusForbidden, "", errBody},
		"error signed by stranger":   {http.StatusForbidden, sigOf(stranger, errBody), errBody},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.sig != "" {
					w.Header().Set(client.SignatureHeader, tc.sig)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			}))
			c := newClient(t, srv, client.Options{Keys: keySetOf(s)})

			resp, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
			if !errors.Is(err, client.ErrUnsigned) {
				t.Fatalf("error %v, want ErrUnsigned", err)
			}
			if resp != nil {
				t.Fatalf("refused response returned with body %q", resp.Body)
			}
			var ae *client.APIError
			if errors.As(err, &ae) {
				t.Fatalf("unverified body turned into %+v", ae)
			}

			out := map[string]any{}
			if err := c.JSON(t.Context(), http.MethodGet, "/v1/alerts", nil, &out); !errors.Is(err, client.ErrUnsigned) || len(out) != 0 {
				t.Fatalf("JSON = %v, %v; want nothing decoded and ErrUnsigned", out, err)
			}
		})
	}
}

func TestTLSPin(t *testing.T) {
	s := newSigner(t)
	var hits atomic.Int64
	h := signedHandler(t, fixed(s), http.StatusOK, []byte(`{}`), &hits)
	srv := startTLS(t, h)

	cert := otherCert(t)
	other := startTLSWith(t, h, &cert)
	otherPin := client.Pin(other.Certificate())
	if otherPin == client.Pin(srv.Certificate()) {
		t.Fatal("both test servers have the same key: the test cannot tell pins apart")
	}

	t.Run("mismatch", func(t *testing.T) {
		c := newClient(t, srv, client.Options{Token: "secret", TLSPin: otherPin, Keys: keySetOf(s)})
		before := hits.Load()
		resp, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
		if err == nil || resp != nil {
			t.Fatalf("Do with the wrong pin = %+v, %v", resp, err)
		}
		if !strings.Contains(err.Error(), "does not match the pinned key") {
			t.Fatalf("error %v, want a pin mismatch", err)
		}
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("the request (and its token) reached the server %d times", n)
		}
	})
	t.Run("match", func(t *testing.T) {
		// The same pin is accepted by the server that holds the key.
		c := newClient(t, other, client.Options{TLSPin: otherPin, Keys: keySetOf(s)})
		if _, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no pin uses system roots", func(t *testing.T) {
		c, err := client.New(srv.URL, client.Options{Keys: keySetOf(s), Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdle)
		before := hits.Load()
		_, err = c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
		var cve *tls.CertificateVerificationError
		if !errors.As(err, &cve) {
			t.Fatalf("error %v, want the self-signed certificate refused", err)
		}
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("the request reached the server %d times", n)
		}
	})
}

func TestNewRefusesMalformedPin(t *testing.T) {
	sum := make([]byte, 32)
	for i := range sum {
		sum[i] = byte(i)
	}
	std := base64.StdEncoding.EncodeToString(sum)
	for name, pin := range map[string]string{
		"sha1":          "sha1:" + base64.StdEncoding.EncodeToString(sum[:20]),
		"no algorithm":  std,
		"upper case":    "SHA256:" + std,
		"bad base64":    "sha256:!!not base64!!",
		"url alphabet":  "sha256:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		"unpadded":      "sha256:" + base64.RawStdEncoding.EncodeToString(sum),
		"short hash":    "sha256:" + base64.StdEncoding.EncodeToString(sum[:16]),
		"long hash":     "sha256:" + base64.StdEncoding.EncodeToString(append(sum, 0)),
		"empty hash":    "sha256:",
		"hex not b64":   "sha256:" + strings.Repeat("ab", 32),
		"trailing junk": "sha256:" + std + "x",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := client.New("https://127.0.0.1:1", client.Options{TLSPin: pin})
			if err == nil {
				c.CloseIdle()
				t.Fatalf("New accepted pin %q", pin)
			}
		})
	}
	// The well-formed version of the same hash is accepted.
	c, err := client.New("https://127.0.0.1:1", client.Options{TLSPin: "sha256:" + std})
	if err != nil {
		t.Fatalf("New refused a well-formed pin: %v", err)
	}
	c.CloseIdle()
}

func TestRefreshKeysOnRotation(t *testing.T) {
	a, b := newSigner(t), newSigner(t)
	body := []byte(`{"ok":true}`)

	t.Run("refreshed once", func(t *testing.T) {
		cur := fixed(a)
		srv := startTLS(t, signedHandler(t, cur, http.StatusOK, body, nil))
		var calls atomic.Int64
		c := newClient(t, srv, client.Options{Keys: keySetOf(a), RefreshKeys: func() (*jws.KeySet, error) {
			calls.Add(1)
			return keySetOf(a, b), nil
		}})
		if resp, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil); err != nil || resp.KID != a.KID() {
			t.Fatalf("before rotation: %+v, %v", resp, err)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("RefreshKeys called %d times for a known key", n)
		}
		cur.Store(b)
		for i := range 5 {
			resp, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil)
			if err != nil {
				t.Fatalf("response %d after rotation: %v", i, err)
			}
			if resp.KID != b.KID() || !bytes.Equal(resp.Body, body) {
				t.Fatalf("response %d after rotation: kid %q body %s", i, resp.KID, resp.Body)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("RefreshKeys called %d times, want once", n)
		}
		// The old key stays trusted: responses signed before the switch still verify.
		cur.Store(a)
		if resp, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil); err != nil || resp.KID != a.KID() {
			t.Fatalf("old key after refresh: %+v, %v", resp, err)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("RefreshKeys called %d times, want once", n)
		}
	})

	refusals := map[string]func() (*jws.KeySet, error){
		"no RefreshKeys":         nil,
		"refresh lacks the key":  func() (*jws.KeySet, error) { return keySetOf(a), nil },
		"refresh fails":          func() (*jws.KeySet, error) { return nil, errors.New("jwks file unreadable") },
		"refresh returns no set": func() (*jws.KeySet, error) { return nil, nil },
	}
	for name, refresh := range refusals {
		t.Run(name, func(t *testing.T) {
			srv := startTLS(t, signedHandler(t, fixed(b), http.StatusOK, body, nil))
			c := newClient(t, srv, client.Options{Keys: keySetOf(a), RefreshKeys: refresh})
			resp, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil)
			if !errors.Is(err, client.ErrUnsigned) || resp != nil {
				t.Fatalf("Do = %+v, %v; want ErrUnsigned and no response", resp, err)
			}
		})
	}

	t.Run("bad signature by a known key does not refresh", func(t *testing.T) {
		srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			sig, _ := a.Detached(body)
			w.Header().Set(client.SignatureHeader, sig)
			_, _ = w.Write([]byte(`{"ok":false}`))
		}))
		var calls atomic.Int64
		c := newClient(t, srv, client.Options{Keys: keySetOf(a), RefreshKeys: func() (*jws.KeySet, error) {
			calls.Add(1)
			return keySetOf(a, b), nil
		}})
		if _, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil); !errors.Is(err, client.ErrUnsigned) {
			t.Fatalf("error %v, want ErrUnsigned", err)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("RefreshKeys called %d times for a known kid", n)
		}
	})
}

func TestBootstrapWithoutKeys(t *testing.T) {
	stranger := newSigner(t)
	body := []byte(`{"keys":[]}`)
	for name, sig := range map[string]string{"unsigned": "", "signed by anyone": mustDetached(t, stranger, []byte("other")), "garbage": "x"} {
		t.Run(name, func(t *testing.T) {
			srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if sig != "" {
					w.Header().Set(client.SignatureHeader, sig)
				}
				_, _ = w.Write(body)
			}))
			var calls atomic.Int64
			c := newClient(t, srv, client.Options{RefreshKeys: func() (*jws.KeySet, error) { calls.Add(1); return nil, nil }})
			resp, err := c.Do(t.Context(), http.MethodGet, "/.well-known/jwks.json", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, body) || resp.KID != "" || resp.Signature != sig {
				t.Fatalf("response body %s kid %q sig %q", resp.Body, resp.KID, resp.Signature)
			}
			if calls.Load() != 0 {
				t.Fatal("RefreshKeys called in bootstrap mode")
			}
		})
	}
}

func mustDetached(t *testing.T, s *jws.Signer, body []byte) string {
	t.Helper()
	sig, err := s.Detached(body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// A node (or something in its place) that streams without end must not make the client
// buffer more than the limit: it stops reading just past 64 MiB and drops the connection.
func TestOversizedResponseRefused(t *testing.T) {
	const limit = 64 << 20
	const offered = 4 * limit
	s := newSigner(t)
	var written atomic.Int64
	done := make(chan struct{})
	sig := mustDetached(t, s, nil)
	srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		defer close(done)
		w.Header().Set(client.SignatureHeader, sig)
		chunk := bytes.Repeat([]byte{'x'}, 1<<20)
		for written.Load() < offered {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	// The request timeout must outlast the wait below: its expiry would also drop the
	// connection and hide a client that stopped reading but kept the connection open.
	c := newClient(t, srv, client.Options{Keys: keySetOf(s), Timeout: time.Minute})

	resp, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil)
	if err == nil || resp != nil {
		t.Fatalf("Do = response of %d bytes, %v; want a refusal", len(resp.Body), err)
	}
	if !strings.Contains(err.Error(), "larger than") || errors.Is(err, client.ErrUnsigned) {
		t.Fatalf("error %v, want the size refusal", err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the server is still writing: the client did not drop the connection")
	}
	// What the server got out is what the client read plus socket buffers.
	if n := written.Load(); n >= offered || n > limit+32<<20 {
		t.Fatalf("server wrote %d MiB before the client stopped it; the limit is %d MiB", n>>20, limit>>20)
	}
}

// request is what the test server saw.
type request struct {
	method, path, auth, contentType, ifMatch string
	body                                     []byte
}

func TestRequestShape(t *testing.T) {
	s := newSigner(t)
	var mu sync.Mutex
	var seen []request
	srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		seen = append(seen, request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("If-Match"), b})
		mu.Unlock()
		writeSigned(t, w, s, http.StatusOK, []byte(`{}`))
	}))
	last := func(t *testing.T) request {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Fatal("the server saw no request")
		}
		return seen[len(seen)-1]
	}
	const token = "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJ0b2sifQ.c2ln"
	c := newClient(t, srv, client.Options{Token: token, Keys: keySetOf(s)})

	t.Run("bytes sent as is", func(t *testing.T) {
		raw := []byte("{ \"fields\" : {\"a\":1} }\n") // json.Marshal would base64 a []byte
		if _, err := c.Do(t.Context(), http.MethodPost, "/v1/records", raw, http.Header{"If-Match": {`"3"`}}); err != nil {
			t.Fatal(err)
		}
		got := last(t)
		if got.method != http.MethodPost || got.path != "/v1/records" || !bytes.Equal(got.body, raw) {
			t.Fatalf("server saw %s %s %q, want POST /v1/records %q", got.method, got.path, got.body, raw)
		}
		if got.auth != "Bearer "+token || got.contentType != "application/json" || got.ifMatch != `"3"` {
			t.Fatalf("headers: Authorization %q, Content-Type %q, If-Match %q", got.auth, got.contentType, got.ifMatch)
		}
	})
	t.Run("values JSON-encoded", func(t *testing.T) {
		in := struct {
			Kind   string   `json:"kind"`
			States []string `json:"states"`
			Note   []byte   `json:"note"`
		}{"listing", []string{"FRA", "DEU"}, []byte{0xff}}
		if _, err := c.Do(t.Context(), http.MethodPut, "/v1/watchlists/w1", in, nil); err != nil {
			t.Fatal(err)
		}
		got := last(t)
		want := `{"kind":"listing","states":["FRA","DEU"],"note":"/w=="}`
		if string(got.body) != want || got.contentType != "application/json" || got.auth != "Bearer "+token {
			t.Fatalf("server saw body %s (Content-Type %q, Authorization %q), want %s", got.body, got.contentType, got.auth, want)
		}
	})
	t.Run("JSON helper", func(t *testing.T) {
		if err := c.JSON(t.Context(), http.MethodPost, "/v1/tokens", map[string]string{"role": "analyst"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := last(t); string(got.body) != `{"role":"analyst"}` {
			t.Fatalf("server saw body %s", got.body)
		}
	})
	t.Run("no body", func(t *testing.T) {
		if _, err := c.Do(t.Context(), http.MethodGet, "/v1/alerts", nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := last(t); len(got.body) != 0 || got.contentType != "" || got.auth != "Bearer "+token {
			t.Fatalf("server saw body %q, Content-Type %q, Authorization %q", got.body, got.contentType, got.auth)
		}
	})
	t.Run("unencodable body not sent", func(t *testing.T) {
		mu.Lock()
		before := len(seen)
		mu.Unlock()
		if _, err := c.Do(t.Context(), http.MethodPost, "/v1/records", func() {}, nil); err == nil {
			t.Fatal("Do sent a body json.Marshal cannot encode")
		}
		mu.Lock()
		after := len(seen)
		mu.Unlock()
		if after != before {
			t.Fatal("the request was sent anyway")
		}
	})
	t.Run("no token no header", func(t *testing.T) {
		anon := newClient(t, srv, client.Options{Keys: keySetOf(s)})
		if _, err := anon.Do(t.Context(), http.MethodGet, "/healthz", nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := last(t); got.auth != "" {
			t.Fatalf("anonymous client sent Authorization %q", got.auth)
		}
	})
}
