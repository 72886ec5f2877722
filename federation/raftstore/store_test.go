package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openStore opens a store in a fresh temporary directory and closes it when
// the test ends.
func openStore(t testing.TB, o Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func testLog(idx uint64, data string) *raft.Log {
	return &raft.Log{Index: idx, Data: []byte(data)}
}

// fullLog sets every field of raft.Log to a value that depends on idx, so a
// mix-up between entries cannot go unnoticed.
func fullLog(idx uint64) *raft.Log {
	return &raft.Log{
		Index:      idx,
		Term:       idx/10 + 1,
		Type:       raft.LogType(idx % 6),
		Data:       []byte(fmt.Sprintf("data-%d", idx)),
		Extensions: []byte(fmt.Sprintf("ext-%d", idx)),
		AppendedAt: time.Date(2026, 3, 1, 12, 0, 0, int(idx), time.UTC),
	}
}

// sameLog compares every field; times by instant, byte slices by content.
func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func mustStoreLogs(t testing.TB, s *Store, logs ...*raft.Log) {
	t.Helper()
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("StoreLogs: %v", err)
	}
}

func mustIndices(t *testing.T, s *Store, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("indices = [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

func mustGet(t *testing.T, s *Store, idx uint64) *raft.Log {
	t.Helper()
	var l raft.Log
	if err := s.GetLog(idx, &l); err != nil {
		t.Fatalf("GetLog(%d): %v", idx, err)
	}
	return &l
}

func mustMissing(t *testing.T, s *Store, idx uint64) {
	t.Helper()
	var l raft.Log
	// raft compares with ==, so the sentinel must come back unwrapped.
	if err := s.GetLog(idx, &l); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound", idx, err)
	}
}

// txID is the id of the last committed write transaction.
func txID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestImplementsRaftInterfaces(t *testing.T) {
	var s any = &Store{}
	if _, ok := s.(raft.LogStore); !ok {
		t.Error("Store does not implement raft.LogStore")
	}
	if _, ok := s.(raft.StableStore); !ok {
		t.Error("Store does not implement raft.StableStore")
	}
	// Deliberate: gaps are fine for a B+tree keyed by index (see Store).
	if _, ok := s.(raft.MonotonicLogStore); ok {
		t.Error("Store implements raft.MonotonicLogStore; it tolerates gaps and should not")
	}
}

func TestOpenCreatesFileAndBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %o, want 600", perm)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for _, name := range []string{"logs", "conf"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %q missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenLockTimeout(t *testing.T) {
	_, path := openStore(t, Options{})

	start := time.Now()
	s2, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second Open: %v, want berrors.ErrTimeout", err)
	}
	// bbolt polls the lock every 50ms and gives up one poll early.
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %s, long before the 100ms timeout", d)
	}
}

func TestOpenDefaultTimeout(t *testing.T) {
	_, path := openStore(t, Options{})

	// bbolt's own zero timeout waits forever; ours must give up after
	// DefaultTimeout.
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		s2, err := Open(path, Options{})
		if err == nil {
			s2.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, berrors.ErrTimeout) {
			t.Fatalf("second Open: %v, want berrors.ErrTimeout", err)
		}
		if d := time.Since(start); d < DefaultTimeout/2 {
			t.Errorf("gave up after %s, long before DefaultTimeout", d)
		}
	case <-time.After(10 * DefaultTimeout):
		t.Fatal("second Open with zero Timeout did not give up")
	}
}

func TestOpenRejectsNegativeTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	if s, err := Open(path, Options{Timeout: -time.Second}); err == nil {
		s.Close()
		t.Fatal("Open accepted a negative timeout")
	}
}

func TestFirstIndex(t *testing.T) {
	s, _ := openStore(t, Options{})
	if idx, err := s.FirstIndex(); err != nil || idx != 0 {
		t.Fatalf("empty FirstIndex = %d, %v; want 0, nil", idx, err)
	}
	mustStoreLogs(t, s, testLog(1, "log1"), testLog(2, "log2"), testLog(3, "log3"))
	if idx, err := s.FirstIndex(); err != nil || idx != 1 {
		t.Fatalf("FirstIndex = %d, %v; want 1, nil", idx, err)
	}
}

func TestLastIndex(t *testing.T) {
	s, _ := openStore(t, Options{})
	if idx, err := s.LastIndex(); err != nil || idx != 0 {
		t.Fatalf("empty LastIndex = %d, %v; want 0, nil", idx, err)
	}
	mustStoreLogs(t, s, testLog(1, "log1"), testLog(2, "log2"), testLog(3, "log3"))
	if idx, err := s.LastIndex(); err != nil || idx != 3 {
		t.Fatalf("LastIndex = %d, %v; want 3, nil", idx, err)
	}
}

