package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/gossip"
	"github.com/entente/entente/federation/raftstore"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/federation/transport"
	"github.com/entente/entente/policy"
)

// Errors.
var (
	// ErrNotLeader means a request that only the leader serves reached another node.
	ErrNotLeader = errors.New("federation: this node is not the leader")
	// ErrNoLeader means no leader is known: an election is under way or a majority of the
	// voters cannot be reached.
	ErrNoLeader = errors.New("federation: no leader is known (an election is under way or a majority of voters is unreachable)")
)

// Forwarder sends work to the leader on behalf of a follower. The node provides it: it
// reaches the leader's API over mutual TLS.
type Forwarder interface {
	// Forward has the leader apply a signed, encoded command and returns its result.
	Forward(ctx context.Context, leader state.Member, raw []byte) (*state.Result, error)
	// ReadIndex asks the leader, after it has confirmed its leadership, for the index up
	// to which it has applied; a follower that waits for that index reads linearizably.
	ReadIndex(ctx context.Context, leader state.Member) (uint64, error)
}

// Timing holds raft's timings; tests shorten them.
type Timing struct {
	Heartbeat         time.Duration
	Election          time.Duration
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks whether SnapshotThreshold entries have
	// collected; zero keeps raft's default (two minutes). Tests shorten it so that
	// snapshots, and crashes while one is written, happen within a run.
	SnapshotInterval time.Duration
	TrailingLogs     uint64
	// Housekeeping is how often the leader looks for deadlines that have fallen due.
	Housekeeping time.Duration
}

// DefaultTiming suits member states' nodes across national networks.
func DefaultTiming() Timing {
	return Timing{Heartbeat: time.Second, Election: time.Second, SnapshotThreshold: 8192, TrailingLogs: 10240, Housekeeping: time.Second}
}

// Config is what a node needs to join the federation.
type Config struct {
	// Dir holds the federation's files: state.db, raft.db and snapshots/.
	Dir      string
	Identity *identity.Identity
	Genesis  *state.Genesis
	// RaftListener is the cluster port; the transport speaks mutual TLS on it.
	RaftListener net.Listener
	// Gossip configures membership; its Meta, Signer and Roster are filled in here.
	Gossip    gossip.Config
	Forwarder Forwarder
	Timing    Timing
	Logger    *slog.Logger
	// Join starts a node that the genesis does not name: a state being admitted. It does
	// not bootstrap raft; it waits for the leader to add it once the voters have approved
	// its admission, and learns the state from the log.
	Join bool
}

// Federation is this node's part in the federation.
type Federation struct {
	cfg    Config
	log    *slog.Logger
	st     *state.State
	store  *raftstore.Store
	raft   *raft.Raft
	trans  raft.Transport
	stream *transport.StreamLayer
	gossip *gossip.Gossip

	stop chan struct{}
	wg   sync.WaitGroup

	leaderMu    sync.Mutex
	leaderCache state.Member
	leaderAt    time.Time

	// chairSince is when this node's current term in the chair began (Unix nanoseconds),
	// as its housekeeping counts it for rotation; 0 when it does not hold the chair.
	chairSince atomic.Int64
}

