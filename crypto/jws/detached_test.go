package jws_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/entente/entente/crypto/jws"
)

func bodies() map[string][]byte {
	big := make([]byte, 4096)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return map[string][]byte{
		"nil":    nil,
		"empty":  {},
		"json":   []byte(`{"alerts":[{"id":"a1","kind":"listing"}],"cursor":"c42"}`),
		"binary": {0, 0xff, '.', '\n', 0x80},
		"4KiB":   big,
	}
}

func TestDetachedRoundTrip(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	for name, body := range bodies() {
		t.Run(name, func(t *testing.T) {
			sig, err := s.Detached(body)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(sig, ".")
			if len(parts) != 3 || parts[1] != "" {
				t.Fatalf("Detached = %q, want <protected>..<sig>", sig)
			}
			if want := enc([]byte(`{"alg":"EdDSA","kid":"` + s.KID() + `"}`)); parts[0] != want {
				t.Fatalf("protected = %s, want %s", parts[0], want)
			}
			kid, err := jws.VerifyDetached(ks, body, sig)
			if err != nil {
				t.Fatalf("VerifyDetached: %v", err)
			}
			if kid != s.KID() {
				t.Fatalf("kid %s, want %s", kid, s.KID())
			}
		})
	}
}

// go-jose is an independent implementation: it must accept the hand-assembled output,
// both detached (RFC 7515 appendix F) and with the payload re-attached.
func TestGoJoseVerifiesDetached(t *testing.T) {
	s := jws.NewSigner(fixedKey(2))
	for name, body := range bodies() {
		if body == nil {
			continue // go-jose's ParseDetached reads nil as "no detached payload"
		}
		t.Run(name, func(t *testing.T) {
			sig, err := s.Detached(body)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := jose.ParseDetached(sig, body, []jose.SignatureAlgorithm{jose.EdDSA})
			if err != nil {
				t.Fatalf("go-jose ParseDetached: %v", err)
			}
			if err := obj.DetachedVerify(body, s.Public()); err != nil {
				t.Fatalf("go-jose DetachedVerify: %v", err)
			}
			if obj.Signatures[0].Header.KeyID != s.KID() || obj.Signatures[0].Header.Algorithm != "EdDSA" {
				t.Fatalf("go-jose header %+v", obj.Signatures[0].Header)
			}
			h, rest, _ := strings.Cut(sig, ".") // rest is ".<sig>"
			attached := h + "." + enc(body) + rest
			full, err := jose.ParseSignedCompact(attached, []jose.SignatureAlgorithm{jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			got, err := full.Verify(s.Public())
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("go-jose Verify of re-attached payload: %q, %v", got, err)
			}
			tampered := append(bytes.Clone(body), 'x')
			if err := obj.DetachedVerify(tampered, s.Public()); err == nil {
				t.Fatal("go-jose verified a tampered body: the test itself is broken")
			}
		})
	}
}

func TestVerifyDetachedTampering(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	body := []byte(`{"alerts":[],"cursor":"c1"}`)
	sig, _ := s.Detached(body)
	h, sigSeg, _ := strings.Cut(sig, "..")

	t.Run("body", func(t *testing.T) {
		b := bytes.Clone(body)
		b[3] ^= 1
		_, err := jws.VerifyDetached(ks, b, sig)
		wantErr(t, err, jws.ErrSignature)
		_, err = jws.VerifyDetached(ks, append(bytes.Clone(body), ' '), sig)
		wantErr(t, err, jws.ErrSignature)
	})
	t.Run("signature", func(t *testing.T) {
		seg := []byte(sigSeg)
		i := 10
		if seg[i] == 'A' {
			seg[i] = 'B'
		} else {
			seg[i] = 'A'
		}
		_, err := jws.VerifyDetached(ks, body, h+".."+string(seg))
		wantErr(t, err, jws.ErrSignature)
	})
	t.Run("header", func(t *testing.T) {
		// An accepted header shape, but not the one that was signed.
		other := enc([]byte(`{"alg":"EdDSA","kid":"` + s.KID() + `","typ":"JOSE"}`))
		_, err := jws.VerifyDetached(ks, body, other+".."+sigSeg)
		wantErr(t, err, jws.ErrSignature)
	})
	t.Run("other key claiming our kid", func(t *testing.T) {
		forged := compact(`{"alg":"EdDSA","kid":"`+s.KID()+`"}`, body, true, edSign(fixedKey(66)))
		_, err := jws.VerifyDetached(ks, body, forged)
		wantErr(t, err, jws.ErrSignature)
	})
}

func TestVerifyDetachedRetiredKey(t *testing.T) {
	old, cur := jws.NewSigner(fixedKey(1)), jws.NewSigner(fixedKey(2))
	body := []byte("response")
	oldSig, _ := old.Detached(body)
	curSig, _ := cur.Detached(body)
	ks := keySetOf(cur.Public(), old.Public())
	if kid, err := jws.VerifyDetached(ks, body, oldSig); err != nil || kid != old.KID() {
		t.Fatalf("retired key: kid %s, %v", kid, err)
	}
	if kid, err := jws.VerifyDetached(ks, body, curSig); err != nil || kid != cur.KID() {
		t.Fatalf("current key: kid %s, %v", kid, err)
	}
	_, err := jws.VerifyDetached(keySetOf(cur.Public()), body, oldSig)
	wantErr(t, err, jws.ErrUnknownKey)
	wantErr(t, err, jws.ErrHeader)
}

// es256 produces a genuine ES256 JWS (by go-jose) that names our kid.
func es256(t *testing.T, kid string, payload []byte, detached bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if detached {
		out, err = obj.DetachedCompactSerialize()
	} else {
		out, err = obj.CompactSerialize()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyDetachedAlgorithms(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	body := []byte(`{"ok":true}`)
	kid := s.KID()
	hdr := func(alg string) string { return `{"alg":"` + alg + `","kid":"` + kid + `"}` }
	cases := map[string]string{
		"none": compact(hdr("none"), body, true, noSign),
		// The classic confusion: HMAC keyed with the verifier's public key, which an
		// attacker knows. A verifier that let the header pick the algorithm would accept it.
		"HS256 keyed with public key": compact(hdr("HS256"), body, true, hmacSign(s.Public())),
		"ES256":                       es256(t, kid, body, true),
		// Case variants and near-misses of EdDSA, validly signed with the real key.
		"eddsa":   compact(hdr("eddsa"), body, true, edSign(fixedKey(1))),
		"EDDSA":   compact(hdr("EDDSA"), body, true, edSign(fixedKey(1))),
		"Ed25519": compact(hdr("Ed25519"), body, true, edSign(fixedKey(1))),
		"no alg":  compact(`{"kid":"`+kid+`"}`, body, true, edSign(fixedKey(1))),
		"alg num": compact(`{"alg":1,"kid":"`+kid+`"}`, body, true, edSign(fixedKey(1))),
	}
	for name, sig := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jws.VerifyDetached(ks, body, sig)
			wantErr(t, err, jws.ErrAlgorithm)
		})
	}
	// Control: the same construction with alg EdDSA is accepted, so each refusal above is
	// due to the algorithm alone.
	if _, err := jws.VerifyDetached(ks, body, compact(hdr("EdDSA"), body, true, edSign(fixedKey(1)))); err != nil {
		t.Fatalf("control refused: %v", err)
	}
}

