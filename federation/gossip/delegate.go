package gossip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Bounds on what a key holder can make this node remember.
const (
	// deadRetention is how long a member that died or left stays listed (not alive).
	// memberlist forgets dead nodes sooner; keeping them a while lets operators see
	// which state went away and when.
	deadRetention = time.Hour
	// maxRefused and refusedRetention bound the list of refused name claims: enough to
	// show an ongoing impersonation, not a memory sink for a hostile key holder.
	maxRefused       = 64
	refusedRetention = 10 * time.Minute
	// maxNameShown cuts an unverified node's self-chosen name before it is stored,
	// logged or reported.
	maxNameShown = 64
)

// node is the memberlist side of Gossip: it serves the local metadata (Delegate), decides
// which announcements memberlist may accept (AliveDelegate) and records membership
// events (EventDelegate). memberlist calls it from its own goroutines with its node lock
// held, so it only takes its own mutex and never calls memberlist.
type node struct {
	name   string
	roster Roster
	log    *slog.Logger

	mu      sync.Mutex
	blob    []byte // signed wire form of the local Meta
	peers   map[string]*peer
	refused map[refusedKey]*refusal
}

// peer is a node memberlist tracks, with its metadata exactly as received; it is
// verified against the roster when reported, not only when received, so that a roster
// change applies at once.
type peer struct {
	name    string
	addr    string
	blob    []byte
	alive   bool
	changed time.Time
}

type refusedKey struct{ name, addr string }

// refusal is an announcement the AliveDelegate refused: a roster state's name without
// that state's signature.
type refusal struct {
	name, addr string
	meta       Meta
	reason     string
	seen       time.Time
}

func newNode(name string, r Roster, log *slog.Logger) *node {
	return &node{
		name:    name,
		roster:  r,
		log:     log,
		peers:   make(map[string]*peer),
		refused: make(map[refusedKey]*refusal),
	}
}

var (
	_ memberlist.Delegate      = (*node)(nil)
	_ memberlist.EventDelegate = (*node)(nil)
	_ memberlist.AliveDelegate = (*node)(nil)
)

// setBlob installs newly signed local metadata for NodeMeta to serve.
func (n *node) setBlob(blob []byte) {
	n.mu.Lock()
	n.blob = blob
	n.mu.Unlock()
}

// NodeMeta returns the signed local metadata. encodeMeta already refused anything over
// memberlist.MetaMaxSize, the only limit memberlist passes; the check here keeps
// memberlist's panic on oversized metadata unreachable even so.
func (n *node) NodeMeta(limit int) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.blob) > limit {
		n.log.Error("local metadata exceeds memberlist's limit; announcing none", "bytes", len(n.blob), "limit", limit)
		return nil
	}
	return bytes.Clone(n.blob)
}

// NotifyMsg drops user messages: gossip carries only membership and metadata, so a
// message from a peer has no meaning here and is not parsed.
func (n *node) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast besides memberlist's own messages.
func (n *node) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState sends no extra state in push/pull: metadata travels with each node.
func (n *node) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores remote extra state; there is none to merge.
func (n *node) MergeRemoteState(buf []byte, join bool) {}

// NotifyAlive decides whether memberlist may accept an announcement. A node using the
// name of a state on the roster must carry metadata signed by that state: otherwise it
// is refused, so an impostor can neither take over a member's entry nor, having
// announced first, lock the real member out with a name conflict. Other names are
// accepted and tracked, and reported as not verified.
func (n *node) NotifyAlive(p *memberlist.Node) error {
	if p.Name == n.name {
		// Announcements about ourselves are memberlist's to refute.
		return nil
	}
	if _, onRoster := n.roster.SigningKeys(p.Name); !onRoster {
		return nil
	}
	meta, err := verifyMeta(n.roster, p.Name, p.Meta)
	if err == nil {
		return nil
	}
	n.refuse(p, meta, err)
	return fmt.Errorf("%s %s without its signature: %v", refusalMark, shown(p.Name), err)
}

