package jws_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/entente/entente/crypto/jws"
)

func BenchmarkDetached(b *testing.B) {
	s := jws.NewSigner(fixedKey(1))
	for _, n := range []int{64, 4096} {
		body := make([]byte, n)
		name := strconv.Itoa(n) + "B"
		if n >= 1024 {
			name = strconv.Itoa(n/1024) + "KiB"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Detached(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGoJoseDetachedBaseline signs the same 64-byte body through go-jose's signer:
// the overhead Detached avoids by assembling the JWS itself (see the package doc).
func BenchmarkGoJoseDetachedBaseline(b *testing.B) {
	s := jws.NewSigner(fixedKey(1))
	gs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: fixedKey(1), KeyID: s.KID()}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		obj, err := gs.Sign(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := obj.DetachedCompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDetached(b *testing.B) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public(), fixedKey(2).Public().(ed25519.PublicKey))
	body := make([]byte, 4096)
	sig, _ := s.Detached(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.VerifyDetached(ks, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseToken(b *testing.B) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	raw, _ := s.IssueToken(validClaims(testNow))
	now := time.Unix(testNow, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.ParseToken(raw, ks, testAudience, now); err != nil {
			b.Fatal(err)
		}
	}
}

// The seeds in testdata/fuzz include valid signatures and tokens made with fixedKey(1) at
// testNow; if either changed they would silently turn into refusals and the fuzzers would
// stop exercising the acceptance path. This keeps them honest.
func TestFuzzSeedsStillValid(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	tok := seedArgs(t, "FuzzParseToken", "valid")
	if _, err := jws.ParseToken(tok[0], ks, testAudience, time.Unix(testNow, 0)); err != nil {
		t.Fatalf("FuzzParseToken/valid no longer accepted: %v", err)
	}
	expired := seedArgs(t, "FuzzParseToken", "expired")
	_, err := jws.ParseToken(expired[0], ks, testAudience, time.Unix(testNow, 0))
	wantErr(t, err, jws.ErrExpired)
	for _, name := range []string{"valid", "valid-empty", "typ-jose"} {
		d := seedArgs(t, "FuzzVerifyDetached", name)
		if _, err := jws.VerifyDetached(ks, []byte(d[0]), d[1]); err != nil {
			t.Fatalf("FuzzVerifyDetached/%s no longer accepted: %v", name, err)
		}
	}
}

// seedArgs reads a corpus file of []byte and string arguments written in Go syntax.
func seedArgs(t *testing.T, target, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "go test fuzz v1" {
		t.Fatalf("%s/%s: header %q", target, name, lines[0])
	}
	var args []string
	for _, l := range lines[1:] {
		l = strings.TrimPrefix(strings.TrimPrefix(l, "[]byte("), "string(")
		v, err := strconv.Unquote(strings.TrimSuffix(l, ")"))
		if err != nil {
			t.Fatalf("%s/%s: %v", target, name, err)
		}
		args = append(args, v)
	}
	return args
}
