package jws

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	josejson "github.com/go-jose/go-jose/v4/json"
)

// Limits on a published key set. A JWKS is fetched from peers and integrators' caches,
// so parsing it must be bounded; 64 keys leaves room for years of rotations.
const (
	// MaxKeySetBytes is the largest JWKS document ParseKeySet reads.
	MaxKeySetBytes = 256 << 10
	// MaxKeySetKeys is the most keys ParseKeySet accepts in one document.
	MaxKeySetKeys = 64
	maxJWKBytes   = 4 << 10
)

// b64 is the only base64 form JOSE uses: URL alphabet, no padding. Strict rejects
// non-canonical trailing bits; decodeB64 also rejects the CR and LF that Go's decoder
// skips even in strict mode. Together they make every accepted string the one encoding
// of its bytes, so a signature or key cannot be re-encoded into a second accepted form.
var b64 = base64.RawURLEncoding.Strict()

func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errBadBase64
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errBadBase64
	}
	return b, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of
// an Ed25519 public key. The node uses it as kid, so a kid names exactly one key and a
// verifier can check that a published kid was not attached to another key. It returns ""
// for a slice that is not a 32-byte Ed25519 public key.
func Thumbprint(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	// RFC 7638 section 3.2: required members only, lexicographic order, no whitespace.
	in := make([]byte, 0, 96)
	in = append(in, `{"crv":"Ed25519","kty":"OKP","x":"`...)
	in = b64.AppendEncode(in, pub)
	in = append(in, `"}`...)
	sum := sha256.Sum256(in)
	return b64.EncodeToString(sum[:])
}

// jwk is the wire form of an OKP/Ed25519 JWK (RFC 8037). Field order is fixed so the
// published JWKS is byte-for-byte deterministic.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

func publicJWK(pub ed25519.PublicKey) jwk {
	return jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: Thumbprint(pub), Use: "sig", Alg: "EdDSA"}
}

// KeySet holds the Ed25519 public keys a verifier trusts, by kid: the node's current
// signing key and the retired ones, so responses and tokens signed before a rotation
// still verify. It is safe for concurrent use; the zero value is not usable, call
// NewKeySet.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey
}

// NewKeySet returns an empty KeySet.
func NewKeySet() *KeySet {
	return &KeySet{keys: make(map[string]ed25519.PublicKey)}
}

// Add trusts pub and returns its kid (its thumbprint). Adding a key twice is harmless.
// It returns "" and adds nothing when pub is not a 32-byte Ed25519 public key. The key
// is copied, so the caller may reuse its slice.
func (k *KeySet) Add(pub ed25519.PublicKey) string {
	kid := Thumbprint(pub)
	if kid == "" {
		return ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[kid]; !ok {
		k.keys[kid] = bytes.Clone(pub)
	}
	return kid
}

// Lookup returns the key named kid. The returned slice must not be modified.
func (k *KeySet) Lookup(kid string) (ed25519.PublicKey, bool) {
	if k == nil {
		return nil, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	pub, ok := k.keys[kid]
	return pub, ok
}

// KIDs returns the kids in the set, sorted, so listings and diffs are stable.
func (k *KeySet) KIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	kids := make([]string, 0, len(k.keys))
	for kid := range k.keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	return kids
}

// MarshalJSON renders the set as the node's JWKS document,
// {"keys":[{"kty":"OKP","crv":"Ed25519","x":..,"kid":..,"use":"sig","alg":"EdDSA"},..]},
// ordered by kid so that every node and every fetch yields the same bytes.
func (k *KeySet) MarshalJSON() ([]byte, error) {
	k.mu.RLock()
	keys := make([]jwk, 0, len(k.keys))
	for _, pub := range k.keys {
		keys = append(keys, publicJWK(pub))
	}
	k.mu.RUnlock()
	slices.SortFunc(keys, func(a, b jwk) int { return strings.Compare(a.Kid, b.Kid) })
	return stdjson.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{keys})
}

