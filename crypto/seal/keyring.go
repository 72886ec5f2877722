package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"

	"filippo.io/age"
)

// Keyring seals and opens fields for one state with that state's age identity, holding
// the data keys it can use. It is safe for concurrent use: Seal and Open on a cached key
// take only a read lock, so they scale across cores.
type Keyring struct {
	self  string
	id    age.Identity
	dir   Directory
	store Store

	mu      sync.RWMutex
	keys    map[string]*keyEntry // every key this node holds, by id
	bySet   map[string]*keyEntry // the key Seal uses per appendSetKey name: always Origin == self
	flights map[string]*flight   // key creations in progress, by the same name
}

// keyEntry is one wrapped key and, once unwrapped or generated here, its data key.
// key, ready and unwrapErr are guarded by Keyring.mu.
type keyEntry struct {
	w         WrappedKey
	released  bool // this node's state is among the recipients
	key       dataKey
	ready     bool
	unwrapErr error
	unwrapMu  sync.Mutex // one unwrap at a time per key
}

// flight lets concurrent Seal calls for a new (set, epoch) wait for one creation.
type flight struct {
	done chan struct{}
	err  error
}

// NewKeyring returns the keyring of state self, decrypting with id, resolving recipients
// through dir and persisting wrapped keys in store. It indexes the keys already in store
// (nothing is unwrapped until needed) and fails if one of them is malformed, since a
// damaged key store should stop the node rather than silently lose data.
func NewKeyring(self string, id age.Identity, dir Directory, store Store) (*Keyring, error) {
	switch {
	case !validState(self):
		return nil, fmt.Errorf("%w: own state %.20q is not a state code", ErrMalformed, self)
	case id == nil || dir == nil || store == nil:
		return nil, errors.New("seal: NewKeyring needs an identity, a directory and a store")
	}
	k := &Keyring{
		self: self, id: id, dir: dir, store: store,
		keys:    make(map[string]*keyEntry),
		bySet:   make(map[string]*keyEntry),
		flights: make(map[string]*flight),
	}
	list, err := store.ListKeys()
	if err != nil {
		return nil, fmt.Errorf("seal: listing stored keys: %w", err)
	}
	for _, w := range list {
		if err := checkWrappedKey(w); err != nil {
			return nil, fmt.Errorf("seal: stored key: %w", err)
		}
		e := k.newEntry(w)
		k.keys[w.ID] = e
		if w.Origin != self {
			continue
		}
		// Several own keys for one (set, epoch) can exist after a restart of a node that
		// was not a recipient of its own key; use the smallest id, deterministically.
		sk := string(appendSetKey(nil, w.Recipients, w.Epoch))
		if cur, ok := k.bySet[sk]; !ok || w.ID < cur.w.ID {
			k.bySet[sk] = e
		}
	}
	return k, nil
}

func (k *Keyring) newEntry(w WrappedKey) *keyEntry {
	return &keyEntry{w: w, released: slices.Contains(w.Recipients, k.self)}
}

// Seal encrypts plaintext for the states in recipients (state codes, any order) under the
// data key of that set and epoch, bound to entryID, field and marking. The first Seal for
// a (set, epoch) generates the key, wraps it with age to every state in the set, and
// stores the wrapped form before using it; concurrent first calls create it once.
func (k *Keyring) Seal(entryID, field, marking string, recipients []string, epoch uint64, plaintext []byte) (Sealed, error) {
	if err := checkBinding(entryID, field, marking); err != nil {
		return Sealed{}, err
	}
	if len(plaintext) > MaxPlaintext {
		return Sealed{}, fmt.Errorf("%w: field is %d bytes, more than %d", ErrMalformed, len(plaintext), MaxPlaintext)
	}
	var setBuf [16]string
	set, err := canonicalSet(setBuf[:0], recipients)
	if err != nil {
		return Sealed{}, err
	}
	var nameBuf [128]byte
	name := appendSetKey(nameBuf[:0], set, epoch)

	var key dataKey
	defer clear(key[:])
	k.mu.RLock()
	e := k.bySet[string(name)] // no allocation for the lookup
	ready := e != nil && e.ready
	if ready {
		key = e.key
	}
	k.mu.RUnlock()
	if !ready {
		if e, err = k.sealKey(string(name), slices.Clone(set), epoch, &key); err != nil {
			return Sealed{}, err
		}
	}
	ct := sealField(&key, bindingAAD(e.w.ID, entryID, field, marking), plaintext)
	return Sealed{V: Version, Marking: marking, Key: e.w.ID, CT: ct}, nil
}

