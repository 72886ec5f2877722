// Package state is the federation's replicated state: the roster, the federation policy,
// the consensus watchlist, risk indicators and the alerts their changes raise, kept in
// their own bbolt file and changed only by applying committed log entries.
//
// Apply is deterministic. Its only clock is the stamp the leader wrote into the entry (and
// it never runs backwards); it reads no random source and touches no file but its own. An
// entry whose framing does not decode halts the node, because replicas that cannot read
// the same entry would diverge. A command that decodes but breaks a rule is rejected the
// same way on every replica: nothing changes but the record of the rejection. The applied
// index is written in the same transaction as the change it records, so a restarted node
// skips what it has already applied.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/internal/crashpoint"
	"github.com/entente/entente/policy"
)

// Bucket names.
var (
	bMeta       = []byte("meta")
	bEntries    = []byte("entries")
	bIndicators = []byte("indicators")
	bCommands   = []byte("commands")
	bKeys       = []byte("keys")
	bEpochs     = []byte("epochs")
	bAlerts     = []byte("alerts")
	bResults    = []byte("results")
	// bDeadlines indexes each subject's next deadline: key = time (8 bytes, big-endian
	// Unix nanoseconds) || subject, value = the transition due then. The leader reads
	// only what has fallen due instead of scanning the whole state.
	bDeadlines = []byte("deadlines")
	// bSubjectKeys indexes subject keys by subject: key = subject || 0 || key id, so a
	// purge finds and destroys exactly the keys of the subject it removes.
	bSubjectKeys = []byte("subject-keys")
	allBuckets   = [][]byte{bMeta, bEntries, bIndicators, bCommands, bKeys, bEpochs, bAlerts, bResults, bDeadlines, bProposals, bSubjectKeys, bPolicyHistory}
)

// Meta keys.
var (
	kApplied = []byte("applied")
	kNow     = []byte("now")
	kGenesis = []byte("genesis")
	kRoster  = []byte("roster")
	kPolicy  = []byte("policy")
)

// Member is one state on the replicated roster.
type Member struct {
	Code         string            `json:"code"`
	Role         policy.MemberRole `json:"role"`
	SigningKeys  json.RawMessage   `json:"signing_keys"` // the state's JWKS
	AgeRecipient string            `json:"age_recipient"`
	TLSPin       string            `json:"tls_pin"`
	// RaftAddr and GossipAddr are where the member's node first listens (host:port);
	// gossip carries later changes.
	RaftAddr   string `json:"raft_addr"`
	GossipAddr string `json:"gossip_addr"`
	// APIURL is the member's API as first announced.
	APIURL string `json:"api_url"`
}

// Genesis founds a federation: its roster and its policy. Every node starts from the same
// genesis document; its hash is recorded and checked on every start.
type Genesis struct {
	Federation string        `json:"federation"`
	Members    []Member      `json:"members"`
	Policy     policy.Policy `json:"policy"`
}

// Validate checks a genesis document and names the first bad member or setting.
func (g *Genesis) Validate() error {
	if g.Federation == "" || len(g.Federation) > 64 {
		return errors.New("genesis: federation: give the federation a name of 1 to 64 characters")
	}
	if len(g.Members) == 0 {
		return errors.New("genesis: members: a federation needs at least one member")
	}
	seen := map[string]bool{}
	voters := 0
	for i, m := range g.Members {
		if err := policy.ValidStateCode(m.Code); err != nil {
			return fmt.Errorf("genesis: members[%d].code: %w", i, err)
		}
		if seen[m.Code] {
			return fmt.Errorf("genesis: members[%d]: %s is listed twice", i, m.Code)
		}
		seen[m.Code] = true
		switch m.Role {
		case policy.RoleVoter:
			voters++
		case policy.RoleMember, policy.RoleObserver:
		default:
			return fmt.Errorf("genesis: members[%d].role %q: want voter, member or observer", i, m.Role)
		}
		if _, err := jws.ParseKeySet(m.SigningKeys); err != nil {
			return fmt.Errorf("genesis: members[%d].signing_keys: %w", i, err)
		}
		if m.AgeRecipient == "" || m.TLSPin == "" || m.RaftAddr == "" || m.GossipAddr == "" {
			return fmt.Errorf("genesis: members[%d]: age_recipient, tls_pin, raft_addr and gossip_addr are required", i)
		}
	}
	if voters == 0 {
		return errors.New("genesis: members: at least one member must be a voter (the steering body)")
	}
	return g.Policy.Validate()
}

