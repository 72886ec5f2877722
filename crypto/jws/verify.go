package jws

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
)

// MaxTokenBytes bounds a client token (and a detached signature) before any decoding, so
// a hostile Authorization header costs no more than this to refuse.
const MaxTokenBytes = 8192

// maxHeaderB64 bounds the protected header segment; the node's own is under 100 bytes.
const maxHeaderB64 = 1024

// acceptedAlgs is the one algorithm verification accepts, passed to go-jose as well so
// that it refuses anything else independently of the checks here.
var acceptedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// header is the accepted content of a protected header.
type header struct {
	kid    string
	typ    string
	hasTyp bool
}

// headerUse says which protected headers are accepted for which purpose.
type headerUse int

const (
	useDetached headerUse = iota // alg, kid, optional typ that is not JWT
	useToken                     // alg, kid, typ "JWT" required
)

// parseHeader decodes and checks a protected header segment. The order of checks gives
// the most useful sentinel: encoding problems are ErrMalformed, a wrong or missing alg
// is ErrAlgorithm even when other members are also wrong, then members are checked.
func parseHeader(seg string, use headerUse) (header, error) {
	if len(seg) > maxHeaderB64 {
		return header{}, fmt.Errorf("%w: protected header longer than %d bytes", ErrMalformed, maxHeaderB64)
	}
	raw, err := decodeB64(seg)
	if err != nil {
		return header{}, fmt.Errorf("%w: protected header is not unpadded base64url", ErrMalformed)
	}
	m, err := decodeObject(raw)
	switch {
	case errors.Is(err, errDuplicate):
		return header{}, fmt.Errorf("%w: protected header repeats a member", ErrHeader)
	case err != nil:
		return header{}, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	str := func(name string) (string, bool, error) {
		v, ok := m[name]
		if !ok {
			return "", false, nil
		}
		s, err := jsonString(v)
		if err != nil {
			return "", true, fmt.Errorf("%w: header %q is not a string", ErrHeader, name)
		}
		return s, true, nil
	}
	alg, ok, err := str("alg")
	if err != nil || !ok || alg != string(jose.EdDSA) {
		return header{}, fmt.Errorf("%w: alg %.32q", ErrAlgorithm, alg)
	}
	for _, name := range sortedNames(m) {
		switch name {
		case "alg", "kid", "typ":
		default:
			return header{}, fmt.Errorf("%w: member %.32q not accepted", ErrHeader, name)
		}
	}
	var h header
	if h.kid, ok, err = str("kid"); err != nil {
		return header{}, err
	} else if !ok || h.kid == "" {
		return header{}, fmt.Errorf("%w: no kid", ErrHeader)
	}
	if h.typ, h.hasTyp, err = str("typ"); err != nil {
		return header{}, err
	}
	switch use {
	case useToken:
		if !h.hasTyp || h.typ != "JWT" {
			return header{}, fmt.Errorf("%w: token typ must be \"JWT\"", ErrHeader)
		}
	case useDetached:
		// A JWT is not a response signature: refusing typ JWT here, and requiring it in
		// ParseToken, keeps a token and a detached signature from ever standing in for
		// each other.
		if h.hasTyp && strings.EqualFold(h.typ, "JWT") {
			return header{}, fmt.Errorf("%w: typ JWT in a detached signature", ErrHeader)
		}
	}
	return h, nil
}

// splitCompact splits a compact serialization into its three segments, refusing JSON
// serialization and JWE with messages that say so.
func splitCompact(s string) (hdr, payload, sig string, err error) {
	if strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{") {
		return "", "", "", fmt.Errorf("%w: JSON serialization not accepted, only compact", ErrMalformed)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", "", "", fmt.Errorf("%w: byte %d is not in the base64url alphabet", ErrMalformed, i)
		}
	}
	switch strings.Count(s, ".") {
	case 2:
	case 4:
		return "", "", "", fmt.Errorf("%w: 5 segments (JWE) not accepted", ErrMalformed)
	default:
		return "", "", "", fmt.Errorf("%w: compact JWS must have 3 segments", ErrMalformed)
	}
	hdr, rest, _ := strings.Cut(s, ".")
	payload, sig, _ = strings.Cut(rest, ".")
	return hdr, payload, sig, nil
}

// lookup finds the header's key, or says the kid is unknown (ErrHeader and ErrUnknownKey).
func lookup(ks *KeySet, kid string) (ed25519.PublicKey, error) {
	pub, ok := ks.Lookup(kid)
	if !ok {
		return nil, fmt.Errorf("%w: %w: kid %.64q", ErrHeader, ErrUnknownKey, kid)
	}
	return pub, nil
}

func checkSignatureSegment(seg string) error {
	sig, err := decodeB64(seg)
	if err != nil {
		return fmt.Errorf("%w: signature is not unpadded base64url", ErrMalformed)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, Ed25519 is %d", ErrMalformed, len(sig), ed25519.SignatureSize)
	}
	return nil
}

