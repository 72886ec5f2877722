package seal

import (
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
)

// WrappedKey is a data key as it is stored and shared: the 32-byte key encrypted with age
// to every state in Recipients. It carries no key material in the clear, so it can travel
// through the raft log and backups; destroying every copy of it is what shreds the data.
type WrappedKey struct {
	// ID names the key in Sealed.Key: "k1" followed by 16 random bytes in base64url.
	ID string `json:"id"`
	// Recipients is the sorted set of state codes the key is wrapped to.
	Recipients []string `json:"recipients"`
	// Epoch is the retention period the key belongs to; DestroyEpochsBefore shreds by it.
	Epoch uint64 `json:"epoch"`
	// Wrapped is the age ciphertext of the 32-byte key.
	Wrapped []byte `json:"wrapped"`
	// Origin is the state whose node generated the key. A node seals only under keys
	// whose Origin is itself (see Keyring.Import for why); the federation layer must
	// check that whoever shared a key is its Origin (the proposal's signature).
	Origin string `json:"origin,omitempty"`
	// Subject is set on a subject key: the one shared subject (a watchlist entry, an
	// indicator) whose fields it seals, so that purging the subject can destroy exactly
	// its keys and nothing else.
	Subject string `json:"subject,omitempty"`
	// Epochs is set on a subject key: for each state in Recipients, in the same order,
	// the key epoch whose identity of that state the key is wrapped to. A subject key is
	// never wrapped to a long-term identity, so destroying those epoch identities makes
	// every copy of it, in logs and snapshots too, unreadable.
	Epochs []uint64 `json:"epochs,omitempty"`
}

func (w WrappedKey) clone() WrappedKey {
	w.Recipients = slices.Clone(w.Recipients)
	w.Wrapped = slices.Clone(w.Wrapped)
	w.Epochs = slices.Clone(w.Epochs)
	return w
}

func (w WrappedKey) equal(o WrappedKey) bool {
	return w.ID == o.ID && w.Epoch == o.Epoch && w.Origin == o.Origin && w.Subject == o.Subject &&
		slices.Equal(w.Recipients, o.Recipients) && slices.Equal(w.Wrapped, o.Wrapped) && slices.Equal(w.Epochs, o.Epochs)
}

// Directory resolves a state code to the age recipient its node decrypts with (from the
// replicated roster). It is defined here, where it is consumed, so crypto stays a leaf.
type Directory interface {
	Recipient(state string) (age.Recipient, error)
}

// EpochDirectory resolves the age recipient a state published for a key epoch (from the
// replicated state). It returns the first epoch at or after min the state has a
// recipient for, so that a state which published ahead is still reachable, and an error
// when it has none.
type EpochDirectory interface {
	EpochRecipient(state string, min uint64) (age.Recipient, uint64, error)
}

// EpochIdentities gives this node's own identity for a key epoch, or false once that
// identity has been destroyed (or never existed).
type EpochIdentities interface {
	EpochIdentity(epoch uint64) (age.Identity, bool)
}

// Store persists wrapped keys (bbolt on a node). Implementations must be safe for
// concurrent use, and DeleteKey must really remove the bytes (for bbolt: the node also
// compacts so freed pages do not keep them), since deleting is how data is shredded.
type Store interface {
	PutKey(w WrappedKey) error
	GetKey(id string) (WrappedKey, bool, error)
	DeleteKey(id string) error
	ListKeys() ([]WrappedKey, error)
}

// MemStore is an in-memory Store for tests and tools. It copies on the way in and out, so
// callers cannot alter what it holds, and deleting drops its only copy.
type MemStore struct {
	mu   sync.RWMutex
	keys map[string]WrappedKey
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{keys: make(map[string]WrappedKey)} }

// PutKey stores a copy of w, replacing any key with the same id.
func (m *MemStore) PutKey(w WrappedKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[w.ID] = w.clone()
	return nil
}

// GetKey returns a copy of the key named id.
func (m *MemStore) GetKey(id string) (WrappedKey, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	w, ok := m.keys[id]
	if !ok {
		return WrappedKey{}, false, nil
	}
	return w.clone(), true, nil
}

// DeleteKey removes the key named id; deleting an absent key is not an error, so a
// retention sweep can be retried.
func (m *MemStore) DeleteKey(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.keys[id]; ok {
		clear(w.Wrapped)
		delete(m.keys, id)
	}
	return nil
}

// ListKeys returns copies of all keys, ordered by id.
func (m *MemStore) ListKeys() ([]WrappedKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]WrappedKey, 0, len(m.keys))
	for _, w := range m.keys {
		out = append(out, w.clone())
	}
	slices.SortFunc(out, func(a, b WrappedKey) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