// ParseKeySet parses a JWKS such as another node's /.well-known/jwks.json. It accepts only
// OKP/Ed25519 public signing keys whose kid is their RFC 7638 thumbprint, and refuses
// private material ("d"), any other kty, crv, alg or use, certificate or URL members, a
// kid that does not match its key, duplicate kids or JSON members, no keys, more than
// MaxKeySetKeys keys, and documents larger than MaxKeySetBytes. Refusing rather than
// skipping odd keys keeps what a verifier trusts equal to what the publisher meant.
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > MaxKeySetBytes {
		return nil, fmt.Errorf("%w: key set larger than %d bytes", ErrMalformed, MaxKeySetBytes)
	}
	top, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key set: %v", ErrMalformed, err)
	}
	for name := range top {
		if name != "keys" {
			return nil, fmt.Errorf("%w: key set: member %q not accepted", ErrMalformed, name)
		}
	}
	rawKeys, ok := top["keys"]
	if !ok {
		return nil, fmt.Errorf("%w: key set: no \"keys\" member", ErrMalformed)
	}
	var list []josejson.RawMessage
	if err := josejson.Unmarshal(rawKeys, &list); err != nil {
		return nil, fmt.Errorf("%w: key set: \"keys\" is not an array", ErrMalformed)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: key set: no keys", ErrMalformed)
	}
	if len(list) > MaxKeySetKeys {
		return nil, fmt.Errorf("%w: key set: %d keys, at most %d accepted", ErrMalformed, len(list), MaxKeySetKeys)
	}
	ks := NewKeySet()
	for i, raw := range list {
		pub, err := parseJWK(raw, false)
		if err != nil {
			return nil, fmt.Errorf("key set: key %d: %w", i, err)
		}
		kid := Thumbprint(pub)
		if _, dup := ks.keys[kid]; dup {
			return nil, fmt.Errorf("%w: key set: key %d repeats kid %s", ErrMalformed, i, kid)
		}
		ks.keys[kid] = pub
	}
	return ks, nil
}

// MarshalPublicJWK renders pub as a single JWK with its kid, the form a member's signing
// key takes in the roster.
func MarshalPublicJWK(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key must be %d bytes", ErrMalformed, ed25519.PublicKeySize)
	}
	return stdjson.Marshal(publicJWK(pub))
}

// ParsePublicJWK parses a single public JWK under the same rules as a key in ParseKeySet.
func ParsePublicJWK(data []byte) (ed25519.PublicKey, error) {
	return parseJWK(data, false)
}

// MarshalPrivateJWK renders the node's signing key as a JWK with "d", for the identity
// file written by init (stored 0600). It refuses a key whose public half does not match
// its seed, since such a key would sign with a key nobody can verify.
func MarshalPrivateJWK(priv ed25519.PrivateKey) ([]byte, error) {
	if err := checkPrivate(priv); err != nil {
		return nil, err
	}
	j := publicJWK(priv.Public().(ed25519.PublicKey))
	j.D = b64.EncodeToString(priv.Seed())
	return stdjson.Marshal(j)
}

// ParsePrivateJWK parses a private OKP/Ed25519 JWK as written by MarshalPrivateJWK. The
// key is rebuilt from "d" and must match "x" (and "kid" when present), so a damaged or
// spliced identity file fails here rather than producing unverifiable signatures.
func ParsePrivateJWK(data []byte) (ed25519.PrivateKey, error) {
	pub, seed, err := parseJWKFull(data, true)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if subtle.ConstantTimeCompare(priv.Public().(ed25519.PublicKey), pub) != 1 {
		clear(priv)
		return nil, fmt.Errorf("%w: private JWK: \"x\" does not match \"d\"", ErrMalformed)
	}
	return priv, nil
}

func checkPrivate(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: Ed25519 private key must be %d bytes", ErrMalformed, ed25519.PrivateKeySize)
	}
	derived := ed25519.NewKeyFromSeed(priv.Seed())
	defer clear(derived)
	if subtle.ConstantTimeCompare(derived, priv) != 1 {
		return fmt.Errorf("%w: Ed25519 private key: public half does not match seed", ErrMalformed)
	}
	return nil
}

func parseJWK(data []byte, private bool) (ed25519.PublicKey, error) {
	pub, _, err := parseJWKFull(data, private)
	return pub, err
}

