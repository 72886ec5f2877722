package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/identity"
)

// raftPeer is a raft NetworkTransport built by New, with its identity and logs.
type raftPeer struct {
	id    *identity.Identity
	trans *raft.NetworkTransport
	logs  *syncBuffer
}

func newRaftPeer(t *testing.T, id *identity.Identity, r *roster) *raftPeer {
	t.Helper()
	log, buf := testLogger(t, id.State)
	trans := New(listen(t), id.TLS, r, log, Options{Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = trans.Close() })
	return &raftPeer{id: id, trans: trans, logs: buf}
}

func (p *raftPeer) header() raft.RPCHeader {
	return raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax,
		ID:              []byte(p.id.State),
		Addr:            []byte(p.trans.LocalAddr()),
	}
}

// nextRPC waits for the next RPC raft's transport delivers to its consumer.
func nextRPC(t *testing.T, p *raftPeer, timeout time.Duration) raft.RPC {
	t.Helper()
	select {
	case rpc := <-p.trans.Consumer():
		return rpc
	case <-time.After(timeout):
		t.Fatalf("%s received no RPC within %v", p.id.State, timeout)
		return raft.RPC{}
	}
}

// Two transports whose rosters hold each other exchange real raft RPCs.
func TestRaftRPCBetweenMembers(t *testing.T) {
	fraID, deuID := newIdentity(t, "FRA"), newIdentity(t, "DEU")
	fra := newRaftPeer(t, fraID, newRoster(fraID, deuID))
	deu := newRaftPeer(t, deuID, newRoster(fraID, deuID))

	served := make(chan error, 1)
	go func() {
		select {
		case rpc := <-deu.trans.Consumer():
			req, ok := rpc.Command.(*raft.AppendEntriesRequest)
			if !ok || string(req.ID) != "FRA" || len(req.Entries) != 1 || string(req.Entries[0].Data) != "listing" {
				served <- fmt.Errorf("DEU received %#v", rpc.Command)
				rpc.Respond(nil, errors.New("unexpected"))
				return
			}
			rpc.Respond(&raft.AppendEntriesResponse{RPCHeader: deu.header(), Term: req.Term, LastLog: 1, Success: true}, nil)
			served <- nil
		case <-time.After(10 * time.Second):
			served <- errors.New("DEU received no RPC")
		}
	}()
	req := raft.AppendEntriesRequest{
		RPCHeader: fra.header(),
		Term:      3,
		Entries:   []*raft.Log{{Index: 1, Term: 3, Type: raft.LogCommand, Data: []byte("listing")}},
	}
	var resp raft.AppendEntriesResponse
	if err := fra.trans.AppendEntries("DEU", raft.ServerAddress(deu.trans.LocalAddr()), &req, &resp); err != nil {
		t.Fatalf("AppendEntries: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.Term != 3 || resp.LastLog != 1 || string(resp.ID) != "DEU" {
		t.Fatalf("response = %+v", resp)
	}
}

// A raft node whose certificate is not on the roster cannot reach the server's raft: its
// RPC fails and the first RPC the consumer sees is a member's.
func TestRaftRefusesNonMember(t *testing.T) {
	fraID, deuID, gbrID := newIdentity(t, "FRA"), newIdentity(t, "DEU"), newIdentity(t, "GBR")
	deu := newRaftPeer(t, deuID, newRoster(fraID, deuID))
	fra := newRaftPeer(t, fraID, newRoster(fraID, deuID))
	gbr := newRaftPeer(t, gbrID, newRoster(gbrID, deuID)) // GBR trusts DEU; DEU does not know GBR
	target := raft.ServerAddress(deu.trans.LocalAddr())

	vote := func(p *raftPeer) error {
		req := raft.RequestVoteRequest{RPCHeader: p.header(), Term: 9, LastLogIndex: 1_000_000, LastLogTerm: 9}
		var resp raft.RequestVoteResponse
		return p.trans.RequestVote("DEU", target, &req, &resp)
	}
	if err := vote(gbr); !errors.Is(err, ErrRefusedByPeer) {
		t.Fatalf("GBR's RequestVote: %v; want ErrRefusedByPeer", err)
	}

	errc := make(chan error, 1)
	go func() { errc <- vote(fra) }()
	rpc := nextRPC(t, deu, 10*time.Second)
	req, ok := rpc.Command.(*raft.RequestVoteRequest)
	if !ok || string(req.ID) != "FRA" {
		t.Fatalf("DEU's first RPC is %#v; want FRA's RequestVote", rpc.Command)
	}
	rpc.Respond(&raft.RequestVoteResponse{RPCHeader: deu.header(), Term: 9, Granted: false}, nil)
	if err := <-errc; err != nil {
		t.Fatalf("FRA's RequestVote: %v", err)
	}
	waitFor(t, 5*time.Second, "DEU to log GBR's refusal with its pin", func() bool {
		return len(deu.logs.lines("refused raft connection", pinAttr(gbrID.TLSPin))) == 1
	})
}

// counter is a minimal FSM: the commands applied, in order.
type counter struct {
	mu      sync.Mutex
	applied []string
}

func (c *counter) Apply(l *raft.Log) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied = append(c.applied, string(l.Data))
	return len(c.applied)
}

func (c *counter) Snapshot() (raft.FSMSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return snapshot(slices.Clone(c.applied)), nil
}

func (c *counter) Restore(r io.ReadCloser) error {
	defer r.Close()
	var applied []string
	if err := json.NewDecoder(r).Decode(&applied); err != nil {
		return err
	}
	c.mu.Lock()
	c.applied = applied
	c.mu.Unlock()
	return nil
}

func (c *counter) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.applied)
}

