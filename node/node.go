// Package node is one member state's node: it opens the identity and the node database,
// seals every record field for the states its marking releases it to, keeps the audit
// trail, and serves the signed API. National records live here and never leave.
package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/audit"
	"github.com/entente/entente/node/config"
	"github.com/entente/entente/node/records"
	"github.com/entente/entente/node/webhooks"
	"github.com/entente/entente/policy"
)

// DBFile is the node database's name inside the data directory.
const DBFile = "node.db"

// ErrLocked means another process has the node database open.
var ErrLocked = errors.New("the node database is in use by another process (is `entente serve` running on this data directory?)")

// keyPair is the current signer and the public key set, swapped together on rotation.
type keyPair struct {
	signer *jws.Signer
	keys   *jws.KeySet
}

// Node is a running member-state node.
type Node struct {
	cfg    *config.Config
	log    *slog.Logger
	id     *identity.Identity
	db     *bbolt.DB
	commit *committer
	pol    policy.Policy
	roster Roster
	ring   *seal.Keyring
	// epochs holds this node's per-epoch identities, which subject keys are wrapped to.
	epochs *identity.EpochKeys
	reg    *access.Registry
	keys   atomic.Pointer[keyPair]
	now    func() time.Time
	ready  atomic.Bool
	// fed is set once the node has joined a federation (serve with a genesis).
	fed    atomic.Pointer[federation.Federation]
	rotate sync.Mutex

	// feed wakes the alert feed's readers when alerts are appended (alerts.go).
	feed feedSignal
	// hooks is the durable webhook outbox (webhooks.go).
	hooks *webhooks.Outbox
	// scr is the screening service and the consensus list's state (screening.go).
	scr screeningState

	peersMu sync.Mutex
	peers   map[string]*http.Client // keep-alive clients for other members' APIs, by pin
}