func TestIndicesAcrossGap(t *testing.T) {
	// raft leaves a gap after installing a snapshot; the store must cope
	// (this is why it is not a MonotonicLogStore).
	s, _ := openStore(t, Options{})
	mustStoreLogs(t, s, testLog(5, "a"), testLog(6, "b"))
	mustStoreLogs(t, s, testLog(100, "c"), testLog(101, "d"))
	mustIndices(t, s, 5, 101)
	mustMissing(t, s, 50)
	if got := mustGet(t, s, 100); string(got.Data) != "c" {
		t.Fatalf("GetLog(100).Data = %q", got.Data)
	}
}

func TestGetLog(t *testing.T) {
	s, _ := openStore(t, Options{})
	mustMissing(t, s, 1)

	logs := []*raft.Log{testLog(1, "log1"), testLog(2, "log2"), testLog(3, "log3")}
	mustStoreLogs(t, s, logs...)
	// Entries without Extensions or AppendedAt must come back deeply
	// equal, nil fields included.
	if got := mustGet(t, s, 2); !reflect.DeepEqual(got, logs[1]) {
		t.Fatalf("GetLog(2) = %#v, want %#v", got, logs[1])
	}
	mustMissing(t, s, 0)
	mustMissing(t, s, 4)
	mustMissing(t, s, math.MaxUint64)
}

func TestGetLogOverwritesEveryField(t *testing.T) {
	s, _ := openStore(t, Options{})
	mustStoreLogs(t, s, testLog(1, "plain"))
	l := *fullLog(7) // raft reuses Log values; stale fields must not survive
	if err := s.GetLog(1, &l); err != nil {
		t.Fatal(err)
	}
	if want := testLog(1, "plain"); !reflect.DeepEqual(&l, want) {
		t.Fatalf("GetLog into a used Log = %#v, want %#v", l, want)
	}
}

func TestStoreLogRoundTrip(t *testing.T) {
	s, _ := openStore(t, Options{})
	in := &raft.Log{
		Index:      42,
		Term:       7,
		Type:       raft.LogConfiguration,
		Data:       []byte{0, 1, 2, 0xff},
		Extensions: []byte("chunking-v1"),
		AppendedAt: time.Date(2026, 5, 17, 9, 30, 15, 123456789, time.FixedZone("CET", 3600)),
	}
	if err := s.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, 42)
	if !sameLog(got, in) {
		t.Fatalf("GetLog = %#v, want %#v", got, in)
	}
	if got.AppendedAt.Location() != time.UTC {
		t.Errorf("AppendedAt location = %s, want UTC", got.AppendedAt.Location())
	}
}

func TestStoreLogsRoundTrip(t *testing.T) {
	s, _ := openStore(t, Options{})
	var logs []*raft.Log
	for i := uint64(1); i <= 50; i++ {
		logs = append(logs, fullLog(i))
	}
	// Empty payloads and every field at its extreme.
	logs = append(logs,
		&raft.Log{Index: 51},
		&raft.Log{Index: 52, Data: []byte{}, Extensions: []byte{}},
		&raft.Log{Index: 53, Term: math.MaxUint64, Type: raft.LogType(255),
			Data: bytes.Repeat([]byte{0xab}, 70000), AppendedAt: time.Unix(0, math.MaxInt64)},
		&raft.Log{Index: 54, AppendedAt: time.Unix(0, math.MinInt64)},
		&raft.Log{Index: 55, AppendedAt: time.Unix(0, 0)},
	)
	mustStoreLogs(t, s, logs...)
	for _, want := range logs {
		if got := mustGet(t, s, want.Index); !sameLog(got, want) {
			t.Errorf("GetLog(%d) = %#v, want %#v", want.Index, got, want)
		}
	}
	mustIndices(t, s, 1, 55)
	if got := mustGet(t, s, 55); got.AppendedAt.IsZero() {
		t.Error("AppendedAt at the Unix epoch decoded as the zero time")
	}
	if got := mustGet(t, s, 51); !got.AppendedAt.IsZero() || got.Data != nil || got.Extensions != nil {
		t.Errorf("empty entry decoded as %#v", got)
	}
}

func TestStoreLogOverwritesIndex(t *testing.T) {
	// A follower rewrites a conflicting suffix at the same indices.
	s, _ := openStore(t, Options{})
	mustStoreLogs(t, s, &raft.Log{Index: 1, Term: 1, Data: []byte("old")})
	mustStoreLogs(t, s, &raft.Log{Index: 1, Term: 2, Data: []byte("new")})
	got := mustGet(t, s, 1)
	if got.Term != 2 || string(got.Data) != "new" {
		t.Fatalf("GetLog(1) = %#v after overwrite", got)
	}
	mustIndices(t, s, 1, 1)
}

