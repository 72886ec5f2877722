package gossip

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// cluster starts one node per state, all on the roster with the same gossip key, joins
// them through the first and waits until every node sees every other alive and verified.
func cluster(t *testing.T, s *logSink, r *testRoster, states ...string) []*Gossip {
	t.Helper()
	key := testGossipKey(7)
	nodes := make([]*Gossip, len(states))
	for i, st := range states {
		priv := testPriv(byte(10 + i))
		r.set(st, priv.Public().(ed25519.PublicKey))
		nodes[i] = start(t, testConfig(s, testMeta(st, i), priv, r, key))
	}
	for _, g := range nodes[1:] {
		join(t, g, nodes[0].LocalAddr())
	}
	for i, g := range nodes {
		waitFor(t, fmt.Sprintf("%s to see the whole cluster", states[i]), func() (bool, string) {
			ms := g.Members()
			if len(ms) != len(states) {
				return false, describeMembers(ms)
			}
			for j, st := range states {
				m, ok := find(ms, st, nodes[j].LocalAddr())
				if !ok || !m.Alive || !m.Verified || m.Meta != testMeta(st, j) {
					return false, describeMembers(ms)
				}
			}
			return true, ""
		})
	}
	return nodes
}

func TestThreeNodesSeeEachOther(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	states := []string{"FRA", "DEU", "GBR"}
	nodes := cluster(t, s, r, states...)

	for i, g := range nodes {
		ms := g.Members()
		for j := 1; j < len(ms); j++ {
			if ms[j-1].State > ms[j].State {
				t.Fatalf("%s: Members not sorted by state: %s", states[i], describeMembers(ms))
			}
		}
		for j, st := range states {
			m, ok := g.Member(st)
			if !ok {
				t.Fatalf("%s: Member(%s) not found", states[i], st)
			}
			if m.Meta != testMeta(st, j) || m.Addr != nodes[j].LocalAddr() || !m.Alive || !m.Verified || m.Reason != "" || m.LastChange.IsZero() {
				t.Fatalf("%s: Member(%s) = %+v", states[i], st, m)
			}
		}
		if _, ok := g.Member("ITA"); ok {
			t.Fatalf("%s: Member(ITA) found for a state nobody runs", states[i])
		}
	}
}

// TestWrongKeyCannotJoin: a node with another gossip key is a stranger even when its
// identity is on the roster: its join fails both ways and its packets are dropped
// (the receivers log that they could not decrypt them), so nobody ever lists it.
func TestWrongKeyCannotJoin(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	nodes := cluster(t, s, r, "FRA", "DEU")
	fra, deu := nodes[0], nodes[1]

	priv := testPriv(30)
	r.set("NLD", priv.Public().(ed25519.PublicKey))
	w := start(t, testConfig(s, testMeta("NLD", 3), priv, r, testGossipKey(8)))
	wAddr := w.LocalAddr()

	if n, err := w.Join([]string{fra.LocalAddr(), deu.LocalAddr()}); err == nil || n != 0 {
		t.Fatalf("wrong-key Join: n=%d err=%v, want failure", n, err)
	}
	if n, err := fra.Join([]string{wAddr}); err == nil || n != 0 {
		t.Fatalf("Join to the wrong-key node: n=%d err=%v, want failure", n, err)
	}
	// A packet, too: encrypted with the wrong key, it must be dropped unread.
	if err := w.ml.SendToAddress(memberlist.Address{Addr: fra.LocalAddr()}, []byte("hello")); err != nil {
		t.Fatalf("SendToAddress: %v", err)
	}
	waitFor(t, "FRA to drop the wrong-key packet", func() (bool, string) {
		return s.contains("node=FRA", "Decrypt packet failed", "no installed keys could decrypt"), "no such log line yet"
	})
	if !s.contains("node=FRA", "failed to receive", "no installed keys could decrypt") {
		t.Fatalf("FRA did not log refusing the wrong-key stream")
	}

	// Two full gossip round trips later, neither side lists the other.
	for round := range 2 {
		barrier(t, fra, deu, testMeta("FRA", 0), round)
		barrier(t, deu, fra, testMeta("DEU", 1), round)
	}
	for _, g := range []*Gossip{fra, deu} {
		ms := g.Members()
		if _, ok := find(ms, "NLD", ""); ok {
			t.Fatalf("%s lists the wrong-key node: %s", g.n.name, describeMembers(ms))
		}
		for _, m := range ms {
			if m.Addr == wAddr {
				t.Fatalf("%s lists the wrong-key node's address: %s", g.n.name, describeMembers(ms))
			}
		}
	}
	if ms := w.Members(); len(ms) != 1 || ms[0].State != "NLD" {
		t.Fatalf("the wrong-key node learnt of others: %s", describeMembers(ms))
	}
}

