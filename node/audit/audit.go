// Package audit is the node's tamper-evident audit trail. Every action (a record created
// or corrected, a token issued, a nomination proposed) is appended to a hash chain in the
// node's bbolt file, in the same transaction as the action itself: if the append fails the
// action fails, and if the action is rolled back so is its entry. An auditor can verify the
// chain offline (VerifyDB) or page by page over the API (Verifier).
//
// # Storage layout
//
// Bucket "audit" maps seq (8-byte big-endian) to the JSON encoding of the Entry, so a
// cursor walks the chain in order. Bucket "audit_meta" holds key "head": the head's seq
// (8-byte big-endian) followed by its raw 32-byte hash. The head is what detects a removed
// tail: deleting the last entries leaves a chain that is internally consistent but ends
// before the head says it should.
//
// # Hash
//
// Hash is hex(SHA-256(enc)), where enc is built as follows (see HashEntry):
//
//	"entente/audit/v1"                    domain separation, fixed 16 bytes
//	u64(Seq)                              8-byte big-endian
//	str(Time as RFC 3339 with nanoseconds, in UTC)
//	str(Actor) str(Action) str(Object) str(Rationale)
//	u64(len(Detail)) then str(key) str(value) for each key in sorted order
//	str(Prev)
//
// where str(s) is u64(len(s)) followed by the bytes of s. Every variable-length field is
// length-prefixed, so no two different entries encode to the same bytes (moving a
// character from Actor to Action changes the encoding). Hash itself is the only field not
// covered.
//
// A chain proves that nothing was altered, reordered or removed relative to a head the
// auditor trusts. Anyone who can write the file can also rebuild the whole chain, so an
// auditor should keep the head (Head, or the last entry seen by a Verifier) and compare it
// on the next visit: a rebuilt chain will not contain that hash at that seq.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"
)

// Bucket and key names; see the package documentation for the layout.
var (
	bucketEntries = []byte("audit")
	bucketMeta    = []byte("audit_meta")
	keyHead       = []byte("head")
)

// hashDomain separates audit hashes from any other SHA-256 use in the project, and
// versions the encoding so that a future change cannot be confused with this one.
const hashDomain = "entente/audit/v1"

