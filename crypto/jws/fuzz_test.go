package jws_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/crypto/jws"
)

// The fuzz targets use fixedKey(1) and testNow so that the seeds in testdata/fuzz, which
// include valid signatures and tokens, stay valid.

// FuzzVerifyDetached checks that VerifyDetached never panics, refuses only with a
// documented sentinel, accepts only what an independent Ed25519 check also accepts, and
// always accepts the Signer's own signature over any body.
func FuzzVerifyDetached(f *testing.F) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		kid, err := jws.VerifyDetached(ks, body, sig)
		if err != nil {
			if !isAny(err, sentinels...) {
				t.Fatalf("error without a sentinel: %v", err)
			}
		} else {
			if kid != s.KID() {
				t.Fatalf("accepted with kid %q", kid)
			}
			h, rest, _ := strings.Cut(sig, ".")
			sigSeg, ok := strings.CutPrefix(rest, ".")
			if !ok {
				t.Fatalf("accepted a non-detached form %q", sig)
			}
			raw, err := b64Decode(sigSeg)
			if err != nil || !ed25519.Verify(s.Public(), []byte(h+"."+enc(body)), raw) {
				t.Fatalf("accepted %q, which an independent Ed25519 check refuses", sig)
			}
			hdr, _ := b64Decode(h)
			var m map[string]any
			if json.Unmarshal(hdr, &m) != nil || m["alg"] != "EdDSA" || m["kid"] != s.KID() {
				t.Fatalf("accepted header %s", hdr)
			}
		}
		own, err := s.Detached(body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.VerifyDetached(ks, body, own); err != nil {
			t.Fatalf("own signature over %q refused: %v", body, err)
		}
	})
}

// FuzzParseToken checks that ParseToken never panics, refuses only with a documented
// sentinel, and that whatever it accepts is independently a valid EdDSA signature by the
// trusted key over claims that meet every rule.
func FuzzParseToken(f *testing.F) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	now := time.Unix(testNow, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := jws.ParseToken(raw, ks, testAudience, now)
		if err != nil {
			if !isAny(err, sentinels...) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || len(raw) > jws.MaxTokenBytes {
			t.Fatalf("accepted a token of %d segments, %d bytes", len(parts), len(raw))
		}
		sig, err := b64Decode(parts[2])
		if err != nil || !ed25519.Verify(s.Public(), []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted %q, which an independent Ed25519 check refuses", raw)
		}
		if c.Audience != testAudience || c.ID == "" || c.Expiry <= testNow || c.NotBefore > testNow {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
