package records

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/policy"
)

// Bucket names; see the package documentation for the layout.
var (
	bucketRecords  = []byte("records")
	bucketVersions = []byte("record_versions")
	bucketSeq      = []byte("record_seq")
)

// List page sizes: the default suits a screen of results; the cap keeps one request from
// holding a read transaction (and the response) too long.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// StoredField is a field as kept at rest: its marking and either its sealed value or,
// for PUBLIC fields only, its plain canonical JSON. Even NATIONAL fields are sealed (to
// the node's own key), so that crypto-shredding reaches them too.
type StoredField struct {
	Marking string          `json:"marking"`
	Sealed  *seal.Sealed    `json:"sealed,omitempty"`
	Plain   json.RawMessage `json:"plain,omitempty"`
}

// Stored is one version of a record as kept in bbolt. Versions are immutable: a
// correction is a new Stored with the next Version, and every earlier version stays as it
// was written.
type Stored struct {
	ID        string                 `json:"id"`
	Kind      string                 `json:"kind"`
	Version   int                    `json:"version"`
	Created   time.Time              `json:"created"`
	Actor     string                 `json:"actor"`
	Rationale string                 `json:"rationale,omitempty"`
	Fields    map[string]StoredField `json:"fields"`
}

// EntryID is the entry id a record version's fields are sealed under. Binding the
// version as well as the id means a field cannot be moved from one version to another
// unnoticed; callers must seal with EntryID(id, version) of the version they store.
func EntryID(id string, version int) string {
	return "record/" + id + "/v" + strconv.Itoa(version)
}

// index is the value of a record's entry in the "records" bucket: enough to find its
// versions and to filter List without decoding them.
type index struct {
	Latest  int       `json:"latest"`
	Seq     uint64    `json:"seq"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`   // of the latest version
	Created time.Time `json:"created"` // of the latest version
}

// EnsureBuckets creates the record buckets. Call it once at start-up in a write
// transaction; the other functions refuse to run (or find nothing) without them rather
// than create them in a transaction that is about something else.
func EnsureBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketRecords, bucketVersions, bucketSeq} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("records: create bucket %s: %w", name, err)
		}
	}
	return nil
}

type buckets struct{ records, versions, seq *bbolt.Bucket }

func open(tx *bbolt.Tx) (buckets, bool) {
	b := buckets{tx.Bucket(bucketRecords), tx.Bucket(bucketVersions), tx.Bucket(bucketSeq)}
	return b, b.records != nil && b.versions != nil && b.seq != nil
}

func openWrite(tx *bbolt.Tx) (buckets, error) {
	if !tx.Writable() {
		return buckets{}, errors.New("records: write needs a writable transaction")
	}
	b, ok := open(tx)
	if !ok {
		return b, errors.New("records: buckets missing (call EnsureBuckets at start-up)")
	}
	return b, nil
}

func versionKey(id string, version int) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(version))
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Create stores s as version 1 of a new record, in the caller's transaction. It returns
// ErrExists, having written nothing, if the id is taken. s must be well formed (see
// checkStored); on any error the caller should roll the transaction back, as it will
// when its db.Update function returns the error.
func Create(tx *bbolt.Tx, s *Stored) error {
	b, err := openWrite(tx)
	if err != nil {
		return err
	}
	if s == nil || s.Version != 1 {
		return fmt.Errorf("records: create needs version 1, got %v", versionOf(s))
	}
	if err := checkStored(s); err != nil {
		return err
	}
	if b.records.Get([]byte(s.ID)) != nil {
		return fmt.Errorf("%w: %s", ErrExists, s.ID)
	}
	seq, err := b.seq.NextSequence()
	if err != nil {
		return fmt.Errorf("records: next sequence: %w", err)
	}
	if err := b.seq.Put(seqKey(seq), []byte(s.ID)); err != nil {
		return fmt.Errorf("records: store sequence of %s: %w", s.ID, err)
	}
	return putVersion(b, s, seq)
}

