package federation

import (
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/entente/entente/federation/raftstore"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) interface{}         { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnap{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnap struct{}

func (nopSnap) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnap) Release()                          {}

// BenchmarkRawRaftApply is the baseline for BenchmarkFederationCommit: three raft nodes
// in one process on loopback TCP, with the same bbolt log store and fsync, applying
// entries of the same size (1.5 KiB, about one signed, sealed indicator) from 32
// goroutines to an FSM that does nothing. The ratio of the two is what Entente's own
// layers cost: HTTPS, tokens, sealing, signing, verification, forwarding and the state.
func BenchmarkRawRaftApply(b *testing.B) {
	var servers []raft.Server
	type rn struct {
		r     *raft.Raft
		store *raftstore.Store
		tr    *raft.NetworkTransport
	}
	var nodes []rn
	var addrs []string
	var lns []net.Listener
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
		servers = append(servers, raft.Server{ID: raft.ServerID(addrs[i]), Address: raft.ServerAddress(addrs[i]), Suffrage: raft.Voter})
	}
	for _, ln := range lns {
		ln.Close()
	}
	for i := 0; i < 3; i++ {
		dir := b.TempDir()
		store, err := raftstore.Open(filepath.Join(dir, "raft.db"), raftstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		tr, err := raft.NewTCPTransportWithLogger(addrs[i], nil, 3, 10*time.Second, hclog.NewNullLogger())
		if err != nil {
			b.Fatal(err)
		}
		snaps, _ := raft.NewFileSnapshotStoreWithLogger(dir, 1, hclog.NewNullLogger())
		c := raft.DefaultConfig()
		c.LocalID = raft.ServerID(addrs[i])
		// The production defaults (1s), as the nodes in BenchmarkFederationCommit use: a
		// saturated 2-core machine must not trade throughput for elections.
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
		c.Logger = hclog.NewNullLogger()
		if err := raft.BootstrapCluster(c, store, store, snaps, tr, raft.Configuration{Servers: servers}); err != nil {
			b.Fatal(err)
		}
		r, err := raft.NewRaft(c, nopFSM{}, store, store, snaps, tr)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, rn{r, store, tr})
	}
	defer func() {
		for _, n := range nodes {
			_ = n.r.Shutdown().Error()
			_ = n.store.Close()
		}
	}()
	var leader *raft.Raft
	deadline := time.Now().Add(10 * time.Second)
	for leader == nil && time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.r.State() == raft.Leader {
				leader = n.r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if leader == nil {
		b.Fatal("no leader")
	}
	entry := make([]byte, 1536)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := leader.Apply(entry, 10*time.Second).Error(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
}
