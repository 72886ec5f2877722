package records

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/seal"
)

var base = time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)

// testKeyID has the shape of a seal key id ("k1" and 16 bytes in base64url).
const testKeyID = "k1AAECAwQFBgcICQoLDA0ODw"

func openStore(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(EnsureBuckets); err != nil {
		t.Fatal(err)
	}
	return db
}

// storedOf builds a well-formed Stored with every required field of kind. Fields are
// "sealed" with stand-in ciphertexts (sealing is not this package's business); a
// licence application's destination is PUBLIC and stored plain.
func storedOf(id, kind string, version int, created time.Time, actor string) *Stored {
	s := &Stored{ID: id, Kind: kind, Version: version, Created: created, Actor: actor,
		Rationale: fmt.Sprintf("version %d", version), Fields: map[string]StoredField{}}
	for _, f := range schemas[kind].fields {
		if !f.required {
			continue
		}
		s.Fields[f.name] = StoredField{Marking: "NATIONAL", Sealed: &seal.Sealed{
			V: seal.Version, Marking: "NATIONAL", Key: testKeyID,
			CT: fmt.Appendf(nil, "nonce-of-24-bytes-......%s:%s+tag-of-16-bytes", EntryID(id, version), f.name),
		}}
	}
	if kind == KindLicenceApplication {
		s.Fields["destination"] = StoredField{Marking: "PUBLIC", Plain: json.RawMessage(`"IRN"`)}
	}
	return s
}

func create(t testing.TB, db *bbolt.DB, s *Stored) {
	t.Helper()
	if err := db.Update(func(tx *bbolt.Tx) error { return Create(tx, s) }); err != nil {
		t.Fatalf("Create %s: %v", s.ID, err)
	}
}

func correct(t testing.TB, db *bbolt.DB, s *Stored, base int) {
	t.Helper()
	if err := db.Update(func(tx *bbolt.Tx) error { return Correct(tx, s, base) }); err != nil {
		t.Fatalf("Correct %s to v%d: %v", s.ID, s.Version, err)
	}
}

func get(t testing.TB, db *bbolt.DB, id string, version int) (*Stored, error) {
	t.Helper()
	var s *Stored
	err := db.View(func(tx *bbolt.Tx) (err error) { s, err = Get(tx, id, version); return err })
	return s, err
}

