package webhooks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/webhooks"
)

// BenchmarkDeliveries measures end-to-end throughput with default options to local
// httptest receivers, on a real bbolt file, until every result is recorded:
//
//   - steady: b.N events are enqueued (500 per transaction, as the node would after a
//     commit) while the outbox delivers them; enqueuing is inside the timing.
//   - backlog: b.N deliveries are already pending when the outbox opens (a node
//     restarting after an outage); only the draining is timed.
func BenchmarkDeliveries(b *testing.B) {
	for _, c := range []struct {
		mode  string
		hooks int
	}{{"steady", 1}, {"steady", 4}, {"backlog", 1}} {
		b.Run(fmt.Sprintf("%s/hooks=%d", c.mode, c.hooks), func(b *testing.B) { benchDeliveries(b, c.mode, c.hooks) })
	}
}

func benchDeliveries(b *testing.B, mode string, hooks int) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: webhooks.DefaultWorkers}}
	defer client.CloseIdleConnections()
	opts := webhooks.Options{Signer: testSigner(), Client: client}
	ob, err := webhooks.Open(db, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range hooks {
		if _, err := ob.Register(ctx, webhooks.Hook{URL: fmt.Sprintf("%s/%d", srv.URL, i), Kinds: []string{"*"}, Secret: testSecret, Owner: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	events := max(b.N/hooks, 1)
	total := int64(events * hooks)
	payload := []byte(`{"state":"FRA","log_index":123456,"kind":"listing","subject":"ACME Trading LLC","fields":{"country":"XX","reason":"diversion"}}`)
	enqueue := func() {
		for start := 0; start < events; start += 500 {
			err := db.Update(func(tx *bbolt.Tx) error {
				for i := start; i < min(start+500, events); i++ {
					if _, err := ob.EnqueueTx(tx, webhooks.Event{ID: fmt.Sprintf("alert-%09d", i), Kind: "listing", Payload: payload}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if mode == "backlog" {
		// The store stays usable after Close: fill it, then time a fresh Open.
		if err := ob.Close(ctx); err != nil {
			b.Fatal(err)
		}
		enqueue()
		b.ResetTimer()
		if ob, err = webhooks.Open(db, opts); err != nil {
			b.Fatal(err)
		}
	} else {
		b.ResetTimer()
		enqueue()
	}
	for received.Load() < total {
		time.Sleep(100 * time.Microsecond)
	}
	// Close waits for the recorder: every result is in bbolt when it returns.
	if err := ob.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
	var due int
	db.View(func(tx *bbolt.Tx) error {
		due = tx.Bucket([]byte("webhook_due")).Stats().KeyN
		return nil
	})
	if due != 0 || received.Load() != total {
		b.Fatalf("%d deliveries still due, %d received of %d", due, received.Load(), total)
	}
}