// parseJWKFull applies the one set of JWK rules used everywhere in the package. With
// private false, a "d" member is an error; with private true it is required and its
// 32-byte seed is returned.
func parseJWKFull(data []byte, private bool) (ed25519.PublicKey, []byte, error) {
	if len(data) > maxJWKBytes {
		return nil, nil, fmt.Errorf("%w: JWK larger than %d bytes", ErrMalformed, maxJWKBytes)
	}
	m, err := decodeObject(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: JWK: %v", ErrMalformed, err)
	}
	for _, name := range sortedNames(m) {
		switch name {
		case "kty", "crv", "x", "kid", "use", "alg":
		case "d":
			if !private {
				return nil, nil, fmt.Errorf("%w: JWK carries private key material (\"d\"); only public keys are accepted", ErrMalformed)
			}
		default:
			return nil, nil, fmt.Errorf("%w: JWK member %q not accepted", ErrMalformed, name)
		}
	}
	get := func(name string, required bool) (string, error) {
		raw, ok := m[name]
		if !ok {
			if required {
				return "", fmt.Errorf("%w: JWK lacks %q", ErrMalformed, name)
			}
			return "", nil
		}
		s, err := jsonString(raw)
		if err != nil {
			return "", fmt.Errorf("%w: JWK %q is not a string", ErrMalformed, name)
		}
		return s, nil
	}
	want := []struct{ name, value string }{{"kty", "OKP"}, {"crv", "Ed25519"}}
	for _, w := range want {
		v, err := get(w.name, true)
		if err != nil {
			return nil, nil, err
		}
		if v != w.value {
			return nil, nil, fmt.Errorf("%w: JWK %s %q not accepted (only %q)", ErrMalformed, w.name, v, w.value)
		}
	}
	if v, err := get("alg", false); err != nil {
		return nil, nil, err
	} else if _, present := m["alg"]; present && v != "EdDSA" {
		return nil, nil, fmt.Errorf("%w: JWK alg %q not accepted (only EdDSA)", ErrAlgorithm, v)
	}
	if v, err := get("use", false); err != nil {
		return nil, nil, err
	} else if _, present := m["use"]; present && v != "sig" {
		return nil, nil, fmt.Errorf("%w: JWK use %q not accepted (only sig)", ErrMalformed, v)
	}
	x, err := get("x", true)
	if err != nil {
		return nil, nil, err
	}
	pubBytes, err := decodeB64(x)
	if err != nil || len(pubBytes) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%w: JWK \"x\" is not a base64url 32-byte Ed25519 key", ErrMalformed)
	}
	pub := ed25519.PublicKey(pubBytes)
	kid, err := get("kid", !private)
	if err != nil {
		return nil, nil, err
	}
	if _, present := m["kid"]; present && kid != Thumbprint(pub) {
		return nil, nil, fmt.Errorf("%w: JWK kid %q is not the RFC 7638 thumbprint of its key", ErrMalformed, kid)
	}
	if !private {
		return pub, nil, nil
	}
	d, err := get("d", true)
	if err != nil {
		return nil, nil, err
	}
	seed, err := decodeB64(d)
	if err != nil || len(seed) != ed25519.SeedSize {
		clear(seed)
		return nil, nil, fmt.Errorf("%w: JWK \"d\" is not a base64url 32-byte Ed25519 seed", ErrMalformed)
	}
	return pub, seed, nil
}

// decodeObject decodes a JSON object into its members, refusing anything that is not
// valid JSON, not an object, or repeats a member. go-jose's JSON decoder is used because
// it rejects duplicate members (encoding/json silently keeps the last), and it is the
// same decoder go-jose applies when it verifies, so both see the same members.
func decodeObject(data []byte) (map[string]josejson.RawMessage, error) {
	if !stdjson.Valid(data) {
		return nil, errInvalidJSON
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errNotObject
	}
	var m map[string]josejson.RawMessage
	if err := josejson.Unmarshal(data, &m); err != nil {
		// The input is a valid JSON object, so the only thing go-jose refuses here is a
		// repeated member.
		return nil, errDuplicate
	}
	return m, nil
}

type detailError string

func (e detailError) Error() string { return string(e) }

const (
	errInvalidJSON = detailError("not valid JSON")
	errNotObject   = detailError("not a JSON object")
	errDuplicate   = detailError("repeated JSON member")
	errBadBase64   = detailError("not unpadded base64url")
)

func sortedNames(m map[string]josejson.RawMessage) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
