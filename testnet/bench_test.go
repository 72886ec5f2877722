package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/testnet"
)

// BenchmarkFederationCommit proposes signed, sealed risk indicators to a three-node
// federation of real processes (raft over mutual TLS, bbolt with fsync) from 32
// concurrent clients spread over the three nodes, so two thirds of the writes are
// forwarded by a follower to the leader. Each operation returns only once the command is
// committed and applied on the leader. Reports committed commands/s, p50 and p99.
func BenchmarkFederationCommit(b *testing.B) {
	ctx := context.Background()
	pol := testnet.DemoPolicy()
	pprofPort, _ := strconv.Atoi(os.Getenv("ENTENTE_BENCH_PPROF_PORT")) // profile the nodes under load
	net, err := testnet.Up(ctx, testnet.Options{Dir: b.TempDir(), Nodes: 3, FreePorts: true, Policy: &pol, Heartbeat: time.Second, PprofPort: pprofPort})
	if err != nil {
		b.Fatal(err)
	}
	defer net.Down(20 * time.Second)
	const clients = 32
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(api.IndicatorRequest{ID: fmt.Sprintf("B-%d", i), Kind: "diversion", Subject: "IRN", Severity: 3,
			Evidence: "consignment of ML10 spares re-routed through a third country, reference " + fmt.Sprint(i), ValidUntil: time.Now().Add(24 * time.Hour).UTC()})
	}
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	cpu0, err := cpuOf(net)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := net.Nodes[w%len(net.Nodes)]
			// A load generator: it pins TLS but leaves signature checks to the tests.
			c, err := client.New(n.URL(), client.Options{Token: net.Tokens[w%len(net.Nodes)]["officer"], TLSPin: n.Card.TLSPin})
			if err != nil {
				b.Error(err)
				return
			}
			defer c.CloseIdle()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := commitRetrying(ctx, c, bodies[i]); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1, err := cpuOf(net)
	if err != nil {
		b.Fatal(err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
	// CPU time per command is what other load on the machine changes least: the three
	// nodes' CPU, and this process's (the 32 HTTPS clients). The machine's cores divided
	// by it is the most this machine could commit if nothing else ran.
	nodeCPU := (cpu1.nodes - cpu0.nodes).Seconds() / float64(b.N)
	allCPU := nodeCPU + (cpu1.self-cpu0.self).Seconds()/float64(b.N)
	b.ReportMetric(nodeCPU*1e6, "node-cpu-µs/op")
	b.ReportMetric(allCPU*1e6, "cpu-µs/op")
	b.ReportMetric(float64(runtime.NumCPU())/allCPU, "cpu-ceiling-commits/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// commitRetrying posts one indicator, retrying while an election is under way (503), as a
// real client would; the wait counts in the latency. A retry of a command that did commit
// the first time is refused as a duplicate (409), which also means it committed.
func commitRetrying(ctx context.Context, c *client.Client, body []byte) error {
	for attempt := 0; ; attempt++ {
		_, err := c.Do(ctx, "POST", "/v1/indicators", body, nil)
		var ae *client.APIError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ae) && ae.Status == 409 && attempt > 0:
			return nil
		case errors.As(err, &ae) && ae.Status == 503 && attempt < 100:
			time.Sleep(50 * time.Millisecond)
		default:
			return err
		}
	}
}

// cpuTimes is CPU time (user and system) used so far by the network's node processes and
// by this process.
type cpuTimes struct{ nodes, self time.Duration }

func cpuOf(net *testnet.Net) (cpuTimes, error) {
	var c cpuTimes
	for _, n := range net.Nodes {
		d, err := processCPU(n.PID())
		if err != nil {
			return c, err
		}
		c.nodes += d
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c, err
	}
	c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return c, nil
}

// processCPU reads utime and stime, in clock ticks, from /proc/PID/stat. Linux's tick is
// 100 Hz for this interface on every architecture Go supports here.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces; fields count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