func TestVerifyDetachedHeaderMembers(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	body := []byte(`{"ok":true}`)
	kid := s.KID()
	attacker := fixedKey(99)
	attackerJWK, _ := jws.MarshalPublicJWK(attacker.Public().(ed25519.PublicKey))
	members := map[string]string{
		"jwk":      string(attackerJWK),
		"jku":      `"https://evil.example/jwks.json"`,
		"x5u":      `"https://evil.example/cert.pem"`,
		"x5c":      `["MIIBszCCAVmgAwIBAgIUQ"]`,
		"x5t":      `"dGh1bWI"`,
		"x5t#S256": `"dGh1bWI"`,
		"crit":     `["exp"]`,
		"b64":      `false`,
		"enc":      `"A256GCM"`,
		"zip":      `"DEF"`,
		"cty":      `"json"`,
		"nonce":    `"n"`,
		"unknown":  `"x"`,
		"Alg":      `"EdDSA"`,
	}
	for name, value := range members {
		t.Run(name, func(t *testing.T) {
			// Signed with the real key: only the extra member can cause the refusal.
			h := fmt.Sprintf(`{"alg":"EdDSA","kid":%q,%q:%s}`, kid, name, value)
			_, err := jws.VerifyDetached(ks, body, compact(h, body, true, edSign(fixedKey(1))))
			wantErr(t, err, jws.ErrHeader)
		})
	}
	t.Run("embedded jwk signed by the embedded key", func(t *testing.T) {
		h := fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"jwk":%s}`, jws.Thumbprint(attacker.Public().(ed25519.PublicKey)), attackerJWK)
		_, err := jws.VerifyDetached(ks, body, compact(h, body, true, edSign(attacker)))
		wantErr(t, err, jws.ErrHeader)
	})
	others := map[string]string{
		"duplicate kid":       fmt.Sprintf(`{"alg":"EdDSA","kid":"other","kid":%q}`, kid),
		"duplicate alg":       fmt.Sprintf(`{"alg":"none","alg":"EdDSA","kid":%q}`, kid),
		"no kid":              `{"alg":"EdDSA"}`,
		"empty kid":           `{"alg":"EdDSA","kid":""}`,
		"kid null":            `{"alg":"EdDSA","kid":null}`,
		"kid number":          `{"alg":"EdDSA","kid":7}`,
		"typ JWT":             fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":"JWT"}`, kid),
		"typ jwt":             fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":"jwt"}`, kid),
		"typ null":            fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":null}`, kid),
		"unknown kid (valid)": `{"alg":"EdDSA","kid":"cnVzdA"}`,
	}
	for name, h := range others {
		t.Run(name, func(t *testing.T) {
			_, err := jws.VerifyDetached(ks, body, compact(h, body, true, edSign(fixedKey(1))))
			wantErr(t, err, jws.ErrHeader)
		})
	}
	t.Run("typ JOSE accepted", func(t *testing.T) {
		h := fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":"JOSE"}`, kid)
		if _, err := jws.VerifyDetached(ks, body, compact(h, body, true, edSign(fixedKey(1)))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifyDetachedShape(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	body := []byte(`{"ok":true}`)
	sig, _ := s.Detached(body)
	h, sigSeg, _ := strings.Cut(sig, "..")

	// A genuine flattened JSON serialization of the same signature, by go-jose.
	gs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: fixedKey(1), KeyID: s.KID()}}, nil)
	obj, _ := gs.Sign(body)
	jsonSer := obj.FullSerialize()

	cases := map[string]string{
		"empty":            "",
		"one segment":      h,
		"two segments":     h + "." + sigSeg,
		"four segments":    h + ".." + sigSeg + ".",
		"JWE":              h + ".ZW5j.aXY.Y3Q.dGFn",
		"JSON":             jsonSer,
		"attached payload": h + "." + enc(body) + "." + sigSeg,
		"padded sig":       h + ".." + sigSeg + "==",
		"padded header":    h + "=.." + sigSeg,
		"std alphabet +":   h + "..+" + sigSeg[1:],
		"std alphabet /":   h + "../" + sigSeg[1:],
		"whitespace":       h + "..\n" + sigSeg,
		"short sig":        h + ".." + sigSeg[:40],
		"oversize":         h + ".." + sigSeg + strings.Repeat("A", jws.MaxTokenBytes),
		"header not json":  enc([]byte(`{"alg":"EdDSA",`)) + ".." + sigSeg,
		"header array":     enc([]byte(`["EdDSA"]`)) + ".." + sigSeg,
	}
	// Non-canonical trailing bits: the last character of an 86-char encoding of 64 bytes
	// carries 4 unused bits; setting one gives a string lax decoders map to the same bytes.
	last := sigSeg[len(sigSeg)-1]
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	cases["non-canonical base64"] = h + ".." + sigSeg[:len(sigSeg)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx|1])
	if idx&1 == 1 {
		t.Fatal("signature segment is not canonical")
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jws.VerifyDetached(ks, body, in)
			wantErr(t, err, jws.ErrMalformed)
		})
	}
}

func TestSignerRejectsBadKey(t *testing.T) {
	bad := jws.NewSigner(make([]byte, 10))
	if _, err := bad.Detached([]byte("x")); err == nil {
		t.Fatal("Detached signed with a 10-byte key")
	}
	if _, err := bad.IssueToken(validClaims(1000)); err == nil {
		t.Fatal("IssueToken signed with a 10-byte key")
	}
	inconsistent := bytes.Clone(fixedKey(1))
	copy(inconsistent[32:], fixedKey(2)[32:])
	if _, err := jws.NewSigner(inconsistent).Detached([]byte("x")); err == nil {
		t.Fatal("Detached signed with a key whose public half does not match its seed")
	}
}

func TestDetachedConcurrent(t *testing.T) {
	s := jws.NewSigner(fixedKey(1))
	ks := keySetOf(s.Public())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				body := bytes.Repeat([]byte{byte(g), byte(i)}, 100*g+i)
				sig, err := s.Detached(body)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := jws.VerifyDetached(ks, body, sig); err != nil {
					t.Errorf("goroutine %d body %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