// VerifyDetached checks a detached compact JWS ("<protected>..<signature>") over body,
// the exact bytes received, with the key from ks that its kid names, and returns that
// kid. It accepts only alg EdDSA and a protected header of alg, kid and optionally typ
// (not "JWT"); see the package documentation for everything it refuses.
func VerifyDetached(ks *KeySet, body []byte, sig string) (kid string, err error) {
	if len(sig) > MaxTokenBytes {
		return "", fmt.Errorf("%w: signature longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	hdrSeg, payloadSeg, sigSeg, err := splitCompact(sig)
	if err != nil {
		return "", err
	}
	if payloadSeg != "" {
		return "", fmt.Errorf("%w: payload is not detached", ErrMalformed)
	}
	h, err := parseHeader(hdrSeg, useDetached)
	if err != nil {
		return "", err
	}
	pub, err := lookup(ks, h.kid)
	if err != nil {
		return "", err
	}
	if err := checkSignatureSegment(sigSeg); err != nil {
		return "", err
	}
	// The header is parsed, vetted and its key found; what is left is RFC 7515 section
	// 5.2 for EdDSA (RFC 8037): Ed25519 over header "." BASE64URL(payload). Doing it here
	// rather than through go-jose halves the cost of a check every replica makes for
	// every command; tests check the result against go-jose.
	sigBytes, _ := decodeB64(sigSeg)
	input := make([]byte, 0, len(hdrSeg)+1+base64.RawURLEncoding.EncodedLen(len(body)))
	input = append(input, hdrSeg...)
	input = append(input, '.')
	input = base64.RawURLEncoding.AppendEncode(input, body)
	if !ed25519.Verify(pub, input, sigBytes) {
		return "", fmt.Errorf("%w: kid %s", ErrSignature, h.kid)
	}
	return h.kid, nil
}

// ParseToken verifies a client token issued by a key in ks and checks it for audience at
// time now: aud must equal audience exactly (a single string, not an array), exp must be
// after now, nbf (when present) not after now, and jti and iat must be present. Only
// alg EdDSA and a protected header of exactly alg, kid and typ "JWT" are accepted. The
// caller still checks revocation (by jti) and the role.
func ParseToken(raw string, ks *KeySet, audience string, now time.Time) (Claims, error) {
	if audience == "" {
		return Claims{}, fmt.Errorf("%w: no audience to check against", ErrAudience)
	}
	if len(raw) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: token longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	hdrSeg, payloadSeg, sigSeg, err := splitCompact(raw)
	if err != nil {
		return Claims{}, err
	}
	if payloadSeg == "" {
		return Claims{}, fmt.Errorf("%w: token has no payload", ErrMalformed)
	}
	h, err := parseHeader(hdrSeg, useToken)
	if err != nil {
		return Claims{}, err
	}
	pub, err := lookup(ks, h.kid)
	if err != nil {
		return Claims{}, err
	}
	if _, err := decodeB64(payloadSeg); err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not unpadded base64url", ErrMalformed)
	}
	if err := checkSignatureSegment(sigSeg); err != nil {
		return Claims{}, err
	}
	obj, err := jose.ParseSignedCompact(raw, acceptedAlgs)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: kid %s", ErrSignature, h.kid)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return Claims{}, err
	}
	if c.Audience != audience {
		return Claims{}, fmt.Errorf("%w: token is for %.64q", ErrAudience, c.Audience)
	}
	if !time.Unix(c.Expiry, 0).After(now) {
		return Claims{}, fmt.Errorf("%w: exp %s", ErrExpired, time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	}
	if time.Unix(c.NotBefore, 0).After(now) {
		return Claims{}, fmt.Errorf("%w: nbf %s", ErrNotYetValid, time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// decodeClaims reads the verified payload. Members are typed strictly (aud must be a
// string, times integers); unknown members are ignored so that a later version may add
// claims without breaking older verifiers.
func decodeClaims(payload []byte) (Claims, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	var c Claims
	str := func(name string, dst *string, required bool) error {
		v, ok := m[name]
		if !ok {
			if required {
				return fmt.Errorf("%w: claims lack %q", ErrMalformed, name)
			}
			return nil
		}
		s, err := jsonString(v)
		if err != nil {
			return fmt.Errorf("%w: claim %q is not a string", ErrMalformed, name)
		}
		*dst = s
		return nil
	}
	num := func(name string, dst *int64, required bool) error {
		v, ok := m[name]
		if !ok {
			if required {
				return fmt.Errorf("%w: claims lack %q", ErrMalformed, name)
			}
			return nil
		}
		if isNull(v) {
			return fmt.Errorf("%w: claim %q is null", ErrMalformed, name)
		}
		if err := josejson.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%w: claim %q is not an integer", ErrMalformed, name)
		}
		return nil
	}
	if err := str("aud", &c.Audience, true); err != nil {
		if _, present := m["aud"]; present {
			return Claims{}, fmt.Errorf("%w: aud must be a single string", ErrAudience)
		}
		return Claims{}, err
	}
	for _, e := range []error{
		str("jti", &c.ID, true),
		str("iss", &c.Issuer, false),
		str("sub", &c.Subject, false),
		str("role", &c.Role, false),
		num("iat", &c.IssuedAt, true),
		num("nbf", &c.NotBefore, false),
		num("exp", &c.Expiry, true),
	} {
		if e != nil {
			return Claims{}, e
		}
	}
	if c.ID == "" {
		return Claims{}, fmt.Errorf("%w: jti is empty", ErrMalformed)
	}
	return c, nil
}

// jsonString decodes a JSON string member; null, which encoding/json would silently
// leave as "", is refused.
func jsonString(raw josejson.RawMessage) (string, error) {
	if isNull(raw) {
		return "", errNotString
	}
	var s string
	if err := josejson.Unmarshal(raw, &s); err != nil {
		return "", errNotString
	}
	return s, nil
}

func isNull(raw josejson.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

const errNotString = detailError("not a JSON string")
