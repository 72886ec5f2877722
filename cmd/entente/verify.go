package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/entente/entente/crypto/jws"
)

// runVerify checks a saved response body against its detached JWS and a JWKS, offline.
func runVerify(e *env, args []string) error {
	fs := newFlags(e, "verify", "verify --jwks FILE --body FILE --sig SIG|@FILE")
	jwksFile := fs.String("jwks", "", "the node's JWKS (/.well-known/jwks.json), obtained out of band (required)")
	bodyFile := fs.String("body", "", "the response body exactly as received (required)")
	sig := fs.String("sig", "", "the X-JWS-Signature header value, or @FILE holding it (required)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *jwksFile == "" || *bodyFile == "" || *sig == "" {
		return fmt.Errorf("%w: --jwks, --body and --sig are all required", errUsage)
	}
	kb, err := os.ReadFile(*jwksFile)
	if err != nil {
		return err
	}
	ks, err := jws.ParseKeySet(kb)
	if err != nil {
		return fmt.Errorf("--jwks %s: %w", *jwksFile, err)
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	s := *sig
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		s = string(b)
	}
	kid, err := jws.VerifyDetached(ks, body, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("NOT VERIFIED: %w", err)
	}
	fmt.Fprintf(e.stdout, "verified: %d bytes signed by key %s\n", len(body), kid)
	return nil
}
