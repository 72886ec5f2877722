package federation_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/federation"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/federation/raftstore"
	"github.com/entente/entente/federation/state"
	"github.com/entente/entente/policy"
)

// BenchmarkCatchUp100k measures how long a member state's node that was down while the
// federation committed 100,000 commands takes to catch up when it comes back.
//
// Three raft nodes run in this process on loopback TCP (raft.NewTCPTransport), each as a
// node runs one: raftstore with fsync, raft's file snapshot store, and NewFSM over a
// real state.State; raft is configured as federation.Start configures it, with
// federation.DefaultTiming (heartbeat and election 1 s, SnapshotThreshold 8192,
// TrailingLogs 10240). One follower is shut down (its raft, its raft.db and its state
// file closed) after the first commands, one per origin, which carry the data keys. The
// leader then commits 100,000 real signed indicators (subject and evidence sealed REL
// TO FEDERATION, about 1.5 KiB per entry, stamped by the leader as applyAsLeader does),
// submitted with raft.Apply from 32 goroutines; signing and sealing happen beforehand
// and are not timed. When the writes are done the leader takes a snapshot
// (raft.Snapshot: the periodic check, every 2 to 4 minutes by default, would take the
// same one) and compacts its log to the last TrailingLogs entries, so the stopped
// follower's next entry is gone from every log and it can only catch up through a
// snapshot.
//
// Then the follower is started again from its files (state, raft.db, snapshots) and
// the clock runs until its State.Applied() reaches the leader's applied index; its
// Hash() must then equal the leader's, and the other follower's.
//
//   - commands/s: commits per second while writing, with one follower down;
//   - catchup-s: from reopening the follower's files until it has applied everything;
//   - contact-s, send-start-s, stored-s: the milestones on the way, from the same start:
//     the leader first reached the follower (raft's LastContact), the snapshot began to
//     arrive (raft's file sink appeared in the follower's snapshot directory) and was
//     stored there; after stored-s come State.Restore and any later entries. The wait
//     between contact and sending is raft's replication back-off, which grows while a
//     follower is unreachable (10 ms doubling per failure up to about 10 s in raft 1.8);
//     raft offers no setting for it;
//   - snapshot-installed: 1 when the follower caught up by installing the leader's
//     snapshot (its snapshot store holds it), else 0;
//   - snapshot-MB: the size of the snapshot the leader sent;
//   - leader-snapshot-s: how long the leader's raft.Snapshot took: writing the snapshot
//     and compacting its log (raft deletes all but TrailingLogs entries from raft.db,
//     in one raftstore transaction that every StoreLogs waits behind).
//
// ns/op is the whole scenario after the signing: starting the cluster, the writes, the
// leader's snapshot, the catch-up and the hash checks; the figures above are what count.
//
// Every wait is bounded (15 minutes for one operation), so a stuck cluster fails the
// benchmark instead of hanging it. One operation takes about two and a half minutes on
// two cores, most of it the writes and the leader's compaction; run it with -benchtime 1x:
//
//	go test -run '^$' -bench CatchUp100k -benchtime 1x -count 5 -timeout 60m ./federation/
func BenchmarkCatchUp100k(b *testing.B) {
	cfg := catchUpConfig{commands: 100_000, writers: 32, timing: federation.DefaultTiming(), limit: 15 * time.Minute}
	var sum catchUpResult
	installed := 0.0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fed := newCatchUpFed(b, cfg.commands)
		b.StartTimer()
		r := runCatchUp(b, fed, cfg)
		sum.write += r.write
		sum.catchUp += r.catchUp
		sum.contact += r.contact
		sum.sendStart += r.sendStart
		sum.stored += r.stored
		sum.snapshotBytes += r.snapshotBytes
		sum.leaderSnapshot += r.leaderSnapshot
		if r.installed {
			installed++
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(cfg.commands)*n/sum.write.Seconds(), "commands/s")
	b.ReportMetric(sum.catchUp.Seconds()/n, "catchup-s")
	b.ReportMetric(sum.contact.Seconds()/n, "contact-s")
	b.ReportMetric(sum.sendStart.Seconds()/n, "send-start-s")
	b.ReportMetric(sum.stored.Seconds()/n, "stored-s")
	b.ReportMetric(installed/n, "snapshot-installed")
	b.ReportMetric(float64(sum.snapshotBytes)/n/1e6, "snapshot-MB")
	b.ReportMetric(sum.leaderSnapshot.Seconds()/n, "leader-snapshot-s")
}

