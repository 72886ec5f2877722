package testnet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	jose "github.com/go-jose/go-jose/v4"
	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/testnet"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testnet.RemoveBinary()
	os.Exit(code)
}

// licence is a licence application naming a party whose name is the canary searched for in
// the raw database file.
func licence(id, canary string) map[string]any {
	return map[string]any{
		"id":   id,
		"kind": "licence-application",
		"fields": map[string]any{
			"applicant":    map[string]any{"type": "organisation", "name": canary + " Defence SAS", "countries": []string{"FRA"}},
			"end_user":     map[string]any{"type": "organisation", "name": canary + " End User LLC", "countries": []string{"ARE"}},
			"destination":  "ARE",
			"items":        []any{map[string]any{"description": "thermal imaging camera", "control_code": "ml15", "quantity": 12, "unit": "pcs"}},
			"end_use":      "border surveillance",
			"submitted_on": "2026-11-02",
		},
		"markings":  map[string]string{"end_user": "REL TO DEU"},
		"rationale": "new application",
	}
}

type e2e struct {
	t        *testing.T
	bin      string
	fra      *testnet.Node
	deu, gbr *testnet.Node
}

func setup(t *testing.T) *e2e {
	t.Helper()
	bin, err := testnet.Binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	mk := func(state string) *testnet.Node {
		addr, err := testnet.FreeAddr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		n, err := testnet.Init(bin, filepath.Join(root, strings.ToLower(state)), state, addr)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	e := &e2e{t: t, bin: bin, fra: mk("FRA"), deu: mk("DEU"), gbr: mk("GBR")}
	// FRA knows DEU's and GBR's cards, so it can seal for them.
	roster := map[string]any{"members": []any{
		map[string]any{"role": "voter", "card": e.fra.Card},
		map[string]any{"role": "voter", "card": e.deu.Card},
		map[string]any{"role": "member", "card": e.gbr.Card},
	}}
	b, _ := json.Marshal(roster)
	if err := os.WriteFile(filepath.Join(root, "roster.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.fra.Start(ctx, "--roster", filepath.Join(root, "roster.json")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.fra.Stop(20 * time.Second); err != nil {
			t.Errorf("FRA did not stop cleanly: %v", err)
		}
	})
	return e
}

func (e *e2e) token(role string) (string, string) {
	e.t.Helper()
	tok, id, err := e.fra.IssueToken(role, "e2e-"+role, "1h")
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, id
}

func (e *e2e) client(token string) *client.Client {
	e.t.Helper()
	c, err := e.fra.Client(token)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// apiErr asserts that err is an API error with status and, when field is set, that field.
func apiErr(t *testing.T, err error, status int, field string) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %d, got %v", status, err)
	}
	if ae.Status != status {
		t.Fatalf("status = %d, want %d (%v)", ae.Status, status, ae)
	}
	if field != "" && ae.Field != field {
		t.Fatalf("field = %q, want %q (%v)", ae.Field, field, ae)
	}
	if ae.Message == "" {
		t.Fatalf("error without a message: %+v", ae)
	}
}