// Options adjust a node for tests and tools.
type Options struct {
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Open loads the identity in cfg.DataDir, opens the node database and prepares the node.
func Open(cfg *config.Config, log *slog.Logger, o Options) (*Node, error) {
	id, err := identity.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	pol := policy.DefaultPolicy()
	if cfg.PolicyFile != "" {
		data, err := readBounded(cfg.PolicyFile, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		if pol, err = policy.ParsePolicy(data); err != nil {
			return nil, fmt.Errorf("policy %s: %w", cfg.PolicyFile, err)
		}
	}
	roster, err := LoadRoster(cfg.RosterFile, id)
	if err != nil {
		return nil, err
	}
	db, err := OpenDB(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, id: id, db: db, pol: pol, roster: roster, now: time.Now}
	if o.Now != nil {
		n.now = o.Now
	}
	n.keys.Store(&keyPair{signer: id.Signer, keys: id.Keys})
	fail := func(err error) (*Node, error) {
		_ = db.Close()
		return nil, err
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		for _, ensure := range []func(*bbolt.Tx) error{records.EnsureBuckets, audit.EnsureBuckets, access.EnsureBuckets, ensureKeyBucket, ensureFeedBuckets} {
			if err := ensure(tx); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(fmt.Errorf("node database: %w", err))
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		var err error
		n.reg, err = access.NewRegistry(tx, Audience(id), n)
		return err
	}); err != nil {
		return fail(err)
	}
	n.ring, err = seal.NewKeyring(id.State, id.Age, directory{n}, &boltKeyStore{db: db})
	if err != nil {
		return fail(fmt.Errorf("sealing keys: %w", err))
	}
	if n.epochs, err = identity.OpenEpochKeys(cfg.DataDir); err != nil {
		return fail(fmt.Errorf("epoch keys: %w", err))
	}
	n.ring.UseEpochs(epochDirectory{n}, n.epochs)
	if err := n.openWebhooks(); err != nil {
		return fail(fmt.Errorf("webhooks: %w", err))
	}
	n.commit = newCommitter(db)
	n.ready.Store(true)
	return n, nil
}

// OpenDB opens the node database in dataDir, refusing to wait for another process.
func OpenDB(dataDir string) (*bbolt.DB, error) {
	path := filepath.Join(dataDir, DBFile)
	// These are etcd's settings. The map freelist and an unsynced freelist write fewer
	// pages per commit (the freelist is rebuilt when the file is opened). A large
	// initial mapping (address space, not memory) spares the re-mapping that otherwise
	// blocks every transaction each time the file outgrows its mapping.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: time.Second, FreelistType: bbolt.FreelistMapType, NoFreelistSync: true,
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Audience is the aud claim of tokens for this node: the state and a hash of its TLS key,
// so a token for one node is refused by every other, even of the same state.
func Audience(id *identity.Identity) string {
	h := sha256.Sum256([]byte(id.TLSPin))
	return "entente:" + id.State + ":" + hex.EncodeToString(h[:6])
}

// Close stops accepting work and closes the database. Writes acknowledged before Close
// are already committed and synced.
func (n *Node) Close() error {
	n.ready.Store(false)
	n.commit.Close()
	if n.hooks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.hooks.Close(ctx); err != nil {
			n.log.Warn("webhook deliveries still running at close were cut off", "err", err)
		}
		cancel()
	}
	n.peersMu.Lock()
	for _, c := range n.peers {
		c.CloseIdleConnections()
	}
	n.peersMu.Unlock()
	return n.db.Close()
}

// State is this node's ISO 3166-1 alpha-3 code.
func (n *Node) State() string { return n.id.State }

// Identity is the node's loaded identity.
func (n *Node) Identity() *identity.Identity { return n.id }

// Signer is the current response-signing key.
func (n *Node) Signer() *jws.Signer { return n.keys.Load().signer }

// KeySet is the JWKS: current and retired signing keys.
func (n *Node) KeySet() *jws.KeySet { return n.keys.Load().keys }

// Keyring opens and seals field values for this node.
func (n *Node) Keyring() *seal.Keyring { return n.ring }

// Ready reports whether the node is serving.
func (n *Node) Ready() error {
	if !n.ready.Load() {
		return errors.New("the node is starting or shutting down")
	}
	return nil
}

// Authenticate checks a bearer token.
func (n *Node) Authenticate(raw string) (access.Principal, error) {
	return n.reg.Authenticate(raw, n.now())
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// Roster is the set of states this node knows the keys of. It resolves state codes to age
// recipients for sealing and gives policy its view of the membership.
type Roster struct {
	Policy     policy.Roster
	recipients map[string]*age.X25519Recipient
}

// Recipient implements seal.Directory.
func (r Roster) Recipient(state string) (age.Recipient, error) {
	rc, ok := r.recipients[state]
	if !ok {
		return nil, fmt.Errorf("state %s is not on this node's roster (add its member card with --roster)", state)
	}
	return rc, nil
}

// RosterFile is the JSON a node reads to know the other states' keys before it joins a
// federation.
type RosterFile struct {
	Members []RosterEntry `json:"members"`
}

// RosterEntry is one state on a roster file.
type RosterEntry struct {
	Role policy.MemberRole `json:"role"`
	Card json.RawMessage   `json:"card"`
}

// LoadRoster reads path (or, when path is empty, just this node) into a Roster. This node
// is always on it.
func LoadRoster(path string, self *identity.Identity) (Roster, error) {
	r := Roster{recipients: map[string]*age.X25519Recipient{self.State: self.Age.Recipient()}}
	selfRole := policy.RoleMember
	if path != "" {
		data, err := readBounded(path, 4<<20)
		if err != nil {
			return Roster{}, fmt.Errorf("roster: %w", err)
		}
		var rf RosterFile
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rf); err != nil {
			return Roster{}, fmt.Errorf("roster %s: %w", path, err)
		}
		for i, m := range rf.Members {
			card, err := identity.ParseCard(m.Card)
			if err != nil {
				return Roster{}, fmt.Errorf("roster %s: members[%d].card: %w", path, i, err)
			}
			if err := policy.ValidStateCode(card.State); err != nil {
				return Roster{}, fmt.Errorf("roster %s: members[%d].card.state: %w", path, i, err)
			}
			switch m.Role {
			case policy.RoleVoter, policy.RoleMember, policy.RoleObserver:
			default:
				return Roster{}, fmt.Errorf("roster %s: members[%d].role %q: want voter, member or observer", path, i, m.Role)
			}
			if _, dup := r.recipients[card.State]; dup && card.State != self.State {
				return Roster{}, fmt.Errorf("roster %s: members[%d]: state %s is listed twice", path, i, card.State)
			}
			rc, err := card.Recipient()
			if err != nil {
				return Roster{}, fmt.Errorf("roster %s: members[%d].card.age_recipient: %w", path, i, err)
			}
			if card.State == self.State {
				if rc.String() != self.Age.Recipient().String() {
					return Roster{}, fmt.Errorf("roster %s: members[%d]: the card for %s is not this node's", path, i, card.State)
				}
				selfRole = m.Role
				continue
			}
			r.recipients[card.State] = rc
			r.Policy.Members = append(r.Policy.Members, policy.RosterMember{Code: card.State, Role: m.Role})
		}
	}
	r.Policy.Members = append(r.Policy.Members, policy.RosterMember{Code: self.State, Role: selfRole})
	return r, nil
}