func TestStoreLogsCopiesInput(t *testing.T) {
	s, _ := openStore(t, Options{})
	in := testLog(1, "original")
	mustStoreLogs(t, s, in)
	copy(in.Data, "XXXXXXXX")
	got := mustGet(t, s, 1)
	if string(got.Data) != "original" {
		t.Fatalf("stored entry changed with the caller's slice: %q", got.Data)
	}
	// And what GetLog returns is ours to change.
	got.Data[0] = 'Y'
	if again := mustGet(t, s, 1); string(again.Data) != "original" {
		t.Fatalf("changing a returned slice changed the store: %q", again.Data)
	}
}

func TestStoreLogsOneTransaction(t *testing.T) {
	s, _ := openStore(t, Options{})
	var logs []*raft.Log
	for i := uint64(1); i <= 64; i++ {
		logs = append(logs, fullLog(i))
	}
	before := txID(t, s)
	mustStoreLogs(t, s, logs...)
	if after := txID(t, s); after != before+1 {
		t.Fatalf("StoreLogs of 64 entries committed %d transactions, want 1", after-before)
	}
	// An empty batch is a no-op: no transaction, no fsync.
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil) = %v", err)
	}
	if after := txID(t, s); after != before+1 {
		t.Fatalf("StoreLogs(nil) committed a transaction")
	}
}

func TestDeleteRange(t *testing.T) {
	cases := []struct {
		name           string
		min, max       uint64
		first, last    uint64 // 0, 0 when everything is gone
		gone, retained []uint64
	}{
		{"prefix", 1, 3, 4, 10, []uint64{1, 2, 3}, []uint64{4, 10}},
		{"suffix", 8, 10, 1, 7, []uint64{8, 9, 10}, []uint64{1, 7}},
		{"middle", 4, 6, 1, 10, []uint64{4, 5, 6}, []uint64{1, 3, 7, 10}},
		{"single", 5, 5, 1, 10, []uint64{5}, []uint64{4, 6}},
		{"everything", 1, 10, 0, 0, []uint64{1, 5, 10}, nil},
		{"beyond both ends", 0, math.MaxUint64, 0, 0, []uint64{1, 10}, nil},
		{"past the end", 11, 20, 1, 10, nil, []uint64{1, 10}},
		{"overlapping the start", 0, 2, 3, 10, []uint64{1, 2}, []uint64{3}},
		{"min above max", 6, 4, 1, 10, nil, []uint64{4, 5, 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, Options{NoSync: true})
			for i := uint64(1); i <= 10; i++ {
				mustStoreLogs(t, s, fullLog(i))
			}
			if err := s.DeleteRange(tc.min, tc.max); err != nil {
				t.Fatalf("DeleteRange(%d, %d): %v", tc.min, tc.max, err)
			}
			mustIndices(t, s, tc.first, tc.last)
			for _, i := range tc.gone {
				mustMissing(t, s, i)
			}
			for _, i := range tc.retained {
				if got := mustGet(t, s, i); !sameLog(got, fullLog(i)) {
					t.Errorf("GetLog(%d) = %#v after delete", i, got)
				}
			}
		})
	}
}