// Correct appends s as version baseVersion+1 of an existing record, in the caller's
// transaction. baseVersion is the version the correction was made against: if it is no
// longer the latest, Correct returns ErrConflict, so that two officers correcting the same
// record cannot silently overwrite each other. s.Version must be baseVersion+1 (the
// fields were sealed under that version's EntryID) and s.Kind must not change. Earlier
// versions are never touched.
func Correct(tx *bbolt.Tx, s *Stored, baseVersion int) error {
	b, err := openWrite(tx)
	if err != nil {
		return err
	}
	if s == nil {
		return errors.New("records: correct needs a record")
	}
	idx, err := readIndex(b, s.ID)
	if err != nil {
		return err
	}
	if baseVersion != idx.Latest {
		return fmt.Errorf("%w: %s is at version %d, the correction is based on version %d", ErrConflict, s.ID, idx.Latest, baseVersion)
	}
	if s.Version != baseVersion+1 {
		return fmt.Errorf("records: correction of %s version %d must be version %d, got %d", s.ID, baseVersion, baseVersion+1, s.Version)
	}
	if s.Kind != idx.Kind {
		return fieldErr("kind", "a correction cannot change the kind of %s from %s to %q", s.ID, idx.Kind, clip(s.Kind))
	}
	if err := checkStored(s); err != nil {
		return err
	}
	if b.versions.Get(versionKey(s.ID, s.Version)) != nil {
		return fmt.Errorf("records: %s version %d already stored although the index says %d is the latest", s.ID, s.Version, idx.Latest)
	}
	return putVersion(b, s, idx.Seq)
}

func versionOf(s *Stored) any {
	if s == nil {
		return "no record"
	}
	return s.Version
}

// putVersion writes version s and points the index at it.
func putVersion(b buckets, s *Stored, seq uint64) error {
	data, err := encodeStored(s)
	if err != nil {
		return fmt.Errorf("records: encode %s version %d: %w", s.ID, s.Version, err)
	}
	if err := b.versions.Put(versionKey(s.ID, s.Version), data); err != nil {
		return fmt.Errorf("records: store %s version %d: %w", s.ID, s.Version, err)
	}
	idx, err := json.Marshal(index{Latest: s.Version, Seq: seq, Kind: s.Kind, Actor: s.Actor, Created: s.Created.UTC()})
	if err != nil {
		return fmt.Errorf("records: encode index of %s: %w", s.ID, err)
	}
	if err := b.records.Put([]byte(s.ID), idx); err != nil {
		return fmt.Errorf("records: store index of %s: %w", s.ID, err)
	}
	return nil
}

// checkStored refuses a Stored that the rest of the node could not trust: a bad id or
// kind, no actor or time, a field the kind does not have, a required field missing, or a
// field whose storage does not match its marking (plain text for anything but PUBLIC, or
// a sealed value under a different marking).
func checkStored(s *Stored) error {
	if err := checkID("id", s.ID); err != nil {
		return err
	}
	schema, ok := schemas[s.Kind]
	if !ok {
		return fieldErr("kind", "unknown kind %q (known: %s)", clip(s.Kind), strings.Join(knownKinds, ", "))
	}
	if s.Created.IsZero() {
		return errors.New("records: stored record needs a creation time")
	}
	if strings.TrimSpace(s.Actor) == "" || !utf8.ValidString(s.Actor) {
		return errors.New("records: stored record needs an actor (valid UTF-8)")
	}
	if !utf8.ValidString(s.Rationale) {
		return errors.New("records: rationale is not valid UTF-8")
	}
	for _, name := range sortedKeys(s.Fields) {
		f := s.Fields[name]
		if _, ok := schema.field(name); !ok {
			return fmt.Errorf("records: %s has no field %q", s.Kind, name)
		}
		m, err := policy.ParseMarking(f.Marking)
		if err != nil {
			return fmt.Errorf("records: field %s: %w", name, err)
		}
		switch {
		case f.Sealed != nil && f.Plain != nil:
			return fmt.Errorf("records: field %s is both sealed and plain", name)
		case f.Plain != nil && m.Kind != policy.Public:
			return fmt.Errorf("records: field %s is marked %s and must be sealed; only PUBLIC fields are stored in plain", name, m)
		case f.Plain != nil && !json.Valid(f.Plain):
			return fmt.Errorf("records: field %s: plain value is not valid JSON", name)
		case f.Sealed == nil && f.Plain == nil:
			return fmt.Errorf("records: field %s has no value", name)
		case f.Sealed != nil && len(f.Sealed.CT) == 0:
			return fmt.Errorf("records: field %s: sealed value has no ciphertext", name)
		case f.Sealed != nil:
			sm, err := policy.ParseMarking(f.Sealed.Marking)
			if err != nil || !sm.Equal(m) {
				return fmt.Errorf("records: field %s is marked %s but sealed under %q", name, m, clip(f.Sealed.Marking))
			}
		}
	}
	for _, f := range schema.fields {
		if _, ok := s.Fields[f.name]; f.required && !ok {
			return fmt.Errorf("records: %s needs field %s", s.Kind, f.name)
		}
	}
	return nil
}

