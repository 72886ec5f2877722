package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// domain separates these ciphertexts from any other use of the same key or algorithm.
const domain = "entente/seal/v1"

// dataKey is an unwrapped data key. It is kept in a fixed array, never in a cipher
// object, so Destroy can zero the only long-lived copy.
type dataKey [32]byte

// The field cipher is XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): HChaCha20 derives a
// per-nonce subkey from the data key and the first 16 nonce bytes, and ChaCha20-Poly1305
// runs under that subkey with the last 8 nonce bytes. It is assembled from x/crypto's
// HChaCha20 and ChaCha20-Poly1305 exactly as chacha20poly1305.NewX does internally (the
// tests check they agree byte for byte), rather than by caching NewX(key): a NewX AEAD
// holds a copy of the data key that cannot be zeroed, and creating one per call would
// leave a copy in every discarded object. Here only per-nonce subkeys reach the heap, and
// a subkey opens only the one field it sealed. The 24-byte random nonce makes collisions
// negligible for any number of fields per key.

// subAEAD returns the ChaCha20-Poly1305 instance and 12-byte nonce for one field.
func subAEAD(key *dataKey, nonce []byte) (cipher.AEAD, [chacha20poly1305.NonceSize]byte) {
	var n [chacha20poly1305.NonceSize]byte
	sub, err := chacha20.HChaCha20(key[:], nonce[:16])
	if err != nil {
		panic("seal: HChaCha20 with a 32-byte key and 16-byte nonce failed: " + err.Error())
	}
	c, err := chacha20poly1305.New(sub)
	clear(sub)
	if err != nil {
		panic("seal: ChaCha20-Poly1305 refused a 32-byte key: " + err.Error())
	}
	copy(n[4:], nonce[16:nonceSize])
	return c, n
}

// sealField returns nonce||ciphertext of plaintext under key, bound to aad.
func sealField(key *dataKey, aad, plaintext []byte) []byte {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	rand.Read(out[:nonceSize]) // crypto/rand.Read never fails (Go 1.24+)
	c, n := subAEAD(key, out[:nonceSize])
	return c.Seal(out, n[:], plaintext, aad)
}

// openField authenticates and decrypts nonce||ciphertext.
func openField(key *dataKey, aad, ct []byte) ([]byte, error) {
	c, n := subAEAD(key, ct[:nonceSize])
	return c.Open(nil, n[:], ct[nonceSize:], aad)
}

// bindingAAD is the additional data that ties a ciphertext to where it belongs: the
// domain, the format version, the key id, the entry id, the field path and the marking,
// each preceded by its length as a 4-byte big-endian integer, so that no two different
// tuples produce the same bytes ("a"+"bc" and "ab"+"c" differ).
func bindingAAD(keyID, entryID, field, marking string) []byte {
	n := 6*4 + len(domain) + 4 + len(keyID) + len(entryID) + len(field) + len(marking)
	b := make([]byte, 0, n)
	put := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	put(domain)
	b = binary.BigEndian.AppendUint32(b, 4)
	b = binary.BigEndian.AppendUint32(b, Version)
	put(keyID)
	put(entryID)
	put(field)
	put(marking)
	return b
}

// OpenWithKey opens s with a raw 32-byte data key, bound as Keyring.Open binds it. It is
// for audits of raw files (a retention test that recovers every data key a node's
// identities can unwrap and tries each); nodes use Keyring.Open.
func OpenWithKey(key []byte, s Sealed, entryID, field string) ([]byte, error) {
	if len(key) != len(dataKey{}) {
		return nil, fmt.Errorf("%w: a data key is %d bytes", ErrMalformed, len(dataKey{}))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var k dataKey
	copy(k[:], key)
	defer clear(k[:])
	pt, err := openField(&k, bindingAAD(s.Key, entryID, field, s.Marking), s.CT)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s, entry %.64q, field %.64q", ErrTampered, s.Key, entryID, field)
	}
	return pt, nil
}
