package access_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/policy"
)

const audience = "entente:FRA:0123456789ab"

// t0 has a fractional second on purpose: Issue truncates to whole seconds, and the
// record, the token and the principal must agree on the result.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// keySource is the node's KeySource in miniature: the current signer and the set of
// every key it has signed with, swapped together on rotation.
type keySource struct {
	mu     sync.RWMutex
	signer *jws.Signer
	keys   *jws.KeySet
}

func newKeySource(s *jws.Signer) *keySource {
	ks := jws.NewKeySet()
	ks.Add(s.Public())
	return &keySource{signer: s, keys: ks}
}

func (k *keySource) Signer() *jws.Signer {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signer
}

func (k *keySource) KeySet() *jws.KeySet {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

// rotate makes s the signer and keeps trusting every earlier key, as the node does.
func (k *keySource) rotate(s *jws.Signer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys.Add(s.Public())
	k.signer = s
}

func newSigner(t *testing.T) *jws.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jws.NewSigner(priv)
}

func keySetOf(pubs ...ed25519.PublicKey) *jws.KeySet {
	ks := jws.NewKeySet()
	for _, p := range pubs {
		ks.Add(p)
	}
	return ks
}

// openDB opens (or reopens) the bbolt file at path with the registry's bucket.
func openDB(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(access.EnsureBuckets); err != nil {
		t.Fatal(err)
	}
	return db
}

func newRegistry(t *testing.T, db *bbolt.DB, aud string, keys access.KeySource) *access.Registry {
	t.Helper()
	var r *access.Registry
	if err := db.View(func(tx *bbolt.Tx) (err error) { r, err = access.NewRegistry(tx, aud, keys); return err }); err != nil {
		t.Fatal(err)
	}
	return r
}

type fixture struct {
	path string
	db   *bbolt.DB
	keys *keySource
	reg  *access.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "node.db"), keys: newKeySource(newSigner(t))}
	f.db = openDB(t, f.path)
	f.reg = newRegistry(t, f.db, audience, f.keys)
	return f
}

func (f *fixture) issue(t *testing.T, subject string, role policy.Role, ttl time.Duration, now time.Time) (string, access.Token) {
	t.Helper()
	var raw string
	var tok access.Token
	if err := f.db.Update(func(tx *bbolt.Tx) (err error) {
		raw, tok, err = f.reg.Issue(tx, subject, role, ttl, now)
		return err
	}); err != nil {
		t.Fatalf("Issue(%q, %q, %v): %v", subject, role, ttl, err)
	}
	return raw, tok
}

// revoke commits the revocation, then applies it in memory, in the order the node does.
func (f *fixture) revoke(t *testing.T, id string, now time.Time) access.Token {
	t.Helper()
	var tok access.Token
	if err := f.db.Update(func(tx *bbolt.Tx) (err error) { tok, err = f.reg.Revoke(tx, id, now); return err }); err != nil {
		t.Fatalf("Revoke(%s): %v", id, err)
	}
	f.reg.Revoked(id)
	return tok
}

