package node_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entente/entente/node/config"
)

// latencies collects per-request latencies from parallel benchmark goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration, unit string) {
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	if len(l.d) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), unit)
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// TestMain applies the GC target that entente serve applies, so the in-process
// benchmarks run the node as it runs in production, and checks that no test leaves a
// goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(config.New().GCPercent)
	}
	goleak.VerifyTestMain(m)
}

// clients is how many concurrent HTTPS clients the end-to-end benchmarks run.
const clients = 32

// BenchmarkRecordCreateHTTPS is POST /v1/records with ten fields, end to end: TLS, token
// check, strict decoding and validation, sealing every field, the bbolt write with its
// audit entry (group-committed, fsynced), and the signed response; 32 concurrent clients.
func BenchmarkRecordCreateHTTPS(b *testing.B) {
	tn := startNode(b, nil)
	tok := tn.token(b, "officer")
	// The request bodies are built before the clock starts: encoding them is the
	// integrator's work, not the node's.
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = mustJSON(b, tenFieldLicence(fmt.Sprintf("B-%d", i)))
	}
	var next atomic.Int64
	var lat latencies
	b.SetParallelism(clients / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := tn.loadClient(b, tok)
		var mine []time.Duration
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			t0 := time.Now()
			if _, err := c.Do(context.Background(), "POST", "/v1/records", body, nil); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		lat.add(mine)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed, "records/s")
}

// BenchmarkRecordGetHTTPS is a signed GET of one ten-field record (every field opened),
// with 32 concurrent clients. jws-share is the part of the machine's CPU time per response
// spent signing it (measured on the same body in the same run).
func BenchmarkRecordGetHTTPS(b *testing.B) {
	tn := startNode(b, nil)
	tok := tn.token(b, "officer")
	c0 := tn.client(b, tok)
	if _, err := c0.Do(context.Background(), "POST", "/v1/records", mustJSON(b, tenFieldLicence("GET-1")), nil); err != nil {
		b.Fatal(err)
	}
	resp, err := c0.Do(context.Background(), "GET", "/v1/records/GET-1", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var lat latencies
	b.SetParallelism(clients / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := tn.loadClient(b, tok)
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := c.Do(context.Background(), "GET", "/v1/records/GET-1", nil, nil); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		lat.add(mine)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed, "responses/s")

	// The signing cost of this very body, alone.
	signer := tn.n.Signer()
	const n = 2000
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := signer.Detached(resp.Body); err != nil {
			b.Fatal(err)
		}
	}
	signPer := time.Since(t0) / n
	cpuPerResponse := elapsed * time.Duration(runtime.GOMAXPROCS(0)) / time.Duration(b.N)
	b.ReportMetric(float64(signPer.Microseconds()), "jws-µs")
	b.ReportMetric(100*float64(signPer)/float64(cpuPerResponse), "jws-%cpu")
}
