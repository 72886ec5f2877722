package testnet_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/node/webhooks"
	"github.com/entente/entente/testnet"
)

// What integrators rely on, with real node processes: the feed and the stream deliver
// every committed alert exactly once and in order through a leader change and a restart
// of the node being followed; a webhook receiver that fails and recovers gets every
// delivery, under one id each, through restarts; and the client package refuses data
// altered on its way.

// integSeen collects what one follower delivered.
type integSeen struct {
	mu     sync.Mutex
	alerts []api.AlertView
	err    error
	done   chan struct{}
}

func (s *integSeen) add(a api.AlertView) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a)
	return nil
}

func (s *integSeen) snapshot() ([]api.AlertView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.AlertView(nil), s.alerts...), s.err
}

// integFollow follows node i's feed from the start in the background, by pages or by the
// stream, until ctx ends; retries are quick so that the test sees recoveries soon.
func integFollow(t *testing.T, ctx context.Context, net *testnet.Net, i int, stream bool) *integSeen {
	t.Helper()
	c, err := net.Client(i, "integrator")
	if err != nil {
		t.Fatal(err)
	}
	s := &integSeen{done: make(chan struct{})}
	o := client.FollowOptions{Poll: 100 * time.Millisecond, Heartbeat: time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
	go func() {
		defer close(s.done)
		defer c.CloseIdle()
		var err error
		if stream {
			err = c.StreamAlertsWith(ctx, 0, o, s.add)
		} else {
			err = c.FollowAlerts(ctx, 0, o, s.add)
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}()
	return s
}

// integNominate nominates id through the first running node of via that accepts it,
// retrying while an election is under way, and returns that node. An "already exists"
// answer means an earlier attempt committed but its answer was lost.
func integNominate(t *testing.T, net *testnet.Net, via []int, id string) int {
	t.Helper()
	return integRetry(t, net, via, "nomination "+id, func(i int) error {
		return call(t, net, i, "officer", "POST", "/v1/watchlist/nominations", nomination(id, "Party "+id, "REL TO FEDERATION"), nil)
	}, "already exists")
}

// integEndorse has a running node other than the originator's endorse id, which with the
// originator's nomination is the majority of three voters that lists it.
func integEndorse(t *testing.T, net *testnet.Net, id string, origin int) {
	t.Helper()
	var via []int
	for i := range net.Nodes {
		if i != origin {
			via = append(via, i)
		}
	}
	integRetry(t, net, via, "endorsement of "+id, func(i int) error {
		return call(t, net, i, "officer", "POST", "/v1/watchlist/"+id+"/votes", api.VoteRequest{Position: "endorse"}, nil)
	}, "already")
}

// integRetry runs do on the running nodes of via in turn until one succeeds or rejects it
// with a message containing done (an earlier attempt committed, its answer lost).
func integRetry(t *testing.T, net *testnet.Net, via []int, what string, do func(i int) error, done string) int {
	t.Helper()
	var last error
	for attempt := 0; attempt < 80; attempt++ {
		i := via[attempt%len(via)]
		if !net.Nodes[i].Running() {
			continue
		}
		err := do(i)
		var ae *client.APIError
		if err == nil || errors.As(err, &ae) && ae.Code == "rejected" && strings.Contains(ae.Message, done) {
			return i
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not accepted: %v", what, last)
	return -1
}

// integFeed reads node i's whole feed by pages, verified.
func integFeed(t *testing.T, net *testnet.Net, i int) ([]api.AlertView, error) {
	t.Helper()
	var all []api.AlertView
	for after := uint64(0); len(all) < 100000; {
		var page api.AlertPage
		if err := call(t, net, i, "integrator", "GET", "/v1/alerts?limit=1000&after="+strconv.FormatUint(after, 10), nil, &page); err != nil {
			return nil, err
		}
		if len(page.Alerts) == 0 {
			return all, nil
		}
		all = append(all, page.Alerts...)
		after = page.Next
	}
	return all, nil
}

// integKey names a federation alert by what raised it: one log entry raises each
// (kind, subject) once.
func integKey(a api.AlertView) string {
	return fmt.Sprintf("%d/%s/%s", a.Index, a.Kind, a.Subject)
}

// integHasAll reports whether alerts hold an alert of each kind for every id.
func integHasAll(alerts []api.AlertView, ids []string, kinds ...string) (bool, string) {
	seen := map[string]bool{}
	for _, a := range alerts {
		seen[a.Kind+" "+a.Subject] = true
	}
	for _, id := range ids {
		for _, kind := range kinds {
			if !seen[kind+" watchlist/"+id] {
				return false, fmt.Sprintf("%d alerts, no %s alert for %s yet", len(alerts), kind, id)
			}
		}
	}
	return true, ""
}

func TestIntegratorFeedAcrossLeaderChangeAndRestart(t *testing.T) {
	net := upFed(t, 3)
	leader, err := net.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Follow a node that is not the leader, so that killing the leader changes the leader
	// under the follower without taking its node away; that node is restarted later.
	followed, other := (leader+1)%3, (leader+2)%3
	ctx, cancel := context.WithCancel(context.Background())
	pages := integFollow(t, ctx, net, followed, false)
	stream := integFollow(t, ctx, net, followed, true)
	t.Cleanup(func() {
		cancel()
		<-pages.done
		<-stream.done
	})

	var ids []string
	write := func(phase string, n int, via ...int) {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("I-%s-%d", phase, i)
			integEndorse(t, net, id, integNominate(t, net, via, id))
			ids = append(ids, id)
		}
	}
	write("a", 5, leader, followed, other)
	t.Logf("killing the leader %s", net.Nodes[leader].State)
	if err := net.Nodes[leader].Kill(); err != nil {
		t.Fatal(err)
	}
	write("b", 5, followed, other) // these wait out the election
	if l, err := net.WaitLeader(context.Background()); err != nil || l == leader {
		t.Fatalf("no new leader: %v", err)
	}
	restartCtx, done := context.WithTimeout(context.Background(), 60*time.Second)
	defer done()
	if err := net.Nodes[leader].Restart(restartCtx); err != nil {
		t.Fatal(err)
	}
	t.Logf("killing the followed node %s", net.Nodes[followed].State)
	if err := net.Nodes[followed].Kill(); err != nil {
		t.Fatal(err)
	}
	write("c", 5, other, leader) // committed while the followed node is down
	if err := net.Nodes[followed].Restart(restartCtx); err != nil {
		t.Fatal(err)
	}
	write("d", 3, followed, other, leader)
	converged(t, net)

	// The listings come from the leader's deadline transitions, some after the leader
	// changed.
	eventually(t, 90*time.Second, "both followers to see every nomination and listing", func() (bool, string) {
		for name, s := range map[string]*integSeen{"pages": pages, "stream": stream} {
			alerts, err := s.snapshot()
			if err != nil {
				return false, name + ": " + err.Error()
			}
			if ok, why := integHasAll(alerts, ids, "nominated", "listed"); !ok {
				return false, name + ": " + why
			}
		}
		return true, ""
	})
	// Every alert the followed node holds, and the same federation alerts as another
	// member's feed, once the copiers have caught up.
	var feed []api.AlertView
	eventually(t, 30*time.Second, "the followers and both feeds to agree", func() (bool, string) {
		var err error
		if feed, err = integFeed(t, net, followed); err != nil {
			return false, err.Error()
		}
		ref, err := integFeed(t, net, other)
		if err != nil {
			return false, err.Error()
		}
		var mine, theirs []string
		for _, a := range feed {
			if a.Source == "federation" {
				mine = append(mine, integKey(a))
			}
		}
		for _, a := range ref {
			if a.Source == "federation" {
				theirs = append(theirs, integKey(a))
			}
		}
		if strings.Join(mine, " ") != strings.Join(theirs, " ") {
			return false, fmt.Sprintf("%s holds %d federation alerts, %s %d", net.Nodes[followed].State, len(mine), net.Nodes[other].State, len(theirs))
		}
		p, _ := pages.snapshot()
		s, _ := stream.snapshot()
		return len(p) >= len(feed) && len(s) >= len(feed), fmt.Sprintf("feed %d, pages %d, stream %d", len(feed), len(p), len(s))
	})
	cancel()
	<-pages.done
	<-stream.done

	genesis, err := os.ReadFile(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	roster, err := client.RosterKeys(genesis)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*integSeen{"pages": pages, "stream": stream} {
		got, err := s.snapshot()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s follower ended with %v, want only the test's cancellation", name, err)
		}
		if len(got) != len(feed) {
			t.Fatalf("%s follower delivered %d alerts, the feed holds %d", name, len(got), len(feed))
		}
		once := map[string]bool{}
		for i, a := range got {
			if a.Seq != uint64(i+1) {
				t.Fatalf("%s: alert %d has seq %d: a gap, a repeat or a reordering", name, i, a.Seq)
			}
			if f := feed[i]; a.Kind != f.Kind || a.Subject != f.Subject || a.Index != f.Index || a.Source != f.Source {
				t.Fatalf("%s: seq %d is %s %s, the feed says %s %s", name, a.Seq, a.Kind, a.Subject, f.Kind, f.Subject)
			}
			if a.Source != "federation" {
				continue
			}
			if k := integKey(a); once[k] {
				t.Fatalf("%s: alert %s delivered twice", name, k)
			} else {
				once[k] = true
			}
			if a.Kind == "nominated" && a.Command == nil {
				t.Fatalf("%s: nomination alert %d without its signed command", name, a.Seq)
			}
			if a.Command != nil {
				if _, err := client.VerifyAlertOrigin(a, roster[a.Origin]); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
	}
	t.Logf("%d alerts followed by pages and by the stream, each once and in order, through a leader kill and a restart of %s", len(feed), net.Nodes[followed].State)
}

// integReceiver is a webhook receiver that verifies every delivery with the client
// package, refuses (500) while failing is set, and deduplicates by delivery id.
type integReceiver struct {
	failing atomic.Bool

	mu      sync.Mutex
	failed  map[string]int    // delivery id -> failed attempts
	acked   map[string]int    // delivery id -> acknowledged attempts (>1: a repeat, dropped)
	alertOf map[string]uint64 // delivery id -> the alert's seq
	bad     []string
}

func TestIntegratorWebhookFailsThenRecovers(t *testing.T) {
	net := upFed(t, 1, "--webhook-allow-private")
	n := net.Nodes[0]
	keys, err := n.KeySet()
	if err != nil {
		t.Fatal(err)
	}
	rc := &integReceiver{failed: map[string]int{}, acked: map[string]int{}, alertOf: map[string]uint64{}}
	rc.failing.Store(true)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		d, err := client.VerifyDelivery(keys, r.Header, body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.bad = append(rc.bad, err.Error())
			w.WriteHeader(400)
			return
		}
		// The same delivery with one byte changed must not pass.
		flipped := bytes.Clone(body)
		flipped[len(flipped)/2] ^= 0x01
		if _, err := client.VerifyDelivery(keys, r.Header, flipped); !errors.Is(err, client.ErrUnsigned) {
			rc.bad = append(rc.bad, "a delivery with a flipped byte verified")
		}
		if rc.failing.Load() {
			rc.failed[d.ID]++
			w.WriteHeader(500)
			return
		}
		rc.acked[d.ID]++
		rc.alertOf[d.ID] = d.Alert.Seq
	}))
	t.Cleanup(recv.Close)

	var reg struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
	}
	if err := call(t, net, 0, "integrator", "POST", "/v1/webhooks", api.WebhookRequest{URL: recv.URL + "/entente", Kinds: []string{"nominated", "listed"},
		Secret: "integration-test-secret-0123456789"}, &reg); err != nil {
		t.Fatal(err)
	}
	counts := func() (failed, acked int) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.failed), len(rc.acked)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, fmt.Sprintf("W-%d", i))
		integNominate(t, net, []int{0}, ids[i])
	}
	eventually(t, 60*time.Second, "the first deliveries to fail", func() (bool, string) {
		f, _ := counts()
		return f >= 3, fmt.Sprintf("%d deliveries failed", f)
	})
	// Restart while every delivery is pending and failing.
	restartCtx, done := context.WithTimeout(context.Background(), 60*time.Second)
	defer done()
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(restartCtx); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		ids = append(ids, fmt.Sprintf("W-%d", i))
		integNominate(t, net, []int{0}, ids[i])
	}
	rc.failing.Store(false)
	t.Log("the receiver recovers")
	// And once more while deliveries are being acknowledged.
	eventually(t, 90*time.Second, "a first delivery after recovery", func() (bool, string) {
		_, a := counts()
		return a >= 1, "none yet"
	})
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(restartCtx); err != nil {
		t.Fatal(err)
	}

	// What should arrive: a delivery for every nominated and listed alert in the feed.
	want := map[string]uint64{}
	eventually(t, 150*time.Second, "every delivery acknowledged", func() (bool, string) {
		feed, err := integFeed(t, net, 0)
		if err != nil {
			return false, err.Error()
		}
		if ok, why := integHasAll(feed, ids, "nominated", "listed"); !ok {
			return false, why
		}
		clear(want)
		for _, a := range feed {
			if a.Kind == "nominated" || a.Kind == "listed" {
				want[webhooks.DeliveryID(reg.Webhook.ID, "alert-"+strconv.FormatUint(a.Seq, 10))] = a.Seq
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		missing := 0
		for id := range want {
			if rc.acked[id] == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d deliveries not yet acknowledged", missing, len(want))
	})

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("deliveries refused by the client package: %v", rc.bad)
	}
	repeats := 0
	bySeq := map[uint64]string{}
	for id, count := range rc.acked {
		seq, ok := want[id]
		if !ok {
			t.Fatalf("delivery %s was not asked for", id)
		}
		if rc.alertOf[id] != seq {
			t.Fatalf("delivery %s carried alert %d, its id names alert %d", id, rc.alertOf[id], seq)
		}
		if prev, dup := bySeq[seq]; dup {
			t.Fatalf("alert %d delivered under two ids, %s and %s", seq, prev, id)
		}
		bySeq[seq] = id
		repeats += count - 1
	}
	if len(rc.acked) != len(want) {
		t.Fatalf("%d distinct deliveries, want %d", len(rc.acked), len(want))
	}
	retried := 0
	for id := range rc.failed {
		if _, ok := want[id]; !ok {
			t.Fatalf("failed delivery %s was not asked for", id)
		}
		retried++
	}
	var hist struct {
		Deliveries []webhooks.Delivery `json:"deliveries"`
	}
	if err := call(t, net, 0, "integrator", "GET", "/v1/webhooks/"+reg.Webhook.ID+"/deliveries?limit=100", nil, &hist); err != nil {
		t.Fatal(err)
	}
	// An attempt in flight when the node was killed is not in its history, so the history
	// may count fewer attempts than the receiver saw; but the retries show.
	retriesShown := false
	for _, d := range hist.Deliveries {
		if _, ok := want[d.ID]; !ok || d.State != webhooks.StateDelivered {
			t.Fatalf("history: delivery %s is %s", d.ID, d.State)
		}
		retriesShown = retriesShown || d.Attempts > 1
	}
	if !retriesShown {
		t.Fatalf("history shows no retried delivery; the receiver refused %d", retried)
	}
	if len(hist.Deliveries) != len(want) {
		t.Fatalf("history lists %d deliveries, want %d", len(hist.Deliveries), len(want))
	}
	t.Logf("%d deliveries, each acknowledged under one id (%d refused while failing and retried; %d repeats after restarts dropped by id)", len(want), retried, repeats)
}

// integFlip changes one byte of b: the first letter after marker (its case), or the
// middle byte when marker is absent. A case change keeps the JSON valid, so it is the
// signature, not a parse error, that has to catch it.
func integFlip(b []byte, marker string) {
	i := bytes.Index(b, []byte(marker))
	if i < 0 || i+len(marker) >= len(b) {
		if len(b) > 0 {
			b[len(b)/2] ^= 0x01
		}
		return
	}
	b[i+len(marker)] ^= 0x20
}

// integTamperProxy stands where a TLS-terminating proxy or load balancer would stand in
// front of node n: the client pins the proxy's certificate, so TLS cannot tell it
// anything is wrong. While tamper is set it changes one byte of every response body, and
// of every stream event.
func integTamperProxy(t *testing.T, n *testnet.Node, tamper *atomic.Bool) *httptest.Server {
	t.Helper()
	upstream := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error { // the proxy itself pins the node
			if len(cs.PeerCertificates) == 0 || identity.Pin(cs.PeerCertificates[0]) != n.Card.TLSPin {
				return errors.New("not the node's certificate")
			}
			return nil
		}}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, n.URL()+r.URL.RequestURI(), r.Body)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := upstream.RoundTrip(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.Header().Del("Content-Length")
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			w.WriteHeader(resp.StatusCode)
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 8<<20)
			for sc.Scan() {
				line := append(bytes.Clone(sc.Bytes()), '\n')
				if tamper.Load() && bytes.HasPrefix(line, []byte("data: ")) {
					integFlip(line, `"kind":"`)
				}
				if _, err := w.Write(line); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			return
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if tamper.Load() {
			integFlip(body, `"kind":"`)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(func() {
		srv.Close()
		upstream.CloseIdleConnections()
	})
	return srv
}

func TestIntegratorClientRefusesTamperedData(t *testing.T) {
	net := upFed(t, 1)
	n := net.Nodes[0]
	integNominate(t, net, []int{0}, "T-1")
	eventually(t, 30*time.Second, "an alert in the feed", func() (bool, string) {
		feed, err := integFeed(t, net, 0)
		return err == nil && len(feed) > 0, fmt.Sprint(len(feed), err)
	})
	keys, err := n.KeySet()
	if err != nil {
		t.Fatal(err)
	}
	var tamper atomic.Bool
	proxy := integTamperProxy(t, n, &tamper)
	c, err := client.New(proxy.URL, client.Options{Token: net.Tokens[0]["integrator"], TLSPin: client.Pin(proxy.Certificate()), Keys: keys, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdle()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := client.FollowOptions{Poll: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxFailures: 5}
	first := func(follow func(context.Context, func(api.AlertView) error) error) (int, error) {
		got := 0
		stop := errors.New("got one")
		err := follow(ctx, func(api.AlertView) error { got++; return stop })
		if errors.Is(err, stop) {
			err = nil
		}
		return got, err
	}
	pagesFrom := func(ctx context.Context, fn func(api.AlertView) error) error { return c.FollowAlerts(ctx, 0, o, fn) }
	streamFrom := func(ctx context.Context, fn func(api.AlertView) error) error {
		return c.StreamAlertsWith(ctx, 0, o, fn)
	}

	// Through the proxy untouched, everything verifies: the proxy itself is sound.
	if _, err := c.Do(ctx, "GET", "/v1/watchlist", nil, nil); err != nil {
		t.Fatalf("through an honest proxy: %v", err)
	}
	for name, follow := range map[string]func(context.Context, func(api.AlertView) error) error{"pages": pagesFrom, "stream": streamFrom} {
		if got, err := first(follow); err != nil || got != 1 {
			t.Fatalf("%s through an honest proxy: %d alerts, %v", name, got, err)
		}
	}

	tamper.Store(true)
	for _, path := range []string{"/v1/watchlist", "/v1/alerts", "/v1/whoami"} {
		resp, err := c.Do(ctx, "GET", path, nil, nil)
		if !errors.Is(err, client.ErrUnsigned) || resp != nil {
			t.Fatalf("GET %s with a byte changed: %v, want ErrUnsigned and no response", path, err)
		}
	}
	for name, follow := range map[string]func(context.Context, func(api.AlertView) error) error{"pages": pagesFrom, "stream": streamFrom} {
		if got, err := first(follow); !errors.Is(err, client.ErrUnsigned) || got != 0 {
			t.Fatalf("%s with a byte changed: %d alerts delivered, %v; want none and ErrUnsigned", name, got, err)
		}
	}
}
