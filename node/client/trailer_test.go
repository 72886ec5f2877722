package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/client"
)

// trailerHandler streams body in two flushed parts, as the node streams NDJSON, and signs
// what it sent (signed, when set, instead of body) in the X-JWS-Signature trailer; sig,
// when set, replaces the signature.
func trailerHandler(t *testing.T, s *jws.Signer, body, signed []byte, sig string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Trailer", client.SignatureHeader)
		w.WriteHeader(http.StatusOK)
		half := len(body) / 2
		_, _ = w.Write(body[:half])
		w.(http.Flusher).Flush()
		_, _ = w.Write(body[half:])
		if signed == nil {
			signed = body
		}
		if sig == "" {
			var err error
			if sig, err = s.Detached(signed); err != nil {
				t.Error(err)
			}
		}
		w.Header().Set(client.SignatureHeader, sig)
	})
}

// A streamed answer is verified against the signature in its trailer: the exact bytes
// pass, and a changed body, a signature of other bytes, another key's signature or a
// missing trailer are refused without the body.
func TestTrailerSignature(t *testing.T) {
	s, other := newSigner(t), newSigner(t)
	body := []byte("{\"line\":1,\"hits\":[]}\n{\"line\":2,\"hits\":[]}\n{\"summary\":{\"lines\":2}}\n")
	ctx := context.Background()

	c := newClient(t, startTLS(t, trailerHandler(t, s, body, nil, "")), client.Options{Keys: keySetOf(s)})
	resp, err := c.Do(ctx, "POST", "/v1/screen/batch", []byte("{}\n"), nil)
	if err != nil {
		t.Fatalf("a streamed answer signed in its trailer: %v", err)
	}
	if string(resp.Body) != string(body) || resp.KID != s.KID() {
		t.Fatalf("got %q signed by %q", resp.Body, resp.KID)
	}

	otherSig, err := other.Detached(body)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), body...)
	tampered[9] = '9'
	for name, h := range map[string]http.Handler{
		"a body changed after signing": trailerHandler(t, s, tampered, body, ""),
		"another key's signature":      trailerHandler(t, s, body, nil, otherSig),
		"a malformed signature":        trailerHandler(t, s, body, nil, "x..y"),
		"no signature at all": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", client.SignatureHeader)
			_, _ = w.Write(body)
		}),
	} {
		c := newClient(t, startTLS(t, h), client.Options{Keys: keySetOf(s)})
		resp, err := c.Do(ctx, "POST", "/v1/screen/batch", []byte("{}\n"), nil)
		if !errors.Is(err, client.ErrUnsigned) || resp != nil {
			t.Errorf("%s: %v, body returned: %v; want ErrUnsigned and no body", name, err, resp != nil)
		}
	}
}