// Start opens the state and raft files, bootstraps raft from the genesis on first start,
// joins gossip and starts the leader's housekeeping.
func Start(cfg Config) (*Federation, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = DefaultTiming()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	self := cfg.Identity.State
	if !hasMember(cfg.Genesis, self) && !cfg.Join {
		return nil, fmt.Errorf("federation: %s is not a member in the genesis document (a state being admitted starts with --join)", self)
	}
	f := &Federation{cfg: cfg, log: cfg.Logger.With("component", "federation"), stop: make(chan struct{})}
	var err error
	if f.st, err = state.Open(filepath.Join(cfg.Dir, "state.db"), cfg.Genesis); err != nil {
		return nil, err
	}
	cleanup := func() {
		if f.raft != nil {
			_ = f.raft.Shutdown().Error()
		}
		if f.store != nil {
			_ = f.store.Close()
		}
		_ = f.st.Close()
	}
	if f.store, err = raftstore.Open(filepath.Join(cfg.Dir, "raft.db"), raftstore.Options{}); err != nil {
		cleanup()
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, "snapshots"), 3, transport.HCLog(cfg.Logger, "raft-snap"))
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("federation: snapshots: %w", err)
	}
	f.stream = transport.NewStreamLayer(cfg.RaftListener, cfg.Identity.TLS, rosterAuth{f.st}, cfg.Logger)
	f.trans = transport.NoPipeline(transport.NewWithStreamLayer(f.stream, transport.Options{}))

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(self)
	rc.HeartbeatTimeout, rc.ElectionTimeout = cfg.Timing.Heartbeat, cfg.Timing.Election
	rc.LeaderLeaseTimeout = cfg.Timing.Heartbeat / 2
	rc.SnapshotThreshold, rc.TrailingLogs = cfg.Timing.SnapshotThreshold, cfg.Timing.TrailingLogs
	if cfg.Timing.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.Timing.SnapshotInterval
	}
	rc.Logger = transport.HCLog(cfg.Logger, "raft")

	has, err := raft.HasExistingState(f.store, f.store, snaps)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("federation: %w", err)
	}
	if !has && !cfg.Join {
		// Every node bootstraps the same configuration from the same genesis: safe, and no
		// node has to be started first.
		if err := raft.BootstrapCluster(rc, f.store, f.store, snaps, f.trans, bootConfig(cfg.Genesis)); err != nil {
			cleanup()
			return nil, fmt.Errorf("federation: bootstrap: %w", err)
		}
	}
	if f.raft, err = raft.NewRaft(rc, NewFSM(f.st), f.store, f.store, snaps, f.trans); err != nil {
		cleanup()
		return nil, fmt.Errorf("federation: raft: %w", err)
	}

	gc := cfg.Gossip
	gc.Signer = cfg.Identity.Signer
	gc.Roster = f.st
	gc.Meta.State = self
	gc.Meta.RaftAddr = cfg.RaftListener.Addr().String()
	if gc.Logger == nil {
		gc.Logger = cfg.Logger
	}
	if f.gossip, err = gossip.Start(gc); err != nil {
		cleanup()
		return nil, err
	}
	var peers []string
	for _, m := range cfg.Genesis.Members {
		if m.Code != self {
			peers = append(peers, m.GossipAddr)
		}
	}
	if len(peers) > 0 {
		if _, err := f.gossip.Join(peers); err != nil {
			f.log.Warn("gossip: no peer answered yet; membership will converge as they start", "err", err)
		}
	}
	f.wg.Add(1)
	go f.housekeeping()
	return f, nil
}

func hasMember(g *state.Genesis, code string) bool {
	for _, m := range g.Members {
		if m.Code == code {
			return true
		}
	}
	return false
}

// bootConfig is the raft configuration the genesis implies: voters are the steering
// body, every other member follows without a vote.
func bootConfig(g *state.Genesis) raft.Configuration {
	var c raft.Configuration
	for _, m := range g.Members {
		s := raft.Server{ID: raft.ServerID(m.Code), Address: raft.ServerAddress(m.RaftAddr), Suffrage: raft.Nonvoter}
		if m.Role == policy.RoleVoter {
			s.Suffrage = raft.Voter
		}
		c.Servers = append(c.Servers, s)
	}
	return c
}

// rosterAuth answers the transport from the replicated roster.
type rosterAuth struct{ st *state.State }

func (a rosterAuth) StateForPin(pin string) (string, bool) {
	for _, m := range a.st.Roster() {
		if m.TLSPin == pin {
			return m.Code, true
		}
	}
	return "", false
}

// State is the replicated state, as this node has applied it.
func (f *Federation) State() *state.State { return f.st }

// Shutdown leaves gossip, stops raft and closes the files.
func (f *Federation) Shutdown() error {
	close(f.stop)
	f.wg.Wait()
	var errs []error
	if err := f.gossip.Leave(time.Second); err != nil {
		f.log.Debug("gossip leave", "err", err)
	}
	errs = append(errs, f.gossip.Shutdown())
	errs = append(errs, f.raft.Shutdown().Error())
	errs = append(errs, f.store.Close(), f.st.Close())
	return errors.Join(errs...)
}

// IsLeader reports whether this node holds the chair.
func (f *Federation) IsLeader() bool { return f.raft.State() == raft.Leader }

// leaderCacheTTL is how long the leader's gossip-announced address is reused; gossip
// verifies the metadata's signature on every query, which every forwarded write would
// otherwise pay.
const leaderCacheTTL = 2 * time.Second

// Leader returns the roster member that leads, if one is known.
func (f *Federation) Leader() (state.Member, bool) {
	_, id := f.raft.LeaderWithID()
	if id == "" {
		return state.Member{}, false
	}
	f.leaderMu.Lock()
	defer f.leaderMu.Unlock()
	if f.leaderCache.Code == string(id) && time.Since(f.leaderAt) < leaderCacheTTL {
		return f.leaderCache, true
	}
	for _, m := range f.st.Roster() {
		if m.Code == string(id) {
			if g, ok := f.gossip.Member(m.Code); ok && g.Meta.APIURL != "" {
				m.APIURL = g.Meta.APIURL
			}
			f.leaderCache, f.leaderAt = m, time.Now()
			return m, true
		}
	}
	return state.Member{}, false
}