// TestCatchUpThroughSnapshot is the benchmark's procedure on 1,000 commands, with a
// snapshot threshold and trailing log low enough that the restarted follower must
// install a snapshot: it ends with the leader's applied index and state hash. (1,000
// keeps it under 10 s with -race beside other packages: the longer the follower is
// down, the longer raft's back-off before it sends the snapshot.)
func TestCatchUpThroughSnapshot(t *testing.T) {
	timing := federation.Timing{Heartbeat: 500 * time.Millisecond, Election: 500 * time.Millisecond, SnapshotThreshold: 128, TrailingLogs: 64}
	cfg := catchUpConfig{commands: 1000, writers: 32, timing: timing, limit: time.Minute}
	r := runCatchUp(t, newCatchUpFed(t, cfg.commands), cfg)
	if !r.installed {
		t.Fatal("the follower caught up without installing a snapshot")
	}
}

// catchUpConfig is one catch-up run.
type catchUpConfig struct {
	commands int // committed while the follower is down
	writers  int // goroutines calling raft.Apply
	timing   federation.Timing
	limit    time.Duration // for the whole run
}

// catchUpResult is what one run measured.
type catchUpResult struct {
	write, catchUp time.Duration
	// contact, sendStart and stored are when, after the restart, the leader first
	// reached the follower, began sending it a snapshot, and the follower had stored it.
	contact, sendStart, stored time.Duration
	leaderSnapshot             time.Duration // raft.Snapshot on the leader: persist and compact
	installed                  bool
	snapshotBytes              int64
}

// catchUpNode is one raft node and its files.
type catchUpNode struct {
	id, addr, dir string
	st            *state.State
	store         *raftstore.Store
	snaps         *raft.FileSnapshotStore
	raft          *raft.Raft
}

// open opens the node's files and starts its raft; on a first start it bootstraps
// servers, as federation.Start does from the genesis.
func (n *catchUpNode) open(g *state.Genesis, timing federation.Timing, servers []raft.Server) error {
	var err error
	if n.st, err = state.Open(filepath.Join(n.dir, "state.db"), g); err != nil {
		return err
	}
	if n.store, err = raftstore.Open(filepath.Join(n.dir, "raft.db"), raftstore.Options{}); err != nil {
		return err
	}
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(n.dir, "snapshots"), 3, hclog.NewNullLogger()); err != nil {
		return err
	}
	trans, err := raft.NewTCPTransportWithLogger(n.addr, nil, 3, 10*time.Second, hclog.NewNullLogger())
	if err != nil {
		return err
	}
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.id)
	c.HeartbeatTimeout, c.ElectionTimeout = timing.Heartbeat, timing.Election
	c.LeaderLeaseTimeout = timing.Heartbeat / 2
	c.SnapshotThreshold, c.TrailingLogs = timing.SnapshotThreshold, timing.TrailingLogs
	c.Logger = hclog.NewNullLogger()
	has, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err == nil && !has {
		err = raft.BootstrapCluster(c, n.store, n.store, n.snaps, trans, raft.Configuration{Servers: servers})
	}
	if err == nil {
		n.raft, err = raft.NewRaft(c, federation.NewFSM(n.st), n.store, n.store, n.snaps, trans)
	}
	if err != nil {
		_ = trans.Close()
	}
	return err
}

// close stops the node's raft (which closes its transport) and closes its files.
func (n *catchUpNode) close() error {
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
		n.raft = nil
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
		n.store = nil
	}
	if n.st != nil {
		errs = append(errs, n.st.Close())
		n.st = nil
	}
	return errors.Join(errs...)
}

