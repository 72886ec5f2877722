package gossip

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/entente/entente/crypto/jws"
	"github.com/hashicorp/memberlist"
)

func mustEncode(t *testing.T, m Meta, priv ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := encodeMeta(m, jws.NewSigner(priv))
	if err != nil {
		t.Fatalf("encodeMeta: %v", err)
	}
	return b
}

// frameRaw assembles a blob without any check, the way a hostile peer would.
func frameRaw(format byte, n int, body []byte, sig string) []byte {
	out := []byte{format, 0, 0}
	binary.BigEndian.PutUint16(out[1:], uint16(n))
	out = append(out, body...)
	return append(out, sig...)
}

func TestMetaRoundTrip(t *testing.T) {
	priv := testPriv(1)
	m := testMeta("FRA", 0)
	blob := mustEncode(t, m, priv)
	got, body, sig, err := decodeMeta(blob)
	if err != nil {
		t.Fatalf("decodeMeta: %v", err)
	}
	if got != m {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
	want := `{"state":"FRA","api_url":"https://127.0.0.1:8400/entente","raft_addr":"127.0.0.1:9400","version":"1.0.0"}`
	if string(body) != want {
		t.Fatalf("meta JSON %s, want %s", body, want)
	}
	again, err := frameMeta(body, sig)
	if err != nil || !bytes.Equal(again, blob) {
		t.Fatalf("re-framing differs: %v", err)
	}
	r := newTestRoster()
	r.set("FRA", priv.Public().(ed25519.PublicKey))
	if v, err := verifyMeta(r, "FRA", blob); err != nil || v != m {
		t.Fatalf("verifyMeta = %+v, %v", v, err)
	}
}

// TestLargestMetaFits: every Meta that validates, with an Ed25519 signature, fits in
// memberlist's limit, so UpdateMeta can never hit memberlist's panic.
func TestLargestMetaFits(t *testing.T) {
	api := "https://" + strings.Repeat("a", MaxAPIURL-len("https://")-len(":65535")) + ":65535"
	raft := strings.Repeat("b", MaxRaftAddr-len(":65535")) + ":65535"
	m := Meta{State: "FRA", APIURL: api, RaftAddr: raft, Version: strings.Repeat("9", MaxVersion)}
	if err := m.validate(); err != nil {
		t.Fatalf("largest Meta invalid: %v", err)
	}
	blob := mustEncode(t, m, testPriv(1))
	t.Logf("largest metadata: %d of %d bytes", len(blob), memberlist.MetaMaxSize)
	if len(blob) > memberlist.MetaMaxSize {
		t.Fatalf("%d bytes", len(blob))
	}
	if got, _, _, err := decodeMeta(blob); err != nil || got != m {
		t.Fatalf("decode largest: %+v %v", got, err)
	}
	n := newNode("FRA", newTestRoster(), slog.New(slog.DiscardHandler))
	n.setBlob(blob)
	if got := n.NodeMeta(memberlist.MetaMaxSize); !bytes.Equal(got, blob) {
		t.Fatalf("NodeMeta changed the blob")
	}
	if got := n.NodeMeta(len(blob) - 1); got != nil {
		t.Fatalf("NodeMeta above the limit returned %d bytes", len(got))
	}
}

func TestMetaValidate(t *testing.T) {
	ok := testMeta("FRA", 0)
	cases := []struct {
		name  string
		edit  func(*Meta)
		field string
	}{
		{"lower-case state", func(m *Meta) { m.State = "fra" }, "Meta.State"},
		{"alpha-2 state", func(m *Meta) { m.State = "FR" }, "Meta.State"},
		{"empty api", func(m *Meta) { m.APIURL = "" }, "Meta.APIURL"},
		{"ftp api", func(m *Meta) { m.APIURL = "ftp://h/x" }, "Meta.APIURL"},
		{"relative api", func(m *Meta) { m.APIURL = "/api" }, "Meta.APIURL"},
		{"user info", func(m *Meta) { m.APIURL = "https://u:p@h/" }, "Meta.APIURL"},
		{"query", func(m *Meta) { m.APIURL = "https://h/?a=1" }, "Meta.APIURL"},
		{"fragment", func(m *Meta) { m.APIURL = "https://h/#f" }, "Meta.APIURL"},
		{"space", func(m *Meta) { m.APIURL = "https://h/a b" }, "Meta.APIURL"},
		{"escape char", func(m *Meta) { m.APIURL = "https://h/<x>" }, "Meta.APIURL"},
		{"long api", func(m *Meta) { m.APIURL = "https://" + strings.Repeat("a", MaxAPIURL) }, "Meta.APIURL"},
		{"no port", func(m *Meta) { m.RaftAddr = "10.0.0.1" }, "Meta.RaftAddr"},
		{"port 0", func(m *Meta) { m.RaftAddr = "10.0.0.1:0" }, "Meta.RaftAddr"},
		{"port too big", func(m *Meta) { m.RaftAddr = "10.0.0.1:65536" }, "Meta.RaftAddr"},
		{"signed port", func(m *Meta) { m.RaftAddr = "10.0.0.1:+80" }, "Meta.RaftAddr"},
		{"no host", func(m *Meta) { m.RaftAddr = ":9000" }, "Meta.RaftAddr"},
		{"empty version", func(m *Meta) { m.Version = "" }, "Meta.Version"},
		{"control char", func(m *Meta) { m.Version = "1\n2" }, "Meta.Version"},
		{"non-ASCII", func(m *Meta) { m.Version = "1.0-é" }, "Meta.Version"},
		{"long version", func(m *Meta) { m.Version = strings.Repeat("1", MaxVersion+1) }, "Meta.Version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ok
			c.edit(&m)
			err := m.validate()
			if err == nil || !strings.HasPrefix(err.Error(), c.field+":") {
				t.Fatalf("validate = %v, want an error naming %s", err, c.field)
			}
			if _, err := encodeMeta(m, jws.NewSigner(testPriv(1))); err == nil {
				t.Fatalf("encodeMeta accepted it")
			}
		})
	}
	if _, err := encodeMeta(ok, jws.NewSigner(ed25519.PrivateKey{1, 2, 3})); err == nil || !strings.Contains(err.Error(), "Signer") {
		t.Fatalf("broken signer: %v", err)
	}
}

