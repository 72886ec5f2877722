package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/config"
)

// These tests run the administrative commands on a stopped node's data directory: no
// admin socket answers, so each command opens DATA/node.db itself. The online path over
// the admin socket is covered end to end in testnet/.

// verifyToken checks raw as a token of the node in dir, against the JWKS on disk and the
// node's audience.
func verifyToken(t *testing.T, dir, raw string) jws.Claims {
	t.Helper()
	ks, err := jws.ParseKeySet(readFile(t, filepath.Join(dir, "keys", "jwks.json")))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jws.ParseToken(raw, ks, node.Audience(id), time.Now())
	if err != nil {
		t.Fatalf("the issued token does not verify: %v\n%q", err, raw)
	}
	return c
}

// listTokens runs token list and decodes its output.
func listTokens(t *testing.T, dir string) map[string]access.Token {
	t.Helper()
	r := mustRun(t, nil, "token", "list", "--data", dir)
	out := readJSON[struct {
		Tokens []access.Token `json:"tokens"`
	}](t, r.stdout)
	m := map[string]access.Token{}
	for _, tok := range out.Tokens {
		m[tok.ID] = tok
	}
	if len(m) != len(out.Tokens) {
		t.Fatalf("token list repeats an id:\n%s", r.stdout)
	}
	return m
}

func TestTokenIssueOffline(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	start := time.Now().Add(-time.Second)

	r := mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer", "--subject", "alice", "--ttl", "8h", "--rationale", "new officer")
	raw := strings.TrimSuffix(r.stdout, "\n")
	if raw == "" || strings.ContainsAny(raw, " \n") {
		t.Fatalf("stdout is not one bare token: %q", r.stdout)
	}
	c := verifyToken(t, dir, raw)
	if c.Subject != "alice" || c.Role != "officer" {
		t.Errorf("claims sub %q role %q, want alice officer", c.Subject, c.Role)
	}
	if got := time.Duration(c.Expiry-c.IssuedAt) * time.Second; got != 8*time.Hour {
		t.Errorf("token lifetime %s, want 8h", got)
	}
	if c.IssuedAt < start.Unix() {
		t.Errorf("iat %d is before the command ran (%d)", c.IssuedAt, start.Unix())
	}
	if !strings.Contains(r.stderr, "issued "+c.ID+` for "alice", role officer`) {
		t.Errorf("stderr does not report the token:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, raw) {
		t.Error("the token itself is on stderr (it belongs on stdout only)")
	}

	// --json prints the token with its record; the subject defaults to the role.
	r = mustRun(t, nil, "token", "issue", "--data", dir, "--role", "analyst", "--json")
	out := readJSON[api.TokenResponse](t, r.stdout)
	c2 := verifyToken(t, dir, out.Token)
	if out.Info.ID != c2.ID || out.Info.Role != "analyst" || out.Info.Subject != "analyst" || c2.Subject != "analyst" {
		t.Errorf("--json info %+v does not describe the token (claims %+v)", out.Info, c2)
	}
	if got := out.Info.Expiry.Sub(out.Info.Issued); got != 24*time.Hour {
		t.Errorf("default lifetime %s, want 24h", got)
	}
	if c2.ID == c.ID {
		t.Error("two tokens share an id")
	}

	toks := listTokens(t, dir)
	if len(toks) != 2 {
		t.Fatalf("token list shows %d tokens, want 2: %v", len(toks), toks)
	}
	if a := toks[c.ID]; a.Subject != "alice" || a.Role != "officer" || a.Revoked != nil {
		t.Errorf("token list entry for %s: %+v", c.ID, a)
	}
	if strings.Contains(mustRun(t, nil, "token", "list", "--data", dir).stdout, raw) {
		t.Error("token list shows the token itself; only its record is kept")
	}
	assertNoSecrets(t, dir, r.stdout, r.stderr)
}

func TestTokenRevokeOffline(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	keep := readJSON[api.TokenResponse](t, mustRun(t, nil, "token", "issue", "--data", dir, "--role", "auditor", "--json").stdout).Info.ID
	gone := readJSON[api.TokenResponse](t, mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer", "--json").stdout).Info.ID

	r := mustRun(t, nil, "token", "revoke", "--data", dir, "--rationale", "left the agency", gone)
	if !strings.Contains(r.stderr, "revoked "+gone) {
		t.Errorf("stderr does not report the revocation:\n%s", r.stderr)
	}
	toks := listTokens(t, dir)
	if toks[gone].Revoked == nil {
		t.Errorf("token list does not show %s revoked: %+v", gone, toks[gone])
	}
	if toks[keep].Revoked != nil {
		t.Errorf("revoking %s also revoked %s", gone, keep)
	}
	if list := mustRun(t, nil, "token", "list", "--data", dir).stdout; !strings.Contains(list, `"revoked"`) {
		t.Errorf("token list output does not say revoked:\n%s", list)
	}

	r = runCLI(t, nil, "token", "revoke", "--data", dir, "TK-NO-SUCH-TOKEN")
	wantErr(t, r.err, "no token with that id")
	if strings.Contains(r.stderr, "revoked") {
		t.Errorf("a failed revocation reports success:\n%s", r.stderr)
	}
	wantUsage(t, runCLI(t, nil, "token", "revoke", "--data", dir).err, "exactly one token id")
	wantUsage(t, runCLI(t, nil, "token", "revoke", "--data", dir, keep, gone).err, "exactly one token id")
	if toks := listTokens(t, dir); len(toks) != 2 || toks[keep].Revoked != nil {
		t.Errorf("refused revocations changed the tokens: %v", toks)
	}
}

func TestTokenIssueRefused(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	// A lower token_max_ttl in the node's config file applies offline too.
	cfg := append(readFile(t, filepath.Join(dir, config.FileName)), "token_max_ttl: 12h\n"...)
	writeFile(t, filepath.Join(dir, config.FileName), cfg)

	for _, tc := range []struct {
		args  []string
		want  []string
		usage bool
	}{
		{args: []string{"--role", "king"}, want: []string{"role", `"king"`}},
		{args: []string{}, want: []string{"--role is required"}, usage: true},
		{args: []string{"--role", "officer", "--ttl", "13h"}, want: []string{"13h", "token_max_ttl", "12h"}},
		{args: []string{"--role", "officer", "--ttl", "60d"}, want: []string{"60d", "token_max_ttl"}},
		{args: []string{"--role", "officer", "--ttl", "-1h"}, want: []string{`"-1h"`, "at least one second"}},
		{args: []string{"--role", "officer", "--ttl", "soon"}, want: []string{`"soon"`}},
		{args: []string{"--role", "officer", "--colour", "red"}, want: []string{"colour"}, usage: true},
	} {
		r := runCLI(t, nil, append([]string{"token", "issue", "--data", dir}, tc.args...)...)
		wantErr(t, r.err, tc.want...)
		if got := errors.Is(r.err, errUsage); got != tc.usage {
			t.Errorf("token issue %v: usage error %v, want %v", tc.args, got, tc.usage)
		}
		if r.stdout != "" {
			t.Errorf("token issue %v: a refused issue printed %q", tc.args, r.stdout)
		}
	}
	// 12h is within the limit: the limit is the config's, not a stricter one.
	mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer", "--ttl", "12h")
	if toks := listTokens(t, dir); len(toks) != 1 {
		t.Errorf("token list shows %d tokens after one successful issue, want 1", len(toks))
	}
}

// The offline path must not turn a directory that holds no node into one.
func TestAdminOnMissingNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"token", "list", "--data", dir},
		{"token", "issue", "--data", dir, "--role", "officer"},
		{"token", "revoke", "--data", dir, "TK-1"},
		{"keys", "rotate", "--data", dir},
		{"audit", "verify", "--data", dir},
	} {
		wantErr(t, runCLI(t, nil, args...).err, "entente init")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("administrative commands left %d files in a directory without a node", len(entries))
	}
}

