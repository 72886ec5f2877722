package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
)

// fakeFeed serves GET /v1/alerts and GET /v1/alerts/stream the way a node does, over a
// feed of alerts 1..n, signed by signer. fault, when set, may answer a request instead
// (the n-th request of its kind, counting from 1): it returns true if it did.
type fakeFeed struct {
	t      *testing.T
	signer *jws.Signer
	n      int

	mu       sync.Mutex
	requests []string // "page after=N" or "stream last=N"
	fault    func(kind string, n int, w http.ResponseWriter, r *http.Request) bool
	// tamper, when set, may change a page body or an event's alert bytes after signing.
	tamper func(b []byte) []byte
	// gapAt, when set, leaves this seq out of the feed.
	gapAt uint64
	// streamMax ends a stream response after this many events (0: no end).
	streamMax int
}

func (f *fakeFeed) alert(seq uint64) api.AlertView {
	return api.AlertView{Seq: seq, Source: "local", Kind: "record-match", Subject: "record/R-" + strconv.FormatUint(seq, 10), Origin: "FRA",
		Time: time.Unix(1_700_000_000+int64(seq), 0).UTC()}
}

func (f *fakeFeed) seqsAfter(after uint64, limit int) []api.AlertView {
	var out []api.AlertView
	for s := after + 1; s <= uint64(f.n) && len(out) < limit; s++ {
		if s == f.gapAt {
			continue
		}
		out = append(out, f.alert(s))
	}
	return out
}

func (f *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	kind := "page"
	if strings.HasSuffix(r.URL.Path, "/stream") {
		kind = "stream"
		f.requests = append(f.requests, "stream last="+r.Header.Get("Last-Event-ID"))
	} else {
		f.requests = append(f.requests, "page after="+r.URL.Query().Get("after"))
	}
	count := 0
	for _, q := range f.requests {
		if strings.HasPrefix(q, kind) {
			count++
		}
	}
	fault, tamper, max := f.fault, f.tamper, f.streamMax
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		writeSigned(f.t, w, f.signer, 401, []byte(`{"error":{"status":401,"code":"unauthorized","message":"no bearer token"}}`))
		return
	}
	if fault != nil && fault(kind, count, w, r) {
		return
	}
	if kind == "page" {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		page := api.AlertPage{Alerts: f.seqsAfter(after, limit), Next: after}
		if len(page.Alerts) > 0 {
			page.Next = page.Alerts[len(page.Alerts)-1].Seq
		}
		body, _ := json.Marshal(page)
		sig, err := f.signer.Detached(body)
		if err != nil {
			f.t.Error(err)
			return
		}
		if tamper != nil {
			body = tamper(body)
		}
		w.Header().Set(client.SignatureHeader, sig)
		w.WriteHeader(200)
		_, _ = w.Write(body)
		return
	}
	after, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fmt.Fprint(w, ": entente alert stream\n\n: heartbeat\n\n")
	for i, a := range f.seqsAfter(after, f.n) {
		if max > 0 && i == max {
			return
		}
		body, _ := json.Marshal(a)
		sig, _ := f.signer.Detached(body)
		if tamper != nil {
			body = tamper(body)
		}
		fmt.Fprintf(w, "id: %d\nevent: alert\ndata: {\"alert\":%s,\"signature\":%q}\n\n", a.Seq, body, sig)
		w.(http.Flusher).Flush()
	}
	<-r.Context().Done() // an idle stream stays open until the client goes
}

