package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"
)

// Bounds on a wrapped key, checked before age parses it. MaxRecipients is far above any
// alliance's membership; a hybrid post-quantum stanza is about 1.5 KiB, so the byte bound
// leaves room for every recipient to use one.
const (
	// MaxRecipients is the most states one data key may be wrapped to.
	MaxRecipients = 128
	maxWrapped    = 256 << 10
)

// wrapKey encrypts key with age to recipients.
func wrapKey(key *dataKey, recipients []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(key[:]); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unwrapKey decrypts a wrapped key with this node's identity. The plaintext must be
// exactly 32 bytes.
func unwrapKey(wrapped []byte, id age.Identity) (dataKey, error) {
	var key dataKey
	r, err := age.Decrypt(bytes.NewReader(wrapped), id)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return key, errNoStanzaForUs
		}
		return key, errUnwrap
	}
	var extra [1]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		clear(key[:])
		return key, errUnwrap
	}
	if n, err := r.Read(extra[:]); n != 0 || err != io.EOF {
		clear(key[:])
		return key, errUnwrap
	}
	return key, nil
}

// Reasons an unwrap fails; neither says anything about the key.
var (
	errNoStanzaForUs = errors.New("no recipient stanza matches this node's age identity")
	errUnwrap        = errors.New("wrapped key does not decrypt to a 32-byte key")
)

// neverMatches is an age identity that matches no stanza: passed to age.Decrypt, it lets
// age parse the header and report the stanza types without any key operation.
type neverMatches struct{}

func (neverMatches) Unwrap([]*age.Stanza) ([]byte, error) { return nil, age.ErrIncorrectIdentity }

// stanzaTypes uses age's own parser to list the recipient stanzas of a wrapped key.
func stanzaTypes(wrapped []byte) ([]string, error) {
	_, err := age.Decrypt(bytes.NewReader(wrapped), neverMatches{})
	var nomatch *age.NoIdentityMatchError
	if !errors.As(err, &nomatch) {
		return nil, fmt.Errorf("%w: wrapped key is not an age file", ErrMalformed)
	}
	return nomatch.StanzaTypes, nil
}

// checkWrappedKey checks the shape of a wrapped key from a store or another node: key id,
// recipients a sorted set of state codes, origin, size, and an age header with exactly
// one public-key stanza per listed recipient. The stanza count catches a key wrapped to
// more parties than it admits; which party each stanza is for cannot be checked without
// their identities (age hides it), which is why keys from elsewhere are never sealed
// under.
func checkWrappedKey(w WrappedKey) error {
	if !validKeyID(w.ID) {
		return fmt.Errorf("%w: key id is not %q followed by 22 base64url characters", ErrMalformed, keyIDPrefix)
	}
	if err := checkRecipientSet(w.Recipients); err != nil {
		return fmt.Errorf("key %s: %w", w.ID, err)
	}
	if w.Origin != "" && !validState(w.Origin) {
		return fmt.Errorf("%w: key %s: origin %.20q is not a state code", ErrMalformed, w.ID, w.Origin)
	}
	switch {
	case w.Subject == "" && len(w.Epochs) != 0:
		return fmt.Errorf("%w: key %s: epochs without a subject", ErrMalformed, w.ID)
	case w.Subject != "" && (len(w.Subject) > MaxBindingLen || len(w.Epochs) != len(w.Recipients)):
		return fmt.Errorf("%w: key %s: a subject key needs a subject of 1 to %d bytes and one epoch per recipient", ErrMalformed, w.ID, MaxBindingLen)
	case w.Subject != "" && w.Origin == "":
		return fmt.Errorf("%w: key %s: a subject key needs its origin", ErrMalformed, w.ID)
	}
	if len(w.Wrapped) == 0 || len(w.Wrapped) > maxWrapped {
		return fmt.Errorf("%w: key %s: wrapped form is %d bytes (1 to %d)", ErrMalformed, w.ID, len(w.Wrapped), maxWrapped)
	}
	types, err := stanzaTypes(w.Wrapped)
	if err != nil {
		return fmt.Errorf("key %s: %w", w.ID, err)
	}
	if len(types) != len(w.Recipients) {
		return fmt.Errorf("%w: key %s: %d recipient stanzas for %d listed recipients", ErrMalformed, w.ID, len(types), len(w.Recipients))
	}
	for _, t := range types {
		if t != "X25519" && t != "mlkem768x25519" {
			return fmt.Errorf("%w: key %s: recipient stanza type %.32q is not a public-key recipient", ErrMalformed, w.ID, t)
		}
	}
	return nil
}

// checkRecipientSet accepts a non-empty, sorted, duplicate-free list of state codes.
func checkRecipientSet(set []string) error {
	if len(set) == 0 || len(set) > MaxRecipients {
		return fmt.Errorf("%w: %d recipients (1 to %d)", ErrMalformed, len(set), MaxRecipients)
	}
	for _, s := range set {
		if !validState(s) {
			return fmt.Errorf("%w: recipient %.20q is not a state code", ErrMalformed, s)
		}
	}
	if !strictlySorted(set) {
		return fmt.Errorf("%w: recipients are not a sorted set", ErrMalformed)
	}
	return nil
}

// canonicalSet returns recipients as a validated sorted set. When recipients is already
// one (as policy emits it) it is returned as is; otherwise the set is built in buf, so a
// caller can pass a stack array and Seal's fast path does not allocate for it.
func canonicalSet(buf, recipients []string) ([]string, error) {
	set := recipients
	if !strictlySorted(set) {
		set = append(buf[:0], recipients...)
		slices.Sort(set)
		set = slices.Compact(set)
	}
	if err := checkRecipientSet(set); err != nil {
		return nil, err
	}
	return set, nil
}

// appendSetKey appends the name of a (recipient set, epoch) pair, the key of
// Keyring.bySet: the codes joined by "," (codes contain no comma), "#", and the epoch as
// 8 big-endian bytes.
func appendSetKey(b []byte, set []string, epoch uint64) []byte {
	for i, s := range set {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	b = append(b, '#')
	return binary.BigEndian.AppendUint64(b, epoch)
}

// subjectKeyName is the Keyring.bySet name of a subject key: a leading NUL (which no
// appendSetKey name has), the subject, NUL, and the recipient set.
func subjectKeyName(subject string, set []string) string {
	b := append([]byte{0}, subject...)
	b = append(b, 0)
	return string(appendSetKey(b, set, 0))
}

// setName is the Keyring.bySet name of w.
func setName(w WrappedKey) string {
	if w.Subject != "" {
		return subjectKeyName(w.Subject, w.Recipients)
	}
	return string(appendSetKey(nil, w.Recipients, w.Epoch))
}

func strictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}
