package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// openDB opens (or creates) a bbolt file with the audit buckets and closes it at the end
// of the test.
func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(EnsureBuckets); err != nil {
		t.Fatalf("EnsureBuckets: %v", err)
	}
	return db
}

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

func sample(i int) Entry {
	return Entry{
		Time:      t0.Add(time.Duration(i) * time.Minute),
		Actor:     fmt.Sprintf("officer-%d", i),
		Action:    "record.create",
		Object:    fmt.Sprintf("record/FRA-LA-2026-%04d/v1", i),
		Rationale: fmt.Sprintf("application %d received", i),
		Detail:    map[string]string{"kind": "licence-application", "version": "1"},
	}
}

// appendN appends n sample entries in one transaction each and returns them as stored.
func appendN(t testing.TB, db *bbolt.DB, n int) []Entry {
	t.Helper()
	var out []Entry
	for i := 1; i <= n; i++ {
		err := db.Update(func(tx *bbolt.Tx) error {
			e, err := Append(tx, sample(i))
			out = append(out, e)
			return err
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return out
}

func verify(t *testing.T, db *bbolt.DB) (uint64, Entry, error) {
	t.Helper()
	var (
		n    uint64
		head Entry
		verr error
	)
	if err := db.View(func(tx *bbolt.Tx) error {
		n, head, verr = VerifyDB(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n, head, verr
}

func TestAppendAssignsChain(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	got := appendN(t, db, 5)
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		wantPrev := ZeroHash
		if i > 0 {
			wantPrev = got[i-1].Hash
		}
		if e.Prev != wantPrev {
			t.Errorf("entry %d: prev %s, want %s", e.Seq, e.Prev, wantPrev)
		}
		if len(e.Hash) != 64 || HashEntry(e) != e.Hash {
			t.Errorf("entry %d: hash %q does not match content", e.Seq, e.Hash)
		}
		if e.Time.Location() != time.UTC || !e.Time.Equal(sample(i+1).Time) {
			t.Errorf("entry %d: time %v, want %v in UTC", e.Seq, e.Time, sample(i+1).Time)
		}
	}
	n, head, err := verify(t, db)
	if err != nil || n != 5 || head.Hash != got[4].Hash {
		t.Fatalf("VerifyDB = %d, %s, %v; want 5, %s, nil", n, head.Hash, err, got[4].Hash)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		h, ok, err := Head(tx)
		if err != nil || !ok || h.Hash != got[4].Hash || h.Seq != 5 {
			return fmt.Errorf("Head = %+v, %v, %v", h, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyChain(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	n, head, err := verify(t, db)
	if err != nil || n != 0 || head.Seq != 0 {
		t.Fatalf("VerifyDB on empty = %d, %+v, %v", n, head, err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		if _, ok, err := Head(tx); ok || err != nil {
			return fmt.Errorf("Head on empty: ok=%v err=%v", ok, err)
		}
		if l, err := List(tx, 0, 0); len(l) != 0 || err != nil {
			return fmt.Errorf("List on empty: %v %v", l, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestListPagesAndVerifier(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	all := appendN(t, db, 23)
	v := NewVerifier()
	var after uint64
	pages := 0
	for {
		var page []Entry
		if err := db.View(func(tx *bbolt.Tx) (err error) {
			page, err = List(tx, after, 5)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, e := range page {
			if err := v.Next(e); err != nil {
				t.Fatalf("verifier on page %d: %v", pages, err)
			}
		}
		after = page[len(page)-1].Seq
	}
	if pages != 5 || v.Count() != 23 || v.Last().Hash != all[22].Hash {
		t.Fatalf("pages=%d count=%d last=%s; want 5, 23, %s", pages, v.Count(), v.Last().Hash, all[22].Hash)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		for _, bad := range []int{-1, MaxListLimit + 1} {
			if _, err := List(tx, 0, bad); err == nil {
				return fmt.Errorf("List limit %d accepted", bad)
			}
		}
		l, err := List(tx, 0, 0)
		if err != nil || len(l) != 23 {
			return fmt.Errorf("List default limit: %d entries, %v", len(l), err)
		}
		l, err = List(tx, ^uint64(0), 10)
		if err != nil || len(l) != 0 {
			return fmt.Errorf("List after max seq: %d entries, %v", len(l), err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifierRejectsAndStays(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	all := appendN(t, db, 3)
	v := NewVerifier()
	if err := v.Next(all[1]); !isChainErr(err, 1, "gap") {
		t.Fatalf("starting at seq 2: %v", err)
	}
	if err := v.Next(all[0]); err != nil {
		t.Fatal(err)
	}
	if err := v.Next(all[0]); !isChainErr(err, 2, "reordered or duplicated") {
		t.Fatalf("replayed seq 1: %v", err)
	}
	forged := all[1]
	forged.Actor = "someone-else"
	if err := v.Next(forged); !isChainErr(err, 2, "altered") {
		t.Fatalf("altered entry: %v", err)
	}
	relinked := all[1]
	relinked.Prev = strings.Repeat("1", 64)
	relinked.Hash = HashEntry(relinked)
	if err := v.Next(relinked); !isChainErr(err, 2, "prev does not match") {
		t.Fatalf("relinked entry: %v", err)
	}
	if v.Count() != 1 || v.Last().Hash != all[0].Hash {
		t.Fatalf("verifier moved after errors: count %d", v.Count())
	}
	if err := v.Next(all[1]); err != nil {
		t.Fatalf("good entry after errors: %v", err)
	}
}

func isChainErr(err error, seq uint64, problem string) bool {
	var ce *ChainError
	return errors.As(err, &ce) && ce.Seq == seq && strings.Contains(ce.Problem, problem)
}

func TestHashEntryEncoding(t *testing.T) {
	base := sample(1)
	base.Seq, base.Prev = 1, ZeroHash
	h := HashEntry(base)

	same := base
	same.Time = base.Time.UTC()
	same.Hash = "anything"
	same.Detail = map[string]string{"version": "1", "kind": "licence-application"}
	if HashEntry(same) != h {
		t.Error("hash depends on time zone, Hash field or map order")
	}
	shifted := base
	shifted.Actor, shifted.Action = base.Actor+"r", strings.TrimPrefix(base.Action, "r")
	if base.Actor+base.Action != shifted.Actor+shifted.Action {
		t.Fatal("test setup: concatenations differ")
	}
	if HashEntry(shifted) == h {
		t.Error("moving a byte between Actor and Action does not change the hash")
	}
	kv := base
	kv.Detail = map[string]string{"kindlicence-application": "", "version": "1"}
	if HashEntry(kv) == h {
		t.Error("moving a detail value into its key does not change the hash")
	}
	emptyDetail := base
	emptyDetail.Detail = map[string]string{}
	nilDetail := base
	nilDetail.Detail = nil
	if HashEntry(emptyDetail) != HashEntry(nilDetail) {
		t.Error("empty and nil Detail hash differently although both store as absent")
	}
	ns := base
	ns.Time = base.Time.Add(time.Nanosecond)
	if HashEntry(ns) == h {
		t.Error("a nanosecond change of Time does not change the hash")
	}
}

func TestAppendRefuses(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	cases := map[string]Entry{
		"no actor":          {Action: "x"},
		"no action":         {Actor: "x", Action: "  "},
		"bad utf8 object":   {Actor: "x", Action: "y", Object: "\xff"},
		"bad utf8 detail":   {Actor: "x", Action: "y", Detail: map[string]string{"k": "\xc3"}},
		"year out of range": {Actor: "x", Action: "y", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range cases {
		err := db.Update(func(tx *bbolt.Tx) error {
			_, err := Append(tx, e)
			return err
		})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		if _, err := Append(tx, sample(1)); err == nil {
			return errors.New("append in a read-only tx accepted")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bare, err := bbolt.Open(filepath.Join(t.TempDir(), "bare.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if err := bare.Update(func(tx *bbolt.Tx) error {
		_, err := Append(tx, sample(1))
		return err
	}); err == nil || !strings.Contains(err.Error(), "EnsureBuckets") {
		t.Fatalf("append without buckets: %v", err)
	}
	if n, _, err := verify(t, db); n != 0 || err != nil {
		t.Fatalf("refused appends left %d entries (%v)", n, err)
	}
}

func TestAppendStampsZeroTime(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	before := time.Now()
	var e Entry
	if err := db.Update(func(tx *bbolt.Tx) (err error) {
		e, err = Append(tx, Entry{Actor: "node", Action: "node.start"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if e.Time.Before(before.Add(-time.Second)) || e.Time.After(time.Now().Add(time.Second)) || e.Time.Location() != time.UTC {
		t.Fatalf("zero time stamped as %v", e.Time)
	}
}

func TestRolledBackAppendLeavesNoTrace(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	appendN(t, db, 2)
	actionFailed := errors.New("the action itself failed")
	err := db.Update(func(tx *bbolt.Tx) error {
		if _, err := Append(tx, sample(3)); err != nil {
			return err
		}
		return actionFailed
	})
	if !errors.Is(err, actionFailed) {
		t.Fatalf("update: %v", err)
	}
	n, head, err := verify(t, db)
	if err != nil || n != 2 || head.Seq != 2 {
		t.Fatalf("after rollback VerifyDB = %d, seq %d, %v; want 2 entries", n, head.Seq, err)
	}
	var next Entry
	if err := db.Update(func(tx *bbolt.Tx) (err error) {
		next, err = Append(tx, sample(4))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if next.Seq != 3 || next.Prev != head.Hash {
		t.Fatalf("append after rollback: seq %d prev %s; want 3 after %s", next.Seq, next.Prev, head.Hash)
	}
	if n, _, err := verify(t, db); err != nil || n != 3 {
		t.Fatalf("final VerifyDB = %d, %v", n, err)
	}
}

// pristine builds a closed bbolt file holding a valid chain of n entries and returns its
// bytes, so that each tamper case starts from an identical copy.
func pristine(t *testing.T, n int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pristine.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(EnsureBuckets); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, n)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tamper writes a copy of the pristine file, opens it with bbolt directly, lets edit
// rewrite the raw audit bucket, closes it, and returns what VerifyDB says on reopening:
// the attacker edits the file offline, the node verifies later.
func tamper(t *testing.T, data []byte, edit func(b *bbolt.Bucket) error) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tampered.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return edit(tx.Bucket(bucketEntries)) }); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var verr error
	if err := db.View(func(tx *bbolt.Tx) error { _, _, verr = VerifyDB(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	return verr
}

// rewriteField changes one JSON field of the raw entry stored at seq.
func rewriteField(seq uint64, field string, value any) func(b *bbolt.Bucket) error {
	return func(b *bbolt.Bucket) error {
		var m map[string]any
		if err := json.Unmarshal(b.Get(seqKey(seq)), &m); err != nil {
			return err
		}
		if _, ok := m[field]; !ok {
			return fmt.Errorf("entry %d has no field %q", seq, field)
		}
		m[field] = value
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), data)
	}
}

func TestTamperAnyFieldOfAnyEntry(t *testing.T) {
	const n = 5
	data := pristine(t, n)
	alter := map[string]any{
		"seq":       float64(99),
		"time":      "2030-01-01T00:00:00Z",
		"actor":     "mallory",
		"action":    "record.delete",
		"object":    "record/OTHER/v1",
		"rationale": "nothing to see",
		"detail":    map[string]any{"kind": "licence-decision", "version": "1"},
		"prev":      strings.Repeat("a", 64),
		"hash":      strings.Repeat("b", 64),
	}
	for seq := uint64(1); seq <= n; seq++ {
		for field, value := range alter {
			t.Run(fmt.Sprintf("seq%d/%s", seq, field), func(t *testing.T) {
				err := tamper(t, data, rewriteField(seq, field, value))
				var ce *ChainError
				if !errors.As(err, &ce) || ce.Seq != seq {
					t.Fatalf("altering %s of entry %d: got %v, want a ChainError at seq %d", field, seq, err, seq)
				}
			})
		}
	}
}

func TestTamperStructural(t *testing.T) {
	const n = 5
	data := pristine(t, n)
	cases := []struct {
		name    string
		edit    func(b *bbolt.Bucket) error
		seq     uint64
		problem string
	}{
		{"swap 2 and 4", func(b *bbolt.Bucket) error {
			v2, v4 := append([]byte(nil), b.Get(seqKey(2))...), append([]byte(nil), b.Get(seqKey(4))...)
			if err := b.Put(seqKey(2), v4); err != nil {
				return err
			}
			return b.Put(seqKey(4), v2)
		}, 2, "reordered"},
		{"swap 2 and 4 renumbered and rehashed", func(b *bbolt.Bucket) error {
			// A cleverer attacker fixes seq and hash of the swapped entries: the prev links
			// still give it away.
			var e2, e4 Entry
			if err := json.Unmarshal(b.Get(seqKey(2)), &e2); err != nil {
				return err
			}
			if err := json.Unmarshal(b.Get(seqKey(4)), &e4); err != nil {
				return err
			}
			e2.Seq, e4.Seq = 4, 2
			e2.Hash, e4.Hash = HashEntry(e2), HashEntry(e4)
			for _, e := range []Entry{e2, e4} {
				d, _ := json.Marshal(e)
				if err := b.Put(seqKey(e.Seq), d); err != nil {
					return err
				}
			}
			return nil
		}, 2, "prev does not match"},
		{"delete middle entry 3", func(b *bbolt.Bucket) error { return b.Delete(seqKey(3)) }, 3, "gap: expected seq 3"},
		{"delete last entry 5", func(b *bbolt.Bucket) error { return b.Delete(seqKey(5)) }, 5, "head mismatch"},
		{"delete last two entries", func(b *bbolt.Bucket) error {
			if err := b.Delete(seqKey(5)); err != nil {
				return err
			}
			return b.Delete(seqKey(4))
		}, 4, "head mismatch"},
		{"delete first entry", func(b *bbolt.Bucket) error { return b.Delete(seqKey(1)) }, 1, "gap: expected seq 1"},
		{"rewrite entry 3 with a recomputed hash", func(b *bbolt.Bucket) error {
			var e Entry
			if err := json.Unmarshal(b.Get(seqKey(3)), &e); err != nil {
				return err
			}
			e.Rationale = "rewritten"
			e.Hash = HashEntry(e)
			d, _ := json.Marshal(e)
			return b.Put(seqKey(3), d)
		}, 4, "prev does not match"},
		{"append a forged entry beyond the head", func(b *bbolt.Bucket) error {
			var e Entry
			if err := json.Unmarshal(b.Get(seqKey(5)), &e); err != nil {
				return err
			}
			f := Entry{Seq: 6, Time: e.Time, Actor: "mallory", Action: "x", Prev: e.Hash}
			f.Hash = HashEntry(f)
			d, _ := json.Marshal(f)
			return b.Put(seqKey(6), d)
		}, 6, "head mismatch"},
		{"garbage value", func(b *bbolt.Bucket) error { return b.Put(seqKey(2), []byte("{not json")) }, 2, "undecodable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := tamper(t, data, c.edit)
			if !isChainErr(err, c.seq, c.problem) {
				t.Fatalf("got %v; want ChainError at seq %d containing %q", err, c.seq, c.problem)
			}
		})
	}
}

func TestHeadDetectsMissingHeadEntry(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	appendN(t, db, 3)
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketEntries).Delete(seqKey(3)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		_, _, err := Head(tx)
		if !isChainErr(err, 3, "head mismatch") {
			return fmt.Errorf("Head with its entry removed: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The next append still follows the recorded head, so the hole stays visible.
	var e Entry
	if err := db.Update(func(tx *bbolt.Tx) (err error) { e, err = Append(tx, sample(9)); return err }); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 {
		t.Fatalf("append after removed head got seq %d, want 4", e.Seq)
	}
	if _, _, err := verify(t, db); !isChainErr(err, 3, "gap") {
		t.Fatalf("VerifyDB: %v", err)
	}
}

func TestStoredKeyIsSeq(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "node.db"))
	appendN(t, db, 3)
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if binary.BigEndian.Uint64(k) != e.Seq {
				return fmt.Errorf("key %x holds seq %d", k, e.Seq)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAppend measures one entry per transaction, as the node appends them. "nosync"
// isolates the cost of the chain (hashing, encoding, two puts) from the disk's fsync
// latency, which "fsync" includes.
func BenchmarkAppend(b *testing.B) {
	for _, noSync := range []bool{true, false} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			db := openDB(b, filepath.Join(b.TempDir(), "bench.db"))
			db.NoSync = noSync
			e := sample(1)
			b.ReportAllocs()
			for b.Loop() {
				if err := db.Update(func(tx *bbolt.Tx) error { _, err := Append(tx, e); return err }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