// A socket left behind by a node that stopped without cleaning up does not answer: the
// commands fall back to the database instead of failing or hanging.
func TestAdminStaleSocket(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, node.AdminSocket), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer")
	verifyToken(t, dir, strings.TrimSpace(r.stdout))
	if n := len(listTokens(t, dir)); n != 1 {
		t.Errorf("token list shows %d tokens, want 1", n)
	}
}

// With the database held by another process (a node whose admin socket is not up), the
// offline path says so instead of waiting for ever.
func TestAdminDatabaseInUse(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	db, err := node.OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := runCLI(t, nil, "token", "list", "--data", dir)
	if !errors.Is(r.err, node.ErrLocked) {
		t.Errorf("error %v, want node.ErrLocked", r.err)
	}
}

func TestKeysRotateOffline(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	before, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := before.Signer.KID()
	tok := strings.TrimSpace(mustRun(t, nil, "token", "issue", "--data", dir, "--role", "integrator").stdout)

	r := mustRun(t, nil, "keys", "rotate", "--data", dir, "--rationale", "yearly")
	m := regexp.MustCompile(`^signing key rotated: current (\S+), retired (\S+) \(still in the JWKS\)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout %q does not report the rotation", r.stdout)
	}
	newKID := m[1]
	if m[2] != oldKID || newKID == oldKID {
		t.Errorf("rotation reports current %s retired %s; the key before was %s", newKID, m[2], oldKID)
	}
	after, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Signer.KID() != newKID {
		t.Errorf("the node now signs with %s, the command said %s", after.Signer.KID(), newKID)
	}
	ks, err := jws.ParseKeySet(readFile(t, filepath.Join(dir, "keys", "jwks.json")))
	if err != nil {
		t.Fatal(err)
	}
	if kids := ks.KIDs(); len(kids) != 2 || !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKID) {
		t.Errorf("jwks.json kids %v, want %s and %s", kids, oldKID, newKID)
	}
	// A token signed before the rotation still verifies against the published JWKS.
	verifyToken(t, dir, tok)
	assertNoSecrets(t, dir, r.stdout, r.stderr)

	wantUsage(t, runCLI(t, nil, "keys", "rotate", "--data", dir, "now").err)
}

var intactRE = regexp.MustCompile(`^audit trail intact: (\d+) entries, head seq (\d+) hash ([0-9a-f]{64})\n$`)

func TestAuditVerifyOffline(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	r := mustRun(t, nil, "audit", "verify", "--data", dir)
	if r.stdout != "audit trail intact: 0 entries, head seq 0 hash \n" {
		t.Errorf("a new node's audit trail: %q", r.stdout)
	}

	first := readJSON[api.TokenResponse](t, mustRun(t, nil, "token", "issue", "--data", dir, "--role", "officer", "--json").stdout).Info.ID
	mustRun(t, nil, "token", "issue", "--data", dir, "--role", "auditor")
	mustRun(t, nil, "token", "revoke", "--data", dir, first)
	mustRun(t, nil, "keys", "rotate", "--data", dir)
	// Refused actions leave no entry.
	_ = runCLI(t, nil, "token", "issue", "--data", dir, "--role", "king")
	_ = runCLI(t, nil, "token", "revoke", "--data", dir, "TK-NO-SUCH-TOKEN")

	r = mustRun(t, nil, "audit", "verify", "--data", dir)
	m := intactRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != "4" || m[2] != "4" {
		t.Fatalf("audit verify after four actions: %q", r.stdout)
	}

	entries := auditEntries(t, dir)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.action)
		if e.actor != operatorOffline.Subject {
			t.Errorf("entry %d actor %q, want the offline operator", e.seq, e.actor)
		}
	}
	if want := []string{node.ActionTokenIssue, node.ActionTokenIssue, node.ActionTokenRevoke, node.ActionKeysRotate}; !slices.Equal(actions, want) {
		t.Errorf("audit actions %v, want %v", actions, want)
	}

	tamperActor(t, dir, 2, "someone else")
	r = runCLI(t, nil, "audit", "verify", "--data", dir)
	wantErr(t, r.err, "BROKEN", "seq 2")
	if strings.Contains(r.stdout, "intact") {
		t.Errorf("a tampered trail is reported intact: %q", r.stdout)
	}
}

func TestAuditVerifyNeedsSource(t *testing.T) {
	t.Parallel()
	wantUsage(t, runCLI(t, nil, "audit", "verify").err, "--token", "--data")
	wantUsage(t, runCLI(t, nil, "audit", "verify", "--bogus").err, "bogus")
	// With a token the API path is taken, which needs a node and keys to verify with.
	wantUsage(t, runCLI(t, map[string]string{"ENTENTE_TOKEN": "t"}, "audit", "verify").err, "--node")
}

// auditEntry is the part of a stored audit entry the tests look at.
type auditEntry struct {
	seq           uint64
	actor, action string
}

// auditBucket finds the bucket that holds the audit trail's JSON entries, without relying
// on the audit package's unexported layout beyond "its name contains audit".
func auditBucket(tx *bbolt.Tx) ([]byte, error) {
	var name []byte
	err := tx.ForEach(func(n []byte, b *bbolt.Bucket) error {
		if !bytes.Contains(n, []byte("audit")) {
			return nil
		}
		_, v := b.Cursor().First()
		var probe map[string]json.RawMessage
		if v != nil && json.Unmarshal(v, &probe) == nil && probe["actor"] != nil {
			name = append([]byte(nil), n...)
		}
		return nil
	})
	if err == nil && name == nil {
		err = errors.New("no audit bucket with JSON entries")
	}
	return name, err
}

func auditEntries(t *testing.T, dir string) []auditEntry {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, node.DBFile), 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []auditEntry
	err = db.View(func(tx *bbolt.Tx) error {
		name, err := auditBucket(tx)
		if err != nil {
			return err
		}
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			var e struct {
				Seq    uint64 `json:"seq"`
				Actor  string `json:"actor"`
				Action string `json:"action"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("entry %x: %w", k, err)
			}
			out = append(out, auditEntry{e.Seq, e.Actor, e.Action})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tamperActor rewrites the actor of audit entry seq in place, as someone with write
// access to the stopped node's file could.
func tamperActor(t *testing.T, dir string, seq uint64, actor string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, node.DBFile), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		name, err := auditBucket(tx)
		if err != nil {
			return err
		}
		b := tx.Bucket(name)
		var k []byte
		var e map[string]json.RawMessage
		if err := b.ForEach(func(key, v []byte) error {
			var m map[string]json.RawMessage
			var s uint64
			if json.Unmarshal(v, &m) == nil && json.Unmarshal(m["seq"], &s) == nil && s == seq {
				k, e = append([]byte(nil), key...), m
			}
			return nil
		}); err != nil {
			return err
		}
		if k == nil || e["actor"] == nil {
			return fmt.Errorf("no audit entry %d with an actor", seq)
		}
		e["actor"], _ = json.Marshal(actor)
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}