func TestDeleteRangeAcrossPages(t *testing.T) {
	// Thousands of entries span many B+tree pages: a cursor that skipped a
	// key after a delete would leave entries behind here.
	s, _ := openStore(t, Options{NoSync: true})
	const n = 5000
	var batch []*raft.Log
	for i := uint64(1); i <= n; i++ {
		batch = append(batch, fullLog(i))
		if len(batch) == 500 {
			mustStoreLogs(t, s, batch...)
			batch = nil
		}
	}
	if err := s.DeleteRange(1000, 4000); err != nil {
		t.Fatal(err)
	}
	mustIndices(t, s, 1, n)
	count := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogs).ForEach(func(k, _ []byte) error {
			if i := binary.BigEndian.Uint64(k); i >= 1000 && i <= 4000 {
				return fmt.Errorf("index %d survived DeleteRange", i)
			}
			count++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := n - 3001; count != want {
		t.Fatalf("%d entries left, want %d", count, want)
	}
	if err := s.DeleteRange(1, n); err != nil {
		t.Fatal(err)
	}
	mustIndices(t, s, 0, 0)
}

func TestSetGet(t *testing.T) {
	s, _ := openStore(t, Options{})

	val, err := s.Get([]byte("bad"))
	if err != ErrKeyNotFound || err.Error() != "not found" || val != nil {
		t.Fatalf("Get(missing) = %q, %v; want nil, %q", val, err, "not found")
	}

	k, v := []byte("hello"), []byte("world")
	if err := s.Set(k, v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'W' // the store must have copied it
	got, err := s.Get(k)
	if err != nil || string(got) != "world" {
		t.Fatalf("Get = %q, %v; want %q", got, err, "world")
	}
	got[0] = 'X' // and handed back a copy
	if again, _ := s.Get(k); string(again) != "world" {
		t.Fatalf("changing a returned value changed the store: %q", again)
	}

	if err := s.Set(k, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(k); string(got) != "again" {
		t.Fatalf("Get after overwrite = %q", got)
	}

	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get([]byte("empty"))
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get(empty value) = %#v, %v; want []byte{}, nil", got, err)
	}

	if err := s.Set(nil, v); err == nil {
		t.Fatal("Set with an empty key succeeded")
	}
}

func TestSetUint64GetUint64(t *testing.T) {
	s, _ := openStore(t, Options{})

	val, err := s.GetUint64([]byte("bad"))
	if err != ErrKeyNotFound || err.Error() != "not found" || val != 0 {
		t.Fatalf("GetUint64(missing) = %d, %v; want 0, %q", val, err, "not found")
	}
	for _, v := range []uint64{123, 0, math.MaxUint64} {
		if err := s.SetUint64([]byte("abc"), v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetUint64([]byte("abc")); err != nil || got != v {
			t.Fatalf("GetUint64 = %d, %v; want %d", got, err, v)
		}
	}

	if err := s.Set([]byte("short"), []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("short")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetUint64 of a 3-byte value = %v, want ErrCorrupt", err)
	}
}

func TestRaftHasExistingState(t *testing.T) {
	// raft's own reading of the stable store: on a fresh store the
	// "not found" error must be recognised as "no state", not a failure.
	s, _ := openStore(t, Options{})
	snaps := raft.NewInmemSnapshotStore()
	has, err := raft.HasExistingState(s, s, snaps)
	if err != nil || has {
		t.Fatalf("HasExistingState on a fresh store = %v, %v; want false, nil", has, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	has, err = raft.HasExistingState(s, s, snaps)
	if err != nil || !has {
		t.Fatalf("HasExistingState with a term = %v, %v; want true, nil", has, err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, fullLog(i))
	}
	mustStoreLogs(t, s, logs...)
	if err := s.DeleteRange(1, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("DEU")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustIndices(t, s, 5, 20)
	for _, want := range logs[4:] {
		if got := mustGet(t, s, want.Index); !sameLog(got, want) {
			t.Errorf("after reopen GetLog(%d) = %#v, want %#v", want.Index, got, want)
		}
	}
	mustMissing(t, s, 4)
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term != 9 {
		t.Errorf("after reopen CurrentTerm = %d, %v", term, err)
	}
	if cand, err := s.Get([]byte("LastVoteCand")); err != nil || string(cand) != "DEU" {
		t.Errorf("after reopen LastVoteCand = %q, %v", cand, err)
	}
}

// withCRC appends a valid checksum to body, so a test can build values that
// pass the checksum and must be rejected by the structural checks.
func withCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), body...), crcOf(body))
}

func TestCorruptValueIsAnError(t *testing.T) {
	valid, err := appendLog(nil, fullLog(5))
	if err != nil {
		t.Fatal(err)
	}
	body := valid[:len(valid)-checksumLen]
	other, err := appendLog(nil, fullLog(9))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), valid...)
	flipped[len(flipped)/2] ^= 0x10
	badVersion := append([]byte{0x02}, body[1:]...)
	badFlags := append([]byte{body[0], 0x80}, body[2:]...)

	cases := map[string][]byte{
		"empty":                 {},
		"one byte":              {codecVersion1},
		"truncated":             valid[:len(valid)-1],
		"header only":           valid[:headerLen],
		"bit flip":              flipped,
		"unknown version":       withCRC(badVersion),
		"unknown flags":         withCRC(badFlags),
		"trailing bytes":        withCRC(append(append([]byte(nil), body...), 0)),
		"stored under wrong ix": other,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			s, _ := openStore(t, Options{NoSync: true})
			err := s.db.Update(func(tx *bbolt.Tx) error {
				k := indexKey(5)
				return tx.Bucket(bucketLogs).Put(k[:], raw)
			})
			if err != nil {
				t.Fatal(err)
			}
			l := raft.Log{Index: 77, Data: []byte("untouched")}
			err = s.GetLog(5, &l)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("GetLog of a corrupt value = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), "log 5") {
				t.Errorf("error %q does not name index 5", err)
			}
			if l.Index != 77 || string(l.Data) != "untouched" {
				t.Errorf("GetLog changed the caller's Log on error: %#v", l)
			}
		})
	}
}