// runCatchUp runs the scenario BenchmarkCatchUp100k describes and checks its outcome.
func runCatchUp(tb testing.TB, fed *catchUpFed, cfg catchUpConfig) catchUpResult {
	tb.Helper()
	var res catchUpResult
	deadline := time.Now().Add(cfg.limit)
	waitFor := func(what string, cond func() bool) {
		tb.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				tb.Fatalf("gave up after %s waiting for %s", cfg.limit, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Three nodes, one per voter, each on its own loopback port.
	var nodes []*catchUpNode
	var servers []raft.Server
	for _, m := range fed.genesis.Members {
		addr, err := freeLoopbackAddr()
		if err != nil {
			tb.Fatal(err)
		}
		nodes = append(nodes, &catchUpNode{id: m.Code, addr: addr, dir: tb.TempDir()})
		servers = append(servers, raft.Server{ID: raft.ServerID(m.Code), Address: raft.ServerAddress(addr), Suffrage: raft.Voter})
	}
	tb.Cleanup(func() {
		for _, n := range nodes {
			if err := n.close(); err != nil {
				tb.Errorf("closing %s: %v", n.id, err)
			}
		}
	})
	// The watchdog: at the deadline every raft stops, so that whatever waits on one (an
	// apply future, a snapshot) returns instead of hanging.
	var startedMu sync.Mutex
	var started []*raft.Raft
	watchdog := time.AfterFunc(cfg.limit, func() {
		startedMu.Lock()
		defer startedMu.Unlock()
		for _, r := range started {
			_ = r.Shutdown().Error()
		}
	})
	defer watchdog.Stop()
	start := func(n *catchUpNode) {
		tb.Helper()
		if err := n.open(fed.genesis, cfg.timing, servers); err != nil {
			tb.Fatalf("starting %s: %v", n.id, err)
		}
		startedMu.Lock()
		started = append(started, n.raft)
		startedMu.Unlock()
	}
	for _, n := range nodes {
		start(n)
	}
	leader := func() *catchUpNode {
		for _, n := range nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return n
			}
		}
		return nil
	}
	waitFor("a leader", func() bool { return leader() != nil })

	// apply commits entry i through the current leader, once it is known; a lost
	// leadership is retried on the next leader, where a command that did commit before
	// is rejected as a duplicate.
	var leaderChanges atomic.Int64
	apply := func(i int) error {
		retried := false
		for {
			l := leader()
			if l == nil {
				if time.Now().After(deadline) {
					return errors.New("no leader")
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			data := command.MarshalEntry(command.Entry{Stamp: time.Now().UnixNano(), Command: fed.commands[i]})
			f := l.raft.Apply(data, time.Until(deadline))
			if err := f.Error(); err != nil {
				if (errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost)) && time.Now().Before(deadline) {
					leaderChanges.Add(1)
					retried = true
					continue
				}
				return fmt.Errorf("command %d: %w", i, err)
			}
			r, ok := f.Response().(*state.Result)
			switch {
			case !ok:
				return fmt.Errorf("command %d: apply returned %T", i, f.Response())
			case r.Rejected != "" && !(retried && strings.Contains(r.Rejected, "already exists")):
				return fmt.Errorf("command %d (index %d) rejected: %s", i, r.Index, r.Rejected)
			}
			return nil
		}
	}

	// The commands that carry the data keys reach every node; then a follower stops.
	for i := 0; i < fed.keyCarriers; i++ {
		if err := apply(i); err != nil {
			tb.Fatal(err)
		}
	}
	l := leader()
	if l == nil {
		tb.Fatal("no leader after the first commands")
	}
	first := l.st.Applied()
	var down *catchUpNode
	for _, n := range nodes {
		if n != l {
			down = n
			break
		}
	}
	waitFor(down.id+" to apply the first commands", func() bool { return down.st.Applied() >= first })
	downLast, err := down.store.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	if err := down.close(); err != nil {
		tb.Fatal(err)
	}

	// The writes, with one follower down.
	var next atomic.Int64
	next.Store(int64(fed.keyCarriers))
	errs := make(chan error, cfg.writers)
	var wg sync.WaitGroup
	began := time.Now()
	for w := 0; w < cfg.writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(fed.commands)); i = next.Add(1) - 1 {
				if err := apply(int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	res.write = time.Since(began)
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	if l = leader(); l == nil {
		tb.Fatal("no leader after the writes")
	}
	target := l.st.Applied()
	if want := first + uint64(len(fed.commands)-fed.keyCarriers); target < want {
		tb.Fatalf("the leader has applied up to %d, want at least %d", target, want)
	}
	snapStart := time.Now()
	if err := l.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		tb.Fatalf("leader snapshot: %v", err)
	}
	res.leaderSnapshot = time.Since(snapStart)
	metas, err := l.snaps.List()
	if err != nil || len(metas) == 0 {
		tb.Fatalf("the leader has no snapshot (%v)", err)
	}
	res.snapshotBytes = metas[0].Size
	leaderFirst, err := l.store.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	if leaderFirst <= downLast+1 {
		tb.Logf("the leader still holds index %d, which the stopped follower needs next: it may catch up from the log", downLast+1)
	}
	want, err := l.st.Hash()
	if err != nil {
		tb.Fatal(err)
	}
	if before, err := down.snaps.List(); err != nil || len(before) != 0 {
		tb.Fatalf("the stopped follower already holds %d snapshots (%v)", len(before), err)
	}

	// The stopped follower comes back from its files.
	// While it catches up, note when the leader first reaches it, when a snapshot starts
	// arriving (raft's sink creates its directory) and when it is stored.
	snapDir := filepath.Join(down.dir, "snapshots", "snapshots") // raft adds the inner one
	began = time.Now()
	start(down)
	waitFor(down.id+" to apply up to "+fmt.Sprint(target), func() bool {
		at := time.Since(began)
		if res.contact == 0 && !down.raft.LastContact().IsZero() {
			res.contact = at
		}
		if res.sendStart == 0 {
			if ents, err := os.ReadDir(snapDir); err == nil && len(ents) > 0 {
				res.sendStart = at
			}
		}
		if res.stored == 0 {
			if ms, err := down.snaps.List(); err == nil && len(ms) > 0 {
				res.stored = at
			}
		}
		return down.st.Applied() >= target
	})
	res.catchUp = time.Since(began)

	for _, n := range nodes {
		waitFor(n.id+" to apply everything", func() bool { return n.st.Applied() >= target })
		if got := n.st.Applied(); got != target {
			tb.Fatalf("%s has applied %d, the leader %d", n.id, got, target)
		}
		h, err := n.st.Hash()
		if err != nil {
			tb.Fatal(err)
		}
		if h != want {
			tb.Fatalf("%s's state hash differs from the leader's after catching up", n.id)
		}
	}
	have, err := down.snaps.List()
	if err != nil {
		tb.Fatal(err)
	}
	res.installed = len(have) > 0 && have[0].Index >= metas[0].Index
	var entryBytes int
	for _, c := range fed.commands {
		entryBytes += 8 + len(c) // the stamp and the command
	}
	tb.Logf("%d commands of %d bytes on average in %s (%.0f/s; %d leader changes); leader snapshot at %d (%.1f MB) took %s with compaction, its log now from %d; "+
		"follower stopped at %d, back in contact after %s, caught up to %d after %s, snapshot installed: %t",
		len(fed.commands)-fed.keyCarriers, entryBytes/len(fed.commands), res.write.Round(time.Millisecond), float64(len(fed.commands)-fed.keyCarriers)/res.write.Seconds(),
		leaderChanges.Load(), metas[0].Index, float64(metas[0].Size)/1e6, res.leaderSnapshot.Round(time.Millisecond), leaderFirst,
		downLast, res.contact.Round(time.Millisecond), target, res.catchUp.Round(time.Millisecond), res.installed)
	tb.Logf("after the restart: leader in contact %s, snapshot arriving %s, stored %s, applied %s",
		res.contact.Round(time.Millisecond), res.sendStart.Round(time.Millisecond), res.stored.Round(time.Millisecond), res.catchUp.Round(time.Millisecond))
	return res
}

// freeLoopbackAddr returns a loopback address whose port was free a moment ago. A fixed
// address lets the stopped follower come back where the others expect it.
func freeLoopbackAddr() (string, error) {
	trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 1, time.Second, hclog.NewNullLogger())
	if err != nil {
		return "", err
	}
	addr := string(trans.LocalAddr())
	return addr, trans.Close()
}