func (f *fixture) list(t *testing.T) []access.Token {
	t.Helper()
	var ts []access.Token
	if err := f.db.View(func(tx *bbolt.Tx) (err error) { ts, err = access.List(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return ts
}

func mustAuthenticate(t *testing.T, r *access.Registry, raw string, now time.Time) access.Principal {
	t.Helper()
	p, err := r.Authenticate(raw, now)
	if err != nil {
		t.Fatalf("Authenticate at %s: %v", now.Format(time.RFC3339), err)
	}
	return p
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIssueRecordsTokenAndAuthenticates(t *testing.T) {
	f := newFixture(t)
	issued := map[string]access.Token{}
	raws := map[string]string{}
	for _, c := range []struct {
		subject string
		role    policy.Role
		ttl     time.Duration
	}{
		{"fra-integrator-1", policy.RoleIntegrator, time.Hour},
		{"analyst@douane.fr", policy.RoleAnalyst, 24 * time.Hour},
		{strings.Repeat("s", 128), policy.RoleOperator, time.Minute}, // longest subject accepted
	} {
		raw, tok := f.issue(t, c.subject, c.role, c.ttl, t0)
		issuedAt := t0.Truncate(time.Second)
		if !strings.HasPrefix(tok.ID, "tok_") || tok.Subject != c.subject || tok.Role != c.role ||
			!tok.Issued.Equal(issuedAt) || !tok.Expiry.Equal(issuedAt.Add(c.ttl)) || tok.Revoked != nil {
			t.Fatalf("Issue(%q) record = %+v", c.subject, tok)
		}
		if _, dup := issued[tok.ID]; dup {
			t.Fatalf("token id %s issued twice", tok.ID)
		}
		issued[tok.ID], raws[tok.ID] = tok, raw

		p := mustAuthenticate(t, f.reg, raw, t0)
		want := access.Principal{TokenID: tok.ID, Subject: c.subject, Role: c.role, Expiry: tok.Expiry}
		if p.TokenID != want.TokenID || p.Subject != want.Subject || p.Role != want.Role || !p.Expiry.Equal(want.Expiry) {
			t.Fatalf("principal %+v, want %+v", p, want)
		}
	}

	listed := f.list(t)
	if len(listed) != len(issued) {
		t.Fatalf("List has %d tokens, want %d", len(listed), len(issued))
	}
	for _, got := range listed {
		want, ok := issued[got.ID]
		if !ok || got.Subject != want.Subject || got.Role != want.Role || !got.Issued.Equal(want.Issued) ||
			!got.Expiry.Equal(want.Expiry) || got.Revoked != nil {
			t.Errorf("List entry %+v, issued %+v", got, want)
		}
	}

	// The registry keeps ids, never tokens: neither a token nor its signature (in either
	// form) may be anywhere in the file, while the ids are, which shows the search looks
	// at the right bytes.
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for id, raw := range raws {
		if !bytes.Contains(file, []byte(id)) {
			t.Fatalf("token id %s not found in the database file", id)
		}
		sigSeg := raw[strings.LastIndexByte(raw, '.')+1:]
		sig, err := base64.RawURLEncoding.DecodeString(sigSeg)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string][]byte{"token": []byte(raw), "signature segment": []byte(sigSeg), "signature": sig} {
			if bytes.Contains(file, secret) {
				t.Errorf("the database file holds the %s of %s", name, id)
			}
		}
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	// Each refusal names the field at fault: the API passes the message on to the operator.
	cases := map[string]struct {
		subject string
		role    policy.Role
		ttl     time.Duration
		names   string
	}{
		"unknown role":        {"svc", "admin", time.Hour, "role"},
		"empty role":          {"svc", "", time.Hour, "role"},
		"role wrong case":     {"svc", "Operator", time.Hour, "role"},
		"empty subject":       {"", policy.RoleAnalyst, time.Hour, "subject"},
		"oversized subject":   {strings.Repeat("s", 129), policy.RoleAnalyst, time.Hour, "subject"},
		"oversized multibyte": {strings.Repeat("é", 65), policy.RoleAnalyst, time.Hour, "subject"}, // 130 bytes
		"zero ttl":            {"svc", policy.RoleAnalyst, 0, "ttl"},
		"negative ttl":        {"svc", policy.RoleAnalyst, -time.Hour, "ttl"},
		"most negative ttl":   {"svc", policy.RoleAnalyst, time.Duration(-1 << 63), "ttl"},
		"ttl under a second":  {"svc", policy.RoleAnalyst, 500 * time.Millisecond, "ttl"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			var raw string
			var issueErr error
			// Commit whatever Issue did, so that a write before the refusal would show.
			if err := f.db.Update(func(tx *bbolt.Tx) error {
				raw, _, issueErr = f.reg.Issue(tx, c.subject, c.role, c.ttl, t0)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if issueErr == nil || raw != "" {
				t.Fatalf("Issue = %q, %v; want a refusal", raw, issueErr)
			}
			if !strings.Contains(issueErr.Error(), c.names) {
				t.Errorf("refusal %q does not name %s", issueErr, c.names)
			}
			if ts := f.list(t); len(ts) != 0 {
				t.Fatalf("a refused Issue recorded %+v", ts)
			}
		})
	}
}

// A token's exp is in whole seconds; the record must not promise a longer life than the
// token has.
func TestIssueFractionalTTL(t *testing.T) {
	f := newFixture(t)
	raw, tok := f.issue(t, "svc", policy.RoleAnalyst, 1500*time.Millisecond, t0)
	p := mustAuthenticate(t, f.reg, raw, t0)
	if !tok.Expiry.Equal(p.Expiry) {
		t.Fatalf("record expiry %s, token expiry %s", tok.Expiry, p.Expiry)
	}
	if want := t0.Truncate(time.Second).Add(time.Second); !tok.Expiry.Equal(want) {
		t.Fatalf("expiry %s, want %s", tok.Expiry, want)
	}
	_, err := f.reg.Authenticate(raw, tok.Expiry)
	wantErr(t, err, jws.ErrExpired)
}

func TestRevokeOverridesCache(t *testing.T) {
	f := newFixture(t)
	raw, tok := f.issue(t, "svc-a", policy.RoleIntegrator, time.Hour, t0)
	other, _ := f.issue(t, "svc-b", policy.RoleIntegrator, time.Hour, t0)
	mustAuthenticate(t, f.reg, raw, t0) // now cached
	mustAuthenticate(t, f.reg, other, t0)

	revokedAt := t0.Add(time.Minute)
	got := f.revoke(t, tok.ID, revokedAt)
	if got.ID != tok.ID || got.Revoked == nil || !got.Revoked.Equal(revokedAt) {
		t.Fatalf("Revoke returned %+v", got)
	}
	_, err := f.reg.Authenticate(raw, t0.Add(2*time.Minute))
	wantErr(t, err, access.ErrRevoked)
	mustAuthenticate(t, f.reg, other, t0.Add(2*time.Minute)) // revocation is per token

	// Revoking again keeps the first revocation time and changes nothing else.
	again := f.revoke(t, tok.ID, t0.Add(time.Hour/2))
	if again.Revoked == nil || !again.Revoked.Equal(revokedAt) {
		t.Fatalf("second Revoke returned %+v, want the first revocation time %s", again, revokedAt)
	}
	_, err = f.reg.Authenticate(raw, t0.Add(2*time.Minute))
	wantErr(t, err, access.ErrRevoked)
	for _, lt := range f.list(t) {
		switch lt.ID {
		case tok.ID:
			if lt.Revoked == nil || !lt.Revoked.Equal(revokedAt) {
				t.Errorf("List shows the revoked token as %+v", lt)
			}
		default:
			if lt.Revoked != nil {
				t.Errorf("List shows a token that was not revoked as %+v", lt)
			}
		}
	}
}

func TestRevokeUnknownToken(t *testing.T) {
	f := newFixture(t)
	raw, _ := f.issue(t, "svc", policy.RoleAnalyst, time.Hour, t0)
	before := f.list(t)
	for _, id := range []string{"tok_doesnotexist", "", "../tokens"} {
		err := f.db.Update(func(tx *bbolt.Tx) error {
			_, err := f.reg.Revoke(tx, id, t0)
			return err
		})
		wantErr(t, err, access.ErrUnknownToken)
	}
	if after := f.list(t); len(after) != len(before) || after[0].Revoked != nil {
		t.Fatalf("List after refused revocations: %+v", after)
	}
	mustAuthenticate(t, f.reg, raw, t0)
}

func TestRevocationSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	raw, tok := f.issue(t, "svc-a", policy.RoleOfficer, time.Hour, t0)
	kept, _ := f.issue(t, "svc-b", policy.RoleOfficer, time.Hour, t0)
	f.revoke(t, tok.ID, t0)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}

	db := openDB(t, f.path)
	reg := newRegistry(t, db, audience, f.keys)
	_, err := reg.Authenticate(raw, t0.Add(time.Second))
	wantErr(t, err, access.ErrRevoked)
	mustAuthenticate(t, reg, kept, t0.Add(time.Second))
}

func TestNewRegistryNeedsBucket(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "bare.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.View(func(tx *bbolt.Tx) error {
		_, err := access.NewRegistry(tx, audience, newKeySource(newSigner(t)))
		return err
	})
	if err == nil {
		t.Fatal("NewRegistry without the tokens bucket succeeded")
	}
}

// A verified token is cached, but the cache must never let it outlive its exp.
func TestExpiryNotOutlivedByCache(t *testing.T) {
	f := newFixture(t)
	const ttl = time.Hour
	raw, tok := f.issue(t, "svc", policy.RoleAnalyst, ttl, t0)
	mustAuthenticate(t, f.reg, raw, t0) // cached from here on
	mustAuthenticate(t, f.reg, raw, tok.Expiry.Add(-time.Second))
	for _, at := range []time.Time{tok.Expiry, tok.Expiry.Add(time.Millisecond), tok.Expiry.Add(ttl)} {
		_, err := f.reg.Authenticate(raw, at)
		wantErr(t, err, jws.ErrExpired)
	}
	if want := t0.Truncate(time.Second).Add(ttl); !tok.Expiry.Equal(want) {
		t.Fatalf("expiry %s, want %s", tok.Expiry, want)
	}

	// The uncached path refuses it at the same instant.
	fresh := newRegistry(t, f.db, audience, f.keys)
	_, err := fresh.Authenticate(raw, tok.Expiry)
	wantErr(t, err, jws.ErrExpired)
}

func TestAuthenticateRefuses(t *testing.T) {
	f := newFixture(t)
	raw, _ := f.issue(t, "svc", policy.RoleIntegrator, time.Hour, t0)
	mustAuthenticate(t, f.reg, raw, t0) // cached: none of the refusals below may hit it

	stranger := newSigner(t)
	strangerToken, err := stranger.IssueToken(jws.Claims{
		ID: "tok_stranger", Issuer: audience, Subject: "svc", Audience: audience, Role: string(policy.RoleOperator),
		IssuedAt: t0.Unix(), NotBefore: t0.Unix(), Expiry: t0.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Our own key, but a role Issue would never grant.
	badRole, err := f.keys.Signer().IssueToken(jws.Claims{
		ID: "tok_badrole", Issuer: audience, Subject: "svc", Audience: audience, Role: "root",
		IssuedAt: t0.Unix(), NotBefore: t0.Unix(), Expiry: t0.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The genuine token with its role raised in the payload, signature unchanged.
	h, rest, _ := strings.Cut(raw, ".")
	payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.DecodeString(payloadSeg)
	if err != nil {
		t.Fatal(err)
	}
	raised := bytes.Replace(payload, []byte(`"integrator"`), []byte(`"operator"`), 1)
	if bytes.Equal(raised, payload) {
		t.Fatalf("payload %s has no integrator role to replace", payload)
	}
	escalated := h + "." + base64.RawURLEncoding.EncodeToString(raised) + "." + sigSeg

	cases := map[string]struct {
		raw  string
		want error
	}{
		"empty":              {"", access.ErrNoToken},
		"oversized":          {raw + strings.Repeat("A", jws.MaxTokenBytes), jws.ErrMalformed},
		"garbage":            {"not-a-token", jws.ErrMalformed},
		"signed by stranger": {strangerToken, jws.ErrUnknownKey},
		"unknown role":       {badRole, jws.ErrMalformed},
		"payload altered":    {escalated, jws.ErrSignature},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := f.reg.Authenticate(c.raw, t0)
			wantErr(t, err, c.want)
			if p != (access.Principal{}) {
				t.Fatalf("refused token yielded principal %+v", p)
			}
		})
	}

	t.Run("other audience", func(t *testing.T) {
		// Same keys, same database: only the audience differs, as for another node.
		other := newRegistry(t, f.db, "entente:DEU:ba9876543210", f.keys)
		_, err := other.Authenticate(raw, t0)
		wantErr(t, err, jws.ErrAudience)
	})
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	a := f.keys.Signer()
	rawA, tokA := f.issue(t, "before-rotation", policy.RoleAnalyst, time.Hour, t0)

	b := newSigner(t)
	f.keys.rotate(b)
	rawB, tokB := f.issue(t, "after-rotation", policy.RoleAnalyst, time.Hour, t0)

	// Each token is signed by the key that was current when it was issued.
	if _, err := jws.ParseToken(rawA, keySetOf(a.Public()), audience, t0); err != nil {
		t.Fatalf("token issued before rotation is not signed by key A: %v", err)
	}
	if _, err := jws.ParseToken(rawB, keySetOf(b.Public()), audience, t0); err != nil {
		t.Fatalf("token issued after rotation is not signed by key B: %v", err)
	}
	// Neither was authenticated before, so both go through the signature check.
	if p := mustAuthenticate(t, f.reg, rawA, t0); p.TokenID != tokA.ID {
		t.Fatalf("token A authenticated as %+v", p)
	}
	if p := mustAuthenticate(t, f.reg, rawB, t0); p.TokenID != tokB.ID {
		t.Fatalf("token B authenticated as %+v", p)
	}
	// A node restarted after the rotation still accepts the old key's tokens.
	restarted := newRegistry(t, f.db, audience, f.keys)
	mustAuthenticate(t, restarted, rawA, t0)
}

// Many goroutines authenticate a token while it is revoked. Every call that starts after
// Revoked has returned must be refused; calls before may go either way.
func TestConcurrentAuthenticateAndRevoke(t *testing.T) {
	f := newFixture(t)
	victim, tok := f.issue(t, "victim", policy.RoleOfficer, time.Hour, t0)
	bystander, _ := f.issue(t, "bystander", policy.RoleOfficer, time.Hour, t0)

	var (
		applied                 atomic.Bool
		stop                    atomic.Bool
		okBefore, refusedAfter  atomic.Int64
		violations, unexpecteds atomic.Int64
		firstProblem            sync.Once
		problem                 string
		wg                      sync.WaitGroup
	)
	report := func(s string) { firstProblem.Do(func() { problem = s }) }
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				after := applied.Load()
				_, err := f.reg.Authenticate(victim, t0)
				switch {
				case err == nil && after:
					violations.Add(1)
					report("a revoked token authenticated")
				case err == nil:
					okBefore.Add(1)
				case errors.Is(err, access.ErrRevoked):
					if after {
						refusedAfter.Add(1)
					}
				default:
					unexpecteds.Add(1)
					report("victim: " + err.Error())
				}
				if _, err := f.reg.Authenticate(bystander, t0); err != nil {
					unexpecteds.Add(1)
					report("bystander: " + err.Error())
				}
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	waitFor(t, "authentications before the revocation", func() bool { return okBefore.Load() >= 200 })
	f.revoke(t, tok.ID, t0)
	applied.Store(true)
	waitFor(t, "refusals after the revocation", func() bool { return refusedAfter.Load() >= 200 })
	stop.Store(true)
	wg.Wait()

	if violations.Load() != 0 || unexpecteds.Load() != 0 {
		t.Fatalf("%d revoked tokens accepted, %d unexpected errors; first: %s", violations.Load(), unexpecteds.Load(), problem)
	}
}
