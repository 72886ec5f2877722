package jws_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/entente/entente/crypto/jws"
)

// fixedKey returns a deterministic key so fuzz seeds in testdata stay valid.
func fixedKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// compact assembles a compact JWS with an arbitrary header, the way an attacker would:
// it lets tests sign headers that jws.Signer never produces.
func compact(hdrJSON string, payload []byte, detached bool, sign func([]byte) []byte) string {
	h, p := enc([]byte(hdrJSON)), enc(payload)
	sig := sign([]byte(h + "." + p))
	if detached {
		p = ""
	}
	return h + "." + p + "." + enc(sig)
}

func edSign(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

func hmacSign(key []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

func noSign([]byte) []byte { return nil }

var sentinels = []error{
	jws.ErrMalformed, jws.ErrAlgorithm, jws.ErrHeader, jws.ErrUnknownKey, jws.ErrSignature,
	jws.ErrAudience, jws.ErrExpired, jws.ErrNotYetValid,
}

// wantErr fails unless err matches want.
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q, want %v", err, want)
	}
}

func keySetOf(pubs ...ed25519.PublicKey) *jws.KeySet {
	ks := jws.NewKeySet()
	for _, p := range pubs {
		ks.Add(p)
	}
	return ks
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func b64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
