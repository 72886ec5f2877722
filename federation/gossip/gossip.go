package gossip

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by Join, UpdateMeta and Leave after Shutdown: memberlist cannot
// be restarted, so a node that needs gossip again calls Start.
var ErrClosed = errors.New("gossip: shut down")

// label is memberlist's packet and stream label. With encryption on it is GCM associated
// data, so a gossip key that was (wrongly) reused for another memberlist cluster still
// cannot make that cluster's traffic acceptable here, nor ours there.
const label = "entente-gossip/1"

// Roster tells which signing keys belong to which state: the roster in the replicated
// federation state, whose admission and key changes are voted. Gossip consults it on every
// membership event and every query and never changes it. SigningKeys is called from
// memberlist's goroutines with memberlist's locks held, so it must be fast, safe for
// concurrent use, and must not call back into Gossip.
type Roster interface {
	// SigningKeys returns the Ed25519 keys (current and still-accepted retired ones)
	// that may sign for state, and false when state is not a member.
	SigningKeys(state string) (*jws.KeySet, bool)
}

// Config is everything Start needs. Zero timings mean memberlist.DefaultLANConfig's;
// tests shorten them so a crash is detected in about a second.
type Config struct {
	// BindAddr and BindPort are where gossip listens, UDP and TCP on the same port.
	// BindAddr must be an IP literal; BindPort 0 picks a free port (tests).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what peers are told to dial, when that differs
	// from the bind address (NAT, 0.0.0.0). AdvertisePort needs AdvertiseAddr; with
	// AdvertiseAddr alone the bound port is advertised.
	AdvertiseAddr string
	AdvertisePort int
	// Key is the federation's 32-byte gossip key (see LoadKey). It encrypts and
	// authenticates every packet with AES-256-GCM; it is required because unencrypted
	// gossip would let anyone on the network inject members.
	Key []byte
	// Meta is this node's metadata; Meta.State is also its gossip name.
	Meta Meta
	// Signer signs Meta with the node's Ed25519 key, the key the roster lists for
	// Meta.State, so that peers can verify it.
	Signer *jws.Signer
	// Roster verifies peers' metadata.
	Roster Roster
	// Logger receives gossip's and memberlist's logs; nil means slog.Default().
	Logger *slog.Logger
	// ProbeInterval, ProbeTimeout, GossipInterval and PushPullInterval override
	// memberlist's LAN defaults (1s, 500ms, 200ms, 30s) when positive. ProbeTimeout
	// must stay below ProbeInterval.
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	GossipInterval   time.Duration
	PushPullInterval time.Duration
}

// Member is one node as this node's gossip sees it.
type Member struct {
	// State is the node's gossip name, which for a Verified member is its state code.
	// For an unverified node it is whatever the node calls itself (cut to 64 bytes).
	State string
	// Meta is the node's metadata. It is trustworthy only when Verified; for an
	// unverified node it is what the node claims (zero if it did not even decode),
	// shown so that operators can identify it, and must not be used.
	Meta Meta
	// Addr is the node's gossip address, host:port.
	Addr string
	// Alive is memberlist's view: true while the node answers probes (or is merely
	// suspected), false once it is declared dead or has left. Refused nodes are never
	// tracked by memberlist and are reported not alive.
	Alive bool
	// Verified is true when the node's name equals Meta.State and Meta's signature
	// verifies with a key the roster holds for that state, checked against the roster
	// at the time of the call.
	Verified bool
	// Reason says why Verified is false; empty when Verified.
	Reason string
	// LastChange is when this node last saw the member join, leave, change metadata or
	// (for a refused node) try to announce itself.
	LastChange time.Time
}

// Gossip is a running memberlist instance with signed, roster-checked metadata. Its
// methods are safe for concurrent use.
type Gossip struct {
	ml            *memberlist.Memberlist
	n             *node
	signer        *jws.Signer
	log           *slog.Logger
	updateTimeout time.Duration

	// life serialises Leave and Shutdown: memberlist panics on a Leave after Shutdown.
	life   sync.Mutex
	closed atomic.Bool
}

