package webhooks_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/webhooks"
)

const restartEvents = 20

// blockingThenOK is a receiver that, while blocking is set, accepts a request (it is
// recorded: the receiver has "processed" it) and then never answers, as if its
// acknowledgement were lost. Afterwards it answers 200 at once.
func blockingThenOK(blocking *atomic.Bool) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if blocking.Load() {
			<-r.Context().Done()
		}
	}
}

// checkExactlyOnce checks what a receiver that dedupes by delivery id ends up with:
// each expected delivery once, nothing else, and every copy of a delivery
// byte-identical (same id, same signed body).
func checkExactlyOnce(t *testing.T, rc *receiver, hookID string, duplicatesExpected []string) {
	t.Helper()
	want := map[string]bool{}
	for i := range restartEvents {
		want[webhooks.DeliveryID(hookID, fmt.Sprintf("alert-%02d", i))] = true
	}
	bodies := map[string][]byte{}
	for _, r := range rc.got() {
		if !want[r.id] {
			t.Fatalf("unexpected delivery id %s", r.id)
		}
		if b, ok := bodies[r.id]; ok && !bytes.Equal(b, r.body) {
			t.Fatalf("delivery %s arrived with two different bodies", r.id)
		}
		bodies[r.id] = r.body
		if got := decodeBody(t, r.body).ID; got != r.id {
			t.Fatalf("header id %s, body id %s", r.id, got)
		}
	}
	if len(bodies) != len(want) {
		t.Fatalf("receiver has %d distinct deliveries, want %d", len(bodies), len(want))
	}
	dedup := rc.dedup()
	for _, id := range duplicatesExpected {
		if dedup[id] < 2 {
			t.Errorf("delivery %s was interrupted but received %d times; the retry should reuse its id", id, dedup[id])
		}
	}
}

// The outbox is closed while the receiver holds requests it has already processed;
// reopened on the same file, it delivers everything, and the interrupted deliveries
// come again under the same ids, so deduplication leaves each exactly once.
func TestRestartMidDelivery(t *testing.T) {
	opts := fastOptions()
	opts.Workers = 8
	opts.PerHookConcurrency = 4
	e := newEnv(t, opts)
	var blocking atomic.Bool
	blocking.Store(true)
	rc := newReceiver(t, blockingThenOK(&blocking))
	h := e.register(rc.srv.URL)
	for i := range restartEvents {
		e.enqueue(fmt.Sprintf("alert-%02d", i), "listing")
	}
	waitFor(t, "receiver holding requests", func() bool { return len(rc.got()) == opts.PerHookConcurrency })
	interrupted := []string{}
	for _, r := range rc.got() {
		interrupted = append(interrupted, r.id)
	}

	if err := e.closeNow(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with attempts in flight: %v, want context.Canceled", err)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.db = openDB(t, e.path)
	// Attempts canceled by Close are not counted. One that timed out on its own before
	// the Close (a loaded machine) is, so an interrupted delivery shows one or two.
	e.open()
	blocking.Store(false)
	ds := e.waitStates(h.ID, webhooks.StateDelivered, restartEvents)
	for _, d := range ds {
		if d.Attempts < 1 || d.Attempts > 2 {
			t.Errorf("%s: %d attempts recorded, want 1 (or 2 if the first timed out before the close)", d.ID, d.Attempts)
		}
	}
	checkExactlyOnce(t, rc, h.ID, interrupted)
}

// The same with the process killed (SIGKILL) mid-delivery instead of closed: a
// child process runs the outbox, the parent owns the receiver, kills the child, and
// reopens the database file.
func TestCrashMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	var blocking atomic.Bool
	blocking.Store(true)
	rc := newReceiver(t, blockingThenOK(&blocking))
	path := t.TempDir() + "/node.db"

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WEBHOOKS_CRASH_CHILD=1", "WEBHOOKS_DB="+path, "WEBHOOKS_URL="+rc.srv.URL)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	hookID := strings.TrimSpace(strings.TrimPrefix(line, "hook "))
	waitFor(t, "receiver holding requests", func() bool { return len(rc.got()) == webhooks.DefaultPerHookConcurrency })
	interrupted := []string{}
	for _, r := range rc.got() {
		interrupted = append(interrupted, r.id)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	blocking.Store(false)
	e := &env{t: t, path: path, opts: fastOptions()}
	e.db = openDB(t, path)
	e.open()
	t.Cleanup(func() {
		if e.ob != nil {
			e.closeNow()
		}
		e.db.Close()
	})
	e.waitStates(hookID, webhooks.StateDelivered, restartEvents)
	checkExactlyOnce(t, rc, hookID, interrupted)
}

func isCrashChild() bool { return os.Getenv("WEBHOOKS_CRASH_CHILD") == "1" }

// crashChild registers a hook, enqueues the events, prints the hook id and delivers
// until it is killed.
func crashChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	db, err := bbolt.Open(os.Getenv("WEBHOOKS_DB"), 0o600, nil)
	if err != nil {
		fail(err)
	}
	ob, err := webhooks.Open(db, fastOptions())
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	h, err := ob.Register(ctx, webhooks.Hook{URL: os.Getenv("WEBHOOKS_URL"), Kinds: []string{"*"}, Secret: testSecret, Owner: "o"})
	if err != nil {
		fail(err)
	}
	for i := range restartEvents {
		if _, err := ob.Enqueue(ctx, webhooks.Event{ID: fmt.Sprintf("alert-%02d", i), Kind: "listing", Payload: []byte(`{}`)}); err != nil {
			fail(err)
		}
	}
	fmt.Println("hook", h.ID)
	time.Sleep(time.Hour) // until killed
	os.Exit(3)
}