func readIndex(b buckets, id string) (index, error) {
	var idx index
	v := b.records.Get([]byte(id))
	if v == nil {
		return idx, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &idx); err != nil {
		return idx, fmt.Errorf("records: decode index of %s: %w", id, err)
	}
	return idx, nil
}

// Get returns one version of a record; version 0 means the latest. It returns ErrNotFound
// if the record or that version does not exist.
func Get(tx *bbolt.Tx, id string, version int) (*Stored, error) {
	if version < 0 {
		return nil, fieldErr("version", "must be 0 (the latest) or a version number, got %d", version)
	}
	b, ok := open(tx)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if version == 0 {
		idx, err := readIndex(b, id)
		if err != nil {
			return nil, err
		}
		version = idx.Latest
	}
	v := b.versions.Get(versionKey(id, version))
	if v == nil {
		return nil, fmt.Errorf("%w: %s version %d", ErrNotFound, id, version)
	}
	return decodeStored(id, version, v)
}

// History returns every version of a record, oldest first, exactly as each was written.
// It returns ErrNotFound if there is no such record.
func History(tx *bbolt.Tx, id string) ([]*Stored, error) {
	b, ok := open(tx)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	prefix := append([]byte(id), 0)
	var out []*Stored
	c := b.versions.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		version := int(binary.BigEndian.Uint64(k[len(prefix):]))
		s, err := decodeStored(id, version, v)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return out, nil
}

// Filter narrows List. A zero field sets no bound. Actor, Since and Until apply to the
// latest version (who last touched the record, and when); Since is inclusive and Until
// exclusive, so consecutive windows neither overlap nor leave gaps.
type Filter struct {
	Kind  string
	Actor string
	Since time.Time
	Until time.Time
}

func (f Filter) match(idx index) bool {
	return (f.Kind == "" || idx.Kind == f.Kind) &&
		(f.Actor == "" || idx.Actor == f.Actor) &&
		(f.Since.IsZero() || !idx.Created.Before(f.Since)) &&
		(f.Until.IsZero() || idx.Created.Before(f.Until))
}

// List returns the latest version of each record matching f, in the order the records
// were first created, a page at a time. cursor is "" for the first page and then the
// cursor the previous call returned; it is opaque to clients (base64url of a position in
// the creation order), and one that does not decode is a *FieldError for "cursor". limit
// is 1 to 1000, 0 meaning 100. The returned cursor is "" when there are no more matches,
// so paging until it is empty visits every match exactly once, even while records are
// added or corrected in between.
func List(tx *bbolt.Tx, f Filter, cursor string, limit int) ([]*Stored, string, error) {
	if limit == 0 {
		limit = defaultListLimit
	}
	if limit < 0 || limit > maxListLimit {
		return nil, "", fieldErr("limit", "must be between 1 and %d, got %d", maxListLimit, limit)
	}
	if f.Kind != "" {
		if _, ok := schemas[f.Kind]; !ok {
			return nil, "", fieldErr("kind", "unknown kind %q (known: %s)", clip(f.Kind), strings.Join(knownKinds, ", "))
		}
	}
	start := uint64(1)
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) != 8 || binary.BigEndian.Uint64(raw) == 0 {
			return nil, "", fieldErr("cursor", "malformed cursor: pass back exactly the cursor a previous page returned")
		}
		start = binary.BigEndian.Uint64(raw)
	}
	b, ok := open(tx)
	if !ok {
		return nil, "", nil
	}
	var out []*Stored
	c := b.seq.Cursor()
	for k, id := c.Seek(seqKey(start)); k != nil; k, id = c.Next() {
		idx, err := readIndex(b, string(id))
		if err != nil {
			return nil, "", fmt.Errorf("records: list at seq %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !f.match(idx) {
			continue
		}
		if len(out) == limit {
			// There is at least one more match: the next page starts at it.
			return out, base64.RawURLEncoding.EncodeToString(k), nil
		}
		v := b.versions.Get(versionKey(string(id), idx.Latest))
		if v == nil {
			return nil, "", fmt.Errorf("records: %s version %d is indexed but missing", id, idx.Latest)
		}
		s, err := decodeStored(string(id), idx.Latest, v)
		if err != nil {
			return nil, "", err
		}
		out = append(out, s)
	}
	return out, "", nil
}

// Count returns how many records (not versions) the node holds. It walks the index, so
// it costs time in proportion to the number of records; it always agrees with List.
func Count(tx *bbolt.Tx) (int, error) {
	b, ok := open(tx)
	if !ok {
		return 0, nil
	}
	n := 0
	c := b.records.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n, nil
}
