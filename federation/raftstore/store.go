package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"

	"github.com/entente/entente/federation/internal/crashpoint"
)

// Sentinel errors. Callers match them with errors.Is; the returned errors add
// the index or key concerned.
var (
	// ErrKeyNotFound is returned by Get and GetUint64 for a key that was never
	// set. Its text must stay exactly "not found": raft (api.go
	// HasExistingState and NewRaft, raft.go requestVote) compares err.Error()
	// with that string to tell "never set" apart from a storage failure, so
	// this error is returned unwrapped.
	ErrKeyNotFound = errors.New("not found")

	// ErrCorrupt marks a stored value that cannot be decoded: truncated,
	// checksum mismatch, unknown version or flags, or stored under the wrong
	// index. Retrying does not help; the node's raft directory has to be
	// rebuilt from a peer (remove it and let the leader send a snapshot).
	ErrCorrupt = errors.New("corrupt value")

	// ErrInvalidLog marks a log entry this store refuses to write rather than
	// write wrongly: index 0 (FirstIndex and LastIndex use 0 for "empty") or
	// an AppendedAt that Unix nanoseconds cannot represent.
	ErrInvalidLog = errors.New("invalid log entry")
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero: long enough to ride out a previous process that is
// still closing, short enough that a second node started on the same data
// directory fails fast instead of hanging.
const DefaultTimeout = time.Second

const (
	// fileMode keeps votes and (sealed) log entries readable by the node's
	// own user only.
	fileMode = 0o600

	// initialMmapSize is mapped at open so the log can grow to 256 MiB
	// before bbolt has to remap, which blocks every reader while it happens.
	initialMmapSize = 256 << 20

	// logsFillPercent: raft appends at ever higher indices, so pages split
	// at the right edge and the default 50% fill would leave every log page
	// half empty. 0.9 (etcd uses the same for its append-only buckets) still
	// leaves room for the rare follower truncate-and-rewrite.
	logsFillPercent = 0.9
)

var (
	bucketLogs = []byte("logs")
	bucketConf = []byte("conf")
)

// Options tunes Open. The zero value is what production uses.
type Options struct {
	// NoSync skips fsync on commit. Only for tests and benchmarks: after a
	// crash the node may have forgotten entries it acknowledged or a vote it
	// cast, which breaks raft's safety.
	NoSync bool

	// Timeout bounds the wait for the exclusive file lock. Zero means
	// DefaultTimeout; negative is rejected. bbolt would otherwise wait
	// forever for a lock held by another process.
	Timeout time.Duration
}

// Store is raft's log store and stable store in one bbolt file. Keeping both
// in one file means one lock, one fsync stream and one directory for an
// operator to back up or wipe. It is safe for concurrent use: bbolt
// serialises writers and lets readers run beside them on consistent
// snapshots.
//
// Store deliberately does not implement raft.MonotonicLogStore: the logs
// bucket is a B+tree keyed by index, so a gap between entries (which raft
// leaves after installing a snapshot) costs nothing and FirstIndex, LastIndex
// and GetLog stay correct across it. Declaring the store monotonic would only
// make raft delete the entire log in one transaction after every snapshot
// install or restore.
type Store struct {
	db   *bbolt.DB
	path string

	// beforeCommit, when set by a test, runs inside the StoreLogs write
	// transaction after every Put, so a test can fail the batch midway and
	// observe the rollback.
	beforeCommit func() error
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens or creates the store at path (mode 0600 when created) and makes
// sure its two buckets exist. It fails with an error wrapping
// go.etcd.io/bbolt/errors.ErrTimeout if another process, or another Store in
// this process, holds the file for longer than o.Timeout. The directory must
// exist: creating it, and choosing its mode, is the node's job.
func Open(path string, o Options) (*Store, error) {
	timeout := o.Timeout
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("raftstore: open %s: negative lock timeout %s", path, timeout)
	case timeout == 0:
		timeout = DefaultTimeout
	}
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{
		Timeout: timeout,
		NoSync:  o.NoSync,
		// The hashmap freelist allocates in O(1) where the array one is
		// O(free pages); not syncing the freelist saves a page write per
		// commit at the price of a freelist rebuild on open.
		FreelistType:    bbolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketLogs, bucketConf} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close releases the file and its lock. It waits for transactions in flight;
// every later call fails with an error wrapping
// go.etcd.io/bbolt/errors.ErrDatabaseNotOpen. Closing twice is
// harmless.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftstore: close %s: %w", s.path, err)
	}
	return nil
}

// FirstIndex returns the lowest stored index, or 0 when the log is empty, as
// raft.LogStore requires.
func (s *Store) FirstIndex() (uint64, error) {
	return s.edgeIndex("first", (*bbolt.Cursor).First)
}

// LastIndex returns the highest stored index, or 0 when the log is empty, as
// raft.LogStore requires.
func (s *Store) LastIndex() (uint64, error) {
	return s.edgeIndex("last", (*bbolt.Cursor).Last)
}