// catchUpFed is a three-voter federation (DEU, FRA, GBR) under the default policy and
// the commands to commit in it, signed and framed, in order: the first keyCarriers
// carry each origin's data key for the epoch.
type catchUpFed struct {
	genesis     *state.Genesis
	commands    [][]byte // encoded, signed commands; the leader stamps them
	keyCarriers int
}

// catchUpDirectory gives each state's epoch recipient.
type catchUpDirectory map[string]age.Recipient

func (d catchUpDirectory) Recipient(code string) (age.Recipient, error) {
	if r, ok := d[code]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("no epoch recipient for %s", code)
}

var catchUpIDs = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newCatchUpFed founds the federation and signs n indicators on every core.
func newCatchUpFed(tb testing.TB, n int) *catchUpFed {
	tb.Helper()
	pol := policy.DefaultPolicy()
	fed := &catchUpFed{genesis: &state.Genesis{Federation: "catch-up", Policy: pol}}
	codes := []string{"DEU", "FRA", "GBR"}
	signers := map[string]*jws.Signer{}
	rings := map[string]*seal.Keyring{}
	keys := map[string]seal.WrappedKey{}
	dir := catchUpDirectory{}
	epochIDs := map[string]*age.X25519Identity{}
	for i, code := range codes {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		signers[code] = jws.NewSigner(priv)
		ks := jws.NewKeySet()
		ks.Add(signers[code].Public())
		kb, err := ks.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		longTerm, err := age.GenerateX25519Identity()
		if err != nil {
			tb.Fatal(err)
		}
		if epochIDs[code], err = age.GenerateX25519Identity(); err != nil {
			tb.Fatal(err)
		}
		dir[code] = epochIDs[code].Recipient()
		// RaftAddr is what the genesis announces; the benchmark's raft configuration
		// uses the ports it actually got.
		fed.genesis.Members = append(fed.genesis.Members, state.Member{
			Code: code, Role: policy.RoleVoter, SigningKeys: kb, AgeRecipient: longTerm.Recipient().String(),
			TLSPin: "sha256:" + code, RaftAddr: fmt.Sprintf("127.0.0.1:%d", 7001+2*i), GossipAddr: fmt.Sprintf("127.0.0.1:%d", 7002+2*i)})
	}
	now := time.Now()
	epoch := pol.Epoch(now)
	for _, code := range codes {
		store := seal.NewMemStore()
		ring, err := seal.NewKeyring(code, epochIDs[code], dir, store)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := ring.Seal("indicator/warm-up", "subject", "REL TO FEDERATION", codes, epoch, []byte(`{}`)); err != nil {
			tb.Fatal(err)
		}
		ks, err := store.ListKeys()
		if err != nil || len(ks) != 1 {
			tb.Fatalf("%s's keyring holds %d keys (%v), want 1", code, len(ks), err)
		}
		rings[code], keys[code] = ring, ks[0]
	}
	fed.keyCarriers = len(codes)
	kinds := []string{"destination", "end-user", "item", "route", "diversion", "failed-end-use-check", "supply-chain"}
	validUntil := now.Add(365 * 24 * time.Hour).Unix()
	indicator := func(i int) ([]byte, error) {
		origin := codes[i%len(codes)]
		var seed [8]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		sum := sha256.Sum256(seed[:])
		id := origin + "-I-" + catchUpIDs.EncodeToString(sum[:10])
		entry := "indicator/" + id
		subject := fmt.Sprintf(`{"type":"organisation","name":"Forwarding Agent %07d LLC","countries":["ARE","IRN"]}`, i)
		evidence := fmt.Sprintf(`"Consignment %07d of CNC machine tools (2B001) declared for a civil end user was re-exported within 14 days through a freight forwarder that shares its address and directors with an entity listed for procurement on behalf of a missile programme. Shipping documents, the end-user certificate and the forwarder's registration records were compared by the licensing authority; the declared end user denied having ordered the goods when contacted. Two further consignments from other suppliers followed the same route in the same quarter, each split below the reporting threshold."`, i)
		key := subjectKeyFor(keys[origin], i, entry)
		sealed := func(field, value string) (command.Field, error) {
			s, err := rings[origin].Seal(entry, field, "REL TO FEDERATION", codes, epoch, []byte(value))
			if err != nil {
				return command.Field{}, err
			}
			s.Key = key.ID
			return command.Field{Marking: "REL TO FEDERATION", Sealed: &s}, nil
		}
		p := &command.Indicator{ID: id, Kind: kinds[i%len(kinds)], Severity: 1 + i%5, ValidUntil: validUntil}
		var err error
		if p.Subject, err = sealed("subject", subject); err != nil {
			return nil, err
		}
		if p.Evidence, err = sealed("evidence", evidence); err != nil {
			return nil, err
		}
		p.Keys = []seal.WrappedKey{key}
		c, err := command.New(origin, p)
		if err != nil {
			return nil, err
		}
		if err := c.Sign(signers[origin]); err != nil {
			return nil, err
		}
		return c.Marshal()
	}
	total := fed.keyCarriers + n
	fed.commands = make([][]byte, total)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += workers {
				if fed.commands[i], errs[w] = indicator(i); errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return fed
}

// subjectKeyFor gives subject i its own subject key, as nodes do. Wrapping a fresh data
// key with age for each of a million subjects would dominate the set-up, and apply never
// opens keys, so the template's wrapped bytes are reused under a distinct id: the key is
// as large as a real one.
func subjectKeyFor(tmpl seal.WrappedKey, i int, subject string) seal.WrappedKey {
	w := tmpl
	var seed [9]byte
	seed[0] = 'k'
	binary.BigEndian.PutUint64(seed[1:], uint64(i))
	sum := sha256.Sum256(seed[:])
	w.ID = "k1" + base64.RawURLEncoding.EncodeToString(sum[:16])
	w.Subject = subject
	w.Epochs = make([]uint64, len(w.Recipients))
	for j := range w.Epochs {
		w.Epochs[j] = w.Epoch
	}
	return w
}