// sealKey is Seal's slow path: it makes the (set, epoch) key usable, once, and copies
// it into *key.
func (k *Keyring) sealKey(sk string, set []string, epoch uint64, key *dataKey) (*keyEntry, error) {
	for {
		k.mu.Lock()
		if e := k.bySet[sk]; e != nil && e.ready {
			*key = e.key
			k.mu.Unlock()
			return e, nil
		}
		if f := k.flights[sk]; f != nil {
			k.mu.Unlock()
			<-f.done
			if f.err != nil {
				return nil, f.err
			}
			continue
		}
		f := &flight{done: make(chan struct{})}
		k.flights[sk] = f
		prior := k.bySet[sk]
		k.mu.Unlock()

		e, err := k.obtain(prior, set, epoch)

		k.mu.Lock()
		delete(k.flights, sk)
		if err == nil {
			k.keys[e.w.ID] = e
			k.bySet[sk] = e
		}
		k.mu.Unlock()
		f.err = err
		close(f.done)
		if err != nil {
			return nil, err
		}
	}
}

// obtain returns a ready entry for a (set, epoch): the node's own stored key if it can
// unwrap it (after a restart), otherwise a newly generated, wrapped and stored one.
func (k *Keyring) obtain(prior *keyEntry, set []string, epoch uint64) (*keyEntry, error) {
	if prior != nil && prior.released {
		var key dataKey
		err := k.unwrap(prior, &key)
		clear(key[:])
		if err == nil {
			return prior, nil
		}
	}
	rcpts := make([]age.Recipient, len(set))
	for i, s := range set {
		r, err := k.dir.Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("seal: no age recipient for %s: %w", s, err)
		}
		if r == nil {
			return nil, fmt.Errorf("seal: no age recipient for %s", s)
		}
		rcpts[i] = r
	}
	e := &keyEntry{ready: true}
	rand.Read(e.key[:])
	wrapped, err := wrapKey(&e.key, rcpts)
	if err != nil {
		clear(e.key[:])
		return nil, fmt.Errorf("seal: wrapping a new key to %v: %w", set, err)
	}
	e.w = WrappedKey{ID: newKeyID(), Recipients: slices.Clone(set), Epoch: epoch, Wrapped: wrapped, Origin: k.self}
	e.released = slices.Contains(set, k.self)
	if err := k.store.PutKey(e.w.clone()); err != nil {
		clear(e.key[:])
		return nil, fmt.Errorf("seal: storing new key %s: %w", e.w.ID, err)
	}
	return e, nil
}

func newKeyID() string {
	var r [keyIDRandBytes]byte
	rand.Read(r[:])
	return keyIDPrefix + b64.EncodeToString(r[:])
}

// Open authenticates and decrypts s as the value of field in entry entryID. It returns
// ErrNotReleased when this state is not among the key's recipients or the key is unknown
// or destroyed, ErrTampered when the ciphertext does not authenticate for this entry,
// field and marking, and ErrMalformed when s has the wrong shape. The data key is
// unwrapped with the node's age identity on first use and cached.
func (k *Keyring) Open(s Sealed, entryID, field string) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var key dataKey
	defer clear(key[:])
	k.mu.RLock()
	e := k.keys[s.Key]
	ready := e != nil && e.released && e.ready
	if ready {
		key = e.key
	}
	k.mu.RUnlock()
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: key %s is unknown here or was destroyed", ErrNotReleased, s.Key)
	case !e.released:
		return nil, fmt.Errorf("%w: key %s is wrapped to %v, not to %s", ErrNotReleased, s.Key, e.w.Recipients, k.self)
	case !ready:
		if err := k.unwrap(e, &key); err != nil {
			return nil, err
		}
	}
	pt, err := openField(&key, bindingAAD(s.Key, entryID, field, s.Marking), s.CT)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s, entry %.64q, field %.64q", ErrTampered, s.Key, entryID, field)
	}
	return pt, nil
}

// unwrap makes e ready with the node's identity and copies its key into *key. A failure is
// remembered (the wrapped bytes never change), so a key that does not open for this node
// costs its X25519 operations once.
func (k *Keyring) unwrap(e *keyEntry, key *dataKey) error {
	e.unwrapMu.Lock()
	defer e.unwrapMu.Unlock()
	k.mu.RLock()
	ready, prevErr := e.ready, e.unwrapErr
	if ready {
		*key = e.key
	}
	k.mu.RUnlock()
	if ready {
		return nil
	}
	if prevErr != nil {
		return prevErr
	}
	got, err := unwrapKey(e.w.Wrapped, k.id)
	defer clear(got[:])
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[e.w.ID] != e {
		return fmt.Errorf("%w: key %s was destroyed", ErrNotReleased, e.w.ID)
	}
	if err != nil {
		e.unwrapErr = fmt.Errorf("%w: key %s lists %s but %v", ErrNotReleased, e.w.ID, k.self, err)
		return e.unwrapErr
	}
	e.key, e.ready = got, true
	*key = got
	return nil
}

