package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/entente/entente/crypto/jws"
)

// signedResponse is a response body saved with its detached signature and the JWKS of
// the node that signed it, as an integrator keeps them for a later offline check.
type signedResponse struct {
	jwks, body, sigFile, sig, kid string
	size                          int
}

func newSignedResponse(t *testing.T) signedResponse {
	t.Helper()
	dir, _ := initNode(t)
	priv, err := jws.ParsePrivateJWK(readFile(t, filepath.Join(dir, "keys", "signing.jwk")))
	if err != nil {
		t.Fatal(err)
	}
	signer := jws.NewSigner(priv)
	body := []byte(`{"id":"FRA-0001","kind":"licence-application","version":1}` + "\n")
	sig, err := signer.Detached(body)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s := signedResponse{
		jwks:    filepath.Join(out, "jwks.json"),
		body:    filepath.Join(out, "body.json"),
		sigFile: filepath.Join(out, "body.sig"),
		sig:     sig,
		kid:     signer.KID(),
		size:    len(body),
	}
	writeFile(t, s.jwks, readFile(t, filepath.Join(dir, "keys", "jwks.json")))
	writeFile(t, s.body, body)
	writeFile(t, s.sigFile, []byte(sig+"\n")) // as saved from a header, with a newline
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s := newSignedResponse(t)
	want := "verified: " + strconv.Itoa(s.size) + " bytes signed by key " + s.kid + "\n"

	r := mustRun(t, nil, "verify", "--jwks", s.jwks, "--body", s.body, "--sig", s.sig)
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = mustRun(t, nil, "verify", "--jwks", s.jwks, "--body", s.body, "--sig", "@"+s.sigFile)
	if r.stdout != want {
		t.Errorf("--sig @file: stdout %q, want %q", r.stdout, want)
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	s := newSignedResponse(t)
	dir := t.TempDir()

	tampered := filepath.Join(dir, "tampered.json")
	writeFile(t, tampered, bytes.Replace(readFile(t, s.body), []byte("FRA-0001"), []byte("FRA-0002"), 1))

	// A JWKS without the signing key: another node's.
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks := jws.NewKeySet()
	ks.Add(other.Public().(ed25519.PublicKey))
	otherJWKS, err := ks.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other.jwks.json")
	writeFile(t, otherFile, otherJWKS)

	// A good signature over the body, by a key the node's JWKS does not hold.
	forged, err := jws.NewSigner(other).Detached(readFile(t, s.body))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		jwks, body string
		sig        string
	}{
		{"tampered body", s.jwks, tampered, s.sig},
		{"tampered body, sig from file", s.jwks, tampered, "@" + s.sigFile},
		{"other node's jwks", otherFile, s.body, s.sig},
		{"signed by a key not in the jwks", s.jwks, s.body, forged},
		{"truncated signature", s.jwks, s.body, s.sig[:len(s.sig)-4]},
		{"not a signature", s.jwks, s.body, "hello"},
	} {
		r := runCLI(t, nil, "verify", "--jwks", tc.jwks, "--body", tc.body, "--sig", tc.sig)
		if r.err == nil {
			t.Errorf("%s: verified", tc.name)
			continue
		}
		wantErr(t, r.err, "NOT VERIFIED")
		if r.stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, r.stdout)
		}
	}

	// A file that is not a JWKS is refused by name; a missing @file is named.
	wantErr(t, runCLI(t, nil, "verify", "--jwks", s.body, "--body", s.body, "--sig", s.sig).err, "--jwks "+s.body)
	wantErr(t, runCLI(t, nil, "verify", "--jwks", s.jwks, "--body", s.body, "--sig", "@"+filepath.Join(dir, "missing.sig")).err, "missing.sig")
}

func TestVerifyUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"--body", "b", "--sig", "s"},
		{"--jwks", "j", "--sig", "s"},
		{"--jwks", "j", "--body", "b"},
		{"--jwks", "j", "--body", "b", "--sig", ""},
	} {
		r := runCLI(t, nil, append([]string{"verify"}, args...)...)
		wantUsage(t, r.err, "--jwks, --body and --sig are all required")
	}
	wantUsage(t, runCLI(t, nil, "verify", "--key", "k").err, "key")
}
