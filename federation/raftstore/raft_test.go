package raftstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// chainFSM is the smallest state machine that still proves order: it counts
// the commands applied and chains a SHA-256 over them, so two replicas agree
// only if they applied the same commands in the same order.
type chainFSM struct {
	mu  sync.Mutex
	n   uint64
	sum [sha256.Size]byte
}

func (f *chainFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.New()
	h.Write(f.sum[:])
	h.Write(l.Data)
	h.Sum(f.sum[:0])
	f.n++
	return f.n
}

func (f *chainFSM) state() (uint64, [sha256.Size]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.sum
}

func (f *chainFSM) Snapshot() (raft.FSMSnapshot, error) {
	n, sum := f.state()
	return &chainSnapshot{n: n, sum: sum}, nil
}

func (f *chainFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var buf [8 + sha256.Size]byte
	if _, err := io.ReadFull(rc, buf[:]); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = binary.BigEndian.Uint64(buf[:8])
	copy(f.sum[:], buf[8:])
	return nil
}

type chainSnapshot struct {
	n   uint64
	sum [sha256.Size]byte
}

func (s *chainSnapshot) Persist(sink raft.SnapshotSink) error {
	buf := binary.BigEndian.AppendUint64(nil, s.n)
	buf = append(buf, s.sum[:]...)
	if _, err := sink.Write(buf); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *chainSnapshot) Release() {}

// testLogWriter sends raft's logs to t.Log, so they show only when a test
// fails, and drops them once the test is over (t.Log would panic).
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestLogWriter(t testing.TB) *testLogWriter {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

type raftNode struct {
	id    raft.ServerID
	dir   string
	store *Store
	snaps *raft.FileSnapshotStore
	trans *raft.InmemTransport
	fsm   *chainFSM
	raft  *raft.Raft
}

func (n *raftNode) addr() raft.ServerAddress { return raft.ServerAddress(n.id) }

// start opens the node's files (creating them the first time) and starts
// raft on them with a fresh FSM, as a restarted process would.
func (n *raftNode) start(t *testing.T, logw io.Writer) {
	t.Helper()
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if n.store, err = Open(filepath.Join(n.dir, "raft.db"), Options{}); err != nil {
		t.Fatal(err)
	}
	if n.snaps, err = raft.NewFileSnapshotStore(filepath.Join(n.dir, "snapshots"), 2, logw); err != nil {
		t.Fatal(err)
	}
	_, n.trans = raft.NewInmemTransport(n.addr())
	n.fsm = &chainFSM{}

	cfg := raft.DefaultConfig()
	cfg.LocalID = n.id
	// Short, but with room for -race on two busy cores: a spurious
	// election in the middle of the test would fail an Apply.
	cfg.HeartbeatTimeout = 250 * time.Millisecond
	cfg.ElectionTimeout = 250 * time.Millisecond
	cfg.LeaderLeaseTimeout = 250 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	// Snapshot and compact during the test, so DeleteRange and the
	// snapshot-plus-log restart path are exercised for real.
	cfg.SnapshotThreshold = 128
	cfg.SnapshotInterval = 50 * time.Millisecond
	cfg.TrailingLogs = 64
	cfg.LogOutput = logw
	cfg.LogLevel = "WARN"
	if n.raft, err = raft.NewRaft(cfg, n.fsm, n.store, n.store, n.snaps, n.trans); err != nil {
		t.Fatal(err)
	}
}

// stop shuts raft down and closes the store, leaving the files in place.
func (n *raftNode) stop(t *testing.T) {
	t.Helper()
	if n.raft == nil {
		return
	}
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Errorf("%s: shutdown: %v", n.id, err)
	}
	_ = n.trans.Close()
	if err := n.store.Close(); err != nil {
		t.Errorf("%s: close store: %v", n.id, err)
	}
	n.raft = nil
}