func TestCorruptKeyIsAnError(t *testing.T) {
	s, _ := openStore(t, Options{NoSync: true})
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogs).Put([]byte{1, 2, 3}, []byte("x"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FirstIndex(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("FirstIndex with a 3-byte key = %v, want ErrCorrupt", err)
	}
	if _, err := s.LastIndex(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LastIndex with a 3-byte key = %v, want ErrCorrupt", err)
	}
	if err := s.DeleteRange(0, math.MaxUint64); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DeleteRange over a 3-byte key = %v, want ErrCorrupt", err)
	}
}

func TestStoreLogsIsAtomic(t *testing.T) {
	batch := func(from, to uint64) []*raft.Log {
		var logs []*raft.Log
		for i := from; i <= to; i++ {
			logs = append(logs, fullLog(i))
		}
		return logs
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		mustIndices(t, s, 1, 10)
		for i := uint64(1); i <= 10; i++ {
			if got := mustGet(t, s, i); !sameLog(got, fullLog(i)) {
				t.Fatalf("GetLog(%d) = %#v, committed entry damaged", i, got)
			}
		}
		for i := uint64(11); i <= 20; i++ {
			mustMissing(t, s, i)
		}
	}

	t.Run("failure inside the transaction", func(t *testing.T) {
		s, _ := openStore(t, Options{})
		mustStoreLogs(t, s, batch(1, 10)...)
		boom := errors.New("disk on fire")
		s.beforeCommit = func() error { return boom }
		// Overwrites 9 and 10 and adds 11..20, all of which must be undone.
		if err := s.StoreLogs(append(batch(9, 10), batch(11, 20)...)); !errors.Is(err, boom) {
			t.Fatalf("StoreLogs = %v, want the injected failure", err)
		}
		s.beforeCommit = nil
		check(t, s)
	})

	t.Run("invalid entry in the middle", func(t *testing.T) {
		s, _ := openStore(t, Options{})
		mustStoreLogs(t, s, batch(1, 10)...)
		for name, bad := range map[string]*raft.Log{
			"index 0":             {Index: 0},
			"time out of range":   {Index: 15, AppendedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
			"time before 1678 AD": {Index: 15, AppendedAt: time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC)},
		} {
			logs := batch(11, 20)
			logs[4] = bad
			if err := s.StoreLogs(logs); !errors.Is(err, ErrInvalidLog) {
				t.Fatalf("%s: StoreLogs = %v, want ErrInvalidLog", name, err)
			}
		}
		check(t, s)
	})

	t.Run("closed store", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "raft.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustStoreLogs(t, s, batch(1, 10)...)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreLogs(batch(11, 20)); !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Fatalf("StoreLogs on a closed store = %v, want berrors.ErrDatabaseNotOpen", err)
		}
		if s, err = Open(path, Options{}); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	// One writer appends and compacts the way raft does; readers check that
	// whatever they see is a whole, correct entry and that the indices they
	// read bracket only existing entries at some instant.
	s, _ := openStore(t, Options{NoSync: true})
	const batches, batchSize, keep = 200, 16, 64

	done := make(chan struct{})
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l raft.Log
			for {
				select {
				case <-done:
					return
				default:
				}
				first, err := s.FirstIndex()
				if err != nil {
					errc <- err
					return
				}
				last, err := s.LastIndex()
				if err != nil {
					errc <- err
					return
				}
				for i := first; i != 0 && i <= last; i += 7 {
					err := s.GetLog(i, &l)
					if err == raft.ErrLogNotFound {
						continue // compacted since FirstIndex was read
					}
					if err != nil {
						errc <- err
						return
					}
					if !sameLog(&l, fullLog(i)) {
						errc <- fmt.Errorf("GetLog(%d) = %#v", i, l)
						return
					}
				}
				if _, err := s.GetUint64([]byte("CurrentTerm")); err != nil && err != ErrKeyNotFound {
					errc <- err
					return
				}
			}
		}()
	}

	var next uint64 = 1
	for b := 0; b < batches; b++ {
		logs := make([]*raft.Log, batchSize)
		for i := range logs {
			logs[i] = fullLog(next)
			next++
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), uint64(b)); err != nil {
			t.Fatal(err)
		}
		if last := next - 1; last > keep {
			if err := s.DeleteRange(1, last-keep); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	mustIndices(t, s, next-keep, next-1)
}