type snapshot []string

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode([]string(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

type raftNode struct {
	id   *identity.Identity
	raft *raft.Raft
	fsm  *counter
	addr raft.ServerAddress
	logs *syncBuffer
}

// startCluster starts one raft node per identity over this package's transport, all with
// the same roster, and bootstraps them as voters.
func startCluster(t *testing.T, ids []*identity.Identity, r *roster) []*raftNode {
	t.Helper()
	var nodes []*raftNode
	var servers []raft.Server
	for _, id := range ids {
		log, buf := testLogger(t, id.State)
		trans := New(listen(t), id.TLS, r, log, Options{Timeout: 5 * time.Second})
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(id.State)
		conf.HeartbeatTimeout = 300 * time.Millisecond
		conf.ElectionTimeout = 300 * time.Millisecond
		conf.LeaderLeaseTimeout = 150 * time.Millisecond
		conf.CommitTimeout = 10 * time.Millisecond
		conf.Logger = HCLog(log, "raft")
		fsm := &counter{}
		store := raft.NewInmemStore()
		rf, err := raft.NewRaft(conf, fsm, store, store, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			_ = trans.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Shutdown also closes the transport and so the stream layer.
			if err := rf.Shutdown().Error(); err != nil {
				t.Errorf("%s: Shutdown: %v", id.State, err)
			}
		})
		nodes = append(nodes, &raftNode{id: id, raft: rf, fsm: fsm, addr: trans.LocalAddr(), logs: buf})
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: conf.LocalID, Address: trans.LocalAddr()})
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	return nodes
}

func leader(nodes []*raftNode) *raftNode {
	for _, n := range nodes {
		if n.raft.State() == raft.Leader {
			return n
		}
	}
	return nil
}

// apply applies cmd through whichever node leads, retrying only while there is none (an
// entry refused with ErrNotLeader was never appended, so a retry cannot duplicate it).
func apply(t *testing.T, nodes []*raftNode, cmd string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		l := leader(nodes)
		if l != nil {
			err := l.raft.Apply([]byte(cmd), 5*time.Second).Error()
			if err == nil {
				return
			}
			if errors.Is(err, raft.ErrLeadershipLost) {
				// The entry may or may not have committed: ask the next leader's state
				// before trying again, so a retry cannot apply it twice.
				var nl *raftNode
				waitFor(t, 20*time.Second, "a new leader to settle "+cmd, func() bool {
					nl = leader(nodes)
					return nl != nil && nl.raft.Barrier(5*time.Second).Error() == nil
				})
				if slices.Contains(nl.fsm.list(), cmd) {
					return
				}
				continue
			}
			if !errors.Is(err, raft.ErrNotLeader) {
				t.Fatalf("apply %s: %v", cmd, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader accepted %s within 20s", cmd)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitApplied waits until every node's FSM holds exactly want.
func waitApplied(t *testing.T, nodes []*raftNode, want []string) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("every node to apply %v", want), func() bool {
		for _, n := range nodes {
			if !slices.Equal(n.fsm.list(), want) {
				return false
			}
		}
		return true
	})
}

// A real three-member raft cluster runs over the mutual-TLS transport: it elects a leader
// and replicates commands to every member. Garbage sent after a good handshake by a roster
// member is dropped by raft's transport without crashing the node or changing its state.
func TestRaftClusterOverMutualTLS(t *testing.T) {
	ids := []*identity.Identity{newIdentity(t, "FRA"), newIdentity(t, "DEU"), newIdentity(t, "ITA")}
	espID := newIdentity(t, "ESP") // on the roster, not in the raft configuration
	r := newRoster(append(ids, espID)...)
	nodes := startCluster(t, ids, r)

	waitFor(t, 20*time.Second, "a leader", func() bool { return leader(nodes) != nil })
	var want []string
	for i := range 5 {
		cmd := fmt.Sprintf("listing-%d", i)
		apply(t, nodes, cmd)
		want = append(want, cmd)
	}
	waitApplied(t, nodes, want)

	t.Run("garbage after a good handshake", func(t *testing.T) {
		var follower *raftNode
		for _, n := range nodes {
			if n.raft.State() == raft.Follower {
				follower = n
				break
			}
		}
		if follower == nil {
			t.Fatal("no follower")
		}
		esp := newPeer(t, espID, r, fastSettings)
		for _, garbage := range [][]byte{
			{0xff, 0xde, 0xad, 0xbe, 0xef},       // no such RPC type
			{0x00, 0xc1, 0xc1, 0xc1},             // AppendEntries, then a byte msgpack never uses
			{0x00, 0xdf, 0xff, 0xff, 0xff, 0xff}, // AppendEntries claiming a 4-billion-entry map
		} {
			c, err := esp.layer.Dial(follower.addr, 5*time.Second)
			if err != nil {
				t.Fatalf("ESP Dial: %v", err)
			}
			if _, err := c.Write(garbage); err != nil {
				t.Fatal(err)
			}
			if tc, ok := c.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite() // the claimed map never arrives
			}
			expectClosedByServer(t, c, 10*time.Second)
			c.Close()
		}
		// raft logs the two it could not decode; the third ends in EOF, which it does not log.
		waitFor(t, 5*time.Second, "raft to log the bad RPCs", func() bool {
			return len(follower.logs.lines("logger=raft-net", "failed to decode incoming command", "unknown rpc type 255")) == 1 &&
				len(follower.logs.lines("logger=raft-net", "failed to decode incoming command", "msgpack decode error")) == 1
		})
		for _, n := range nodes {
			if got := n.fsm.list(); !slices.Equal(got, want) {
				t.Errorf("%s applied %v after the garbage; want %v", n.id.State, got, want)
			}
		}
		// The cluster still works, the follower included.
		apply(t, nodes, "after-garbage")
		want = append(want, "after-garbage")
		waitApplied(t, nodes, want)
	})
}
