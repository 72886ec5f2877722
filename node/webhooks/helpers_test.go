package webhooks_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/webhooks"
)

// The node passes its *jws.Signer as is.
var _ webhooks.Signer = (*jws.Signer)(nil)

func TestMain(m *testing.M) {
	if isCrashChild() {
		crashChild() // never returns
	}
	goleak.VerifyTestMain(m)
}

const testSecret = "correct-horse-battery-staple-42"

func testSigner() *jws.Signer {
	return jws.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
}

func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// env is an outbox on a real bbolt file, closed (and checked) at cleanup.
type env struct {
	t    testing.TB
	path string
	db   *bbolt.DB
	ob   *webhooks.Outbox
	opts webhooks.Options
}

// fastOptions retries within milliseconds, so tests with the real clock finish fast.
func fastOptions() webhooks.Options {
	return webhooks.Options{
		Signer:      testSigner(),
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		Timeout:     5 * time.Second,
	}
}

func newEnv(t testing.TB, opts webhooks.Options) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "node.db"), opts: opts}
	e.db = openDB(t, e.path)
	e.open()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // cancel anything still blocked in a receiver
		if e.ob != nil {
			e.ob.Close(ctx)
		}
		if e.db != nil {
			e.db.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	ob, err := webhooks.Open(e.db, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.ob = ob
}

// closeNow closes the outbox, canceling attempts in flight.
func (e *env) closeNow() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.ob.Close(ctx)
	e.ob = nil
	return err
}

func (e *env) register(url string, kinds ...string) webhooks.Hook {
	e.t.Helper()
	if len(kinds) == 0 {
		kinds = []string{"*"}
	}
	h, err := e.ob.Register(context.Background(), webhooks.Hook{URL: url, Kinds: kinds, Secret: testSecret, Owner: "ministry-a"})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) enqueue(id, kind string) int {
	e.t.Helper()
	n, err := e.ob.Enqueue(context.Background(), webhooks.Event{ID: id, Kind: kind, Payload: fmt.Appendf(nil, `{"alert":%q}`, id)})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// all returns every delivery of a hook (they are few in tests).
func (e *env) all(hookID string) []webhooks.Delivery {
	e.t.Helper()
	ds, _, err := e.ob.Deliveries(context.Background(), hookID, "", 500)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// waitFor polls cond until it holds. The deadline is a hang guard, not a timing
// assertion: everything here completes in milliseconds when it works.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitStates(hookID string, want webhooks.State, n int) []webhooks.Delivery {
	e.t.Helper()
	var ds []webhooks.Delivery
	waitFor(e.t, fmt.Sprintf("%d deliveries %s", n, want), func() bool {
		ds = e.all(hookID)
		c := 0
		for _, d := range ds {
			if d.State == want {
				c++
			}
		}
		return c == n
	})
	return ds
}

// receipt is one request as a receiver saw it.
type receipt struct {
	id     string
	body   []byte
	header http.Header
}

// receiver is an httptest server that records every request and answers with
// respond (200 when nil).
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	receipts []receipt
	respond  func(w http.ResponseWriter, r *http.Request, n int) // n: 1-based request count
}

func newReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		rc.receipts = append(rc.receipts, receipt{id: r.Header.Get("X-Entente-Delivery"), body: body, header: r.Header.Clone()})
		n, respond := len(rc.receipts), rc.respond
		rc.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []receipt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receipt(nil), rc.receipts...)
}

// dedup is what a correct receiver keeps: each delivery id once.
func (rc *receiver) dedup() map[string]int {
	m := map[string]int{}
	for _, r := range rc.got() {
		m[r.id]++
	}
	return m
}

// fakeClock moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}
