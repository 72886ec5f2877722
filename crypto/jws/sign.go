package jws

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Signer signs with the node's Ed25519 key: detached signatures over API responses and
// client tokens. It is safe for concurrent use.
type Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
	// protected is base64url({"alg":"EdDSA","kid":kid}), computed once: it is the same
	// for every response, so Detached only encodes the body and signs.
	protected string
	tokens    jose.Signer
	err       error
}

// NewSigner returns a Signer for priv. A key that is not a consistent 64-byte Ed25519
// private key is not rejected here (the constructor has no error, to keep wiring simple)
// but every signing call then returns the error, so nothing is ever signed with it.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	s := &Signer{}
	if err := checkPrivate(priv); err != nil {
		s.err = fmt.Errorf("jws: signer: %w", err)
		return s
	}
	s.priv = append(ed25519.PrivateKey(nil), priv...)
	s.pub = s.priv.Public().(ed25519.PublicKey)
	s.kid = Thumbprint(s.pub)
	s.protected = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"` + s.kid + `"}`))
	tokens, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: s.priv, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		s.err = fmt.Errorf("jws: signer: %w", err)
		return s
	}
	s.tokens = tokens
	return s
}

// KID returns the kid the Signer puts in every header: the thumbprint of its public key.
func (s *Signer) KID() string { return s.kid }

// Public returns the Signer's public key, to publish in the node's KeySet.
func (s *Signer) Public() ed25519.PublicKey { return s.pub }

// signingInputPool recycles the buffer that holds "<protected>.<b64url(body)>" while it
// is signed; responses are signed one per request, so this removes the largest
// allocation from the hot path. Buffers grown past maxPooledInput are dropped rather
// than kept alive by the pool; the bound fits a full alert feed page (1,000 alerts,
// about 300 KB, 400 KB once encoded).
var signingInputPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledInput = 1 << 20

// Detached returns the compact detached JWS of body, "<b64url protected>..<b64url sig>",
// with protected header {"alg":"EdDSA","kid":KID}. The signing input is the protected
// header and the base64url-encoded body as RFC 7515 section 5.1 prescribes (no "b64":false),
// so a client verifies it with any JOSE library by re-attaching the exact bytes it
// received.
func (s *Signer) Detached(body []byte) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	bp := signingInputPool.Get().(*[]byte)
	in := append((*bp)[:0], s.protected...)
	in = append(in, '.')
	in = base64.RawURLEncoding.AppendEncode(in, body)
	sig := ed25519.Sign(s.priv, in)
	if cap(in) <= maxPooledInput {
		*bp = in[:0]
		signingInputPool.Put(bp)
	}
	var out strings.Builder
	out.Grow(len(s.protected) + 2 + base64.RawURLEncoding.EncodedLen(len(sig)))
	out.WriteString(s.protected)
	out.WriteString("..")
	out.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return out.String(), nil
}

// Claims are the claims of a client token. Every member is emitted; ParseToken requires
// jti, aud (a single string), iat and exp.
type Claims struct {
	// ID (jti) names the token so it can be revoked.
	ID string `json:"jti"`
	// Issuer (iss) is the issuing node.
	Issuer string `json:"iss"`
	// Subject (sub) is the client the token was issued to.
	Subject string `json:"sub"`
	// Audience (aud) is the API the token is good for; checked exactly by ParseToken.
	Audience string `json:"aud"`
	// Role is the scope the node grants the client.
	Role string `json:"role"`
	// IssuedAt (iat), NotBefore (nbf) and Expiry (exp) are Unix seconds.
	IssuedAt  int64 `json:"iat"`
	NotBefore int64 `json:"nbf"`
	Expiry    int64 `json:"exp"`
}

// IssueToken signs c as a JWT with header {"alg":"EdDSA","kid":..,"typ":"JWT"}. It refuses
// claims ParseToken would never accept (no jti, no aud, no iat, exp not after iat or
// before nbf), so a mistake surfaces at issue time rather than as a client's 401.
func (s *Signer) IssueToken(c Claims) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	switch {
	case c.ID == "":
		return "", fmt.Errorf("jws: issue token: jti is empty")
	case c.Audience == "":
		return "", fmt.Errorf("jws: issue token: aud is empty")
	case c.IssuedAt == 0:
		return "", fmt.Errorf("jws: issue token: iat is zero")
	case c.Expiry <= c.IssuedAt:
		return "", fmt.Errorf("jws: issue token: exp %d is not after iat %d", c.Expiry, c.IssuedAt)
	case c.Expiry <= c.NotBefore:
		return "", fmt.Errorf("jws: issue token: exp %d is not after nbf %d", c.Expiry, c.NotBefore)
	}
	raw, err := jwt.Signed(s.tokens).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("jws: issue token: %w", err)
	}
	if len(raw) > MaxTokenBytes {
		return "", fmt.Errorf("jws: issue token: %d bytes, more than MaxTokenBytes %d", len(raw), MaxTokenBytes)
	}
	return raw, nil
}