// applyTimeout bounds how long a proposal waits to be committed.
const applyTimeout = 10 * time.Second

// Propose verifies a signed command against the roster and has it committed: here when
// this node leads, otherwise through the leader. It returns the result of applying it,
// whose Index is the log index it committed at.
func (f *Federation) Propose(ctx context.Context, c *command.Command) (*state.Result, error) {
	if _, err := c.Verify(f.keys(c.Origin)); err != nil {
		return nil, err
	}
	p, err := command.Decode(c)
	if err != nil {
		return nil, err
	}
	if err := f.st.CheckSealedKeys(c, p); err != nil {
		return nil, fmt.Errorf("%w: %v", command.ErrInvalid, err)
	}
	return f.propose(ctx, c)
}

// ProposeOwn is Propose for a command this node has just built from a typed payload
// (command.New validated it) and signed with its own key: neither is checked again here.
// The leader checks a forwarded command, and every replica checks each command when it
// applies it.
func (f *Federation) ProposeOwn(ctx context.Context, c *command.Command) (*state.Result, error) {
	if c.Origin != f.cfg.Identity.State {
		return nil, fmt.Errorf("%w: ProposeOwn with a command from %s", command.ErrSignature, c.Origin)
	}
	return f.propose(ctx, c)
}

func (f *Federation) propose(ctx context.Context, c *command.Command) (*state.Result, error) {
	raw, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	if f.IsLeader() {
		return f.applyAsLeader(ctx, raw)
	}
	leader, ok := f.Leader()
	if !ok {
		return nil, ErrNoLeader
	}
	if f.cfg.Forwarder == nil {
		return nil, ErrNotLeader
	}
	return f.cfg.Forwarder.Forward(ctx, leader, raw)
}

// AcceptForwarded applies a command a follower forwarded; only the leader does.
func (f *Federation) AcceptForwarded(ctx context.Context, raw []byte) (*state.Result, error) {
	if !f.IsLeader() {
		return nil, ErrNotLeader
	}
	c, err := command.Unmarshal(raw)
	if err != nil {
		return nil, err
	}
	if _, err := c.Verify(f.keys(c.Origin)); err != nil {
		return nil, err
	}
	p, err := command.Decode(c)
	if err != nil {
		return nil, err
	}
	if err := f.st.CheckSealedKeys(c, p); err != nil {
		return nil, fmt.Errorf("%w: %v", command.ErrInvalid, err)
	}
	return f.applyAsLeader(ctx, raw)
}

func (f *Federation) keys(origin string) *jws.KeySet {
	ks, _ := f.st.SigningKeys(origin)
	return ks
}

// applyAsLeader stamps the entry with this leader's clock and commits it.
func (f *Federation) applyAsLeader(ctx context.Context, raw []byte) (*state.Result, error) {
	timeout := applyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	fut := f.raft.Apply(command.MarshalEntry(command.Entry{Stamp: time.Now().UnixNano(), Command: raw}), timeout)
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return nil, ErrNotLeader
		}
		return nil, fmt.Errorf("federation: commit: %w", err)
	}
	res, ok := fut.Response().(*state.Result)
	if !ok {
		return nil, fmt.Errorf("federation: unexpected apply response %T", fut.Response())
	}
	return res, nil
}

// ReadIndex is the leader's half of a linearizable read: it confirms it still leads, waits
// until everything committed is applied, and returns the applied index.
func (f *Federation) ReadIndex(ctx context.Context) (uint64, error) {
	if !f.IsLeader() {
		return 0, ErrNotLeader
	}
	if err := f.raft.VerifyLeader().Error(); err != nil {
		return 0, ErrNotLeader
	}
	if err := f.raft.Barrier(applyTimeout).Error(); err != nil {
		return 0, fmt.Errorf("federation: barrier: %w", err)
	}
	return f.st.Applied(), nil
}

// Linearize returns once this node's state reflects every write committed before the
// call: on the leader through ReadIndex, on a follower by asking the leader for its read
// index and waiting to apply up to it.
func (f *Federation) Linearize(ctx context.Context) (uint64, error) {
	var idx uint64
	var err error
	if f.IsLeader() {
		idx, err = f.ReadIndex(ctx)
	} else {
		leader, ok := f.Leader()
		if !ok {
			return 0, ErrNoLeader
		}
		if f.cfg.Forwarder == nil {
			return 0, ErrNotLeader
		}
		idx, err = f.cfg.Forwarder.ReadIndex(ctx, leader)
	}
	if err != nil {
		return 0, err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for f.st.Applied() < idx {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("federation: waiting to apply up to %d: %w", idx, ctx.Err())
		case <-t.C:
		}
	}
	return idx, nil
}