// TestDecodeMetaRefuses feeds decodeMeta what a hostile key holder could announce.
func TestDecodeMetaRefuses(t *testing.T) {
	blob := mustEncode(t, testMeta("FRA", 0), testPriv(1))
	_, body, sig, err := decodeMeta(blob)
	if err != nil {
		t.Fatal(err)
	}
	reframe := func(b []byte) []byte { return frameRaw(metaFormat, len(b), b, sig) }
	swap := func(old, new string) []byte {
		return reframe([]byte(strings.Replace(string(body), old, new, 1)))
	}
	cases := map[string][]byte{
		"nil":              nil,
		"one byte":         {metaFormat},
		"header only":      {metaFormat, 0, 0},
		"oversized":        append(bytes.Clone(blob), bytes.Repeat([]byte{'A'}, memberlist.MetaMaxSize)...),
		"format 2":         frameRaw(2, len(body), body, sig),
		"format 0":         frameRaw(0, len(body), body, sig),
		"length 0":         frameRaw(metaFormat, 0, body, sig),
		"length too long":  frameRaw(metaFormat, 0xffff, body, sig),
		"no signature":     frameRaw(metaFormat, len(body), body, ""),
		"length off by 1":  frameRaw(metaFormat, len(body)-1, body, sig),
		"space":            swap(`{"state"`, `{ "state"`),
		"trailing":         reframe(append(bytes.Clone(body), ' ')),
		"two objects":      reframe(append(bytes.Clone(body), body...)),
		"member order":     reframe([]byte(`{"api_url":"https://127.0.0.1:8400/entente","state":"FRA","raft_addr":"127.0.0.1:9400","version":"1.0.0"}`)),
		"duplicate member": swap(`{"state":"FRA",`, `{"state":"DEU","state":"FRA",`),
		"case-folded":      swap(`"state"`, `"STATE"`),
		"unknown member":   swap(`{"state"`, `{"admin":true,"state"`),
		"escaped":          swap(`"FRA"`, `"\u0046RA"`),
		"missing member":   reframe([]byte(`{"state":"FRA","api_url":"https://h/","raft_addr":"h:1"}`)),
		"null":             reframe([]byte(`null`)),
		"array":            reframe([]byte(`["FRA"]`)),
		"number state":     swap(`"FRA"`, `7`),
		"invalid field":    swap(`"FRA"`, `"fra"`),
		"not JSON":         reframe([]byte(`\x00\x01\x02`)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if m, _, _, err := decodeMeta(b); !errors.Is(err, errMalformedMeta) {
				t.Fatalf("decodeMeta = %+v, %v; want errMalformedMeta", m, err)
			}
			if _, err := verifyMeta(newTestRoster(), "FRA", b); !errors.Is(err, errMalformedMeta) {
				t.Fatalf("verifyMeta = %v", err)
			}
		})
	}
}

