package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
)

func openTestDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCommitterGroupsAndIsolatesFailures runs many concurrent writes, some of which fail:
// every successful one is committed, no failed one leaves a trace, and each caller gets
// its own result.
func TestCommitterGroupsAndIsolatesFailures(t *testing.T) {
	db := openTestDB(t)
	c := newCommitter(db)
	const writers, each = 16, 50
	errBad := errors.New("bad write")
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("%02d-%03d", w, i)
				fail := i%7 == 3
				err := c.Update(func(tx *bbolt.Tx) error {
					if err := tx.Bucket([]byte("b")).Put([]byte(key), []byte("v")); err != nil {
						return err
					}
					if fail {
						return errBad // after writing: the write must be rolled back
					}
					return nil
				})
				if fail != errors.Is(err, errBad) || (!fail && err != nil) {
					t.Errorf("%s: fail=%v err=%v", key, fail, err)
				}
			}
		}(w)
	}
	wg.Wait()
	c.Close()
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for w := 0; w < writers; w++ {
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("%02d-%03d", w, i)
				got := b.Get([]byte(key)) != nil
				if want := i%7 != 3; got != want {
					return fmt.Errorf("%s present=%v, want %v", key, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommitterRefusesAfterClose(t *testing.T) {
	c := newCommitter(openTestDB(t))
	c.Close()
	c.Close() // idempotent
	if err := c.Update(func(*bbolt.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("Update after Close = %v, want errClosed", err)
	}
}
