// Package seal encrypts individual field values so that only the states a marking releases
// them to can read them, binds each ciphertext to its entry id, field path and marking,
// and makes expired data unreadable by destroying keys (crypto-shredding).
//
// # Why an envelope
//
// Sealing every field with age directly costs one X25519 operation per recipient per
// field to seal, and up to one per recipient to open. Entente seals many small fields to
// the same few recipient sets, so instead a 32-byte data key exists per (sorted recipient
// set, epoch): it is wrapped once with age to every state in the set, and that wrapped
// form (WrappedKey) is what a node stores and shares with the federation. Each field is
// then sealed with XChaCha20-Poly1305 under the data key, which costs about as much as a
// hash of the field. BenchmarkSealOpenEnvelope5 and BenchmarkSealOpenAgePerField5 measure
// the difference.
//
// # What binds a ciphertext
//
// The AEAD's additional data is the domain "entente/seal/v1", the format version, the key
// id, the entry id, the field path and the marking, each length-prefixed so no two
// different tuples encode alike. Moving a ciphertext to another entry or field, or
// relabelling its marking, makes Open fail with ErrTampered. The marking is bound as
// given: callers pass the canonical form produced by policy.
//
// # Who can read
//
// Open needs the data key, which this node obtains only by unwrapping the WrappedKey with
// its own age identity, and only if the node's state is among the key's recipients. age
// does not authenticate the wrapper, so a node seals only under keys it generated itself;
// keys imported from other nodes are used to open, never to seal.
//
// # Crypto-shredding
//
// A data key exists only as its age-wrapped form in the Store and, once unwrapped, in the
// Keyring's memory. Destroy deletes the former and zeroes the latter; nothing else (no
// key derivation from a long-lived secret, no escrow) can recover it, so every field
// sealed under it becomes unreadable on this node. Every node that holds the wrapped key
// must destroy it; retention policy drives that through the federation.
package seal
