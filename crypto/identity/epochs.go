package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"filippo.io/age"
)

// EpochKeysDir is where a node keeps its per-epoch age identities, relative to the data
// directory. Each identity is its own file, never a value in a database: deleting a file
// leaves no copy in free pages of the node's own files, so a copied data directory no
// longer holds the key.
const EpochKeysDir = "keys/epochs"

// floorFile records the first epoch that may still exist. It is written before any file
// is deleted, so a crash half-way through a destruction never brings an epoch back.
const floorFile = "floor"

// EpochKeys is a node's store of per-epoch age identities, the keys that shared data keys
// are wrapped to. Destroying the identity of an epoch is what makes every subject sealed
// for that epoch unreadable on this node, in the raft log and snapshots as much as in the
// current state. It is safe for concurrent use.
type EpochKeys struct {
	dir string

	mu    sync.RWMutex
	ids   map[uint64]*age.X25519Identity
	floor uint64 // epochs below floor are destroyed and are never created again
}

// OpenEpochKeys opens (creating if needed, mode 0700) the epoch key directory under the
// data directory dataDir and loads the identities in it. A file with a bad name, mode or
// content stops the node: a damaged key store must not silently lose access to data.
func OpenEpochKeys(dataDir string) (*EpochKeys, error) {
	dir := filepath.Join(dataDir, EpochKeysDir)
	if err := ensureDir(filepath.Join(dataDir, keysDir)); err != nil {
		return nil, err
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	k := &EpochKeys{dir: dir, ids: make(map[uint64]*age.X25519Identity)}
	if b, err := readFile(filepath.Join(dir, floorFile), true); err == nil {
		if k.floor, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return nil, fmt.Errorf("identity: %s: not an epoch number", filepath.Join(dir, floorFile))
		}
	} else if _, statErr := os.Stat(filepath.Join(dir, floorFile)); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("identity: read %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if name == floorFile || strings.HasPrefix(name, ".") {
			continue // temporary files of an interrupted write are ignored
		}
		epoch, ok := parseEpochFile(name)
		if !ok {
			return nil, fmt.Errorf("identity: %s: unexpected file in the epoch key directory", filepath.Join(dir, name))
		}
		path := filepath.Join(dir, name)
		if epoch < k.floor {
			// Destruction was interrupted after the floor was written: finish it.
			if err := shredFile(path); err != nil {
				return nil, err
			}
			continue
		}
		b, err := readFile(path, true)
		if err != nil {
			return nil, err
		}
		id, err := age.ParseX25519Identity(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("identity: %s: not an age X25519 identity", path)
		}
		k.ids[epoch] = id
	}
	return k, nil
}

func epochFileName(epoch uint64) string { return strconv.FormatUint(epoch, 10) + ".age" }

func parseEpochFile(name string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ".age")
	if !ok || num == "" || (len(num) > 1 && num[0] == '0') {
		return 0, false
	}
	e, err := strconv.ParseUint(num, 10, 64)
	return e, err == nil
}

// ErrEpochDestroyed is returned by Recipient for an epoch whose identity was destroyed:
// it can never be created again, or data sealed later would outlive its retention.
var ErrEpochDestroyed = errors.New("identity: epoch key already destroyed")

// Recipient returns the age recipient of the node's identity for epoch, creating and
// durably storing the identity first if it does not exist yet.
func (k *EpochKeys) Recipient(epoch uint64) (string, error) {
	k.mu.RLock()
	id, ok := k.ids[epoch]
	floor := k.floor
	k.mu.RUnlock()
	if ok {
		return id.Recipient().String(), nil
	}
	if epoch < floor {
		return "", fmt.Errorf("%w: epoch %d", ErrEpochDestroyed, epoch)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if id, ok := k.ids[epoch]; ok {
		return id.Recipient().String(), nil
	}
	if epoch < k.floor {
		return "", fmt.Errorf("%w: epoch %d", ErrEpochDestroyed, epoch)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("identity: generate epoch %d key: %w", epoch, err)
	}
	path := filepath.Join(k.dir, epochFileName(epoch))
	if err := writeNew(path, []byte(id.String()+"\n"), secretMode); err != nil {
		return "", err
	}
	if err := syncDir(k.dir); err != nil {
		return "", err
	}
	k.ids[epoch] = id
	return id.Recipient().String(), nil
}

// EpochIdentity returns the node's identity for epoch, or false if it never existed or
// was destroyed.
func (k *EpochKeys) EpochIdentity(epoch uint64) (age.Identity, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	id, ok := k.ids[epoch]
	if !ok {
		return nil, false
	}
	return id, true
}

// Identities returns every identity the node still holds, for tools that must try them
// all (a retention audit of raw files).
func (k *EpochKeys) Identities() []age.Identity {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]age.Identity, 0, len(k.ids))
	for _, e := range k.epochsLocked() {
		out = append(out, k.ids[e])
	}
	return out
}

// Epochs returns the epochs whose identities the node holds, ascending.
func (k *EpochKeys) Epochs() []uint64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.epochsLocked()
}

func (k *EpochKeys) epochsLocked() []uint64 {
	out := make([]uint64, 0, len(k.ids))
	for e := range k.ids {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Floor returns the first epoch whose identity may still exist.
func (k *EpochKeys) Floor() uint64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.floor
}

// DestroyBefore destroys the identities of every epoch before epoch and returns those it
// destroyed. The new floor is stored first, so an interrupted destruction is finished at
// the next open and the epochs can never be recreated. Each file is overwritten with
// zeros and synced before it is removed.
func (k *EpochKeys) DestroyBefore(epoch uint64) ([]uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if epoch <= k.floor {
		return nil, nil
	}
	if err := writeReplace(filepath.Join(k.dir, floorFile), []byte(strconv.FormatUint(epoch, 10)+"\n"), secretMode); err != nil {
		return nil, err
	}
	if err := syncDir(k.dir); err != nil {
		return nil, err
	}
	k.floor = epoch
	var gone []uint64
	for _, e := range k.epochsLocked() {
		if e >= epoch {
			break
		}
		delete(k.ids, e)
		if err := shredFile(filepath.Join(k.dir, epochFileName(e))); err != nil {
			return gone, err
		}
		gone = append(gone, e)
	}
	return gone, syncDir(k.dir)
}

// shredFile overwrites a key file with zeros, syncs it, and removes it. On a journaling or
// copy-on-write file system the overwrite is best effort; the removal is what keeps the
// key out of a copied data directory.
func shredFile(path string) error {
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		if fi, err := f.Stat(); err == nil {
			_, _ = f.Write(make([]byte, fi.Size()))
			_ = f.Sync()
		}
		_ = f.Close()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("identity: destroy %s: %w", path, err)
	}
	return nil
}