// Hash is the SHA-256 of the genesis document's canonical JSON.
func (g *Genesis) Hash() string {
	b, _ := json.Marshal(g)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Watchlist statuses.
const (
	StatusNominated = "nominated"
	StatusListed    = "listed"
	StatusDisputed  = "disputed"
	StatusReviewDue = "review-due"
	StatusAppealed  = "appealed"
	StatusDelisted  = "delisted"
	StatusExpired   = "expired"
	// StatusRejected is a disputed nomination the steering body decided not to list.
	StatusRejected = "rejected"
)

// Vote is one state's position on a nomination.
type Vote struct {
	Position string         `json:"position"`
	Blocking bool           `json:"blocking,omitempty"`
	Reason   *command.Field `json:"reason,omitempty"`
	At       int64          `json:"at"`
	Index    uint64         `json:"index"`
}

// Entry is a consensus watchlist entry with its whole history of decisions.
type Entry struct {
	ID          string                   `json:"id"`
	Kind        string                   `json:"kind"`
	Origin      string                   `json:"origin"`
	Status      string                   `json:"status"`
	Fields      map[string]command.Field `json:"fields"`
	Nominated   int64                    `json:"nominated"`
	WindowEnds  int64                    `json:"window_ends"`
	Decided     int64                    `json:"decided,omitempty"`
	ReviewDue   int64                    `json:"review_due,omitempty"`
	AppealEnds  int64                    `json:"appeal_ends,omitempty"`
	Ended       int64                    `json:"ended,omitempty"`
	Votes       map[string]Vote          `json:"votes,omitempty"`
	Appeal      *AppealRecord            `json:"appeal,omitempty"`
	AppealVotes map[string]string        `json:"appeal_votes,omitempty"`
	// Decisions are the voters' decisions on a disputed nomination: list or reject.
	Decisions map[string]string `json:"decisions,omitempty"`
	// Commands are the log indices of the signed commands about this entry, kept in the
	// state so that any member can re-verify who said what.
	Commands []uint64 `json:"commands"`
	// DeadlineAt and DeadlineTo are the entry's next deadline, as indexed.
	DeadlineAt int64  `json:"deadline_at,omitempty"`
	DeadlineTo string `json:"deadline_to,omitempty"`
}

// AppealRecord is an appeal against a listing.
type AppealRecord struct {
	By      string        `json:"by"`
	Grounds command.Field `json:"grounds"`
	At      int64         `json:"at"`
}

// Indicator is a published risk indicator.
type Indicator struct {
	ID            string           `json:"id"`
	Kind          string           `json:"kind"`
	Origin        string           `json:"origin"`
	Subject       command.Field    `json:"subject"`
	Severity      int              `json:"severity"`
	Evidence      command.Field    `json:"evidence"`
	Published     int64            `json:"published"`
	ValidUntil    int64            `json:"valid_until"`
	Status        string           `json:"status"` // active, withdrawn, expired
	Corroborators map[string]int64 `json:"corroborators,omitempty"`
	Commands      []uint64         `json:"commands"`
	DeadlineAt    int64            `json:"deadline_at,omitempty"`
	DeadlineTo    string           `json:"deadline_to,omitempty"`
}

// Alert is one event a consumer should act on, raised by exactly one applied command.
type Alert struct {
	Index   uint64 `json:"index"`
	Time    int64  `json:"time"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Origin  string `json:"origin"`
}

// Result is what applying one entry did.
type Result struct {
	Index    uint64       `json:"index"`
	Type     command.Type `json:"type"`
	Origin   string       `json:"origin"`
	Rejected string       `json:"rejected,omitempty"`
	Skipped  bool         `json:"skipped,omitempty"`
	Alerts   []Alert      `json:"alerts,omitempty"`
}

// ErrGenesisMismatch means the state file was founded from another genesis document.
var ErrGenesisMismatch = errors.New("state: this state file belongs to another genesis")

// State is the replicated state of one node.
type State struct {
	path string

	mu      sync.RWMutex
	db      *bbolt.DB
	roster  map[string]Member
	keysets map[string]*jws.KeySet
	pol     policy.Policy
}

// Open opens (or creates from g) the state file at path.
func Open(path string, g *Genesis) (*State, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	s := &State{path: path, db: db}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bMeta)
		if have := meta.Get(kGenesis); have != nil {
			if string(have) != g.Hash() {
				return fmt.Errorf("%w (%s)", ErrGenesisMismatch, path)
			}
			return nil
		}
		rb, _ := json.Marshal(g.Members)
		pb, _ := json.Marshal(g.Policy)
		for k, v := range map[string][]byte{string(kGenesis): []byte(g.Hash()), string(kRoster): rb, string(kPolicy): pb} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.loadCaches()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openDB(path string) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return db, nil
}

// loadCaches reads the roster and policy into memory; called after open, and after a
// restore with the write lock held.
func (s *State) loadCaches() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		var members []Member
		if err := json.Unmarshal(meta.Get(kRoster), &members); err != nil {
			return fmt.Errorf("state: roster: %w", err)
		}
		var pol policy.Policy
		if err := json.Unmarshal(meta.Get(kPolicy), &pol); err != nil {
			return fmt.Errorf("state: policy: %w", err)
		}
		s.roster = map[string]Member{}
		s.keysets = map[string]*jws.KeySet{}
		for _, m := range members {
			ks, err := jws.ParseKeySet(m.SigningKeys)
			if err != nil {
				return fmt.Errorf("state: roster %s: %w", m.Code, err)
			}
			s.roster[m.Code] = m
			s.keysets[m.Code] = ks
		}
		s.pol = pol
		return nil
	})
}

// Close closes the state file.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Policy is the federation policy in force.
func (s *State) Policy() policy.Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pol
}

// Roster returns the members, sorted by code.
func (s *State) Roster() []Member {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Member, 0, len(s.roster))
	for _, m := range s.roster {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// SigningKeys returns a member's signing keys.
func (s *State) SigningKeys(state string) (*jws.KeySet, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ks, ok := s.keysets[state]
	return ks, ok
}

// Applied is the index of the last applied entry.
func (s *State) Applied() uint64 {
	var n uint64
	_ = s.view(func(tx *bbolt.Tx) error {
		n = getU64(tx.Bucket(bMeta), kApplied)
		return nil
	})
	return n
}

func (s *State) view(fn func(*bbolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

func getU64(b *bbolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bbolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Hash is the SHA-256 over every bucket's keys and values, in order. Replicas that applied
// the same entries have the same hash.
func (s *State) Hash() (string, error) {
	h := sha256.New()
	err := s.view(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			writeLP(h, name)
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				writeLP(h, k)
				writeLP(h, v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func writeLP(w io.Writer, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	_, _ = w.Write(n[:])
	_, _ = w.Write(b)
}

// Snapshot writes a consistent copy of the state file to w.
func (s *State) Snapshot(w io.Writer) error {
	return s.view(func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}

// Restore replaces the state with a snapshot read from r. The snapshot is written and
// checked beside the live file first, and swapped in only when it opens and carries this
// federation's genesis; a failed restore leaves the current state as it was.
func (s *State) Restore(r io.Reader) error {
	tmp := s.path + ".restore"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: restore: %w", err)
	}
	check, err := openDB(tmp)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	var genesis []byte
	var snapApplied uint64
	_ = check.View(func(tx *bbolt.Tx) error {
		if m := tx.Bucket(bMeta); m != nil {
			genesis = bytes.Clone(m.Get(kGenesis))
			snapApplied = getU64(m, kApplied)
		}
		return nil
	})
	check.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	var current []byte
	var applied uint64
	_ = s.db.View(func(tx *bbolt.Tx) error {
		current, applied = bytes.Clone(tx.Bucket(bMeta).Get(kGenesis)), getU64(tx.Bucket(bMeta), kApplied)
		return nil
	})
	if !bytes.Equal(genesis, current) {
		os.Remove(tmp)
		return fmt.Errorf("state: restore: %w", ErrGenesisMismatch)
	}
	if applied >= snapApplied {
		// The state file already holds everything the snapshot does and more: raft
		// restores its latest snapshot whenever a node starts, but the state file is
		// durable and records its applied index with every change, so it is already
		// ahead. Going back to the snapshot would show readers an older state until the
		// log is replayed; the entries up to the applied index are skipped on replay.
		os.Remove(tmp)
		return nil
	}
	crashpoint.Hit(crashpoint.RestoreBeforeSwap)
	// The restored file replaces the live one by rename while the old database stays
	// open on the old file, and the old one is closed only once its read transactions
	// end. A snapshot being taken holds such a transaction, and raft's snapshot
	// goroutine releases it only after raft's main loop answers it, which is itself
	// waiting for this restore: closing first would deadlock the node.
	old := s.db
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	crashpoint.Hit(crashpoint.RestoreAfterSwap)
	if s.db, err = openDB(s.path); err != nil {
		s.db = old // still open on the replaced file: readers go on, and the node reports the failure
		return err
	}
	go func() { _ = old.Close() }() // waits for the old file's read transactions
	if err := s.db.Update(createBuckets); err != nil {
		return fmt.Errorf("state: restore: %w", err)
	}
	return s.loadCaches() // under the write lock: readers see the old state or the new
}

// createBuckets makes any bucket a state file lacks: one written by a build that had no
// use for it yet (the policy history, for example) gains it empty, so that every replica
// reads and hashes the same buckets.
func createBuckets(tx *bbolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// Snap is a point-in-time view of the state for a raft snapshot: taken quickly on the
// apply path, written out later while applies go on.
type Snap struct {
	tx *bbolt.Tx
}

// BeginSnapshot opens a read transaction that fixes the state as it is now. The caller
// must Release it.
func (s *State) BeginSnapshot() (*Snap, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("state: snapshot: %w", err)
	}
	return &Snap{tx: tx}, nil
}

// WriteTo writes the fixed state, a complete bbolt file, to w.
func (p *Snap) WriteTo(w io.Writer) (int64, error) { return p.tx.WriteTo(w) }

// Release ends the snapshot's read transaction.
func (p *Snap) Release() { _ = p.tx.Rollback() }