// refuse records a refused announcement, logging it when it is new or its reason
// changed; repeats of the same claim only refresh the time it was seen.
func (n *node) refuse(p *memberlist.Node, meta Meta, reason error) {
	now := time.Now()
	k := refusedKey{shown(p.Name), p.Address()}
	n.mu.Lock()
	n.pruneLocked(now)
	r, ok := n.refused[k]
	fresh := !ok || r.reason != reason.Error()
	if !ok {
		if len(n.refused) >= maxRefused {
			n.evictOldestRefusalLocked()
		}
		r = &refusal{name: k.name, addr: k.addr}
		n.refused[k] = r
	}
	r.meta, r.reason, r.seen = meta, reason.Error(), now
	n.mu.Unlock()
	if fresh {
		n.log.Warn("refused a node claiming a roster state without its signature",
			"state", k.name, "addr", k.addr, "reason", reason.Error())
	}
}

func (n *node) evictOldestRefusalLocked() {
	var oldest *refusal
	for _, r := range n.refused {
		if oldest == nil || r.seen.Before(oldest.seen) {
			oldest = r
		}
	}
	if oldest != nil {
		delete(n.refused, refusedKey{oldest.name, oldest.addr})
	}
}

// NotifyJoin records a node memberlist now considers alive.
func (n *node) NotifyJoin(p *memberlist.Node) { n.record(p, true, "member alive") }

// NotifyUpdate records a node's new metadata or address.
func (n *node) NotifyUpdate(p *memberlist.Node) { n.record(p, true, "member updated") }

// NotifyLeave records a node that memberlist declared dead or that left.
func (n *node) NotifyLeave(p *memberlist.Node) { n.record(p, false, "member not alive") }

// record stores the event and logs it with the verdict of the roster at this moment.
func (n *node) record(p *memberlist.Node, alive bool, what string) {
	now := time.Now()
	name := shown(p.Name)
	addr := p.Address()
	pe := &peer{name: name, addr: addr, blob: bytes.Clone(p.Meta), alive: alive, changed: now}
	_, err := verifyMeta(n.roster, p.Name, pe.blob)
	n.mu.Lock()
	n.peers[name] = pe
	delete(n.refused, refusedKey{name, addr})
	n.pruneLocked(now)
	n.mu.Unlock()

	level, attrs := slog.LevelInfo, []any{"state", name, "addr", addr, "verified", err == nil}
	if err != nil {
		attrs = append(attrs, "reason", err.Error())
		if alive {
			level = slog.LevelWarn
		}
	}
	n.log.Log(context.Background(), level, what, attrs...)
}

// pruneLocked forgets members dead for longer than deadRetention and refusals not seen
// for refusedRetention.
func (n *node) pruneLocked(now time.Time) {
	for name, p := range n.peers {
		if !p.alive && now.Sub(p.changed) > deadRetention {
			delete(n.peers, name)
		}
	}
	for k, r := range n.refused {
		if now.Sub(r.seen) > refusedRetention {
			delete(n.refused, k)
		}
	}
}

// snapshot copies the tracked and refused nodes, so that verification runs without the
// mutex held.
func (n *node) snapshot(now time.Time) ([]peer, []refusal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pruneLocked(now)
	peers := make([]peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, *p)
	}
	refused := make([]refusal, 0, len(n.refused))
	for _, r := range n.refused {
		refused = append(refused, *r)
	}
	return peers, refused
}

func (n *node) peer(name string) (peer, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.peers[name]
	if !ok {
		return peer{}, false
	}
	return *p, true
}

// describe turns a tracked node into a Member, verifying its metadata against the
// roster as it is now.
func (n *node) describe(p peer) Member {
	meta, err := verifyMeta(n.roster, p.name, p.blob)
	m := Member{State: p.name, Meta: meta, Addr: p.addr, Alive: p.alive, Verified: err == nil, LastChange: p.changed}
	if err != nil {
		m.Reason = err.Error()
	}
	return m
}

// shown cuts a node name chosen by a possibly hostile peer to maxNameShown bytes of
// valid UTF-8, so that it cannot bloat logs or listings. State codes are unaffected.
func shown(name string) string {
	if len(name) <= maxNameShown {
		return name
	}
	return strings.ToValidUTF8(name[:maxNameShown], "") + "..."
}