// dump returns every key and value of the record buckets, and their sequences, so a
// test can show that nothing changed.
func dump(t testing.TB, tx *bbolt.Tx) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range [][]byte{bucketRecords, bucketVersions, bucketSeq} {
		b := tx.Bucket(name)
		out[string(name)+"#seq"] = fmt.Sprint(b.Sequence())
		if err := b.ForEach(func(k, v []byte) error { out[string(name)+"/"+string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEntryID(t *testing.T) {
	if got := EntryID("FRA-LA-2026-0001", 3); got != "record/FRA-LA-2026-0001/v3" {
		t.Fatalf("EntryID = %q", got)
	}
}

func TestStoreRoundTripAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(EnsureBuckets); err != nil {
		t.Fatal(err)
	}
	want := map[string]*Stored{}
	for i, kind := range Kinds {
		s := storedOf(fmt.Sprintf("FRA-%d", i), kind, 1, base.In(time.FixedZone("CET", 3600)).Add(time.Duration(i)*time.Nanosecond), "officer-1")
		create(t, db, s)
		want[s.ID] = s
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, path)
	for id, w := range want {
		for _, v := range []int{0, 1} {
			got, err := get(t, db, id, v)
			if err != nil {
				t.Fatalf("Get %s v%d: %v", id, v, err)
			}
			if !got.Created.Equal(w.Created) || got.Created.Location() != time.UTC {
				t.Errorf("%s: created %v, want %v in UTC", id, got.Created, w.Created)
			}
			exp := *w
			exp.Created = got.Created
			if !reflect.DeepEqual(got, &exp) {
				t.Errorf("%s v%d round trip:\n got %+v\nwant %+v", id, v, got, &exp)
			}
		}
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		n, err := Count(tx)
		if err != nil || n != len(Kinds) {
			return fmt.Errorf("Count = %d, %v", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDiskFormatIsOwnedByRecords checks the stored bytes: the package's own format byte,
// and the ciphertext and plain values exactly as given, not as some other package would
// encode them.
func TestDiskFormatIsOwnedByRecords(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	s := storedOf("FRA-1", KindLicenceApplication, 1, base, "alice")
	create(t, db, s)
	var raw []byte
	_ = db.View(func(tx *bbolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketVersions).Get(versionKey("FRA-1", 1)))
		return nil
	})
	if len(raw) == 0 || raw[0] != diskFormat {
		t.Fatalf("stored version does not start with the format byte: % x", raw[:min(len(raw), 8)])
	}
	for _, want := range [][]byte{s.Fields["applicant"].Sealed.CT, []byte(testKeyID), []byte(`"IRN"`), []byte("NATIONAL")} {
		if !bytes.Contains(raw, want) {
			t.Errorf("stored version lacks %q", want)
		}
	}
	got, err := decodeStored("FRA-1", 1, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(base) || got.Actor != "alice" || len(got.Fields) != len(s.Fields) {
		t.Fatalf("decoded %+v", got)
	}
}

// TestDecodeStoredRefusesDamage cuts and corrupts a stored version: every damaged form is
// an error, never a panic or a silently different record.
func TestDecodeStoredRefusesDamage(t *testing.T) {
	s := storedOf("FRA-1", KindLicenceApplication, 1, base, "alice")
	raw, err := encodeStored(s)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(raw); n++ {
		if _, err := decodeStored("FRA-1", 1, raw[:n]); err == nil {
			t.Fatalf("a version cut to %d of %d bytes decoded", n, len(raw))
		}
	}
	if _, err := decodeStored("FRA-1", 1, append(bytes.Clone(raw), 0)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	bad := bytes.Clone(raw)
	bad[0] = '{'
	if _, err := decodeStored("FRA-1", 1, bad); err == nil {
		t.Fatal("an unknown format byte was accepted")
	}
}

func FuzzDecodeStored(f *testing.F) {
	raw, err := encodeStored(storedOf("FRA-1", KindLicenceApplication, 1, base, "alice"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte{diskFormat})
	f.Add([]byte{diskFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeStored("x", 1, data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: the encoding has one form.
		again, err := encodeStored(s)
		if err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n% x\n% x", data, again)
		}
	})
}

func TestCreateDuplicateWritesNothing(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	create(t, db, storedOf("FRA-1", KindEndUseCheck, 1, base, "alice"))
	if err := db.Update(func(tx *bbolt.Tx) error {
		before := dump(t, tx)
		err := Create(tx, storedOf("FRA-1", KindConsignment, 1, base.Add(time.Hour), "mallory"))
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("duplicate Create: %v, want ErrExists", err)
		}
		if after := dump(t, tx); !maps.Equal(before, after) {
			return fmt.Errorf("duplicate Create changed the store:\nbefore %v\nafter  %v", before, after)
		}
		return nil // commit: whatever the failed Create did would now persist
	}); err != nil {
		t.Fatal(err)
	}
	got, err := get(t, db, "FRA-1", 0)
	if err != nil || got.Actor != "alice" || got.Kind != KindEndUseCheck {
		t.Fatalf("original changed: %+v, %v", got, err)
	}
}

func TestCreateRefusesMalformed(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	ok := func() *Stored { return storedOf("FRA-1", KindLicenceApplication, 1, base, "alice") }
	cases := map[string]func(s *Stored) *Stored{
		"nil":              func(*Stored) *Stored { return nil },
		"version 0":        func(s *Stored) *Stored { s.Version = 0; return s },
		"version 2":        func(s *Stored) *Stored { s.Version = 2; return s },
		"bad id":           func(s *Stored) *Stored { s.ID = "FRA 1"; return s },
		"id with NUL":      func(s *Stored) *Stored { s.ID = "FRA\x001"; return s },
		"unknown kind":     func(s *Stored) *Stored { s.Kind = "watchlist"; return s },
		"zero time":        func(s *Stored) *Stored { s.Created = time.Time{}; return s },
		"no actor":         func(s *Stored) *Stored { s.Actor = " "; return s },
		"unknown field":    func(s *Stored) *Stored { s.Fields["decision"] = s.Fields["end_use"]; return s },
		"missing required": func(s *Stored) *Stored { delete(s.Fields, "applicant"); return s },
		"plain NATIONAL": func(s *Stored) *Stored {
			s.Fields["end_use"] = StoredField{Marking: "NATIONAL", Plain: json.RawMessage(`"x"`)}
			return s
		},
		"plain REL TO": func(s *Stored) *Stored {
			s.Fields["end_use"] = StoredField{Marking: "REL TO DEU", Plain: json.RawMessage(`"x"`)}
			return s
		},
		"sealed and plain": func(s *Stored) *Stored {
			f := s.Fields["destination"]
			f.Sealed = &seal.Sealed{V: 1, Marking: "PUBLIC", CT: []byte{1}}
			s.Fields["destination"] = f
			return s
		},
		"no value": func(s *Stored) *Stored { s.Fields["end_use"] = StoredField{Marking: "NATIONAL"}; return s },
		"invalid marking": func(s *Stored) *Stored {
			f := s.Fields["end_use"]
			f.Marking = "SECRET"
			s.Fields["end_use"] = f
			return s
		},
		"sealed under another marking": func(s *Stored) *Stored {
			f := s.Fields["end_use"]
			f.Marking = "REL TO FEDERATION"
			s.Fields["end_use"] = f
			return s
		},
		"sealed without ciphertext": func(s *Stored) *Stored {
			s.Fields["end_use"] = StoredField{Marking: "NATIONAL", Sealed: &seal.Sealed{V: 1, Marking: "NATIONAL"}}
			return s
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if err := db.Update(func(tx *bbolt.Tx) error {
				before := dump(t, tx)
				if err := Create(tx, mutate(ok())); err == nil {
					return errors.New("accepted")
				}
				if after := dump(t, tx); !maps.Equal(before, after) {
					return errors.New("refused Create changed the store")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The unmodified record is fine, and a sealed marking equal in meaning but not in
	// spelling is accepted.
	s := ok()
	s.Fields["end_use"] = StoredField{Marking: "REL TO FRA,DEU", Sealed: &seal.Sealed{V: 1, Marking: "REL TO DEU,FRA", CT: []byte{1}}}
	create(t, db, s)
	if err := db.View(func(tx *bbolt.Tx) error {
		if err := Create(tx, ok()); err == nil {
			return errors.New("Create in a read-only transaction accepted")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCorrect(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	create(t, db, storedOf("FRA-1", KindLicenceDecision, 1, base, "alice"))
	correct(t, db, storedOf("FRA-1", KindLicenceDecision, 2, base.Add(time.Hour), "bob"), 1)

	try := func(s *Stored, baseVersion int) error {
		return db.Update(func(tx *bbolt.Tx) error { return Correct(tx, s, baseVersion) })
	}
	// A second officer who also read version 1 loses the race.
	if err := try(storedOf("FRA-1", KindLicenceDecision, 2, base.Add(2*time.Hour), "carol"), 1); !errors.Is(err, ErrConflict) {
		t.Errorf("stale base: %v, want ErrConflict", err)
	}
	if err := try(storedOf("FRA-1", KindLicenceDecision, 4, base, "carol"), 3); !errors.Is(err, ErrConflict) {
		t.Errorf("base from the future: %v, want ErrConflict", err)
	}
	if err := try(storedOf("FRA-2", KindLicenceDecision, 2, base, "carol"), 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown record: %v, want ErrNotFound", err)
	}
	err := try(storedOf("FRA-1", KindLicenceDecision, 5, base, "carol"), 2)
	if err == nil || errors.Is(err, ErrConflict) {
		t.Errorf("version not base+1: %v, want a plain error", err)
	}
	err = try(storedOf("FRA-1", KindEndUseCheck, 3, base, "carol"), 2)
	fieldErrorAt(t, err, "kind")
	if err := try(nil, 2); err == nil {
		t.Error("nil correction accepted")
	}
	got, err := get(t, db, "FRA-1", 0)
	if err != nil || got.Version != 2 || got.Actor != "bob" {
		t.Fatalf("after refused corrections latest is %+v, %v; want v2 by bob", got, err)
	}
}

func TestHistoryKeepsEveryVersionByteIdentical(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	// FRA-1 is a prefix of FRA-10: History must not mix them up.
	create(t, db, storedOf("FRA-1", KindConsignment, 1, base, "alice"))
	create(t, db, storedOf("FRA-10", KindConsignment, 1, base, "zed"))
	raw := func() map[int]string {
		out := map[int]string{}
		_ = db.View(func(tx *bbolt.Tx) error {
			for v := 1; v <= 5; v++ {
				if d := tx.Bucket(bucketVersions).Get(versionKey("FRA-1", v)); d != nil {
					out[v] = string(d)
				}
			}
			return nil
		})
		return out
	}
	v1 := raw()
	for v := 2; v <= 3; v++ {
		correct(t, db, storedOf("FRA-1", KindConsignment, v, base.Add(time.Duration(v)*time.Hour), fmt.Sprintf("officer-%d", v)), v-1)
		now := raw()
		for old, data := range v1 {
			if now[old] != data {
				t.Fatalf("correction to v%d changed v%d:\nwas %s\nnow %s", v, old, data, now[old])
			}
		}
		v1 = now
	}
	var hist []*Stored
	if err := db.View(func(tx *bbolt.Tx) (err error) { hist, err = History(tx, "FRA-1"); return err }); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Fatalf("History has %d versions, want 3", len(hist))
	}
	for i, s := range hist {
		if s.Version != i+1 || s.ID != "FRA-1" {
			t.Errorf("History[%d] = %s v%d", i, s.ID, s.Version)
		}
		again, err := encodeStored(s)
		if err != nil || string(again) != v1[i+1] {
			t.Errorf("History[%d] does not re-encode to the stored bytes", i)
		}
	}
	if hist[0].Actor != "alice" || hist[2].Actor != "officer-3" {
		t.Errorf("actors %s, %s", hist[0].Actor, hist[2].Actor)
	}
	for v, wantActor := range map[int]string{0: "officer-3", 2: "officer-2"} {
		if s, err := get(t, db, "FRA-1", v); err != nil || s.Actor != wantActor {
			t.Errorf("Get v%d = %v, %v; want actor %s", v, s, err, wantActor)
		}
	}
	if _, err := get(t, db, "FRA-1", 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get v4: %v, want ErrNotFound", err)
	}
	if _, err := get(t, db, "FRA-2", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: %v, want ErrNotFound", err)
	}
	_, err := get(t, db, "FRA-1", -1)
	fieldErrorAt(t, err, "version")
	if err := db.View(func(tx *bbolt.Tx) error {
		if _, err := History(tx, "FRA"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("History of an id prefix: %v, want ErrNotFound", err)
		}
		h, err := History(tx, "FRA-10")
		if err != nil || len(h) != 1 || h[0].Actor != "zed" {
			return fmt.Errorf("History FRA-10 = %v, %v", h, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestRolledBackCreateLeavesNothing(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	auditFailed := errors.New("audit append failed")
	err := db.Update(func(tx *bbolt.Tx) error {
		if err := Create(tx, storedOf("FRA-1", KindEndUseCheck, 1, base, "alice")); err != nil {
			return err
		}
		return auditFailed
	})
	if !errors.Is(err, auditFailed) {
		t.Fatal(err)
	}
	if _, err := get(t, db, "FRA-1", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back record visible: %v", err)
	}
	create(t, db, storedOf("FRA-1", KindEndUseCheck, 1, base, "alice"))
}

func TestWithoutBuckets(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "bare.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error {
		if _, err := Get(tx, "FRA-1", 0); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("Get: %v", err)
		}
		if _, err := History(tx, "FRA-1"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("History: %v", err)
		}
		if l, c, err := List(tx, Filter{}, "", 0); len(l) != 0 || c != "" || err != nil {
			return fmt.Errorf("List: %v %q %v", l, c, err)
		}
		if n, err := Count(tx); n != 0 || err != nil {
			return fmt.Errorf("Count: %d %v", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return Create(tx, storedOf("FRA-1", KindEndUseCheck, 1, base, "a")) })
	if err == nil {
		t.Fatal("Create without buckets accepted")
	}
}

// listAll pages through List and returns the ids in order, failing on any page that is
// too long, or short before the end.
func listAll(t *testing.T, db *bbolt.DB, f Filter, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("List does not terminate")
		}
		var got []*Stored
		var next string
		if err := db.View(func(tx *bbolt.Tx) (err error) { got, next, err = List(tx, f, cursor, limit); return err }); err != nil {
			t.Fatalf("List page %d: %v", page, err)
		}
		if len(got) > limit || (next != "" && len(got) != limit) {
			t.Fatalf("page %d has %d records with limit %d (next %q)", page, len(got), limit, next)
		}
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
}

func TestListFiltersAndPages(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	type rec struct {
		id, kind, actor string
		created         time.Time
		version         int
	}
	var all []rec
	actors := []string{"alice", "bob", "carol"}
	for i := range 25 {
		r := rec{fmt.Sprintf("FRA-%02d", i), Kinds[i%len(Kinds)], actors[i%3], base.Add(time.Duration(i) * time.Hour), 1}
		create(t, db, storedOf(r.id, r.kind, 1, r.created, r.actor))
		all = append(all, r)
	}
	// Correct every fourth record: dave becomes its latest actor, much later.
	for i := 0; i < 25; i += 4 {
		r := &all[i]
		r.actor, r.created, r.version = "dave", base.Add(time.Duration(100+i)*time.Hour), 2
		correct(t, db, storedOf(r.id, r.kind, 2, r.created, r.actor), 1)
	}
	filters := map[string]Filter{
		"none":          {},
		"kind":          {Kind: KindConsignment},
		"actor dave":    {Actor: "dave"},
		"actor alice":   {Actor: "alice"},
		"window":        {Since: base.Add(5 * time.Hour), Until: base.Add(15 * time.Hour)},
		"since only":    {Since: base.Add(100 * time.Hour)},
		"until only":    {Until: base.Add(3 * time.Hour)},
		"kind+window":   {Kind: KindLicenceApplication, Since: base.Add(1 * time.Hour), Until: base.Add(200 * time.Hour)},
		"nothing":       {Actor: "nobody"},
		"empty window":  {Since: base.Add(7 * time.Hour), Until: base.Add(7 * time.Hour)},
		"other zone":    {Since: base.Add(5 * time.Hour).In(time.FixedZone("X", -5*3600))},
		"kind and dave": {Kind: KindEndUseCheck, Actor: "dave"},
	}
	for name, f := range filters {
		var want []string
		for _, r := range all {
			if (f.Kind == "" || r.kind == f.Kind) && (f.Actor == "" || r.actor == f.Actor) &&
				(f.Since.IsZero() || !r.created.Before(f.Since)) && (f.Until.IsZero() || r.created.Before(f.Until)) {
				want = append(want, r.id)
			}
		}
		for _, limit := range []int{1, 3, 7, 25, 1000} {
			t.Run(fmt.Sprintf("%s/limit%d", name, limit), func(t *testing.T) {
				got := listAll(t, db, f, limit)
				if !slices.Equal(got, want) {
					t.Fatalf("got  %v\nwant %v", got, want)
				}
			})
		}
	}
	// Pages carry the latest version; the default limit is 100.
	if err := db.View(func(tx *bbolt.Tx) error {
		got, next, err := List(tx, Filter{}, "", 0)
		if err != nil || next != "" || len(got) != 25 {
			return fmt.Errorf("default limit: %d records, next %q, %v", len(got), next, err)
		}
		for i, s := range got {
			if s.Version != all[i].version || s.Actor != all[i].actor {
				return fmt.Errorf("%s: v%d by %s, want latest v%d by %s", s.ID, s.Version, s.Actor, all[i].version, all[i].actor)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestListWhileWriting(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	var ids []string
	add := func(i int) {
		id := fmt.Sprintf("FRA-%02d", i)
		create(t, db, storedOf(id, KindEndUseCheck, 1, base, "alice"))
		ids = append(ids, id)
	}
	for i := range 10 {
		add(i)
	}
	page := func(cursor string) ([]*Stored, string) {
		var got []*Stored
		var next string
		if err := db.View(func(tx *bbolt.Tx) (err error) { got, next, err = List(tx, Filter{}, cursor, 4); return err }); err != nil {
			t.Fatal(err)
		}
		return got, next
	}
	var seen []string
	got, cursor := page("")
	for _, s := range got {
		seen = append(seen, s.ID)
	}
	// Between pages: correct a record already seen and one not yet seen, add three more.
	correct(t, db, storedOf("FRA-01", KindEndUseCheck, 2, base, "bob"), 1)
	correct(t, db, storedOf("FRA-08", KindEndUseCheck, 2, base, "bob"), 1)
	for i := 10; i < 13; i++ {
		add(i)
	}
	for cursor != "" {
		got, cursor = page(cursor)
		for _, s := range got {
			seen = append(seen, s.ID)
			if s.ID == "FRA-08" && s.Version != 2 {
				t.Errorf("FRA-08 listed at v%d, want its latest v2", s.Version)
			}
		}
	}
	if !slices.Equal(seen, ids) {
		t.Fatalf("paged while writing:\n got %v\nwant %v", seen, ids)
	}
}

func TestListRefusesBadArguments(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	create(t, db, storedOf("FRA-1", KindEndUseCheck, 1, base, "alice"))
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	cases := []struct {
		name   string
		f      Filter
		cursor string
		limit  int
		field  string
	}{
		{"cursor not base64", Filter{}, "!!!", 10, "cursor"},
		{"cursor too short", Filter{}, enc([]byte{1, 2, 3}), 10, "cursor"},
		{"cursor too long", Filter{}, enc(make([]byte, 9)), 10, "cursor"},
		{"cursor zero", Filter{}, enc(make([]byte, 8)), 10, "cursor"},
		{"cursor padded", Filter{}, base64.URLEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 1}), 10, "cursor"},
		{"limit negative", Filter{}, "", -1, "limit"},
		{"limit too big", Filter{}, "", 1001, "limit"},
		{"unknown kind", Filter{Kind: "watchlist"}, "", 10, "kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := db.View(func(tx *bbolt.Tx) error { _, _, err := List(tx, c.f, c.cursor, c.limit); return err })
			fieldErrorAt(t, err, c.field)
		})
	}
	// A well-formed cursor past the end is simply an empty last page.
	if err := db.View(func(tx *bbolt.Tx) error {
		got, next, err := List(tx, Filter{}, enc([]byte{0, 0, 0, 0, 0, 0, 1, 0}), 1000)
		if err != nil || len(got) != 0 || next != "" {
			return fmt.Errorf("cursor past the end: %v %q %v", got, next, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCountCountsRecordsNotVersions(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "node.db"))
	for i := range 3 {
		create(t, db, storedOf(fmt.Sprintf("FRA-%d", i), KindProcurementAward, 1, base, "alice"))
	}
	correct(t, db, storedOf("FRA-0", KindProcurementAward, 2, base, "bob"), 1)
	if err := db.View(func(tx *bbolt.Tx) error {
		n, err := Count(tx)
		if err != nil || n != 3 {
			return fmt.Errorf("Count = %d, %v; want 3", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