func (s *Store) edgeIndex(which string, move func(*bbolt.Cursor) ([]byte, []byte)) (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		k, _ := move(tx.Bucket(bucketLogs).Cursor())
		if k == nil {
			return nil
		}
		if len(k) != 8 {
			return fmt.Errorf("%w: log key of %d bytes, want 8", ErrCorrupt, len(k))
		}
		idx = binary.BigEndian.Uint64(k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("raftstore: %s index: %w", which, err)
	}
	return idx, nil
}

// GetLog reads the entry at index into log. It returns raft.ErrLogNotFound,
// unwrapped because raft compares with ==, when there is none, and an error
// wrapping ErrCorrupt and naming the index when the stored value does not
// decode. On error log is left unchanged.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	key := indexKey(index)
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketLogs).Get(key[:])
		if v == nil {
			return raft.ErrLogNotFound
		}
		var decoded raft.Log
		if err := decodeLog(v, &decoded); err != nil {
			return err
		}
		if decoded.Index != index {
			return errIndexMismatch(index, decoded.Index)
		}
		*log = decoded
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrLogNotFound):
		return raft.ErrLogNotFound
	default:
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
}

// StoreLog stores one entry; it is StoreLogs with a batch of one.
func (s *Store) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs stores a batch of entries in one bbolt write transaction, so the
// batch costs one commit (bbolt's data-pages fdatasync then meta-page
// fdatasync) however many entries it holds, and it is all or nothing: on any
// error no entry of the batch is stored. Entries are validated and encoded
// before the transaction opens, so the writer lock is held only for the
// B+tree updates and the commit. An empty batch is a no-op that touches
// nothing. An entry at an index already present replaces it, as raft needs
// when a follower rewrites a conflicting suffix.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	size := 0
	for _, l := range logs {
		if l.Index == 0 {
			return fmt.Errorf("raftstore: store logs: %w: index 0", ErrInvalidLog)
		}
		size += encodedLen(l)
	}
	// One buffer for every value and one for every key: bbolt keeps
	// references to both until commit, so they must not be reused within
	// the batch.
	vals := make([]byte, 0, size)
	keys := make([]byte, 8*len(logs))
	bounds := make([]int, len(logs)+1)
	for i, l := range logs {
		var err error
		if vals, err = appendLog(vals, l); err != nil {
			return fmt.Errorf("raftstore: store logs: %w", err)
		}
		bounds[i+1] = len(vals)
		binary.BigEndian.PutUint64(keys[8*i:], l.Index)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLogs)
		b.FillPercent = logsFillPercent
		for i := range logs {
			k := keys[8*i : 8*i+8 : 8*i+8]
			v := vals[bounds[i]:bounds[i+1]:bounds[i+1]]
			if err := b.Put(k, v); err != nil {
				return fmt.Errorf("log %d: %w", logs[i].Index, err)
			}
		}
		if s.beforeCommit != nil {
			return s.beforeCommit()
		}
		crashpoint.Hit(crashpoint.LogBeforeCommit)
		return nil
	})
	if err != nil {
		return fmt.Errorf("raftstore: store logs %d..%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// DeleteRange deletes every entry with min <= index <= max, in one
// transaction. Indices that are not present are ignored; min > max deletes
// nothing.
func (s *Store) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	start := indexKey(min)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		// Re-seek after each delete instead of calling Next: a bbolt cursor
		// can step over the key after one it just deleted
		// (etcd-io/bbolt#146), which would leave entries behind. Seek from
		// the index after the one deleted, not from the start of the range:
		// from the start, every seek walks the pages already emptied in this
		// transaction, and compacting 90,000 entries took 85 s with raft.db
		// taking no writes meanwhile.
		for k, _ := c.Seek(start[:]); k != nil; {
			if len(k) != 8 {
				return fmt.Errorf("%w: log key of %d bytes, want 8", ErrCorrupt, len(k))
			}
			idx := binary.BigEndian.Uint64(k)
			if idx > max {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if idx == math.MaxUint64 {
				break
			}
			next := indexKey(idx + 1)
			k, _ = c.Seek(next[:])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raftstore: delete logs %d..%d: %w", min, max, err)
	}
	return nil
}

// Set stores val under key in the stable store, durably before returning,
// since raft persists its term and vote through it.
func (s *Store) Set(key []byte, val []byte) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketConf).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("raftstore: set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrKeyNotFound
// (exactly "not found", unwrapped) when the key was never set. A key set to
// an empty value returns an empty, non-nil slice.
func (s *Store) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketConf).Get(key)
		if v == nil {
			return ErrKeyNotFound
		}
		val = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	switch {
	case err == nil:
		return val, nil
	case errors.Is(err, ErrKeyNotFound):
		return nil, ErrKeyNotFound
	default:
		return nil, fmt.Errorf("raftstore: get %q: %w", key, err)
	}
}

// SetUint64 stores val under key as 8 big-endian bytes.
func (s *Store) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 returns the number stored under key by SetUint64, or 0 and
// ErrKeyNotFound (unwrapped) when the key was never set. A value that is not
// 8 bytes long is reported as ErrCorrupt rather than guessed at: raft keeps
// its current term here.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: get %q: %w: %d bytes, want 8", key, ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// indexKey is the logs bucket key for index: big-endian so that bbolt's
// byte-wise key order is numeric order, which FirstIndex, LastIndex and
// DeleteRange rely on.
func indexKey(index uint64) [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], index)
	return k
}
