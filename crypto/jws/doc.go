// Package jws signs and verifies what an Entente node says to the outside world with
// its Ed25519 key: the detached JWS that accompanies every API response, the node's
// published key set (JWKS), and the short-lived client tokens the node issues.
//
// Why detached JWS (RFC 7515 appendix F): an integrator must be able to verify a response
// offline, later, against the exact bytes it received, without the node re-encoding the
// body inside a token. The node therefore signs the response body as it goes on the wire
// and sends only "<protected>..<signature>" alongside it (for example in a header). The
// payload is base64url-encoded in the signing input as RFC 7515 prescribes; the "b64"
// extension (RFC 7797) is neither produced nor accepted, so any standard JOSE library can
// verify a node's responses.
//
// Why so strict on input: JOSE has a long history of verifiers talked into trusting the
// attacker (alg "none", an HMAC keyed with the public key, keys embedded in the header,
// JWE where JWS was expected). Verification here accepts exactly one algorithm (EdDSA),
// a closed set of protected header members, keys only from the caller's KeySet, strict
// unpadded base64url, no duplicate JSON members and bounded input sizes. Anything else is
// refused with one of the documented sentinel errors, wrapped with detail.
//
// Parsing and signature verification go through github.com/go-jose/go-jose/v4 after these
// checks; only the per-response signing path (Signer.Detached) is assembled by hand,
// because it runs once per HTTP response, and its output is checked against go-jose in the
// tests.
package jws