// validate checks c before anything is bound; errors name the field and never quote Key.
func (c *Config) validate() error {
	if len(c.Key) != KeySize {
		return fmt.Errorf("gossip: Config.Key: must be %d bytes (AES-256-GCM), got %d; load it with LoadKey", KeySize, len(c.Key))
	}
	if net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("gossip: Config.BindAddr: %.64q is not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return fmt.Errorf("gossip: Config.BindPort: %d is not a port (0 picks a free one)", c.BindPort)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		return fmt.Errorf("gossip: Config.AdvertiseAddr: %.64q is not an IP address", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("gossip: Config.AdvertisePort: %d is not a port", c.AdvertisePort)
	}
	if c.AdvertisePort != 0 && c.AdvertiseAddr == "" {
		return fmt.Errorf("gossip: Config.AdvertisePort: set without Config.AdvertiseAddr, which memberlist would ignore")
	}
	if err := c.Meta.validate(); err != nil {
		return fmt.Errorf("gossip: Config.%w", err)
	}
	if c.Signer == nil {
		return fmt.Errorf("gossip: Config.Signer: required, to sign Meta")
	}
	if c.Roster == nil {
		return fmt.Errorf("gossip: Config.Roster: required, to verify peers")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval},
		{"PushPullInterval", c.PushPullInterval},
	} {
		if d.v < 0 {
			return fmt.Errorf("gossip: Config.%s: %s is negative (0 means the default)", d.name, d.v)
		}
	}
	return nil
}

// memberlistConfig builds memberlist's configuration from c on top of the LAN defaults.
func (c *Config) memberlistConfig(n *node, logger *slog.Logger) (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Meta.State
	mc.BindAddr, mc.BindPort = c.BindAddr, c.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = c.AdvertiseAddr, c.AdvertisePort
	if c.AdvertiseAddr != "" && c.AdvertisePort == 0 {
		mc.AdvertisePort = c.BindPort // memberlist replaces it with the picked port when BindPort is 0
	}
	for _, d := range []struct {
		dst *time.Duration
		v   time.Duration
	}{
		{&mc.ProbeInterval, c.ProbeInterval},
		{&mc.ProbeTimeout, c.ProbeTimeout},
		{&mc.GossipInterval, c.GossipInterval},
		{&mc.PushPullInterval, c.PushPullInterval},
	} {
		if d.v > 0 {
			*d.dst = d.v
		}
	}
	if mc.ProbeTimeout >= mc.ProbeInterval {
		return nil, fmt.Errorf("gossip: Config.ProbeTimeout: %s must be less than the probe interval %s", mc.ProbeTimeout, mc.ProbeInterval)
	}
	keyring, err := memberlist.NewKeyring(nil, bytes.Clone(c.Key))
	if err != nil {
		return nil, fmt.Errorf("gossip: Config.Key: %w", err)
	}
	mc.Keyring = keyring
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Label = label
	mc.Delegate = n
	mc.Events = n
	mc.Alive = n
	mc.Logger = memberlistLogger(logger)
	return mc, nil
}

// Start validates c, signs c.Meta and starts memberlist listening on c.BindAddr. The node
// is alone until Join. Errors name the Config field at fault.
func Start(c Config) (*Gossip, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	blob, err := encodeMeta(c.Meta, c.Signer)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	n := newNode(c.Meta.State, c.Roster, logger.With("component", "gossip"))
	n.setBlob(blob)
	mc, err := c.memberlistConfig(n, logger)
	if err != nil {
		return nil, err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: start on %s: %w", net.JoinHostPort(c.BindAddr, fmt.Sprint(c.BindPort)), err)
	}
	g := &Gossip{
		ml:            ml,
		n:             n,
		signer:        c.Signer,
		log:           n.log,
		updateTimeout: max(10*mc.GossipInterval, 2*mc.ProbeInterval, time.Second),
	}
	if _, onRoster := c.Roster.SigningKeys(c.Meta.State); onRoster {
		if _, err := verifyMeta(c.Roster, c.Meta.State, blob); err != nil {
			g.log.Warn("own metadata does not verify against the roster; peers will not trust it until the roster lists this signing key",
				"state", c.Meta.State, "kid", c.Signer.KID(), "reason", err.Error())
		}
	}
	g.log.Info("gossip started", "state", c.Meta.State, "addr", g.LocalAddr())
	return g, nil
}

