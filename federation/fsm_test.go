package federation

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/policy"
)

type fsmNode struct {
	id    string
	st    *state.State
	raft  *raft.Raft
	trans *raft.InmemTransport
	snaps raft.SnapshotStore
	logs  *raft.InmemStore
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFSMOverRealRaft runs three real raft nodes (in-memory transport) over the FSM,
// applies signed commands on the leader, partitions a follower until the leader has
// compacted its log, and checks that the follower catches up through a snapshot with an
// identical state hash.
func TestFSMOverRealRaft(t *testing.T) {
	signers := map[string]*jws.Signer{}
	pol := policy.DefaultPolicy()
	g := &state.Genesis{Federation: "raft-test", Policy: pol}
	ids := []string{"DEU", "FRA", "GBR"}
	for _, code := range ids {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s := jws.NewSigner(priv)
		ks := jws.NewKeySet()
		ks.Add(s.Public())
		kb, _ := ks.MarshalJSON()
		a, _ := age.GenerateX25519Identity()
		signers[code] = s
		g.Members = append(g.Members, state.Member{Code: code, Role: policy.RoleVoter, SigningKeys: kb, AgeRecipient: a.Recipient().String(), TLSPin: "sha256:" + code, RaftAddr: code, GossipAddr: code})
	}
	var cfgServers []raft.Server
	nodes := map[string]*fsmNode{}
	for _, id := range ids {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(id))
		st, err := state.Open(filepath.Join(t.TempDir(), id+".db"), g)
		if err != nil {
			t.Fatal(err)
		}
		// The file snapshot store, as a node uses; raft's in-memory one races between a
		// snapshot being written and the same snapshot being sent.
		snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = &fsmNode{id: id, st: st, trans: trans, logs: raft.NewInmemStore(), snaps: snaps}
		cfgServers = append(cfgServers, raft.Server{ID: raft.ServerID(id), Address: addr, Suffrage: raft.Voter})
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(raft.ServerAddress(b.id), b.trans)
			}
		}
	}
	for _, n := range nodes {
		c := raft.DefaultConfig()
		c.LocalID = raft.ServerID(n.id)
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
		c.CommitTimeout = 5 * time.Millisecond
		c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = 20, 5, 50*time.Millisecond
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard})
		if err := raft.BootstrapCluster(c, n.logs, n.logs, n.snaps, n.trans, raft.Configuration{Servers: cfgServers}); err != nil {
			t.Fatal(err)
		}
		r, err := raft.NewRaft(c, NewFSM(n.st), n.logs, n.logs, n.snaps, n.trans)
		if err != nil {
			t.Fatal(err)
		}
		n.raft = r
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.raft.Shutdown().Error()
			n.st.Close()
		}
	})
	leader := func() *fsmNode {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				return n
			}
		}
		return nil
	}
	waitFor(t, 5*time.Second, "a leader", func() bool { return leader() != nil })

	apply := func(origin string, p command.Payload) *state.Result {
		t.Helper()
		c, err := command.New(origin, p)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Sign(signers[origin])
		raw, _ := c.Marshal()
		var f raft.ApplyFuture
		for attempt := 0; attempt < 50; attempt++ {
			l := leader()
			if l == nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			f = l.raft.Apply(command.MarshalEntry(command.Entry{Stamp: time.Now().UnixNano(), Command: raw}), time.Second)
			if f.Error() == nil {
				return f.Response().(*state.Result)
			}
		}
		t.Fatalf("apply failed: %v", f.Error())
		return nil
	}
	pub := func(v string) command.Field { return command.Field{Marking: "PUBLIC", Plain: json.RawMessage(v)} }

	// Cut one follower off.
	l := leader()
	var lagging *fsmNode
	for _, n := range nodes {
		if n != l {
			lagging = n
			break
		}
	}
	for _, n := range nodes {
		if n != lagging {
			n.trans.Disconnect(raft.ServerAddress(lagging.id))
			lagging.trans.Disconnect(raft.ServerAddress(n.id))
		}
	}
	origin := l.id
	for i := 0; i < 60; i++ {
		r := apply(origin, &command.Nominate{ID: fmt.Sprintf("N-%d", i), Kind: "denied-party", Fields: map[string]command.Field{
			"party": pub(`{"name":"x"}`), "basis": pub(`{}`)}})
		if r.Rejected != "" {
			t.Fatalf("nomination %d rejected: %s", i, r.Rejected)
		}
	}
	// Make sure the leader has compacted past what the lagging node has.
	waitFor(t, 10*time.Second, "a leader snapshot", func() bool {
		metas, _ := leader().snaps.List()
		return len(metas) > 0 && metas[0].Index > 40
	})
	for _, n := range nodes {
		if n != lagging {
			n.trans.Connect(raft.ServerAddress(lagging.id), lagging.trans)
			lagging.trans.Connect(raft.ServerAddress(n.id), n.trans)
		}
	}
	final := leader().st.Applied()
	waitFor(t, 10*time.Second, "the lagging node to catch up", func() bool { return lagging.st.Applied() >= final })
	want, _ := leader().st.Hash()
	for _, n := range nodes {
		waitFor(t, 5*time.Second, n.id+" to apply everything", func() bool { return n.st.Applied() >= final })
		if h, _ := n.st.Hash(); h != want {
			t.Fatalf("%s's state hash differs from the leader's", n.id)
		}
	}
	if metas, _ := lagging.snaps.List(); len(metas) == 0 {
		t.Fatal("the lagging node caught up without installing a snapshot; the test did not exercise restore")
	}
}
