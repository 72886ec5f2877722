package gossip

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine (memberlist's listeners, probes, gossip,
// push/pull and stream handlers) outlives the tests. Nothing is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Timings short enough that a cluster converges and a dead node is detected in about a
// second, long enough that two loaded cores under -race do not produce false suspicions
// that never get refuted.
const (
	testProbeInterval    = 200 * time.Millisecond
	testProbeTimeout     = 100 * time.Millisecond
	testGossipInterval   = 20 * time.Millisecond
	testPushPullInterval = 500 * time.Millisecond
	// waitLong bounds every wait for convergence; it is a deadline, not a sleep.
	waitLong = 15 * time.Second
)

// testPriv returns a deterministic Ed25519 key, so fuzz seeds signed with it stay valid.
func testPriv(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// testGossipKey returns a deterministic 32-byte gossip key.
func testGossipKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// testRoster is the replicated roster as gossip sees it; tests change it while nodes run.
type testRoster struct {
	mu   sync.RWMutex
	keys map[string]*jws.KeySet
}

func newTestRoster() *testRoster { return &testRoster{keys: make(map[string]*jws.KeySet)} }

func (r *testRoster) SigningKeys(state string) (*jws.KeySet, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ks, ok := r.keys[state]
	return ks, ok
}

func (r *testRoster) set(state string, pubs ...ed25519.PublicKey) {
	ks := jws.NewKeySet()
	for _, p := range pubs {
		ks.Add(p)
	}
	r.mu.Lock()
	r.keys[state] = ks
	r.mu.Unlock()
}

func (r *testRoster) remove(state string) {
	r.mu.Lock()
	delete(r.keys, state)
	r.mu.Unlock()
}

// logSink sends slog records to t.Log (shown only when a test fails or with -v) and
// keeps them so that tests can wait for a log line as evidence, e.g. of a dropped packet.
// Records arriving after the test finished are kept but not passed to t.Log, which would
// panic; memberlist's goroutines may still log while they wind down.
type logSink struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
	recs []string
}

func newLogSink(t *testing.T) *logSink {
	s := &logSink{t: t}
	// Registered before any node, so it runs after every node's Shutdown.
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, line)
	if !s.done {
		s.t.Log(line)
	}
	return len(p), nil
}

// contains reports whether any record logged so far contains all of parts.
func (s *logSink) contains(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, r := range s.recs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		return true
	}
	return false
}

func (s *logSink) logger(node string) *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
}

// testMeta is a valid Meta for state on a loopback address.
func testMeta(state string, i int) Meta {
	return Meta{
		State:    state,
		APIURL:   fmt.Sprintf("https://127.0.0.1:%d/entente", 8400+i),
		RaftAddr: fmt.Sprintf("127.0.0.1:%d", 9400+i),
		Version:  "1.0.0",
	}
}

// testConfig is a loopback node with short timings.
func testConfig(s *logSink, meta Meta, priv ed25519.PrivateKey, r Roster, key []byte) Config {
	return Config{
		BindAddr:         "127.0.0.1",
		Key:              key,
		Meta:             meta,
		Signer:           jws.NewSigner(priv),
		Roster:           r,
		Logger:           s.logger(meta.State),
		ProbeInterval:    testProbeInterval,
		ProbeTimeout:     testProbeTimeout,
		GossipInterval:   testGossipInterval,
		PushPullInterval: testPushPullInterval,
	}
}

// start starts a node and shuts it down when the test ends.
func start(t *testing.T, c Config) *Gossip {
	t.Helper()
	g, err := Start(c)
	if err != nil {
		t.Fatalf("Start %s: %v", c.Meta.State, err)
	}
	t.Cleanup(func() {
		if err := g.Shutdown(); err != nil {
			t.Errorf("Shutdown %s: %v", c.Meta.State, err)
		}
	})
	return g
}

// join joins g to the node at addr, failing the test if that does not work.
func join(t *testing.T, g *Gossip, addr string) {
	t.Helper()
	if n, err := g.Join([]string{addr}); err != nil || n != 1 {
		t.Fatalf("Join %s: n=%d err=%v", addr, n, err)
	}
}

// staticDelegate serves fixed metadata: it stands in for modified software run by an
// attacker who holds the gossip key and can announce any name with any metadata.
type staticDelegate struct{ meta []byte }

func (d staticDelegate) NodeMeta(int) []byte                  { return d.meta }
func (staticDelegate) NotifyMsg([]byte)                       {}
func (staticDelegate) GetBroadcasts(int, int) [][]byte        { return nil }
func (staticDelegate) LocalState(bool) []byte                 { return nil }
func (staticDelegate) MergeRemoteState(buf []byte, join bool) {}

// startRaw starts a bare memberlist named name announcing blob, with the given gossip
// key and this package's label, bypassing every check Start makes.
func startRaw(t *testing.T, s *logSink, name string, blob, key []byte) *memberlist.Memberlist {
	t.Helper()
	mc := memberlist.DefaultLANConfig()
	mc.Name = name
	mc.BindAddr, mc.BindPort = "127.0.0.1", 0
	mc.ProbeInterval, mc.ProbeTimeout = testProbeInterval, testProbeTimeout
	mc.GossipInterval, mc.PushPullInterval = testGossipInterval, testPushPullInterval
	mc.Label = label
	mc.SecretKey = bytes.Clone(key)
	mc.Delegate = staticDelegate{meta: blob}
	mc.Logger = memberlistLogger(s.logger("raw-" + name))
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatalf("memberlist.Create %s: %v", name, err)
	}
	t.Cleanup(func() { _ = ml.Shutdown() })
	return ml
}

// waitFor polls cond until it holds or waitLong passes; on timeout it fails with what
// cond last reported. It waits on a condition with a deadline, never a fixed time.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", waitLong, what, detail)
		}
		<-tick.C
	}
}

// find returns the first member of g's list for state at addr ("" matches any address).
func find(ms []Member, state, addr string) (Member, bool) {
	for _, m := range ms {
		if m.State == state && (addr == "" || m.Addr == addr) {
			return m, true
		}
	}
	return Member{}, false
}

func describeMembers(ms []Member) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[%s %s alive=%t verified=%t reason=%q meta=%+v] ", m.State, m.Addr, m.Alive, m.Verified, m.Reason, m.Meta)
	}
	return b.String()
}

// barrier waits until a metadata change made on from is seen on to. Having waited for a
// full gossip round trip, a test can then check that something did NOT happen (an
// intruder was not listed) without sleeping for an arbitrary time.
func barrier(t *testing.T, from, to *Gossip, meta Meta, round int) {
	t.Helper()
	meta.Version = fmt.Sprintf("1.0.%d", round)
	if err := from.UpdateMeta(meta); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	waitFor(t, "metadata round "+meta.Version+" to reach "+to.n.name, func() (bool, string) {
		m, ok := to.Member(meta.State)
		return ok && m.Meta == meta, fmt.Sprintf("%+v", m)
	})
}