// Join contacts the given gossip addresses (host:port) and merges state with each one
// that answers. It returns how many answered; the error is non-nil only when none did.
// Joining needs the same gossip key: with another key every attempt fails.
func (g *Gossip) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, errors.New("gossip: join: no addresses given")
	}
	if g.closed.Load() {
		return 0, ErrClosed
	}
	n, err := g.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("gossip: join: %w", err)
	}
	return n, nil
}

// Members returns every node this node's gossip knows of, itself included, sorted by
// state and address: verified members, nodes that are tracked but not verified (not on
// the roster, name and metadata disagree, bad signature, malformed metadata) and nodes
// refused for claiming a roster state without its signature. Members that died or left stay listed,
// not alive, for an hour, so operators can see which state went away and when. Only entries with Verified true may be used; the rest are shown
// so that an intruder holding the gossip key is visible to operators.
func (g *Gossip) Members() []Member {
	peers, refused := g.n.snapshot(time.Now())
	out := make([]Member, 0, len(peers)+len(refused))
	for _, p := range peers {
		out = append(out, g.n.describe(p))
	}
	for _, r := range refused {
		out = append(out, Member{
			State:      r.name,
			Meta:       r.meta,
			Addr:       r.addr,
			Reason:     "refused: " + r.reason,
			LastChange: r.seen,
		})
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.State, b.State), cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// Member returns the verified member for state, alive or not (see Member.Alive). A node
// whose metadata does not verify against the roster is never returned, so callers may
// use the result to reach a state's API or raft transport.
func (g *Gossip) Member(state string) (Member, bool) {
	p, ok := g.n.peer(state)
	if !ok {
		return Member{}, false
	}
	m := g.n.describe(p)
	if !m.Verified {
		return Member{}, false
	}
	return m, true
}

// LocalAddr returns the gossip address (host:port) peers should Join, with the port
// memberlist picked when BindPort was 0.
func (g *Gossip) LocalAddr() string {
	return g.ml.LocalNode().Address()
}

// UpdateMeta re-signs m and gossips it, for example after the API moved. Meta.State
// cannot change: it is the node's gossip name. The new metadata is in effect locally as
// soon as it is signed; an error about the broadcast only means no peer confirmed it in
// time, and the next push/pull will still carry it.
func (g *Gossip) UpdateMeta(m Meta) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if m.State != g.n.name {
		return fmt.Errorf("gossip: update meta: Meta.State %.16q differs from this node's state %s, which cannot change", m.State, g.n.name)
	}
	blob, err := encodeMeta(m, g.signer)
	if err != nil {
		return fmt.Errorf("gossip: update meta: %w", err)
	}
	g.n.setBlob(blob)
	if err := g.ml.UpdateNode(g.updateTimeout); err != nil {
		return fmt.Errorf("gossip: update meta: in effect locally, but no peer confirmed it within %s: %w", g.updateTimeout, err)
	}
	return nil
}

// Leave tells the peers this node is leaving on purpose, so they mark it not alive at
// once instead of after failed probes, and waits up to timeout for that message to go
// out. The timeout must be positive: memberlist would otherwise wait forever for a
// broadcast that a partitioned node can never send. Call Shutdown afterwards.
func (g *Gossip) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("gossip: leave: timeout %s must be positive", timeout)
	}
	g.life.Lock()
	defer g.life.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}
	if err := g.ml.Leave(timeout); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossip: memberlist closes its listeners and waits for them, then stops
// its probe, gossip and push/pull loops, whose goroutines return as soon as they see
// the shutdown (the tests check with goleak that none outlives the package). Without a
// prior Leave the peers notice through failed probes. It is safe to call more than once;
// Members and Member keep reporting the last known view.
func (g *Gossip) Shutdown() error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.closed.Swap(true) {
		return nil
	}
	if err := g.ml.Shutdown(); err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	g.log.Info("gossip stopped", "state", g.n.name)
	return nil
}