// TestUnverifiedNodes: nodes that hold the gossip key but whose metadata does not verify
// against the roster are shown Verified=false or refused, never returned by Member, and
// never displace the real member of the state they claim.
func TestUnverifiedNodes(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	nodes := cluster(t, s, r, "FRA", "DEU")
	fra, deu := nodes[0], nodes[1]
	key := testGossipKey(7)

	// NLD and ITA are members, but nobody runs them yet.
	nldPriv, itaPriv := testPriv(40), testPriv(41)
	r.set("NLD", nldPriv.Public().(ed25519.PublicKey))
	r.set("ITA", itaPriv.Public().(ed25519.PublicKey))

	// ZZZ: right key, well-formed and signed, but not on the roster.
	zzzPriv := testPriv(42)
	zzz := start(t, testConfig(s, testMeta("ZZZ", 4), zzzPriv, r, key))
	// NLD impostor: claims a roster state, signs with its own key.
	impostor := start(t, testConfig(s, testMeta("NLD", 5), testPriv(43), r, key))
	// QQQ: replays FRA's genuine signed metadata under another name.
	fraBlob := fra.n.NodeMeta(512)
	qqq := startRaw(t, s, "QQQ", fraBlob, key)
	// ITA impostor: a roster name with FRA's genuine metadata.
	itaFake := startRaw(t, s, "ITA", fraBlob, key)
	// Garbage: a roster-free name announcing bytes that are not metadata at all.
	junk := startRaw(t, s, "JNK", []byte{0x01, 0xff, 0xff, '{'}, key)

	join(t, zzz, fra.LocalAddr())
	join(t, impostor, fra.LocalAddr())
	for _, ml := range []*memberlist.Memberlist{qqq, itaFake, junk} {
		if _, err := ml.Join([]string{deu.LocalAddr()}); err != nil {
			t.Fatalf("raw Join: %v", err)
		}
	}

	want := []struct {
		state, addr, reason string
		alive               bool
	}{
		{"ZZZ", zzz.LocalAddr(), "not on the roster", true},
		{"NLD", impostor.LocalAddr(), "refused: signature does not verify", false},
		{"QQQ", qqq.LocalNode().Address(), "node name differs from metadata state", true},
		{"ITA", itaFake.LocalNode().Address(), "refused: node name differs from metadata state", false},
		{"JNK", junk.LocalNode().Address(), "malformed metadata", true},
	}
	for _, g := range []*Gossip{fra, deu} {
		waitFor(t, g.n.name+" to list every intruder unverified", func() (bool, string) {
			ms := g.Members()
			for _, w := range want {
				m, ok := find(ms, w.state, w.addr)
				if !ok || m.Verified || m.Alive != w.alive || !strings.Contains(m.Reason, w.reason) {
					return false, describeMembers(ms)
				}
			}
			return true, ""
		})
	}
	for round := range 2 {
		barrier(t, fra, deu, testMeta("FRA", 0), round)
	}
	for _, g := range []*Gossip{fra, deu} {
		for _, st := range []string{"ZZZ", "NLD", "QQQ", "ITA", "JNK"} {
			if m, ok := g.Member(st); ok {
				t.Fatalf("%s: Member(%s) returned an unverified node: %+v", g.n.name, st, m)
			}
		}
		if m, ok := g.Member("FRA"); !ok || m.Addr != fra.LocalAddr() {
			t.Fatalf("%s: FRA displaced: %+v %t", g.n.name, m, ok)
		}
		for _, m := range g.Members() {
			if m.Verified && m.State != "FRA" && m.State != "DEU" {
				t.Fatalf("%s: %s verified: %s", g.n.name, m.State, describeMembers(g.Members()))
			}
		}
	}

	// The NLD impostor came first, yet the real NLD is not locked out of its name.
	nld := start(t, testConfig(s, testMeta("NLD", 6), nldPriv, r, key))
	join(t, nld, deu.LocalAddr())
	for _, g := range []*Gossip{fra, deu} {
		waitFor(t, g.n.name+" to verify the real NLD", func() (bool, string) {
			m, ok := g.Member("NLD")
			return ok && m.Alive && m.Addr == nld.LocalAddr() && m.Meta == testMeta("NLD", 6), fmt.Sprintf("%+v", g.Members())
		})
	}

	// The roster decides at query time: admitting ZZZ verifies it without any gossip,
	// and removing DEU unverifies it at once.
	r.set("ZZZ", zzzPriv.Public().(ed25519.PublicKey))
	if m, ok := fra.Member("ZZZ"); !ok || !m.Alive || m.Meta != testMeta("ZZZ", 4) {
		t.Fatalf("ZZZ not verified once admitted: %+v %t", m, ok)
	}
	r.remove("DEU")
	if m, ok := fra.Member("DEU"); ok {
		t.Fatalf("DEU still verified after removal from the roster: %+v", m)
	}
	if m, ok := find(fra.Members(), "DEU", deu.LocalAddr()); !ok || m.Verified || !strings.Contains(m.Reason, "not on the roster") {
		t.Fatalf("DEU after removal: %+v", m)
	}
}