func (f *fakeFeed) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// fast are options that keep retries quick in tests.
func fast() client.FollowOptions {
	return client.FollowOptions{Limit: 7, Poll: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

// collect follows with follow until n alerts have arrived, then stops it, and returns
// the seqs and follow's error (nil when it stopped because the test had them all).
func collect(t *testing.T, n int, follow func(ctx context.Context, fn func(api.AlertView) error) error) ([]uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []uint64
	done := errors.New("have them all")
	err := follow(ctx, func(a api.AlertView) error {
		got = append(got, a.Seq)
		if len(got) == n {
			return done
		}
		return nil
	})
	if errors.Is(err, done) {
		err = nil
	}
	return got, err
}

func wantSeqs(t *testing.T, got []uint64, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("got %d alerts %v, want %d..%d", len(got), got, from, to)
	}
	for i, s := range got {
		if s != from+uint64(i) {
			t.Fatalf("alert %d is seq %d, want %d (each once, in order): %v", i, s, from+uint64(i), got)
		}
	}
}

// The follower pages through the feed and, after every kind of failure (a dropped
// connection, 503 and 429 with Retry-After, a 500), resumes from the last alert it
// delivered: each alert once, in order.
func TestFollowAlertsResumes(t *testing.T) {
	s := newSigner(t)
	feed := &fakeFeed{t: t, signer: s, n: 40}
	feed.fault = func(kind string, n int, w http.ResponseWriter, _ *http.Request) bool {
		switch n {
		case 2: // the connection drops mid-response
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"alerts":[`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case 3:
			w.Header().Set("Retry-After", "0")
			writeSigned(t, w, s, 503, []byte(`{"error":{"status":503,"code":"overloaded","message":"busy"}}`))
			return true
		case 5:
			writeSigned(t, w, s, 429, []byte(`{"error":{"status":429,"code":"rate_limited","message":"slow down"}}`))
			return true
		case 6:
			writeSigned(t, w, s, 500, []byte(`{"error":{"status":500,"code":"internal","message":"oops"}}`))
			return true
		}
		return false
	}
	srv := startTLS(t, feed)
	c := newClient(t, srv, client.Options{Token: "tok", Keys: keySetOf(s)})
	var retried []error
	opts := fast()
	opts.OnError = func(err error, _ time.Duration) { retried = append(retried, err) }
	got, err := collect(t, 37, func(ctx context.Context, fn func(api.AlertView) error) error {
		return c.FollowAlerts(ctx, 3, opts, fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, got, 4, 40)
	if len(retried) != 4 {
		t.Fatalf("retried after %d failures, want 4: %v", len(retried), retried)
	}
	// Every retry asked again from the last delivered alert.
	log := feed.log()
	if log[0] != "page after=3" || log[1] != "page after=10" || log[2] != "page after=10" || log[3] != "page after=10" {
		t.Fatalf("requests: %v", log)
	}
}

// A caller's refusal ends the follower at once, with the caller's error, and the next
// start from the persisted cursor continues where it stopped.
func TestFollowAlertsCallbackErrorAndRestart(t *testing.T) {
	s := newSigner(t)
	srv := startTLS(t, &fakeFeed{t: t, signer: s, n: 20})
	c := newClient(t, srv, client.Options{Token: "tok", Keys: keySetOf(s)})
	stop := errors.New("disk full")
	var cursor uint64
	err := c.FollowAlerts(t.Context(), 0, fast(), func(a api.AlertView) error {
		if a.Seq == 12 {
			return stop
		}
		cursor = a.Seq
		return nil
	})
	if !errors.Is(err, stop) || cursor != 11 {
		t.Fatalf("err %v at cursor %d, want the callback's error after 11", err, cursor)
	}
	got, err := collect(t, 9, func(ctx context.Context, fn func(api.AlertView) error) error {
		return c.FollowAlerts(ctx, cursor, fast(), fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, got, 12, 20)
}

// Nothing unverified or out of order reaches the callback, and such a failure is not
// retried: a page altered by one byte after signing, a gap, a refusal of the token, and a
// client without pinned keys.
func TestFollowAlertsRefuses(t *testing.T) {
	s := newSigner(t)
	calls := 0
	count := func(api.AlertView) error { calls++; return nil }

	tampered := &fakeFeed{t: t, signer: s, n: 5, tamper: func(b []byte) []byte {
		i := bytes.Index(b, []byte("R-3"))
		b[i+2] = '9' // record/R-3 becomes record/R-9
		return b
	}}
	c := newClient(t, startTLS(t, tampered), client.Options{Token: "tok", Keys: keySetOf(s)})
	if err := c.FollowAlerts(t.Context(), 0, fast(), count); !errors.Is(err, client.ErrUnsigned) || calls != 0 {
		t.Fatalf("tampered page: %v after %d alerts, want ErrUnsigned and none", err, calls)
	}
	if n := len(tampered.log()); n != 1 {
		t.Fatalf("a tampered page was asked for %d times; it must not be retried", n)
	}

	gap := &fakeFeed{t: t, signer: s, n: 5, gapAt: 3}
	c = newClient(t, startTLS(t, gap), client.Options{Token: "tok", Keys: keySetOf(s)})
	if err := c.FollowAlerts(t.Context(), 0, fast(), count); !errors.Is(err, client.ErrFeedOrder) || calls != 0 {
		t.Fatalf("a page with a gap: %v after %d alerts, want ErrFeedOrder and none", err, calls)
	}
	// With a kind filter, seqs may jump.
	got, err := collect(t, 4, func(ctx context.Context, fn func(api.AlertView) error) error {
		o := fast()
		o.Kinds = []string{"record-match"}
		return c.FollowAlerts(ctx, 0, o, fn)
	})
	if err != nil || fmt.Sprint(got) != "[1 2 4 5]" {
		t.Fatalf("filtered: %v %v", got, err)
	}

	c = newClient(t, startTLS(t, &fakeFeed{t: t, signer: s, n: 5}), client.Options{Token: "wrong", Keys: keySetOf(s)})
	var ae *client.APIError
	if err := c.FollowAlerts(t.Context(), 0, fast(), count); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("a refused token: %v, want the 401", err)
	}
	impostor := &fakeFeed{t: t, signer: s, n: 5}
	cert := otherCert(t) // the pinned node's key, which the impostor does not hold
	c = newClient(t, startTLS(t, impostor), client.Options{Token: "tok", Keys: keySetOf(s), TLSPin: client.Pin(startTLSWith(t, impostor, &cert).Certificate())})
	if err := c.FollowAlerts(t.Context(), 0, fast(), count); !errors.Is(err, client.ErrPinMismatch) || len(impostor.log()) != 0 {
		t.Fatalf("a server that is not the pinned node: %v after %d requests, want ErrPinMismatch and none", err, len(impostor.log()))
	}
	c = newClient(t, startTLS(t, &fakeFeed{t: t, signer: s, n: 5}), client.Options{Token: "tok"})
	if err := c.FollowAlerts(t.Context(), 0, fast(), count); !errors.Is(err, client.ErrNoKeys) {
		t.Fatalf("no pinned keys: %v, want ErrNoKeys", err)
	}
	if err := c.StreamAlerts(t.Context(), 0, count); !errors.Is(err, client.ErrNoKeys) {
		t.Fatalf("stream without pinned keys: %v, want ErrNoKeys", err)
	}
	if calls != 0 {
		t.Fatalf("%d alerts delivered from refused data", calls)
	}
}

// MaxFailures bounds the retries.
func TestFollowAlertsMaxFailures(t *testing.T) {
	s := newSigner(t)
	feed := &fakeFeed{t: t, signer: s, n: 5, fault: func(_ string, _ int, w http.ResponseWriter, _ *http.Request) bool {
		writeSigned(t, w, s, 503, []byte(`{"error":{"status":503,"code":"not_ready","message":"starting"}}`))
		return true
	}}
	c := newClient(t, startTLS(t, feed), client.Options{Token: "tok", Keys: keySetOf(s)})
	o := fast()
	o.MaxFailures = 4
	var ae *client.APIError
	if err := c.FollowAlerts(t.Context(), 0, o, func(api.AlertView) error { return nil }); !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("err %v, want the last 503", err)
	}
	if n := len(feed.log()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
}

// The stream: events verified one by one and delivered once, in order; when the stream
// ends or the connection drops it is reopened with Last-Event-ID at the last delivered
// alert.
func TestStreamAlertsResumes(t *testing.T) {
	s := newSigner(t)
	feed := &fakeFeed{t: t, signer: s, n: 30, streamMax: 8}
	feed.fault = func(kind string, n int, w http.ResponseWriter, _ *http.Request) bool {
		if n == 2 { // refused once while the node restarts
			w.Header().Set("Retry-After", "0")
			writeSigned(t, w, s, 503, []byte(`{"error":{"status":503,"code":"not_ready","message":"starting"}}`))
			return true
		}
		return false
	}
	c := newClient(t, startTLS(t, feed), client.Options{Token: "tok", Keys: keySetOf(s)})
	got, err := collect(t, 28, func(ctx context.Context, fn func(api.AlertView) error) error {
		return c.StreamAlertsWith(ctx, 2, fast(), fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, got, 3, 30)
	want := []string{"stream last=2", "stream last=10", "stream last=10", "stream last=18", "stream last=26"}
	if fmt.Sprint(feed.log()) != fmt.Sprint(want) {
		t.Fatalf("stream requests %v, want %v", feed.log(), want)
	}
}

// A stream event whose alert bytes were altered after signing is refused, and nothing
// after it is delivered.
func TestStreamAlertsRefusesTamperedEvent(t *testing.T) {
	s := newSigner(t)
	feed := &fakeFeed{t: t, signer: s, n: 6, tamper: func(b []byte) []byte {
		if bytes.Contains(b, []byte(`"seq":4,`)) {
			b = bytes.Replace(b, []byte("record/R-4"), []byte("record/R-5"), 1)
		}
		return b
	}}
	c := newClient(t, startTLS(t, feed), client.Options{Token: "tok", Keys: keySetOf(s)})
	var got []uint64
	err := c.StreamAlertsWith(t.Context(), 0, fast(), func(a api.AlertView) error { got = append(got, a.Seq); return nil })
	if !errors.Is(err, client.ErrUnsigned) || fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("err %v, delivered %v; want ErrUnsigned after 1 2 3", err, got)
	}
}

// An alert signed by the originating state verifies against that state's roster keys,
// and not when anything about it is changed.
func TestVerifyAlertOrigin(t *testing.T) {
	fra, deu := newSigner(t), newSigner(t)
	cmd := &command.Command{Type: command.TypeNominate, Version: 1, Origin: "FRA", Payload: []byte(`{"id":"FRA-N-1"}`)}
	if err := cmd.Sign(fra); err != nil {
		t.Fatal(err)
	}
	ks, _ := keySetOf(fra).MarshalJSON()
	ksDEU, _ := keySetOf(deu).MarshalJSON()
	genesis := fmt.Appendf(nil, `{"federation":"t","members":[{"code":"FRA","signing_keys":%s},{"code":"DEU","signing_keys":%s}]}`, ks, ksDEU)
	roster, err := client.RosterKeys(genesis)
	if err != nil {
		t.Fatal(err)
	}
	good := api.AlertView{Seq: 7, Source: "federation", Index: 42, Kind: "nominated", Subject: "watchlist/FRA-N-1", Origin: "FRA",
		Command: &api.SignedCommandView{Type: "nominate", Origin: "FRA", SigningInput: base64.RawURLEncoding.EncodeToString(cmd.SigningInput()), Signature: cmd.Signature}}
	kid, err := client.VerifyAlertOrigin(good, roster["FRA"])
	if err != nil || kid != fra.KID() {
		t.Fatalf("a genuine alert: %q %v", kid, err)
	}
	bad := func(name string, mutate func(a *api.AlertView, c *api.SignedCommandView), keys *jws.KeySet) {
		t.Helper()
		a, c := good, *good.Command
		a.Command = &c
		mutate(&a, &c)
		if _, err := client.VerifyAlertOrigin(a, keys); !errors.Is(err, client.ErrOrigin) {
			t.Errorf("%s: %v, want ErrOrigin", name, err)
		}
	}
	keep := func(*api.AlertView, *api.SignedCommandView) {}
	bad("another state's keys", keep, roster["DEU"])
	bad("no keys", keep, nil)
	bad("claimed by another origin", func(a *api.AlertView, c *api.SignedCommandView) { a.Origin, c.Origin = "DEU", "DEU" }, roster["DEU"])
	bad("another type claimed", func(_ *api.AlertView, c *api.SignedCommandView) { c.Type = "vote" }, roster["FRA"])
	bad("payload altered", func(_ *api.AlertView, c *api.SignedCommandView) {
		in, _ := base64.RawURLEncoding.DecodeString(c.SigningInput)
		in[len(in)-3] ^= 1
		c.SigningInput = base64.RawURLEncoding.EncodeToString(in)
	}, roster["FRA"])
	bad("not a command", func(_ *api.AlertView, c *api.SignedCommandView) {
		sig, _ := fra.Detached([]byte("hello"))
		c.SigningInput, c.Signature = base64.RawURLEncoding.EncodeToString([]byte("hello")), sig
	}, roster["FRA"])
	bad("no command", func(a *api.AlertView, _ *api.SignedCommandView) { a.Command = nil }, roster["FRA"])
	bad("a local alert", func(a *api.AlertView, _ *api.SignedCommandView) { a.Source = "local" }, roster["FRA"])
	if _, err := client.RosterKeys([]byte(`{"members":[]}`)); err == nil {
		t.Error("a genesis without members gave keys")
	}
}

// A webhook delivery verifies against the node's keys; a byte flipped in its body, or a
// delivery id header that is not the signed one, is refused.
func TestVerifyDelivery(t *testing.T) {
	s := newSigner(t)
	body := []byte(`{"id":"dl_1","hook":"wh_1","event":"alert-3","kind":"listed","enqueued":"2026-01-02T03:04:05Z","payload":{"seq":3,"source":"federation","kind":"listed","subject":"watchlist/X","origin":"FRA","time":"2026-01-02T03:04:05Z"}}`)
	h := http.Header{}
	h.Set(client.SignatureHeader, mustDetached(t, s, body))
	h.Set("X-Entente-Delivery", "dl_1")
	d, err := client.VerifyDelivery(keySetOf(s), h, body)
	if err != nil || d.ID != "dl_1" || d.Alert.Seq != 3 || d.Alert.Subject != "watchlist/X" {
		t.Fatalf("%+v %v", d, err)
	}
	flipped := bytes.Clone(body)
	flipped[bytes.Index(flipped, []byte("FRA"))] = 'G'
	if _, err := client.VerifyDelivery(keySetOf(s), h, flipped); !errors.Is(err, client.ErrUnsigned) {
		t.Fatalf("flipped byte: %v", err)
	}
	h.Set("X-Entente-Delivery", "dl_2")
	if _, err := client.VerifyDelivery(keySetOf(s), h, body); !errors.Is(err, client.ErrUnsigned) {
		t.Fatalf("header id mismatch: %v", err)
	}
	r, _ := http.NewRequest("POST", "http://receiver/", bytes.NewReader(body))
	r.Header = h.Clone()
	r.Header.Set("X-Entente-Delivery", "dl_1")
	if _, err := client.ReadDelivery(r, keySetOf(newSigner(t))); !errors.Is(err, client.ErrUnsigned) {
		t.Fatalf("signed by another key: %v", err)
	}
}

// A stream that goes silent (no event, no heartbeat) for three heartbeats is taken for
// dead and reopened from the last delivered alert.
func TestStreamAlertsReopensASilentStream(t *testing.T) {
	s := newSigner(t)
	feed := &fakeFeed{t: t, signer: s, n: 3}
	feed.fault = func(kind string, n int, w http.ResponseWriter, r *http.Request) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a connection that answers, then says nothing
		return true
	}
	c := newClient(t, startTLS(t, feed), client.Options{Token: "tok", Keys: keySetOf(s)})
	o := fast()
	o.Heartbeat = time.Second
	var retried []error
	o.OnError = func(err error, _ time.Duration) { retried = append(retried, err) }
	got, err := collect(t, 3, func(ctx context.Context, fn func(api.AlertView) error) error {
		return c.StreamAlertsWith(ctx, 0, o, fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, got, 1, 3)
	if len(retried) != 1 || !strings.Contains(retried[0].Error(), "silent") {
		t.Fatalf("retries: %v, want one for silence", retried)
	}
}