// ZeroHash is the Prev of the first entry: there is nothing before it.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// List limits: a page is small enough to sign and send in one response, and large enough
// that verifying a long chain does not take thousands of round trips.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Entry is one audited action. Seq, Prev and Hash are assigned by Append; the caller fills
// in the rest. Detail carries small facts about the action (record version, marking,
// reason code) that an auditor needs without opening the object itself.
type Entry struct {
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Object    string            `json:"object"`
	Rationale string            `json:"rationale,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	Prev      string            `json:"prev"`
	Hash      string            `json:"hash"`
}

// ChainError says where the chain is broken and how, so that an auditor can go straight
// to the entry in question. Seq is the sequence number at which the problem shows.
type ChainError struct {
	Seq     uint64
	Problem string
}

// Error implements error.
func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Problem)
}

// EnsureBuckets creates the audit buckets. Call it once at start-up in a write
// transaction; Append refuses to run without them rather than create them silently in a
// transaction that may be about something else.
func EnsureBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketEntries, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("audit: create bucket %s: %w", name, err)
		}
	}
	return nil
}

// Append adds e to the chain in tx and returns it as stored, with Seq, Prev and Hash set
// and Time in UTC (a zero Time is stamped with the current time). Call it in the same
// transaction as the action it records, so that both commit or neither does. Actor and
// Action are required, and every string must be valid UTF-8: JSON would otherwise replace
// bad bytes and the stored entry would no longer match its hash.
func Append(tx *bbolt.Tx, e Entry) (Entry, error) {
	if !tx.Writable() {
		return Entry{}, errors.New("audit: append needs a writable transaction")
	}
	entries, meta := tx.Bucket(bucketEntries), tx.Bucket(bucketMeta)
	if entries == nil || meta == nil {
		return Entry{}, errors.New("audit: buckets missing (call EnsureBuckets at start-up)")
	}
	if err := checkEntry(&e); err != nil {
		return Entry{}, err
	}
	headSeq, headHash, ok, err := readHead(meta)
	if err != nil {
		return Entry{}, err
	}
	e.Seq, e.Prev = 1, ZeroHash
	if ok {
		e.Seq, e.Prev = headSeq+1, hex.EncodeToString(headHash)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.Hash = HashEntry(e)
	data, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: encode entry %d: %w", e.Seq, err)
	}
	if err := entries.Put(seqKey(e.Seq), data); err != nil {
		return Entry{}, fmt.Errorf("audit: store entry %d: %w", e.Seq, err)
	}
	sum, _ := hex.DecodeString(e.Hash) // HashEntry always returns 64 hex digits
	if err := meta.Put(keyHead, append(seqKey(e.Seq), sum...)); err != nil {
		return Entry{}, fmt.Errorf("audit: store head %d: %w", e.Seq, err)
	}
	return e, nil
}

// checkEntry refuses entries that would not survive a JSON round trip unchanged or that
// say nothing about who did what.
func checkEntry(e *Entry) error {
	if strings.TrimSpace(e.Actor) == "" {
		return errors.New("audit: entry needs an actor")
	}
	if strings.TrimSpace(e.Action) == "" {
		return errors.New("audit: entry needs an action")
	}
	for _, f := range [...]struct{ name, s string }{{"actor", e.Actor}, {"action", e.Action}, {"object", e.Object}, {"rationale", e.Rationale}} {
		if !utf8.ValidString(f.s) {
			return fmt.Errorf("audit: %s is not valid UTF-8", f.name)
		}
	}
	for k, v := range e.Detail {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("audit: detail %q is not valid UTF-8", k)
		}
	}
	if y := e.Time.UTC().Year(); !e.Time.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("audit: time %v is outside years 1-9999", e.Time)
	}
	return nil
}

// readHead returns the stored head, ok=false if the chain is empty.
func readHead(meta *bbolt.Bucket) (seq uint64, hash []byte, ok bool, err error) {
	v := meta.Get(keyHead)
	if v == nil {
		return 0, nil, false, nil
	}
	if len(v) != 8+sha256.Size {
		return 0, nil, false, &ChainError{Problem: fmt.Sprintf("head mismatch: head record is %d bytes, want %d", len(v), 8+sha256.Size)}
	}
	return binary.BigEndian.Uint64(v[:8]), bytes.Clone(v[8:]), true, nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// HashEntry returns the hex SHA-256 of e's canonical encoding (see the package
// documentation). e.Hash is ignored, so HashEntry(e) == e.Hash checks an entry.
func HashEntry(e Entry) string {
	h := sha256.New()
	var n [8]byte
	u64 := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	str := func(s string) {
		u64(uint64(len(s)))
		h.Write([]byte(s))
	}
	h.Write([]byte(hashDomain))
	u64(e.Seq)
	str(e.Time.UTC().Format(time.RFC3339Nano))
	str(e.Actor)
	str(e.Action)
	str(e.Object)
	str(e.Rationale)
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	u64(uint64(len(keys)))
	for _, k := range keys {
		str(k)
		str(e.Detail[k])
	}
	str(e.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// List returns up to limit entries with Seq > after, in order. limit 0 means
// DefaultListLimit; more than MaxListLimit is refused so that one request cannot pin a
// read transaction for long. An empty or missing trail gives an empty list.
func List(tx *bbolt.Tx, after uint64, limit int) ([]Entry, error) {
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 0 || limit > MaxListLimit {
		return nil, fmt.Errorf("audit: limit %d out of range 1..%d", limit, MaxListLimit)
	}
	b := tx.Bucket(bucketEntries)
	if b == nil || after == ^uint64(0) {
		return nil, nil
	}
	var out []Entry
	c := b.Cursor()
	for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		e, err := decodeEntry(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeEntry(k, v []byte) (Entry, error) {
	var e Entry
	if len(k) != 8 {
		return e, &ChainError{Problem: fmt.Sprintf("malformed key %x", k)}
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return e, &ChainError{Seq: binary.BigEndian.Uint64(k), Problem: fmt.Sprintf("undecodable entry: %v", err)}
	}
	return e, nil
}

// Head returns the last entry of the chain, ok=false if it is empty. It follows the stored
// head rather than the last key, so that a removed tail shows up as an error here too.
func Head(tx *bbolt.Tx) (Entry, bool, error) {
	entries, meta := tx.Bucket(bucketEntries), tx.Bucket(bucketMeta)
	if entries == nil || meta == nil {
		return Entry{}, false, nil
	}
	seq, _, ok, err := readHead(meta)
	if err != nil || !ok {
		return Entry{}, false, err
	}
	v := entries.Get(seqKey(seq))
	if v == nil {
		return Entry{}, false, &ChainError{Seq: seq, Problem: "head mismatch: the head entry is missing"}
	}
	e, err := decodeEntry(seqKey(seq), v)
	if err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// Verifier checks a chain one entry at a time, so that a client can verify the trail page
// by page as it downloads it, without holding it all. The zero value is not ready: use
// NewVerifier. After an error the Verifier stays at the last good entry.
type Verifier struct {
	n    uint64
	last Entry
}

// NewVerifier returns a Verifier expecting the first entry (seq 1).
func NewVerifier() *Verifier {
	return &Verifier{last: Entry{Hash: ZeroHash}}
}

// Next checks that e is the entry that must follow the ones seen so far: its seq is the
// next one, its hash matches its content, and its Prev is the previous entry's hash.
func (v *Verifier) Next(e Entry) error {
	want := v.n + 1
	switch {
	case e.Seq > want:
		return &ChainError{Seq: want, Problem: fmt.Sprintf("gap: expected seq %d, found %d", want, e.Seq)}
	case e.Seq < want:
		return &ChainError{Seq: want, Problem: fmt.Sprintf("reordered or duplicated: expected seq %d, found %d", want, e.Seq)}
	}
	if HashEntry(e) != e.Hash {
		return &ChainError{Seq: e.Seq, Problem: "altered (hash mismatch)"}
	}
	if e.Prev != v.last.Hash {
		return &ChainError{Seq: e.Seq, Problem: "reordered or removed (prev does not match)"}
	}
	v.n, v.last = want, e
	return nil
}

// Count returns how many entries have been verified.
func (v *Verifier) Count() uint64 { return v.n }

// Last returns the last verified entry (the zero Entry, with Hash ZeroHash, before the
// first). An auditor keeps it to detect a rebuilt chain on the next visit.
func (v *Verifier) Last() Entry { return v.last }

// VerifyDB walks the whole chain in tx, checks every entry (key and seq agree, hash, prev
// link, no gaps) and compares the end of the chain with the stored head, which detects a
// removed tail. It returns the number of entries and the head entry.
func VerifyDB(tx *bbolt.Tx) (n uint64, head Entry, err error) {
	entries, meta := tx.Bucket(bucketEntries), tx.Bucket(bucketMeta)
	if entries == nil || meta == nil {
		return 0, Entry{}, errors.New("audit: buckets missing (call EnsureBuckets at start-up)")
	}
	v := NewVerifier()
	c := entries.Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		e, err := decodeEntry(k, val)
		if err != nil {
			return v.Count(), v.Last(), err
		}
		if key := binary.BigEndian.Uint64(k); key != e.Seq {
			return v.Count(), v.Last(), &ChainError{Seq: key, Problem: fmt.Sprintf("reordered (entry stored under seq %d says seq %d)", key, e.Seq)}
		}
		if err := v.Next(e); err != nil {
			return v.Count(), v.Last(), err
		}
	}
	headSeq, headHash, ok, err := readHead(meta)
	if err != nil {
		return v.Count(), v.Last(), err
	}
	last := v.Last()
	switch {
	case !ok && v.Count() == 0:
		return 0, Entry{}, nil
	case !ok:
		return v.Count(), last, &ChainError{Seq: 1, Problem: fmt.Sprintf("head mismatch: no head recorded but the chain has %d entries", v.Count())}
	case headSeq > last.Seq:
		return v.Count(), last, &ChainError{Seq: last.Seq + 1, Problem: fmt.Sprintf("head mismatch: head is seq %d but the chain ends at seq %d (tail removed)", headSeq, last.Seq)}
	case headSeq < last.Seq:
		return v.Count(), last, &ChainError{Seq: headSeq + 1, Problem: fmt.Sprintf("head mismatch: head is seq %d but the chain continues to seq %d", headSeq, last.Seq)}
	case hex.EncodeToString(headHash) != last.Hash:
		return v.Count(), last, &ChainError{Seq: headSeq, Problem: "head mismatch: head hash differs from the last entry's hash"}
	}
	return v.Count(), last, nil
}