// Import adds a key wrapped elsewhere (another node's, received through the federation)
// after checking its shape, and stores it, so this node can open what was released to it.
// Importing the same key again is a no-op; a different key under a known id is refused.
//
// An imported key is never used to seal: age does not tell a recipient who else a key
// was wrapped to, so a key from elsewhere could carry a recipient its list omits. For the
// same reason a key claiming this node as its Origin is refused unless this node already
// holds it: its own keys come only from its own store.
func (k *Keyring) Import(w WrappedKey) error {
	if err := checkWrappedKey(w); err != nil {
		return fmt.Errorf("seal: import: %w", err)
	}
	k.mu.RLock()
	cur, known := k.keys[w.ID]
	k.mu.RUnlock()
	if known {
		if cur.w.equal(w) {
			return nil
		}
		return fmt.Errorf("%w: import: key %s is already held with different content", ErrMalformed, w.ID)
	}
	if w.Origin == k.self {
		return fmt.Errorf("%w: import: key %s claims to originate here but is not in this node's store", ErrMalformed, w.ID)
	}
	w = w.clone()
	if err := k.store.PutKey(w); err != nil {
		return fmt.Errorf("seal: import: storing key %s: %w", w.ID, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.keys[w.ID]; ok && !cur.w.equal(w) {
		// A concurrent Import of a different key under the same id won the race (ids are
		// random, so only a hostile peer does this); keep the first one.
		return fmt.Errorf("%w: import: key %s is already held with different content", ErrMalformed, w.ID)
	} else if !ok {
		k.keys[w.ID] = k.newEntry(w)
	}
	return nil
}

// Destroy shreds a key: it deletes the wrapped form from the store and zeroes and forgets
// the unwrapped key, so nothing sealed under it can be opened here again. Destroying an
// unknown key is not an error (a retention sweep may be retried), but the store is always
// asked to delete, so a key that failed to delete earlier is retried too.
func (k *Keyring) Destroy(keyID string) error {
	if !validKeyID(keyID) {
		return fmt.Errorf("%w: destroy: %.40q is not a key id", ErrMalformed, keyID)
	}
	k.mu.Lock()
	if e, ok := k.keys[keyID]; ok {
		delete(k.keys, keyID)
		sk := string(appendSetKey(nil, e.w.Recipients, e.w.Epoch))
		if k.bySet[sk] == e {
			delete(k.bySet, sk)
		}
		clear(e.key[:])
		e.ready = false
	}
	k.mu.Unlock()
	if err := k.store.DeleteKey(keyID); err != nil {
		return fmt.Errorf("seal: destroy: deleting key %s from the store: %w", keyID, err)
	}
	return nil
}

// DestroyEpochsBefore destroys every key whose epoch is before epoch, whether it was
// generated here or imported, and returns their ids in order. It stops at the first
// failure and returns the ids destroyed so far with the error.
func (k *Keyring) DestroyEpochsBefore(epoch uint64) ([]string, error) {
	list, err := k.store.ListKeys()
	if err != nil {
		return nil, fmt.Errorf("seal: destroy: listing stored keys: %w", err)
	}
	var ids []string
	for _, w := range list {
		if w.Epoch < epoch {
			ids = append(ids, w.ID)
		}
	}
	k.mu.RLock()
	for id, e := range k.keys {
		if e.w.Epoch < epoch {
			ids = append(ids, id)
		}
	}
	k.mu.RUnlock()
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for i, id := range ids {
		if err := k.Destroy(id); err != nil {
			return ids[:i], err
		}
	}
	return ids, nil
}

// checkBinding checks what Seal binds a value to.
func checkBinding(entryID, field, marking string) error {
	switch {
	case entryID == "" || len(entryID) > MaxBindingLen:
		return fmt.Errorf("%w: entry id must be 1 to %d bytes", ErrMalformed, MaxBindingLen)
	case field == "" || len(field) > MaxBindingLen:
		return fmt.Errorf("%w: field path must be 1 to %d bytes", ErrMalformed, MaxBindingLen)
	}
	return checkMarking(marking)
}