// TestDeadNodeReported: a node that stops without leaving is reported not alive after
// failed probes, and one that leaves is reported not alive at once; both stay listed
// (not alive) so operators see which state went away.
func TestDeadNodeReported(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	nodes := cluster(t, s, r, "FRA", "DEU", "GBR", "NLD")
	fra, deu, gbr, nld := nodes[0], nodes[1], nodes[2], nodes[3]

	stopped := time.Now()
	if err := gbr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := gbr.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for _, g := range []*Gossip{fra, deu, nld} {
		waitFor(t, g.n.name+" to report GBR not alive", func() (bool, string) {
			m, ok := g.Member("GBR")
			return ok && !m.Alive, fmt.Sprintf("%+v", m)
		})
	}
	t.Logf("crash detected by all after %s", time.Since(stopped).Round(time.Millisecond))

	left := time.Now()
	if err := nld.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := nld.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Gossip{fra, deu} {
		waitFor(t, g.n.name+" to report NLD not alive", func() (bool, string) {
			m, ok := g.Member("NLD")
			return ok && !m.Alive, fmt.Sprintf("%+v", m)
		})
	}
	t.Logf("leave seen by all after %s", time.Since(left).Round(time.Millisecond))

	for _, g := range []*Gossip{fra, deu} {
		if m, ok := g.Member("FRA"); !ok || !m.Alive {
			t.Fatalf("%s: FRA %+v", g.n.name, m)
		}
	}
	// A shut-down node refuses further use instead of misbehaving.
	if err := gbr.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("Leave after Shutdown: %v", err)
	}
	if err := gbr.UpdateMeta(testMeta("GBR", 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateMeta after Shutdown: %v", err)
	}
	if _, err := gbr.Join([]string{fra.LocalAddr()}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join after Shutdown: %v", err)
	}
}

func TestUpdateMetaPropagates(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	nodes := cluster(t, s, r, "FRA", "DEU", "GBR")
	fra := nodes[0]

	moved := Meta{State: "FRA", APIURL: "https://10.1.2.3:8443/api", RaftAddr: "10.1.2.3:9443", Version: "1.1.0"}
	if err := fra.UpdateMeta(moved); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, g := range nodes {
		waitFor(t, g.n.name+" to see FRA's new metadata", func() (bool, string) {
			m, ok := g.Member("FRA")
			return ok && m.Meta == moved && m.Alive, fmt.Sprintf("%+v", m)
		})
	}

	bad := []struct {
		meta Meta
		want string
	}{
		{Meta{State: "DEU", APIURL: moved.APIURL, RaftAddr: moved.RaftAddr, Version: "1"}, "Meta.State"},
		{Meta{State: "FRA", APIURL: "https://" + strings.Repeat("a", MaxAPIURL), RaftAddr: moved.RaftAddr, Version: "1"}, "Meta.APIURL"},
		{Meta{State: "FRA", APIURL: moved.APIURL, RaftAddr: "nowhere", Version: "1"}, "Meta.RaftAddr"},
		{Meta{State: "FRA", APIURL: moved.APIURL, RaftAddr: moved.RaftAddr, Version: ""}, "Meta.Version"},
	}
	for _, b := range bad {
		if err := fra.UpdateMeta(b.meta); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Fatalf("UpdateMeta(%+v) = %v, want an error naming %s", b.meta, err, b.want)
		}
	}
	// A refused update leaves the last good metadata in place, locally and remotely.
	if _, _, _, err := decodeMeta(fra.n.NodeMeta(512)); err != nil {
		t.Fatalf("local metadata after refused updates: %v", err)
	}
	barrier(t, fra, nodes[2], moved, 9)
}
