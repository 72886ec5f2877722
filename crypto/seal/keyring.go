package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
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

	// Set once by UseEpochs before the keyring is shared; read without locking.
	epochDir EpochDirectory
	epochIDs EpochIdentities

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
		sk := setName(w)
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
	return k.seal("", entryID, field, marking, recipients, epoch, plaintext)
}

// UseEpochs lets the keyring seal subject keys: dir resolves the states' published epoch
// recipients and ids holds this node's epoch identities. Call it once, before the keyring
// is used by more than one goroutine.
func (k *Keyring) UseEpochs(dir EpochDirectory, ids EpochIdentities) {
	k.epochDir, k.epochIDs = dir, ids
}

// SealSubject is Seal under the subject's own data key: one key per (subject, recipient
// set), wrapped to each recipient's identity for the first key epoch at or after epoch
// that the state has published, never to a long-term identity. Destroying the subject's
// keys, or those epoch identities, makes the value unreadable everywhere it was copied:
// that is how retention ends (see the package documentation).
func (k *Keyring) SealSubject(subject string, epoch uint64, entryID, field, marking string, recipients []string, plaintext []byte) (Sealed, error) {
	switch {
	case subject == "" || len(subject) > MaxBindingLen:
		return Sealed{}, fmt.Errorf("%w: subject must be 1 to %d bytes", ErrMalformed, MaxBindingLen)
	case k.epochDir == nil || k.epochIDs == nil:
		return Sealed{}, errors.New("seal: SealSubject needs UseEpochs first")
	}
	return k.seal(subject, entryID, field, marking, recipients, epoch, plaintext)
}

func (k *Keyring) seal(subject, entryID, field, marking string, recipients []string, epoch uint64, plaintext []byte) (Sealed, error) {
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
	if subject != "" {
		name = []byte(subjectKeyName(subject, set))
	}

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
		if e, err = k.sealKey(string(name), subject, slices.Clone(set), epoch, &key); err != nil {
			return Sealed{}, err
		}
	}
	id := k.wrapped(e).ID
	ct := sealField(&key, bindingAAD(id, entryID, field, marking), plaintext)
	return Sealed{V: Version, Marking: marking, Key: id, CT: ct}, nil
}

// sealKey is Seal's slow path: it makes the (set, epoch) key usable, once, and copies
// it into *key.
func (k *Keyring) sealKey(sk, subject string, set []string, epoch uint64, key *dataKey) (*keyEntry, error) {
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

		e, err := k.obtain(prior, subject, set, epoch)

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

// obtain returns a ready entry for a (set, epoch) or a (subject, set): the node's own
// stored key if it can unwrap it (after a restart), otherwise a newly generated, wrapped
// and stored one.
func (k *Keyring) obtain(prior *keyEntry, subject string, set []string, epoch uint64) (*keyEntry, error) {
	if prior != nil && prior.released {
		var key dataKey
		err := k.unwrap(prior, &key)
		clear(key[:])
		if err == nil {
			return prior, nil
		}
	}
	e := &keyEntry{ready: true}
	rand.Read(e.key[:])
	w, err := k.wrapFor(&e.key, subject, set, epoch)
	if err != nil {
		clear(e.key[:])
		return nil, err
	}
	w.ID, w.Origin = newKeyID(), k.self
	e.w = w
	e.released = slices.Contains(set, k.self)
	if err := k.store.PutKey(e.w.clone()); err != nil {
		clear(e.key[:])
		return nil, fmt.Errorf("seal: storing new key %s: %w", e.w.ID, err)
	}
	return e, nil
}

// wrapFor wraps key to set: to the long-term recipients for a plain key, to each state's
// epoch recipient (the first at or after epoch) for a subject key. The result has no id
// or origin yet.
func (k *Keyring) wrapFor(key *dataKey, subject string, set []string, epoch uint64) (WrappedKey, error) {
	rcpts := make([]age.Recipient, len(set))
	var epochs []uint64
	if subject != "" {
		epochs = make([]uint64, len(set))
	}
	for i, s := range set {
		var r age.Recipient
		var err error
		if subject == "" {
			r, err = k.dir.Recipient(s)
		} else {
			r, epochs[i], err = k.epochDir.EpochRecipient(s, epoch)
		}
		if err != nil {
			return WrappedKey{}, fmt.Errorf("seal: no age recipient for %s: %w", s, err)
		}
		if r == nil {
			return WrappedKey{}, fmt.Errorf("seal: no age recipient for %s", s)
		}
		rcpts[i] = r
	}
	wrapped, err := wrapKey(key, rcpts)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("seal: wrapping a key to %v: %w", set, err)
	}
	return WrappedKey{Recipients: slices.Clone(set), Epoch: epoch, Wrapped: wrapped, Subject: subject, Epochs: epochs}, nil
}