func TestVerifyMeta(t *testing.T) {
	priv, other := testPriv(1), testPriv(2)
	r := newTestRoster()
	r.set("FRA", priv.Public().(ed25519.PublicKey))
	r.set("DEU", other.Public().(ed25519.PublicKey))
	m := testMeta("FRA", 0)
	blob := mustEncode(t, m, priv)
	_, body, sig, _ := decodeMeta(blob)

	check := func(name string, r Roster, node string, b []byte, want error) {
		t.Helper()
		got, err := verifyMeta(r, node, b)
		if !errors.Is(err, want) {
			t.Fatalf("%s: verifyMeta = %v, want %v", name, err, want)
		}
		if err != nil && !errors.Is(err, errMalformedMeta) && got.State == "" {
			t.Fatalf("%s: the claimed Meta should still be reported", name)
		}
	}
	check("genuine", r, "FRA", blob, nil)
	check("another name", r, "DEU", blob, errNameMismatch)
	check("signed by DEU's key", r, "FRA", mustEncode(t, m, other), errSignature)
	check("signed by an unknown key", r, "FRA", mustEncode(t, m, testPriv(3)), errSignature)

	tampered := []byte(strings.Replace(string(body), "8400", "8401", 1))
	check("tampered", r, "FRA", frameRaw(metaFormat, len(tampered), tampered, sig), errSignature)

	// A detached signature over the bare JSON is what an API response signature looks
	// like; without the gossip context it must not verify, and the gossip signature must
	// not verify as a response signature.
	bare, err := jws.NewSigner(priv).Detached(body)
	if err != nil {
		t.Fatal(err)
	}
	check("signature without context", r, "FRA", frameRaw(metaFormat, len(body), body, bare), errSignature)
	ks, _ := r.SigningKeys("FRA")
	if _, err := jws.VerifyDetached(ks, body, sig); err == nil {
		t.Fatalf("gossip signature verified as a signature over the bare JSON")
	}

	r.remove("FRA")
	check("removed from the roster", r, "FRA", blob, errNotOnRoster)
	nilKeys := rosterFunc(func(string) (*jws.KeySet, bool) { return nil, true })
	check("nil key set", nilKeys, "FRA", blob, errNotOnRoster)

	// Rotation: the roster lists the new key and keeps the retired one.
	rotated := testPriv(4)
	r.set("FRA", rotated.Public().(ed25519.PublicKey), priv.Public().(ed25519.PublicKey))
	check("old key after rotation", r, "FRA", blob, nil)
	check("new key after rotation", r, "FRA", mustEncode(t, m, rotated), nil)
}

type rosterFunc func(string) (*jws.KeySet, bool)

func (f rosterFunc) SigningKeys(s string) (*jws.KeySet, bool) { return f(s) }

func TestShown(t *testing.T) {
	if got := shown("FRA"); got != "FRA" {
		t.Fatalf("shown(FRA) = %q", got)
	}
	long := strings.Repeat("é", 100)
	got := shown(long)
	if len(got) > maxNameShown+3 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Fatalf("shown(long) = %q", got)
	}
}
