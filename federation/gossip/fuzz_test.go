package gossip

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecodeMeta feeds arbitrary bytes to the metadata decoder and verifier, the code
// that reads what any gossip key holder announces. Seeds are in testdata/fuzz: a genuine
// blob signed with testPriv(1) and hostile variants of it. Whatever the input, nothing
// panics; anything accepted is canonical (re-framing gives back the same bytes) and
// valid; and verification either accepts exactly the genuine signer or refuses.
func FuzzDecodeMeta(f *testing.F) {
	priv := testPriv(1)
	r := newTestRoster()
	r.set("FRA", priv.Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, body, sig, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, errMalformedMeta) {
				t.Fatalf("error without errMalformedMeta: %v", err)
			}
			if len(err.Error()) > 512 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("accepted an invalid Meta: %v", err)
		}
		again, err := frameMeta(body, sig)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical blob: %v", err)
		}
		v, err := verifyMeta(r, m.State, b)
		if err == nil && (m.State != "FRA" || v != m) {
			t.Fatalf("verified %+v as %+v", m, v)
		}
	})
}

// TestFuzzSeedGenuine keeps the genuine seed genuine, so that fuzzing starts from an
// input that passes every check and explores the accepting path as well.
func TestFuzzSeedGenuine(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeMeta", "genuine"))
	if err != nil {
		t.Fatal(err)
	}
	_, lit, ok := strings.Cut(strings.TrimSpace(string(raw)), "\n[]byte(")
	if !ok {
		t.Fatalf("seed is not in the go test fuzz v1 format")
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRoster()
	r.set("FRA", testPriv(1).Public().(ed25519.PublicKey))
	if m, err := verifyMeta(r, "FRA", []byte(s)); err != nil || m != testMeta("FRA", 0) {
		t.Fatalf("genuine seed: %+v %v", m, err)
	}
}
