package seal

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Version is the current sealed-field format version.
const Version = 1

// Size limits. A field is a name, an address or a rationale, not a document: bounding it
// keeps a sealed value's text form under MaxSealedText, which ParseSealed enforces on
// untrusted input before decoding anything.
const (
	// MaxPlaintext is the largest field Seal accepts.
	MaxPlaintext = 512 << 10
	// MaxSealedText is the largest text form ParseSealed reads.
	MaxSealedText = 1 << 20
	// MaxMarkingLen bounds a marking; the longest real one lists every member state.
	MaxMarkingLen = 1024
	// MaxBindingLen bounds an entry id and a field path.
	MaxBindingLen = 4096

	nonceSize      = 24
	tagSize        = 16
	minCT          = nonceSize + tagSize
	maxCT          = MaxPlaintext + minCT
	keyIDPrefix    = "k1"
	keyIDRandBytes = 16
)

// Sealed is a field value as it is stored and travels. CT is nonce||ciphertext.
type Sealed struct {
	V       int    `json:"v"`
	Marking string `json:"marking"`
	Key     string `json:"key"`
	CT      []byte `json:"ct"`
}

// Errors returned by Open.
var (
	// ErrNotReleased means this node holds no key that opens the value: it was not
	// released to this state, or its key was destroyed when its retention ended.
	ErrNotReleased = errors.New("seal: not released to this state (no key opens it)")
	// ErrTampered means the ciphertext, its marking or its binding to entry and field
	// does not authenticate.
	ErrTampered = errors.New("seal: ciphertext does not authenticate for this entry and field")
	// ErrMalformed means a sealed value, its text form or a wrapped key does not have the
	// shape this version produces (unknown version, bad key id, empty marking, short or
	// oversized ciphertext, bad base64, recipients that are not a sorted set, ...). It is
	// returned before any cryptography is attempted.
	ErrMalformed = errors.New("seal: malformed")
)

// b64 is base64url without padding, strict: each byte string has exactly one accepted
// encoding, so ParseSealed(s.Compact()) is the only text form of s.
var b64 = base64.RawURLEncoding.Strict()

// Validate checks the shape of s without any key: version, a well-formed marking, a key
// id of the form this package generates, and a ciphertext long enough to hold a nonce and
// a tag and no longer than the largest field. Open calls it first, so garbage is refused
// as ErrMalformed rather than reported as tampering.
func (s Sealed) Validate() error {
	if s.V != Version {
		return fmt.Errorf("%w: version %d, this node reads version %d", ErrMalformed, s.V, Version)
	}
	if err := checkMarking(s.Marking); err != nil {
		return err
	}
	if !validKeyID(s.Key) {
		return fmt.Errorf("%w: key id is not %q followed by 22 base64url characters", ErrMalformed, keyIDPrefix)
	}
	if len(s.CT) < minCT {
		return fmt.Errorf("%w: ciphertext is %d bytes, shorter than nonce and tag (%d)", ErrMalformed, len(s.CT), minCT)
	}
	if len(s.CT) > maxCT {
		return fmt.Errorf("%w: ciphertext is %d bytes, more than %d", ErrMalformed, len(s.CT), maxCT)
	}
	return nil
}

// Compact renders s as "v1.<key>.<b64url(marking)>.<b64url(ct)>", a single token that
// survives shells, URLs and log lines, for the CLI and tests. It is deliberately not
// MarshalText: in JSON a Sealed is the object {v, marking, key, ct}.
func (s Sealed) Compact() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := make([]byte, 0, 4+len(s.Key)+b64.EncodedLen(len(s.Marking))+b64.EncodedLen(len(s.CT)))
	out = append(out, 'v')
	out = strconv.AppendInt(out, int64(s.V), 10)
	out = append(out, '.')
	out = append(out, s.Key...)
	out = append(out, '.')
	out = b64.AppendEncode(out, []byte(s.Marking))
	out = append(out, '.')
	out = b64.AppendEncode(out, s.CT)
	return out, nil
}

// ParseSealed parses the text form written by Compact. It is strict (exactly four
// segments, only the base64url alphabet, canonical unpadded base64), bounded
// (MaxSealedText) and checks the version and shape, because the text comes from outside
// (command lines, files, other tools).
func ParseSealed(text []byte) (Sealed, error) {
	if len(text) > MaxSealedText {
		return Sealed{}, fmt.Errorf("%w: sealed text is %d bytes, more than %d", ErrMalformed, len(text), MaxSealedText)
	}
	for i, c := range text {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Sealed{}, fmt.Errorf("%w: byte %d of sealed text is not in the base64url alphabet", ErrMalformed, i)
		}
	}
	parts := strings.Split(string(text), ".")
	if len(parts) != 4 {
		return Sealed{}, fmt.Errorf("%w: sealed text has %d segments, want 4", ErrMalformed, len(parts))
	}
	vs, ok := strings.CutPrefix(parts[0], "v")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil || strconv.Itoa(v) != vs {
		return Sealed{}, fmt.Errorf("%w: sealed text does not start with a version such as v%d", ErrMalformed, Version)
	}
	marking, err := b64.DecodeString(parts[2])
	if err != nil {
		return Sealed{}, fmt.Errorf("%w: marking is not unpadded base64url", ErrMalformed)
	}
	ct, err := b64.DecodeString(parts[3])
	if err != nil {
		return Sealed{}, fmt.Errorf("%w: ciphertext is not unpadded base64url", ErrMalformed)
	}
	s := Sealed{V: v, Key: parts[1], Marking: string(marking), CT: ct}
	if err := s.Validate(); err != nil {
		return Sealed{}, err
	}
	return s, nil
}

// checkMarking accepts what a canonical marking can look like without knowing the
// marking grammar (that is policy's): non-empty, bounded, valid UTF-8, no control
// characters, no surrounding space.
func checkMarking(m string) error {
	switch {
	case m == "":
		return fmt.Errorf("%w: empty marking", ErrMalformed)
	case len(m) > MaxMarkingLen:
		return fmt.Errorf("%w: marking longer than %d bytes", ErrMalformed, MaxMarkingLen)
	case !utf8.ValidString(m):
		return fmt.Errorf("%w: marking is not valid UTF-8", ErrMalformed)
	case strings.TrimSpace(m) != m:
		return fmt.Errorf("%w: marking has surrounding space", ErrMalformed)
	case strings.IndexFunc(m, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: marking contains a control character", ErrMalformed)
	}
	return nil
}

// validKeyID reports whether id has the shape newKeyID produces: "k1" and 16 bytes in
// canonical unpadded base64url.
func validKeyID(id string) bool {
	rest, ok := strings.CutPrefix(id, keyIDPrefix)
	if !ok || len(rest) != b64.EncodedLen(keyIDRandBytes) {
		return false
	}
	raw, err := b64.DecodeString(rest)
	return err == nil && len(raw) == keyIDRandBytes
}

// validState reports whether code looks like a member state code: the roster uses ISO
// 3166-1 alpha-3 codes, and test federations may use longer upper-case names, so 2 to 16
// upper-case letters and digits starting with a letter. Commas and spaces are excluded
// so that a sorted set joins unambiguously.
func validState(code string) bool {
	if len(code) < 2 || len(code) > 16 || code[0] < 'A' || code[0] > 'Z' {
		return false
	}
	for i := 1; i < len(code); i++ {
		if c := code[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