func connect(nodes []*raftNode) {
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b && a.raft != nil && b.raft != nil {
				a.trans.Connect(b.addr(), b.trans)
			}
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

func leaderOf(t *testing.T, nodes []*raftNode) *raftNode {
	t.Helper()
	var leader *raftNode
	waitFor(t, 20*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

// applyAll proposes commands first..last at once, so raft batches them the
// way it does under load, then waits for every one to commit.
func applyAll(t *testing.T, leader *raftNode, first, last int) {
	t.Helper()
	futures := make([]raft.ApplyFuture, 0, last-first+1)
	for i := first; i <= last; i++ {
		futures = append(futures, leader.raft.Apply([]byte(fmt.Sprintf("cmd-%04d", i)), 10*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("apply cmd-%04d: %v", first+i, err)
		}
	}
}

func waitApplied(t *testing.T, nodes []*raftNode, want uint64) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("every running FSM at %d commands, in the same order", want), func() bool {
		var ref *[sha256.Size]byte
		for _, n := range nodes {
			if n.raft == nil {
				continue
			}
			got, sum := n.fsm.state()
			if got != want {
				return false
			}
			if ref == nil {
				ref = &sum
			} else if sum != *ref {
				t.Fatalf("%s applied %d commands with a different history", n.id, got)
			}
		}
		return true
	})
}

// persisted is what a node's store holds for raft: the term and vote it
// must never forget, and its log.
type persisted struct {
	term, voteTerm uint64
	voteCand       []byte
	first, last    uint64
	logs           []*raft.Log
}

func readPersisted(t *testing.T, s *Store) persisted {
	t.Helper()
	var p persisted
	var err error
	if p.term, err = s.GetUint64([]byte("CurrentTerm")); err != nil {
		t.Fatalf("CurrentTerm: %v", err)
	}
	if p.voteTerm, err = s.GetUint64([]byte("LastVoteTerm")); err != nil && err != ErrKeyNotFound {
		t.Fatalf("LastVoteTerm: %v", err)
	}
	if p.voteCand, err = s.Get([]byte("LastVoteCand")); err != nil && err != ErrKeyNotFound {
		t.Fatalf("LastVoteCand: %v", err)
	}
	if p.first, err = s.FirstIndex(); err != nil {
		t.Fatal(err)
	}
	if p.last, err = s.LastIndex(); err != nil {
		t.Fatal(err)
	}
	for i := p.first; i != 0 && i <= p.last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		p.logs = append(p.logs, &l)
	}
	return p
}

// TestRaftClusterRestart runs three real raft nodes on this store (log and
// stable store both) with file snapshots, applies 500 commands, restarts a
// follower from its files while the others move on, and checks that it comes
// back with its term, vote and log intact and catches up.
func TestRaftClusterRestart(t *testing.T) {
	logw := newTestLogWriter(t)
	base := t.TempDir()
	var nodes []*raftNode
	for _, id := range []raft.ServerID{"FRA", "DEU", "GBR"} {
		nodes = append(nodes, &raftNode{id: id, dir: filepath.Join(base, string(id))})
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop(t)
		}
	})
	var servers []raft.Server
	for _, n := range nodes {
		n.start(t, logw)
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr()})
	}
	connect(nodes)
	for _, n := range nodes {
		if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatalf("%s: bootstrap: %v", n.id, err)
		}
	}

	leader := leaderOf(t, nodes)
	applyAll(t, leader, 1, 500)
	waitApplied(t, nodes, 500)

	var follower *raftNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	// Let the follower snapshot and compact, so its restart needs both the
	// snapshot and the log store.
	waitFor(t, 20*time.Second, string(follower.id)+" to snapshot and compact its log", func() bool {
		snaps, err := follower.snaps.List()
		if err != nil || len(snaps) == 0 {
			return false
		}
		first, err := follower.store.FirstIndex()
		return err == nil && first > 1
	})

	// Stop the follower and note what it had persisted.
	termBefore, err := strconv.ParseUint(follower.raft.Stats()["term"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n != follower {
			n.trans.Disconnect(follower.addr())
		}
	}
	if err := follower.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	_ = follower.trans.Close()
	before := readPersisted(t, follower.store)
	if err := follower.store.Close(); err != nil {
		t.Fatal(err)
	}
	follower.raft = nil
	if before.term != termBefore || before.term == 0 {
		t.Fatalf("persisted term %d, raft reported term %d", before.term, termBefore)
	}
	if len(before.logs) == 0 {
		t.Fatal("follower had no log entries at shutdown")
	}

	// The cluster moves on without it.
	applyAll(t, leader, 501, 600)
	waitApplied(t, nodes, 600)

	// Restart from the same files: everything persisted must be back.
	follower.start(t, logw)
	after := readPersisted(t, follower.store)
	if after.term < before.term || after.voteTerm < before.voteTerm {
		t.Fatalf("after restart term/vote term = %d/%d, before %d/%d",
			after.term, after.voteTerm, before.term, before.voteTerm)
	}
	if after.term == before.term && !bytes.Equal(after.voteCand, before.voteCand) {
		t.Fatalf("vote in term %d changed across restart: %q -> %q", before.term, before.voteCand, after.voteCand)
	}
	if after.first != before.first || after.last < before.last {
		t.Fatalf("log [%d, %d] after restart, [%d, %d] before", after.first, after.last, before.first, before.last)
	}
	for i, want := range before.logs {
		if got := after.logs[i]; !sameLog(got, want) {
			t.Fatalf("entry %d changed across restart: %#v -> %#v", want.Index, want, got)
		}
	}
	has, err := raft.HasExistingState(follower.store, follower.store, follower.snaps)
	if err != nil || !has {
		t.Fatalf("HasExistingState after restart = %v, %v", has, err)
	}

	connect(nodes)
	waitApplied(t, nodes, 600)
	leaderLast, err := leader.store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	// raft's last index counts an installed snapshot: when the leader has compacted past
	// the follower, catch-up goes through a snapshot and the store itself holds no entries
	// up to that point, so its own LastIndex may stay behind.
	waitFor(t, 20*time.Second, string(follower.id)+" to reach the leader's last index", func() bool {
		return follower.raft.LastIndex() >= leaderLast
	})

	// And it takes part again: a write needs it or the other follower.
	leader = leaderOf(t, nodes)
	applyAll(t, leader, 601, 610)
	waitApplied(t, nodes, 610)
}