// Rewrap wraps one of this node's own subject keys again, to the recipients' identities
// for the first epochs at or after epoch, and stores the new form under the same id. The
// data key and every ciphertext sealed under it stay the same. A subject still retained
// when the epochs it is wrapped to draw to a close is rewrapped by its originator, so
// destroying those epoch identities shreds only what has expired.
func (k *Keyring) Rewrap(keyID string, epoch uint64) (WrappedKey, error) {
	k.mu.RLock()
	e := k.keys[keyID]
	var cur WrappedKey
	if e != nil {
		cur = e.w
	}
	k.mu.RUnlock()
	switch {
	case e == nil:
		return WrappedKey{}, fmt.Errorf("%w: rewrap: key %s is unknown here or was destroyed", ErrNotReleased, keyID)
	case cur.Origin != k.self || cur.Subject == "":
		return WrappedKey{}, fmt.Errorf("%w: rewrap: key %s is not a subject key of %s", ErrMalformed, keyID, k.self)
	case epoch <= cur.Epoch:
		return WrappedKey{}, fmt.Errorf("%w: rewrap: key %s is already wrapped for epoch %d", ErrMalformed, keyID, cur.Epoch)
	case !e.released:
		return WrappedKey{}, fmt.Errorf("%w: rewrap: key %s is not wrapped to its own origin", ErrNotReleased, keyID)
	}
	var key dataKey
	defer clear(key[:])
	if err := k.unwrap(e, &key); err != nil {
		return WrappedKey{}, err
	}
	w, err := k.wrapFor(&key, cur.Subject, cur.Recipients, epoch)
	if err != nil {
		return WrappedKey{}, err
	}
	w.ID, w.Origin = cur.ID, cur.Origin
	if err := k.store.PutKey(w.clone()); err != nil {
		return WrappedKey{}, fmt.Errorf("seal: rewrap: storing key %s: %w", keyID, err)
	}
	k.mu.Lock()
	if k.keys[keyID] == e {
		e.w = w.clone()
	}
	k.mu.Unlock()
	return w, nil
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
		return nil, fmt.Errorf("%w: key %s is wrapped to %v, not to %s", ErrNotReleased, s.Key, k.wrapped(e).Recipients, k.self)
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
	ready, prevErr, w := e.ready, e.unwrapErr, e.w
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
	id := k.id
	if w.Subject != "" {
		var ok bool
		epoch := w.Epochs[slices.Index(w.Recipients, k.self)]
		if k.epochIDs != nil {
			id, ok = k.epochIDs.EpochIdentity(epoch)
		}
		if !ok {
			// Not remembered as a failure: a rewrap to a live epoch may come.
			return fmt.Errorf("%w: key %s is wrapped to this node's epoch %d identity, which it does not hold", ErrNotReleased, w.ID, epoch)
		}
	}
	got, err := unwrapKey(w.Wrapped, id)
	defer clear(got[:])
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[w.ID] != e {
		return fmt.Errorf("%w: key %s was destroyed", ErrNotReleased, w.ID)
	}
	if err != nil {
		err = fmt.Errorf("%w: key %s lists %s but %v", ErrNotReleased, w.ID, k.self, err)
		if e.w.Epoch == w.Epoch { // not rewrapped meanwhile: the failure is final
			e.unwrapErr = err
		}
		return err
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
// same reason a plain key claiming this node as its Origin is refused unless this node
// already holds it: its own keys come only from its own store. An own subject key is
// accepted, for opening only: the federation hands it back (under the node's own
// signature) after the node dropped a copy whose command had not yet committed.
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
		if isRewrapOf(cur.w, w) {
			return k.replace(cur, w)
		}
		return fmt.Errorf("%w: import: key %s is already held with different content", ErrMalformed, w.ID)
	}
	if w.Origin == k.self && w.Subject == "" {
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

// isRewrapOf reports whether w is a later wrapping of the subject key cur: same id,
// origin, subject and recipients, a later epoch.
func isRewrapOf(cur, w WrappedKey) bool {
	return cur.Subject != "" && w.ID == cur.ID && w.Origin == cur.Origin && w.Subject == cur.Subject &&
		slices.Equal(w.Recipients, cur.Recipients) && w.Epoch > cur.Epoch
}

// replace stores w, a rewrap of e's key, in place of e's wrapped form. An unwrapped data
// key stays cached: the key itself has not changed.
func (k *Keyring) replace(e *keyEntry, w WrappedKey) error {
	w = w.clone()
	if err := k.store.PutKey(w); err != nil {
		return fmt.Errorf("seal: import: storing rewrapped key %s: %w", w.ID, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[w.ID] == e && isRewrapOf(e.w, w) {
		e.w, e.unwrapErr = w, nil
	}
	return nil
}

// wrapped returns e's current wrapped form. The form is replaced as a whole on a rewrap
// and its slices are never written in place, so the shallow copy is safe to read.
func (k *Keyring) wrapped(e *keyEntry) WrappedKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return e.w
}

// Key returns this node's copy of the wrapped key id.
func (k *Keyring) Key(id string) (WrappedKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.keys[id]
	if !ok {
		return WrappedKey{}, false
	}
	return e.w.clone(), true
}

// SubjectKeys returns this node's copies of every subject key it holds, ordered by id.
func (k *Keyring) SubjectKeys() []WrappedKey {
	k.mu.RLock()
	out := make([]WrappedKey, 0, len(k.keys))
	for _, e := range k.keys {
		if e.w.Subject != "" {
			out = append(out, e.w.clone())
		}
	}
	k.mu.RUnlock()
	slices.SortFunc(out, func(a, b WrappedKey) int { return strings.Compare(a.ID, b.ID) })
	return out
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
		if sk := setName(e.w); k.bySet[sk] == e {
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
