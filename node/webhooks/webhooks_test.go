package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/webhooks"
)

type body struct {
	ID       string          `json:"id"`
	Hook     string          `json:"hook"`
	Event    string          `json:"event"`
	Kind     string          `json:"kind"`
	Enqueued time.Time       `json:"enqueued"`
	Payload  json.RawMessage `json:"payload"`
}

func decodeBody(t *testing.T, raw []byte) body {
	t.Helper()
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	return b
}

func TestSignatureVerifies(t *testing.T) {
	signer := testSigner()
	ks := jws.NewKeySet()
	ks.Add(signer.Public())
	opts := fastOptions()
	opts.Signer = signer
	e := newEnv(t, opts)
	rc := newReceiver(t, nil)
	h := e.register(rc.srv.URL+"/hook?x=1", "listing")
	if n := e.enqueue("alert-1", "listing"); n != 1 {
		t.Fatalf("Enqueue created %d deliveries, want 1", n)
	}
	e.waitStates(h.ID, webhooks.StateDelivered, 1)

	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	kid, err := jws.VerifyDetached(ks, r.body, r.header.Get("X-JWS-Signature"))
	if err != nil {
		t.Fatalf("X-JWS-Signature does not verify: %v", err)
	}
	if kid != signer.KID() {
		t.Fatalf("kid %s, want %s", kid, signer.KID())
	}
	tampered := bytes.Replace(r.body, []byte("alert-1"), []byte("alert-2"), 1)
	if _, err := jws.VerifyDetached(ks, tampered, r.header.Get("X-JWS-Signature")); !errors.Is(err, jws.ErrSignature) {
		t.Fatalf("tampered body: %v, want ErrSignature", err)
	}

	// HMAC: t=<unix>,v1=<hex>.
	var ts, v1 string
	for part := range strings.SplitSeq(r.header.Get("X-Entente-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	if ts == "" || v1 != webhooks.HMAC([]byte(testSecret), ts, r.body) {
		t.Fatalf("X-Entente-Signature %q does not verify", r.header.Get("X-Entente-Signature"))
	}

	b := decodeBody(t, r.body)
	wantID := webhooks.DeliveryID(h.ID, "alert-1")
	if b.ID != wantID || r.id != wantID || b.Hook != h.ID || b.Event != "alert-1" || b.Kind != "listing" {
		t.Fatalf("body %+v / header id %s, want id %s", b, r.id, wantID)
	}
	if string(b.Payload) != `{"alert":"alert-1"}` {
		t.Fatalf("payload %s", b.Payload)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "X-Entente-Event": "alert-1", "X-Entente-Kind": "listing",
		"X-Entente-Hook": h.ID, "X-Entente-Attempt": "1",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestRetriesThenSuccess(t *testing.T) {
	e := newEnv(t, fastOptions())
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 3 {
			http.Error(w, "not yet", http.StatusInternalServerError)
		}
	})
	h := e.register(rc.srv.URL)
	e.enqueue("e1", "listing")
	ds := e.waitStates(h.ID, webhooks.StateDelivered, 1)
	d := ds[0]
	if d.Attempts != 4 || len(d.History) != 4 {
		t.Fatalf("attempts %d, history %d, want 4", d.Attempts, len(d.History))
	}
	for i, a := range d.History {
		want := 500
		if i == 3 {
			want = 200
		}
		if a.StatusCode != want || (want == 500) != (a.Error != "") {
			t.Fatalf("attempt %d: %+v, want status %d", i+1, a, want)
		}
	}
	if !strings.Contains(d.History[0].Response, "not yet") {
		t.Fatalf("response snippet %q", d.History[0].Response)
	}
	got := rc.got()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	for i, r := range got {
		if r.id != d.ID || !bytes.Equal(r.body, got[0].body) {
			t.Fatalf("attempt %d: id %s, or body differs from the first attempt's", i+1, r.id)
		}
		if r.header.Get("X-Entente-Attempt") != fmt.Sprint(i+1) {
			t.Fatalf("attempt %d has X-Entente-Attempt %s", i+1, r.header.Get("X-Entente-Attempt"))
		}
	}
}

// With a fake clock the schedule is checked exactly: every retry is due within the
// full-jitter window, and nothing is attempted before the clock gets there.
func TestDeadLetterAndReplay(t *testing.T) {
	clock := newFakeClock()
	opts := fastOptions()
	opts.Clock = clock
	opts.BackoffBase = time.Second
	opts.BackoffMax = 4 * time.Second
	opts.MaxAttempts = 4
	e := newEnv(t, opts)
	var ok sync.Mutex
	failing := true
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		ok.Lock()
		defer ok.Unlock()
		if failing {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	h := e.register(rc.srv.URL)
	e.enqueue("e1", "listing")
	id := webhooks.DeliveryID(h.ID, "e1")
	ctx := context.Background()

	for n := 1; n <= opts.MaxAttempts; n++ {
		var d webhooks.Delivery
		waitFor(t, fmt.Sprintf("attempt %d", n), func() bool {
			var err error
			d, err = e.ob.Delivery(ctx, id)
			return err == nil && d.Attempts == n
		})
		if n == opts.MaxAttempts {
			if d.State != webhooks.StateDead {
				t.Fatalf("after %d attempts: state %s, want dead", n, d.State)
			}
			break
		}
		if d.State != webhooks.StatePending {
			t.Fatalf("after attempt %d: state %s", n, d.State)
		}
		ceil := min(opts.BackoffMax, opts.BackoffBase<<(n-1))
		delay := d.NextAttempt.Sub(clock.Now())
		if delay < 0 || delay > ceil {
			t.Fatalf("after attempt %d: next attempt in %s, want within [0, %s]", n, delay, ceil)
		}
		if len(rc.got()) != n {
			t.Fatalf("%d requests after %d attempts", len(rc.got()), n)
		}
		clock.Advance(ceil)
	}

	dead, _, err := e.ob.DeadLetters(ctx, h.ID, "", 10)
	if err != nil || len(dead) != 1 || dead[0].ID != id {
		t.Fatalf("DeadLetters = %v, %v", dead, err)
	}
	// Dead means dead: time passing brings no more attempts.
	clock.Advance(time.Hour)
	if err := e.ob.Replay(ctx, webhooks.DeliveryID(h.ID, "nope")); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Replay unknown: %v", err)
	}

	ok.Lock()
	failing = false
	ok.Unlock()
	if err := e.ob.Replay(ctx, id); err != nil {
		t.Fatal(err)
	}
	ds := e.waitStates(h.ID, webhooks.StateDelivered, 1)
	if ds[0].Attempts != opts.MaxAttempts+1 {
		t.Fatalf("attempts %d after replay", ds[0].Attempts)
	}
	if err := e.ob.Replay(ctx, id); !errors.Is(err, webhooks.ErrNotDead) {
		t.Fatalf("Replay delivered: %v, want ErrNotDead", err)
	}
	if dead, _, _ := e.ob.DeadLetters(ctx, h.ID, "", 10); len(dead) != 0 {
		t.Fatalf("still dead-lettered: %v", dead)
	}
	got := rc.got()
	if len(got) != opts.MaxAttempts+1 {
		t.Fatalf("%d requests, want %d", len(got), opts.MaxAttempts+1)
	}
	for _, r := range got {
		if r.id != id {
			t.Fatalf("request with id %s, want %s throughout", r.id, id)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	clock := newFakeClock()
	opts := fastOptions()
	opts.Clock = clock
	opts.BackoffBase = time.Second
	opts.BackoffMax = time.Hour
	e := newEnv(t, opts)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h := e.register(rc.srv.URL)
	e.enqueue("e1", "listing")
	var d webhooks.Delivery
	waitFor(t, "first attempt", func() bool {
		d, _ = e.ob.Delivery(context.Background(), webhooks.DeliveryID(h.ID, "e1"))
		return d.Attempts == 1
	})
	if got := d.NextAttempt.Sub(clock.Now()); got < 120*time.Second {
		t.Fatalf("next attempt in %s despite Retry-After: 120", got)
	}
}

func TestIdempotentEnqueue(t *testing.T) {
	e := newEnv(t, fastOptions())
	rc := newReceiver(t, nil)
	h := e.register(rc.srv.URL)
	if n := e.enqueue("e1", "listing"); n != 1 {
		t.Fatalf("first enqueue: %d", n)
	}
	if n := e.enqueue("e1", "listing"); n != 0 {
		t.Fatalf("second enqueue while pending: %d", n)
	}
	e.waitStates(h.ID, webhooks.StateDelivered, 1)
	if n := e.enqueue("e1", "listing"); n != 0 {
		t.Fatalf("enqueue after delivery: %d", n)
	}
	// EnqueueTx in the caller's transaction: a rolled-back transaction enqueues nothing.
	errRollback := errors.New("rollback")
	err := e.db.Update(func(tx *bbolt.Tx) error {
		if n, err := e.ob.EnqueueTx(tx, webhooks.Event{ID: "e2", Kind: "listing", Payload: []byte(`{}`)}); err != nil || n != 1 {
			t.Errorf("EnqueueTx = %d, %v", n, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx *bbolt.Tx) error {
		_, err := e.ob.EnqueueTx(tx, webhooks.Event{ID: "e3", Kind: "listing", Payload: []byte(`{}`)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ds := e.waitStates(h.ID, webhooks.StateDelivered, 2)
	if len(ds) != 2 || ds[0].EventID != "e3" || ds[1].EventID != "e1" {
		t.Fatalf("deliveries %+v, want e3 then e1", ds)
	}
	if m := rc.dedup(); len(m) != 2 || len(rc.got()) != 2 {
		t.Fatalf("receiver got %v", m)
	}
}

func TestKindsFilter(t *testing.T) {
	e := newEnv(t, fastOptions())
	rc := newReceiver(t, nil)
	listing := e.register(rc.srv.URL+"/a", "listing")
	all := e.register(rc.srv.URL+"/b", "*")
	two := e.register(rc.srv.URL+"/c", "objection", "appeal", "appeal")
	if strings.Join(two.Kinds, ",") != "appeal,objection" {
		t.Fatalf("kinds normalised to %v", two.Kinds)
	}
	want := map[string]int{"listing": 2, "appeal": 2, "indicator": 1, "review_due": 1}
	for kind, n := range want {
		if got := e.enqueue("ev-"+kind, kind); got != n {
			t.Errorf("%s: %d deliveries, want %d", kind, got, n)
		}
	}
	e.waitStates(all.ID, webhooks.StateDelivered, 4)
	e.waitStates(listing.ID, webhooks.StateDelivered, 1)
	e.waitStates(two.ID, webhooks.StateDelivered, 1)
	byHook := map[string][]string{}
	for _, r := range rc.got() {
		b := decodeBody(t, r.body)
		byHook[b.Hook] = append(byHook[b.Hook], b.Kind)
	}
	if k := byHook[listing.ID]; len(k) != 1 || k[0] != "listing" {
		t.Errorf("listing hook got %v", k)
	}
	if k := byHook[two.ID]; len(k) != 1 || k[0] != "appeal" {
		t.Errorf("objection/appeal hook got %v", k)
	}
	if k := byHook[all.ID]; len(k) != 4 {
		t.Errorf("* hook got %v", k)
	}
}

// A receiver that never answers holds PerHookConcurrency workers and nothing else:
// another hook's deliveries all complete meanwhile.
func TestSlowReceiverDoesNotHoldBackOthers(t *testing.T) {
	opts := fastOptions()
	opts.Workers = 4
	opts.PerHookConcurrency = 2
	opts.Timeout = time.Minute
	e := newEnv(t, opts)
	release := make(chan struct{})
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	fast := newReceiver(t, nil)
	// Registered first, so it is first in the dispatcher's order too.
	slowHook := e.register(slow.srv.URL)
	fastHook := e.register(fast.srv.URL)
	const n = 60
	for i := range n {
		e.enqueue(fmt.Sprintf("e%03d", i), "listing")
	}
	e.waitStates(fastHook.ID, webhooks.StateDelivered, n)
	if got := len(slow.got()); got > opts.PerHookConcurrency {
		t.Fatalf("slow receiver has %d requests, limit %d", got, opts.PerHookConcurrency)
	}
	for _, d := range e.all(slowHook.ID) {
		if d.State != webhooks.StatePending {
			t.Fatalf("slow hook delivery %s is %s", d.ID, d.State)
		}
	}
}

func TestBadURLsRefused(t *testing.T) {
	opts := fastOptions()
	opts.URLPolicy = func(u *url.URL) error {
		if u.Hostname() == "169.254.169.254" {
			return errors.New("link-local")
		}
		return nil
	}
	e := newEnv(t, opts)
	ctx := context.Background()
	for _, u := range []string{
		"", "ftp://example.org/x", "file:///etc/passwd", "javascript:alert(1)", "/relative",
		"http://", "https://user:pw@example.org/", "https://token@example.org/",
		"https://example.org/#frag", "mailto:a@example.org", "http://169.254.169.254/latest",
		"https://example.org/" + strings.Repeat("a", 3000), "http://exa mple.org/", "http:example.org",
	} {
		_, err := e.ob.Register(ctx, webhooks.Hook{URL: u, Kinds: []string{"*"}, Secret: testSecret, Owner: "o"})
		if !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("Register(%.60q) = %v, want ErrInvalid", u, err)
		}
	}
	good := "https://example.org/hook?token=abc"
	for name, h := range map[string]webhooks.Hook{
		"no kinds":     {URL: good, Secret: testSecret, Owner: "o"},
		"bad kind":     {URL: good, Kinds: []string{"Listing"}, Secret: testSecret, Owner: "o"},
		"short secret": {URL: good, Kinds: []string{"*"}, Secret: "short", Owner: "o"},
		"no owner":     {URL: good, Kinds: []string{"*"}, Secret: testSecret},
		"id given":     {ID: "wh_x", URL: good, Kinds: []string{"*"}, Secret: testSecret, Owner: "o"},
	} {
		if _, err := e.ob.Register(ctx, h); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := e.ob.Register(ctx, webhooks.Hook{URL: good, Kinds: []string{"*"}, Secret: testSecret, Owner: "o"}); err != nil {
		t.Fatalf("good hook refused: %v", err)
	}
	if hs, _ := e.ob.List(ctx, "o"); len(hs) != 1 {
		t.Fatalf("List after refusals: %d hooks", len(hs))
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	opts := fastOptions()
	opts.MaxAttempts = 1
	e := newEnv(t, opts)
	target := newReceiver(t, nil)
	redirector := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, target.srv.URL, http.StatusTemporaryRedirect)
	})
	h := e.register(redirector.srv.URL)
	e.enqueue("e1", "listing")
	ds := e.waitStates(h.ID, webhooks.StateDead, 1)
	if ds[0].History[0].StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("attempt %+v", ds[0].History[0])
	}
	if n := len(target.got()); n != 0 {
		t.Fatalf("redirect target received %d requests", n)
	}
}

func TestEventLimits(t *testing.T) {
	opts := fastOptions()
	opts.MaxPayloadBytes = 1024
	e := newEnv(t, opts)
	ctx := context.Background()
	big := []byte(`{"x":"` + strings.Repeat("a", 2000) + `"}`)
	if _, err := e.ob.Enqueue(ctx, webhooks.Event{ID: "e1", Kind: "listing", Payload: big}); !errors.Is(err, webhooks.ErrTooLarge) {
		t.Fatalf("oversized payload: %v, want ErrTooLarge", err)
	}
	for name, ev := range map[string]webhooks.Event{
		"not json":     {ID: "e1", Kind: "listing", Payload: []byte("{")},
		"empty":        {ID: "e1", Kind: "listing"},
		"no id":        {Kind: "listing", Payload: []byte(`{}`)},
		"id with CRLF": {ID: "e1\r\nX-Evil: 1", Kind: "listing", Payload: []byte(`{}`)},
		"long id":      {ID: strings.Repeat("a", 300), Kind: "listing", Payload: []byte(`{}`)},
		"kind *":       {ID: "e1", Kind: "*", Payload: []byte(`{}`)},
	} {
		if _, err := e.ob.Enqueue(ctx, ev); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := e.ob.Enqueue(ctx, webhooks.Event{ID: "e1", Kind: "listing", Payload: big[:1000:1000]}); !errors.Is(err, webhooks.ErrInvalid) {
		t.Fatalf("truncated JSON accepted: %v", err)
	}
}

func TestHookLimit(t *testing.T) {
	opts := fastOptions()
	opts.MaxHooks = 2
	e := newEnv(t, opts)
	e.register("https://example.org/1")
	e.register("https://example.org/2")
	_, err := e.ob.Register(context.Background(), webhooks.Hook{URL: "https://example.org/3", Kinds: []string{"*"}, Secret: testSecret, Owner: "o"})
	if !errors.Is(err, webhooks.ErrLimit) {
		t.Fatalf("third hook: %v, want ErrLimit", err)
	}
}

// syncBuffer is a log sink safe for the outbox's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecretsNeverLeak(t *testing.T) {
	const secret = "s3cr3t-THAT-MUST-NOT-LEAK-0123456789"
	const token = "query-token-9876543210"
	var logs syncBuffer
	opts := fastOptions()
	opts.MaxAttempts = 2
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, opts)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ctx := context.Background()
	in := webhooks.Hook{URL: rc.srv.URL + "/?token=" + token, Kinds: []string{"*"}, Secret: secret, Owner: "o"}
	failIn := in
	failIn.URL += "&fail=1"
	h, err := e.ob.Register(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := e.ob.Register(ctx, failIn)
	if err != nil {
		t.Fatal(err)
	}
	// A hook whose host does not exist produces transport errors, which name the URL.
	nh, err := e.ob.Register(ctx, webhooks.Hook{URL: "http://127.0.0.1:1/?token=" + token, Kinds: []string{"*"}, Secret: secret, Owner: "o"})
	if err != nil {
		t.Fatal(err)
	}
	e.enqueue("e1", "listing")
	e.waitStates(h.ID, webhooks.StateDelivered, 1)
	e.waitStates(fh.ID, webhooks.StateDead, 1)
	e.waitStates(nh.ID, webhooks.StateDead, 1)

	got, _ := e.ob.Get(ctx, h.ID)
	list, _ := e.ob.List(ctx, "o")
	ds, _, _ := e.ob.Deliveries(ctx, nh.ID, "", 10)
	if err := e.ob.Delete(ctx, fh.ID); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"registered": h, "get": got, "list": list, "deliveries": ds, "input": in})
	outboxLogs := logs.String()
	if strings.Contains(outboxLogs, token) {
		t.Errorf("URL query token in logs: %s", outboxLogs)
	}
	printed := fmt.Sprintf("%v %+v %#v %s", in, in, in, in.Secret)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("as a careless caller would", "hook", in, "secret", in.Secret)
	for name, s := range map[string]string{"json": string(out), "fmt": printed, "logs": logs.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("secret in %s output: %s", name, s)
		}
	}
	if strings.Contains(fmt.Sprint(ds), token) {
		t.Errorf("URL query token in delivery history: %v", ds)
	}
	if !strings.Contains(logs.String(), "dead-lettered") {
		t.Errorf("logs do not mention the dead letter: %s", logs.String())
	}
	if h.Secret != "" || got.Secret != "" || list[0].Secret != "" {
		t.Error("a returned Hook carries its secret")
	}
}

func TestDeliveriesPaging(t *testing.T) {
	e := newEnv(t, fastOptions())
	rc := newReceiver(t, nil)
	h := e.register(rc.srv.URL)
	const n = 7
	for i := range n {
		e.enqueue(fmt.Sprintf("e%d", i), "listing")
	}
	e.waitStates(h.ID, webhooks.StateDelivered, n)
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		ds, next, err := e.ob.Deliveries(context.Background(), h.ID, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			seen = append(seen, d.EventID)
		}
		if next == "" {
			break
		}
		if page > n {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if strings.Join(seen, ",") != "e6,e5,e4,e3,e2,e1,e0" {
		t.Fatalf("pages gave %v, want newest first, each once", seen)
	}
	if _, _, err := e.ob.Deliveries(context.Background(), h.ID, "x", 3); !errors.Is(err, webhooks.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, _, err := e.ob.Deliveries(context.Background(), "wh_nope\x00", "", 3); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("unknown hook: %v", err)
	}
}

func TestDeleteHook(t *testing.T) {
	e := newEnv(t, fastOptions())
	ctx := context.Background()
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := e.register(rc.srv.URL)
	other := e.register(rc.srv.URL + "/other")
	for i := range 20 {
		e.enqueue(fmt.Sprintf("e%d", i), "listing")
	}
	waitFor(t, "requests in flight", func() bool { return len(rc.got()) >= 2 })
	if err := e.ob.Delete(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ob.Get(ctx, h.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Get deleted: %v", err)
	}
	if err := e.ob.Delete(ctx, h.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	close(release)
	e.waitStates(other.ID, webhooks.StateDelivered, 20)
	// The deleted hook's records go in the background; other's stay.
	waitFor(t, "deleted hook's deliveries removed", func() bool {
		n := 0
		e.db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("webhook_deliveries")).ForEach(func(k, v []byte) error {
				if strings.Contains(string(v), h.ID) {
					n++
				}
				return nil
			})
		})
		return n == 0
	})
	for _, r := range rc.got() {
		if r.header.Get("X-Entente-Hook") == h.ID && r.header.Get("X-Entente-Attempt") != "1" {
			t.Fatalf("deleted hook retried: %v", r.header)
		}
	}
}

// After Retention, history and the event record are gone: enqueuing the same event
// again delivers again, under the same id (as documented).
func TestRetention(t *testing.T) {
	clock := newFakeClock()
	opts := fastOptions()
	opts.Clock = clock
	opts.Retention = time.Hour
	e := newEnv(t, opts)
	rc := newReceiver(t, nil)
	h := e.register(rc.srv.URL)
	e.enqueue("e1", "listing")
	e.waitStates(h.ID, webhooks.StateDelivered, 1)
	clock.Advance(2 * time.Hour)
	// Keep time moving, whenever the pruner started waiting for it.
	waitFor(t, "history pruned", func() bool { clock.Advance(time.Minute); return len(e.all(h.ID)) == 0 })
	waitFor(t, "event forgotten", func() bool {
		var gone bool
		e.db.View(func(tx *bbolt.Tx) error {
			gone = tx.Bucket([]byte("webhook_events")).Get([]byte("e1")) == nil
			return nil
		})
		return gone
	})
	if n := e.enqueue("e1", "listing"); n != 1 {
		t.Fatalf("re-enqueue after retention: %d", n)
	}
	e.waitStates(h.ID, webhooks.StateDelivered, 1)
	if m := rc.dedup(); len(m) != 1 || m[webhooks.DeliveryID(h.ID, "e1")] != 2 {
		t.Fatalf("receiver saw %v", m)
	}
}

func TestOpenTwiceRefused(t *testing.T) {
	e := newEnv(t, fastOptions())
	if _, err := webhooks.Open(e.db, fastOptions()); !errors.Is(err, webhooks.ErrInUse) {
		t.Fatalf("second Open: %v", err)
	}
	if err := e.closeNow(); err != nil {
		t.Fatal(err)
	}
	e.open()
}

func TestOptionsChecked(t *testing.T) {
	db := openDB(t, t.TempDir()+"/x.db")
	defer db.Close()
	for name, o := range map[string]webhooks.Options{
		"no signer":    {},
		"workers":      {Signer: testSigner(), Workers: -1},
		"backoff":      {Signer: testSigner(), BackoffBase: time.Hour, BackoffMax: time.Second},
		"max attempts": {Signer: testSigner(), MaxAttempts: 1000},
	} {
		if _, err := webhooks.Open(db, o); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOwnerScoping(t *testing.T) {
	e := newEnv(t, fastOptions())
	ctx := context.Background()
	a := e.register("https://example.org/a")
	if _, err := e.ob.Register(ctx, webhooks.Hook{URL: "https://example.org/b", Kinds: []string{"*"}, Secret: testSecret, Owner: "customs"}); err != nil {
		t.Fatal(err)
	}
	hs, err := e.ob.List(ctx, "ministry-a")
	if err != nil || len(hs) != 1 || hs[0].ID != a.ID {
		t.Fatalf("List(ministry-a) = %v, %v", hs, err)
	}
	if hs, _ := e.ob.List(ctx, "nobody"); len(hs) != 0 {
		t.Fatalf("List(nobody) = %v", hs)
	}
}

// Without failures, every delivery is attempted exactly once, however the dispatcher's
// snapshots and the recorder's commits interleave.
func TestNoSecondAttemptOfADelivered(t *testing.T) {
	e := newEnv(t, fastOptions())
	rc := newReceiver(t, nil)
	h1, h2 := e.register(rc.srv.URL+"/1"), e.register(rc.srv.URL+"/2")
	const n = 400
	for start := 0; start < n; start += 100 {
		if err := e.db.Update(func(tx *bbolt.Tx) error {
			for i := start; i < start+100; i++ {
				if _, err := e.ob.EnqueueTx(tx, webhooks.Event{ID: fmt.Sprint(i), Kind: "listing", Payload: []byte(`{}`)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all requests", func() bool { return len(rc.got()) >= 2*n })
	e.waitStates(h1.ID, webhooks.StateDelivered, n)
	e.waitStates(h2.ID, webhooks.StateDelivered, n)
	if got := len(rc.got()); got != 2*n {
		t.Fatalf("%d requests for %d deliveries", got, 2*n)
	}
}

// Several receivers hanging at once, before any has timed out, still leave a worker for
// a hook with nothing in flight: two hanging hooks with 2 requests each would fill all
// 4 workers if only the per-hook limit applied.
func TestHangingReceiversLeaveRoom(t *testing.T) {
	opts := fastOptions()
	opts.Workers = 4
	opts.PerHookConcurrency = 2
	opts.Timeout = time.Minute
	e := newEnv(t, opts)
	release := make(chan struct{})
	defer close(release)
	hang := func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	slow1, slow2 := newReceiver(t, hang), newReceiver(t, hang)
	e.register(slow1.srv.URL)
	e.register(slow2.srv.URL)
	const n = 20
	for i := range n {
		e.enqueue(fmt.Sprintf("e%03d", i), "listing")
	}
	waitFor(t, "both slow receivers busy", func() bool { return len(slow1.got()) > 0 && len(slow2.got()) > 0 })
	fast := newReceiver(t, nil)
	fastHook := e.register(fast.srv.URL)
	for i := range n {
		e.enqueue(fmt.Sprintf("f%03d", i), "listing")
	}
	e.waitStates(fastHook.ID, webhooks.StateDelivered, n)
	if a, b := len(slow1.got()), len(slow2.got()); a+b > 3 {
		t.Fatalf("hanging receivers hold %d+%d requests, want at most 3 of 4 workers", a, b)
	}
}