// Member is one roster member as this node sees it: role, gossip liveness, raft suffrage.
type Member struct {
	Code     string            `json:"code"`
	Role     policy.MemberRole `json:"role"`
	Alive    bool              `json:"alive"`
	Verified bool              `json:"verified"`
	APIURL   string            `json:"api_url,omitempty"`
	RaftAddr string            `json:"raft_addr,omitempty"`
	Leader   bool              `json:"leader"`
	// RaftRole, Applied and Lag come from the member's own node when it answers: its
	// raft role, the index it has applied, and how far that is behind the most advanced.
	RaftRole string `json:"raft_role,omitempty"`
	Applied  uint64 `json:"applied_index,omitempty"`
	Lag      uint64 `json:"index_lag"`
	// ChairSince, for the chair, is when its current period began, as its node says.
	ChairSince time.Time `json:"chair_since,omitzero"`
}

// Members lists the roster with what gossip and raft say about each member.
func (f *Federation) Members() []Member {
	_, leader := f.raft.LeaderWithID()
	var out []Member
	for _, m := range f.st.Roster() {
		mm := Member{Code: m.Code, Role: m.Role, Leader: string(leader) == m.Code, RaftAddr: m.RaftAddr, APIURL: m.APIURL}
		if g, ok := f.gossip.Member(m.Code); ok {
			mm.Alive, mm.Verified = g.Alive, g.Verified
			if g.Meta.APIURL != "" {
				mm.APIURL = g.Meta.APIURL
			}
		}
		if m.Code == f.cfg.Identity.State {
			mm.Alive, mm.Verified = true, true
		}
		out = append(out, mm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Status is this node's view of the federation.
type Status struct {
	State       string `json:"state"`
	Role        string `json:"raft_role"`
	Leader      string `json:"leader"`
	Term        string `json:"term"`
	CommitIndex string `json:"commit_index"`
	Applied     uint64 `json:"applied_index"`
	LastContact string `json:"last_contact"`
	StateHash   string `json:"state_hash"`
	Members     int    `json:"members"`
	// ChairSince, on the chair's own node, is when its current period in the chair began:
	// the chair passes on one rotation period later.
	ChairSince time.Time `json:"chair_since,omitzero"`
	// KeyEpochs is, for each member, the furthest key epoch it has published a
	// recipient for: values can be sealed to a member only once it has published.
	KeyEpochs map[string]uint64 `json:"key_epochs,omitempty"`
}

// Status reports raft's view and the state hash.
func (f *Federation) Status() Status {
	s := f.raft.Stats()
	_, leader := f.raft.LeaderWithID()
	h, _ := f.st.Hash()
	return Status{State: f.cfg.Identity.State, Role: f.raft.State().String(), Leader: string(leader), Term: s["term"],
		CommitIndex: s["commit_index"], Applied: f.st.Applied(), LastContact: s["last_contact"], StateHash: h, Members: len(f.st.Roster()),
		KeyEpochs: f.st.LatestEpochs(), ChairSince: f.ChairSince()}
}

// ChairSince is when this node's current period in the chair began, or the zero time
// when it does not hold the chair.
func (f *Federation) ChairSince() time.Time {
	if ns := f.chairSince.Load(); ns != 0 && f.IsLeader() {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

// RotateChair hands leadership to the next voter in roster order.
func (f *Federation) RotateChair() (string, error) {
	if !f.IsLeader() {
		return "", ErrNotLeader
	}
	next, ok := nextVoter(f.st.Roster(), f.cfg.Identity.State)
	if !ok {
		return "", errors.New("federation: no other voter to hand the chair to")
	}
	if err := f.raft.LeadershipTransferToServer(raft.ServerID(next.Code), raft.ServerAddress(next.RaftAddr)).Error(); err != nil {
		return "", fmt.Errorf("federation: hand the chair to %s: %w", next.Code, err)
	}
	return next.Code, nil
}

// nextVoter is the voter after self in roster order, wrapping round.
func nextVoter(roster []state.Member, self string) (state.Member, bool) {
	var voters []state.Member
	for _, m := range roster {
		if m.Role == policy.RoleVoter {
			voters = append(voters, m)
		}
	}
	for i, m := range voters {
		if m.Code == self && len(voters) > 1 {
			return voters[(i+1)%len(voters)], true
		}
	}
	return state.Member{}, false
}

// housekeeping runs on every node and acts while this node leads: it proposes the
// deadline transitions that have fallen due, and rotates the chair once per policy
// period. A failed rotation is logged and tried again next period; it never stalls the
// federation, because the current leader simply goes on leading.
func (f *Federation) housekeeping() {
	defer f.wg.Done()
	t := time.NewTicker(f.cfg.Timing.Housekeeping)
	defer t.Stop()
	var leadingSince time.Time
	rosterSeen := rosterKey(f.st.Roster())
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if k := rosterKey(f.st.Roster()); k != rosterSeen {
			// Connections of a state that left the roster must not outlive its removal.
			rosterSeen = k
			if n := f.stream.Recheck(); n > 0 {
				f.log.Info("roster changed: closed connections of states no longer on it", "closed", n)
			}
		}
		if !f.IsLeader() {
			leadingSince = time.Time{}
			f.chairSince.Store(0)
			continue
		}
		if leadingSince.IsZero() {
			leadingSince = time.Now()
		}
		f.chairSince.Store(leadingSince.UnixNano())
		f.proposeDue()
		f.reconcile()
		period := time.Duration(f.st.Policy().Voting.ChairRotation)
		if time.Since(leadingSince) >= period {
			if next, err := f.RotateChair(); err != nil {
				f.log.Warn("chair rotation failed; this node keeps the chair and tries again next period", "err", err)
				leadingSince = time.Now()
				f.chairSince.Store(leadingSince.UnixNano())
			} else {
				f.log.Info("chair handed on", "to", next)
			}
		}
	}
}

// rosterKey identifies a roster's membership, for noticing that it changed.
func rosterKey(ms []state.Member) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Code + "/" + string(m.Role) + "/" + m.TLSPin + ";")
	}
	return b.String()
}

// reconcile brings raft's configuration in line with the replicated roster: an admitted
// state is added (voter or not, by its role), a removed one is taken out. Only the leader
// does it; the roster, not gossip, decides.
func (f *Federation) reconcile() {
	fut := f.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return
	}
	have := map[raft.ServerID]raft.Server{}
	for _, s := range fut.Configuration().Servers {
		have[s.ID] = s
	}
	const timeout = 5 * time.Second
	for _, m := range f.st.Roster() {
		id := raft.ServerID(m.Code)
		want := raft.Nonvoter
		if m.Role == policy.RoleVoter {
			want = raft.Voter
		}
		s, ok := have[id]
		delete(have, id)
		if ok && s.Suffrage == want {
			continue
		}
		var err error
		if want == raft.Voter {
			err = f.raft.AddVoter(id, raft.ServerAddress(m.RaftAddr), 0, timeout).Error()
		} else if ok {
			err = f.raft.DemoteVoter(id, 0, timeout).Error()
		} else {
			err = f.raft.AddNonvoter(id, raft.ServerAddress(m.RaftAddr), 0, timeout).Error()
		}
		if err != nil {
			f.log.Warn("could not bring raft in line with the roster", "state", m.Code, "err", err)
			return
		}
		f.log.Info("raft configuration follows the roster", "state", m.Code, "suffrage", want.String())
	}
	for id := range have {
		if err := f.raft.RemoveServer(id, 0, timeout).Error(); err != nil {
			f.log.Warn("could not remove a former member from raft", "state", id, "err", err)
			return
		}
		f.log.Info("raft configuration follows the roster: removed", "state", id)
	}
}

func (f *Federation) proposeDue() {
	due, err := f.st.Due(time.Now())
	if err != nil {
		f.log.Error("housekeeping: reading deadlines", "err", err)
		return
	}
	for _, tr := range due {
		tr := tr
		c, err := command.New(f.cfg.Identity.State, &tr)
		if err == nil {
			err = c.Sign(f.cfg.Identity.Signer)
		}
		if err != nil {
			f.log.Error("housekeeping: building a transition", "subject", tr.Subject, "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
		res, err := f.ProposeOwn(ctx, c)
		cancel()
		switch {
		case err != nil:
			f.log.Warn("housekeeping: transition not committed", "subject", tr.Subject, "to", tr.To, "err", err)
			return
		case res.Rejected != "":
			f.log.Debug("housekeeping: transition rejected", "subject", tr.Subject, "to", tr.To, "reason", res.Rejected)
		default:
			f.log.Info("deadline applied", "subject", tr.Subject, "to", tr.To, "index", res.Index)
		}
	}
}
