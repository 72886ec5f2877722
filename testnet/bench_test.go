package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
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
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
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