func TestNodeEndToEnd(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	officerTok, _ := e.token("officer")
	analystTok, analystID := e.token("analyst")
	integratorTok, _ := e.token("integrator")
	auditorTok, _ := e.token("auditor")
	officer, analyst, integrator := e.client(officerTok), e.client(analystTok), e.client(integratorTok)

	t.Run("identity files", func(t *testing.T) {
		checkMode(t, e.fra.DataDir, 0o700)
		checkMode(t, filepath.Join(e.fra.DataDir, "keys"), 0o700)
		for _, f := range []string{"age.key", "signing.jwk", "tls.key"} {
			checkMode(t, filepath.Join(e.fra.DataDir, "keys", f), 0o600)
		}
		checkMode(t, filepath.Join(e.fra.DataDir, "node.db"), 0o600)
		before, _ := os.ReadFile(filepath.Join(e.fra.DataDir, "keys", "age.key"))
		if _, err := testnet.Run(e.bin, "init", "--state", "FRA", "--data", e.fra.DataDir); err == nil {
			t.Fatal("a second init over an existing identity succeeded")
		}
		after, _ := os.ReadFile(filepath.Join(e.fra.DataDir, "keys", "age.key"))
		if !bytes.Equal(before, after) {
			t.Fatal("a refused init changed the identity")
		}
		if _, err := testnet.Run(e.bin, "init", "--state", "XYZ", "--data", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "alpha-3") {
			t.Fatalf("init accepted state XYZ: %v", err)
		}
	})

	t.Run("public probes are signed", func(t *testing.T) {
		anon := e.client("")
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/.well-known/jwks.json"} {
			resp, err := anon.Do(ctx, "GET", p, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if resp.KID == "" {
				t.Fatalf("%s: no verified signature", p)
			}
		}
		resp, err := anon.Do(ctx, "GET", "/metrics", nil, nil)
		if err != nil || !strings.Contains(string(resp.Body), "entente_http_requests_total") {
			t.Fatalf("metrics: %v", err)
		}
	})

	var created map[string]any
	t.Run("create and read a record", func(t *testing.T) {
		if err := officer.JSON(ctx, "POST", "/v1/records", licence("FRA-LA-1", "Zorbatek"), &created); err != nil {
			t.Fatal(err)
		}
		fields := created["fields"].(map[string]any)
		if m := fields["end_user"].(map[string]any)["marking"]; m != "REL TO DEU" {
			t.Fatalf("end_user marking = %v", m)
		}
		if m := fields["applicant"].(map[string]any)["marking"]; m != "NATIONAL" {
			t.Fatalf("applicant default marking = %v, want NATIONAL", m)
		}
		var got map[string]any
		if err := analyst.JSON(ctx, "GET", "/v1/records/FRA-LA-1", nil, &got); err != nil {
			t.Fatal(err)
		}
		app := got["fields"].(map[string]any)["applicant"].(map[string]any)
		if !strings.Contains(fmt.Sprint(app["value"]), "Zorbatek Defence SAS") {
			t.Fatalf("analyst cannot read the applicant: %v", app)
		}
		items := fmt.Sprint(got["fields"].(map[string]any)["items"])
		if !strings.Contains(items, "ML15") {
			t.Fatalf("control code not normalised to ML15: %s", items)
		}
		_, err := integrator.Do(ctx, "GET", "/v1/records/FRA-LA-1", nil, nil)
		apiErr(t, err, http.StatusForbidden, "")
		_, err = analyst.Do(ctx, "POST", "/v1/records", licence("FRA-LA-2", "x"), nil)
		apiErr(t, err, http.StatusForbidden, "")
	})

	t.Run("bad input is refused and writes nothing", func(t *testing.T) {
		count := func() int {
			var page struct {
				Records []any `json:"records"`
			}
			if err := officer.JSON(ctx, "GET", "/v1/records?limit=1000", nil, &page); err != nil {
				t.Fatal(err)
			}
			return len(page.Records)
		}
		before := count()
		mut := func(f func(m map[string]any)) map[string]any {
			m := licence("FRA-BAD", "Bad")
			f(m)
			return m
		}
		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"unknown top-level field", mut(func(m map[string]any) { m["colour"] = "red" }), 400, "colour"},
			{"unknown record field", mut(func(m map[string]any) { m["fields"].(map[string]any)["colour"] = "red" }), 400, "fields.colour"},
			{"wrong type", mut(func(m map[string]any) { m["fields"].(map[string]any)["destination"] = 7 }), 400, "fields.destination"},
			{"bad marking", mut(func(m map[string]any) { m["markings"] = map[string]string{"end_user": "REL TO ATLANTIS"} }), 400, "markings.end_user"},
			{"marking for a state off the roster", mut(func(m map[string]any) { m["markings"] = map[string]string{"end_user": "REL TO ITA"} }), 400, "markings.end_user"},
			{"bad state code", mut(func(m map[string]any) { m["fields"].(map[string]any)["destination"] = "XXA" }), 400, "fields.destination"},
			{"bad control code", mut(func(m map[string]any) {
				m["fields"].(map[string]any)["items"] = []any{map[string]any{"description": "x", "control_code": "ML99", "quantity": 1}}
			}), 400, "fields.items[0].control_code"},
			{"duplicate id", licence("FRA-LA-1", "Dup"), 409, "id"},
			{"invalid UTF-8", []byte("{\"kind\":\"licence-application\",\"fields\":{\"end_use\":\"\xff\xfe\"}}"), 400, "body"},
			{"nested too deep", []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000)), 400, ""},
			{"oversized", []byte(`{"kind":"` + strings.Repeat("a", 2<<20) + `"}`), 413, "body"},
			{"not JSON", []byte("kind=licence"), 400, ""},
		}
		for _, tc := range cases {
			_, err := officer.Do(ctx, "POST", "/v1/records", tc.body, nil)
			t.Run(tc.name, func(t *testing.T) { apiErr(t, err, tc.status, tc.field) })
		}
		if after := count(); after != before {
			t.Fatalf("bad input wrote records: %d before, %d after", before, after)
		}
	})

	t.Run("a correction is a new version", func(t *testing.T) {
		corr := licence("FRA-LA-1", "Zorbatek")
		corr["fields"].(map[string]any)["end_use"] = "coastal surveillance"
		corr["rationale"] = "end use clarified by the applicant"
		hdr := http.Header{"If-Match": {`"v1"`}}
		resp, err := officer.Do(ctx, "PUT", "/v1/records/FRA-LA-1", corr, hdr)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("ETag") != `"v2"` {
			t.Fatalf("ETag = %s", resp.Header.Get("ETag"))
		}
		_, err = officer.Do(ctx, "PUT", "/v1/records/FRA-LA-1", corr, hdr)
		apiErr(t, err, http.StatusPreconditionFailed, "If-Match")
		_, err = officer.Do(ctx, "PUT", "/v1/records/FRA-LA-1", corr, nil)
		apiErr(t, err, http.StatusPreconditionRequired, "If-Match")
		var hist struct {
			Versions []struct {
				Version int                       `json:"version"`
				Fields  map[string]map[string]any `json:"fields"`
			} `json:"versions"`
		}
		if err := analyst.JSON(ctx, "GET", "/v1/records/FRA-LA-1/history", nil, &hist); err != nil {
			t.Fatal(err)
		}
		if len(hist.Versions) != 2 || hist.Versions[0].Fields["end_use"]["value"] != "border surveillance" || hist.Versions[1].Fields["end_use"]["value"] != "coastal surveillance" {
			t.Fatalf("history = %+v", hist.Versions)
		}
	})

	t.Run("signatures verify offline and with an independent JOSE library", func(t *testing.T) {
		resp, err := analyst.Do(ctx, "GET", "/v1/records/FRA-LA-1", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		bodyFile, jwksFile := filepath.Join(dir, "body.json"), filepath.Join(dir, "jwks.json")
		_ = os.WriteFile(bodyFile, resp.Body, 0o600)
		jwks, _ := os.ReadFile(filepath.Join(e.fra.DataDir, "keys", "jwks.json"))
		_ = os.WriteFile(jwksFile, jwks, 0o600)
		out, err := testnet.Run(e.bin, "verify", "--jwks", jwksFile, "--body", bodyFile, "--sig", resp.Signature)
		if err != nil || !strings.Contains(out, "verified") {
			t.Fatalf("entente verify: %v %s", err, out)
		}
		_ = os.WriteFile(bodyFile, append(resp.Body, ' '), 0o600)
		if _, err := testnet.Run(e.bin, "verify", "--jwks", jwksFile, "--body", bodyFile, "--sig", resp.Signature); err == nil {
			t.Fatal("entente verify accepted a tampered body")
		}
		independentVerify(t, jwks, resp.Body, resp.Signature)
	})

	t.Run("tokens", func(t *testing.T) {
		anon := e.client("")
		_, err := anon.Do(ctx, "GET", "/v1/records", nil, nil)
		apiErr(t, err, http.StatusUnauthorized, "Authorization")

		signer := loadSigner(t, e.fra.DataDir)
		now := time.Now().Unix()
		claims := map[string]any{"jti": "tok_forged", "iss": "x", "sub": "mallory", "role": "officer", "iat": now, "nbf": now, "exp": now + 3600}
		wrongAud := forge(t, signer, map[string]any{"alg": "EdDSA", "kid": kidOf(t, analystTok)}, with(claims, "aud", "entente:FRA:000000000000"), true)
		audience := audienceOf(t, analystTok)
		good := with(claims, "aud", audience)
		hostile := map[string]string{
			"wrong audience": wrongAud,
			"alg none":       forge(t, nil, map[string]any{"alg": "none"}, good, false),
			"HS256":          forge(t, nil, map[string]any{"alg": "HS256"}, good, false),
			"embedded jwk":   forge(t, signer, map[string]any{"alg": "EdDSA", "kid": kidOf(t, analystTok), "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(signer.Public().(ed25519.PublicKey))}}, good, true),
			"jku":            forge(t, signer, map[string]any{"alg": "EdDSA", "kid": kidOf(t, analystTok), "jku": "https://127.0.0.1:1/jwks"}, good, true),
			"x5u":            forge(t, signer, map[string]any{"alg": "EdDSA", "kid": kidOf(t, analystTok), "x5u": "https://127.0.0.1:1/cert"}, good, true),
			"expired":        forge(t, signer, map[string]any{"alg": "EdDSA", "kid": kidOf(t, analystTok), "typ": "JWT"}, with(with(good, "exp", now-10), "iat", now-100), true),
			"tampered":       tamper(analystTok),
		}
		for name, tok := range hostile {
			_, err := e.client(tok).Do(ctx, "GET", "/v1/records", nil, nil)
			t.Run(name, func(t *testing.T) { apiErr(t, err, http.StatusUnauthorized, "Authorization") })
		}
		if _, err := analyst.Do(ctx, "GET", "/v1/records", nil, nil); err != nil {
			t.Fatalf("the analyst token should still work: %v", err)
		}
		if _, err := testnet.Run(e.bin, "token", "revoke", "--data", e.fra.DataDir, "--rationale", "left the agency", analystID); err != nil {
			t.Fatal(err)
		}
		_, err = analyst.Do(ctx, "GET", "/v1/records", nil, nil)
		apiErr(t, err, http.StatusUnauthorized, "Authorization")
	})

	t.Run("key rotation keeps old responses verifiable", func(t *testing.T) {
		old, err := officer.Do(ctx, "GET", "/v1/records/FRA-LA-1", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := testnet.Run(e.bin, "keys", "rotate", "--data", e.fra.DataDir, "--rationale", "scheduled"); err != nil {
			t.Fatal(err)
		}
		fresh := e.client(officerTok) // re-reads the JWKS
		now, err := fresh.Do(ctx, "GET", "/v1/records/FRA-LA-1", nil, nil)
		if err != nil {
			t.Fatalf("a token signed before the rotation must still work: %v", err)
		}
		if now.KID == old.KID {
			t.Fatal("responses are still signed with the retired key")
		}
		jwks, _ := os.ReadFile(filepath.Join(e.fra.DataDir, "keys", "jwks.json"))
		independentVerify(t, jwks, old.Body, old.Signature)
	})

	t.Run("fields are sealed for exactly the states allowed", func(t *testing.T) {
		var st struct {
			Fields map[string]struct {
				Marking string       `json:"marking"`
				Sealed  *seal.Sealed `json:"sealed"`
			} `json:"fields"`
		}
		if err := officer.JSON(ctx, "GET", "/v1/records/FRA-LA-1?view=sealed&version=1", nil, &st); err != nil {
			t.Fatal(err)
		}
		endUser, applicant := st.Fields["end_user"].Sealed, st.Fields["applicant"].Sealed
		if endUser == nil || applicant == nil {
			t.Fatalf("fields not sealed: %+v", st)
		}
		wrapped := readWrappedKeys(t, e) // stops and restarts FRA to read its raw file
		deu := keyringOf(t, e.deu, wrapped)
		gbr := keyringOf(t, e.gbr, wrapped)
		got, err := deu.Open(*endUser, "record/FRA-LA-1/v1", "fields.end_user")
		if err != nil || !strings.Contains(string(got), "Zorbatek End User LLC") {
			t.Fatalf("DEU cannot open a field released to it: %v %s", err, got)
		}
		if _, err := gbr.Open(*endUser, "record/FRA-LA-1/v1", "fields.end_user"); !errors.Is(err, seal.ErrNotReleased) {
			t.Fatalf("GBR opened a field released to DEU only: %v", err)
		}
		if _, err := deu.Open(*applicant, "record/FRA-LA-1/v1", "fields.applicant"); !errors.Is(err, seal.ErrNotReleased) {
			t.Fatalf("DEU opened a NATIONAL field: %v", err)
		}
		if _, err := deu.Open(*endUser, "record/FRA-LA-1/v1", "fields.applicant"); !errors.Is(err, seal.ErrTampered) {
			t.Fatalf("a ciphertext moved to another field opened: %v", err)
		}
		if _, err := deu.Open(*endUser, "record/FRA-LA-2/v1", "fields.end_user"); !errors.Is(err, seal.ErrTampered) {
			t.Fatalf("a ciphertext moved to another entry opened: %v", err)
		}
	})

	t.Run("audit trail", func(t *testing.T) {
		out, err := testnet.Run(e.bin, "audit", "verify", "--data", e.fra.DataDir, "--token", auditorTok)
		if err != nil || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %v %s", err, out)
		}
		var page struct {
			Entries []struct {
				Action string `json:"action"`
			} `json:"entries"`
		}
		if err := e.client(auditorTok).JSON(ctx, "GET", "/v1/audit?limit=1000", nil, &page); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, en := range page.Entries {
			seen[en.Action]++
		}
		for _, want := range []string{"token.issue", "token.revoke", "record.create", "record.correct", "keys.rotate"} {
			if seen[want] == 0 {
				t.Errorf("no %s in the audit trail: %v", want, seen)
			}
		}
		_, err = officer.Do(ctx, "GET", "/v1/audit", nil, nil)
		apiErr(t, err, http.StatusForbidden, "")
	})

	t.Run("no plaintext of a sealed field in the raw database", func(t *testing.T) {
		if err := e.fra.Stop(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(e.fra.DataDir, "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range encodings("Zorbatek") {
			if bytes.Contains(raw, []byte(enc)) {
				t.Fatalf("node.db holds the party name in the clear (%q)", enc)
			}
		}
		// Tamper with the audit trail on disk; an offline verify must notice.
		tamperAudit(t, filepath.Join(e.fra.DataDir, "node.db"))
		if out, err := testnet.Run(e.bin, "audit", "verify", "--data", e.fra.DataDir); err == nil || !strings.Contains(err.Error(), "BROKEN") {
			t.Fatalf("offline audit verify missed tampering: %v %s", err, out)
		}
		restart(t, e.fra)
	})
}

// TestShutdownKeepsAcknowledgedWrites writes from several clients, stops the node with
// SIGTERM in the middle, and checks that every write that got a 201 is there after a restart.
func TestShutdownKeepsAcknowledgedWrites(t *testing.T) {
	e := setup(t)
	tok, _ := e.token("officer")
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stopAt := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := e.client(tok)
			for i := 0; i < 400; i++ {
				id := fmt.Sprintf("FRA-W%d-%d", w, i)
				if _, err := c.Do(ctx, "POST", "/v1/records", licence(id, "Durable"), nil); err != nil {
					return // the node is going away
				}
				mu.Lock()
				acked = append(acked, id)
				n := len(acked)
				mu.Unlock()
				if n == 200 {
					close(stopAt)
				}
			}
		}(w)
	}
	select {
	case <-stopAt:
	case <-time.After(60 * time.Second):
		t.Fatal("writers did not reach 200 acknowledged writes")
	}
	if err := e.fra.Stop(20 * time.Second); err != nil {
		t.Fatalf("SIGTERM did not stop the node cleanly: %v", err)
	}
	if !strings.Contains(e.fra.Logs(), "stopped cleanly") {
		t.Fatalf("no clean stop in the log:\n%s", e.fra.Logs())
	}
	wg.Wait()
	restart(t, e.fra)
	c := e.client(tok)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acked {
		if _, err := c.Do(ctx, "GET", "/v1/records/"+id, nil, nil); err != nil {
			t.Fatalf("acknowledged write %s lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes all present after SIGTERM and restart", len(acked))
}

func restart(t *testing.T, n *testnet.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{}
	if roster := filepath.Join(filepath.Dir(n.DataDir), "roster.json"); fileExists(roster) {
		args = append(args, "--roster", roster)
	}
	if err := n.Start(ctx, args...); err != nil {
		t.Fatal(err)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %o, want %o", path, got, want)
	}
}

func encodings(s string) []string {
	return []string{s, strings.ToLower(s), strings.ToUpper(s), base64.StdEncoding.EncodeToString([]byte(s))[:8], hex.EncodeToString([]byte(s))}
}

// independentVerify checks a detached JWS with go-jose, not with Entente's own code.
func independentVerify(t *testing.T, jwksJSON, body []byte, sig string) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseDetached(sig, body, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose cannot parse the signature: %v", err)
	}
	kid := obj.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in the JWKS", kid)
	}
	if _, err := obj.Verify(keys[0].Key); err != nil {
		t.Fatalf("go-jose rejects the signature: %v", err)
	}
	if _, err := obj.Verify(keys[0].Key); err != nil {
		t.Fatal(err)
	}
	if obj2, err := jose.ParseDetached(sig, append(bytes.Clone(body), 'x'), []jose.SignatureAlgorithm{jose.EdDSA}); err == nil {
		if _, err := obj2.Verify(keys[0].Key); err == nil {
			t.Fatal("go-jose accepted a tampered body")
		}
	}
}

func loadSigner(t *testing.T, dataDir string) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "keys", "signing.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := jws.ParsePrivateJWK(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// forge builds a compact JWS by hand, signed with key when sign is set.
func forge(t *testing.T, key ed25519.PrivateKey, header, claims map[string]any, sign bool) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig := ""
	if sign {
		sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
	}
	return input + "." + sig
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func audienceOf(t *testing.T, tok string) string { return segment(t, tok, 1)["aud"].(string) }
func kidOf(t *testing.T, tok string) string      { return segment(t, tok, 0)["kid"].(string) }

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = bytes.Replace(b, []byte(`"analyst"`), []byte(`"officer"`), 1)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// readWrappedKeys stops FRA, reads the wrapped data keys straight from its bbolt file,
// and starts it again.
func readWrappedKeys(t *testing.T, e *e2e) []seal.WrappedKey {
	t.Helper()
	if err := e.fra.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(filepath.Join(e.fra.DataDir, "node.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out []seal.WrappedKey
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("seal_keys"))
		if b == nil {
			return errors.New("no seal_keys bucket")
		}
		return b.ForEach(func(_, v []byte) error {
			var w seal.WrappedKey
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
	})
	_ = db.Close()
	if err != nil || len(out) == 0 {
		t.Fatalf("wrapped keys: %v (%d)", err, len(out))
	}
	restart(t, e.fra)
	return out
}

// keyringOf is a keyring holding n's real age identity and every wrapped key FRA made.
func keyringOf(t *testing.T, n *testnet.Node, wrapped []seal.WrappedKey) *seal.Keyring {
	t.Helper()
	id, err := identity.Load(n.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(n.State, id.Age, noDirectory{}, seal.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrapped {
		if err := ring.Import(w); err != nil {
			t.Fatal(err)
		}
	}
	return ring
}

type noDirectory struct{}

func (noDirectory) Recipient(state string) (age.Recipient, error) {
	return nil, fmt.Errorf("no recipient for %s", state)
}

func (noDirectory) EpochRecipient(state string, _ uint64) (age.Recipient, uint64, error) {
	return nil, 0, fmt.Errorf("no epoch recipient for %s", state)
}

// tamperAudit rewrites the rationale of the second audit entry in place.
func tamperAudit(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		var target *bbolt.Bucket
		_ = tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if strings.Contains(string(name), "audit") && b.Stats().KeyN > 2 && target == nil {
				target = b
			}
			return nil
		})
		if target == nil {
			return errors.New("no audit bucket")
		}
		c := target.Cursor()
		c.First()
		k, v := c.Next()
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		m["actor"] = "someone else"
		nv, _ := json.Marshal(m)
		return target.Put(bytes.Clone(k), nv)
	})
	if err != nil {
		t.Fatal(err)
	}
}
