package transport

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entente/entente/crypto/identity"
)

// TestMain fails the package if any test leaves a goroutine behind: the stream layer,
// raft's transport and raft itself all start them, and Close/Shutdown must end them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// roster is a test Authorizer whose members can change while connections are made.
type roster struct {
	mu   sync.RWMutex
	pins map[string]string
}

func newRoster(members ...*identity.Identity) *roster {
	r := &roster{pins: map[string]string{}}
	for _, m := range members {
		r.add(m)
	}
	return r
}

func (r *roster) StateForPin(pin string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	state, ok := r.pins[pin]
	return state, ok
}

func (r *roster) add(id *identity.Identity) {
	r.mu.Lock()
	r.pins[id.TLSPin] = id.State
	r.mu.Unlock()
}

func (r *roster) remove(id *identity.Identity) {
	r.mu.Lock()
	delete(r.pins, id.TLSPin)
	r.mu.Unlock()
}

// newIdentity makes a real node identity, as `entente init` would.
func newIdentity(t testing.TB, state string) *identity.Identity {
	t.Helper()
	id, err := identity.Create(t.TempDir(), state, "127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// syncBuffer collects log output written from many goroutines.
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

// lines returns the log lines that contain every one of subs.
func (s *syncBuffer) lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(s.String(), "\n") {
		all := line != ""
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// pinAttr is a pin as slog's text handler writes the attribute (base64 padding makes it
// quoted).
func pinAttr(pin string) string { return "pin=" + strconv.Quote(pin) }

// testLogger returns a debug-level logger into a buffer the test can inspect; the buffer
// is printed if the test fails, so logs show only when they are needed. It is never
// written to t directly, because raft's goroutines may log a moment after the test ends.
func testLogger(t testing.TB, name string) (*slog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	l := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, buf.String())
		}
	})
	return l, buf
}

// peer is a stream layer on its own listener with its own identity, roster and logs.
type peer struct {
	id     *identity.Identity
	roster *roster
	layer  *StreamLayer
	logs   *syncBuffer
}

// fastSettings keep the real limits; tests that need shorter ones pass their own.
var fastSettings = settings{handshakeTimeout: defaultHandshakeTimeout, maxHandshakes: defaultMaxHandshakes}

func newPeer(t testing.TB, id *identity.Identity, r *roster, set settings) *peer {
	t.Helper()
	log, buf := testLogger(t, id.State)
	s := newStreamLayer(listen(t), id.TLS, r, log, set)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", id.State, err)
		}
	})
	return &peer{id: id, roster: r, layer: s, logs: buf}
}

func (p *peer) addr() string { return p.layer.Addr().String() }

type acceptResult struct {
	conn net.Conn
	err  error
}

// acceptNext calls Accept once in the background. The goroutine ends when a connection
// arrives or the layer is closed (every test closes its layers in Cleanup).
func acceptNext(s *StreamLayer) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := s.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

// await waits for an accept result, failing the test after timeout.
func await(t *testing.T, ch <-chan acceptResult, timeout time.Duration) net.Conn {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { _ = r.conn.Close() })
		return r.conn
	case <-time.After(timeout):
		t.Fatalf("Accept returned nothing within %v", timeout)
		return nil
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosedByServer checks that the server ends c without ever accepting it: a read
// returns an error (EOF or a TLS alert) before the deadline, never the acceptance byte.
func expectClosedByServer(t *testing.T, c net.Conn, within time.Duration) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	n, err := c.Read(b[:])
	if err == nil {
		t.Fatalf("server sent %#x (%d bytes); want the connection refused", b[0], n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server neither accepted nor closed the connection within %v", within)
	}
	return err
}
