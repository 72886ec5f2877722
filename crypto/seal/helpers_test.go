package seal

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"filippo.io/age"
)

// testDir is a roster: state code to age recipient.
type testDir map[string]age.Recipient

func (d testDir) Recipient(state string) (age.Recipient, error) {
	r, ok := d[state]
	if !ok {
		return nil, fmt.Errorf("state %s is not in the roster", state)
	}
	return r, nil
}

// node is one state's keyring with its own real age identity and its own store.
type node struct {
	code  string
	id    *age.X25519Identity
	store *countingStore
	kr    *Keyring
}

// federation builds one node per code, each with a fresh X25519 identity, sharing a
// roster of their recipients.
func federation(t testing.TB, codes ...string) (map[string]*node, testDir) {
	t.Helper()
	dir := testDir{}
	nodes := map[string]*node{}
	for _, c := range codes {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		dir[c] = id.Recipient()
		nodes[c] = &node{code: c, id: id, store: &countingStore{MemStore: NewMemStore()}}
	}
	for _, n := range nodes {
		kr, err := NewKeyring(n.code, n.id, dir, n.store)
		if err != nil {
			t.Fatal(err)
		}
		n.kr = kr
	}
	return nodes, dir
}

// countingStore counts PutKey calls, to prove how many keys were created.
type countingStore struct {
	*MemStore
	puts atomic.Int64
}

func (c *countingStore) PutKey(w WrappedKey) error {
	c.puts.Add(1)
	return c.MemStore.PutKey(w)
}

// importAll copies every key in from's store into to's keyring, as the federation would.
func importAll(t testing.TB, from *node, to *node) {
	t.Helper()
	list, err := from.store.ListKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range list {
		if err := to.kr.Import(w); err != nil {
			t.Fatalf("%s imports %s from %s: %v", to.code, w.ID, from.code, err)
		}
	}
}

func mustSeal(t testing.TB, kr *Keyring, entry, field, marking string, rcpts []string, epoch uint64, pt string) Sealed {
	t.Helper()
	s, err := kr.Seal(entry, field, marking, rcpts, epoch, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantErrIs(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q, want %v", err, want)
	}
}
