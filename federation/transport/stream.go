package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/identity"
)

// Protocol is the ALPN protocol both sides must negotiate on the cluster port. It names
// this wire protocol (an acceptance byte, then raft's RPCs), so that a client of another
// service pointed at the port by mistake, or a future incompatible version, fails the
// handshake instead of having its bytes read as raft.
const Protocol = "entente-raft/1"

// acceptByte is what a server writes after it has accepted a client's certificate.
const acceptByte byte = 0x01

const (
	// defaultHandshakeTimeout bounds a server-side handshake, and a dial that raft gives no
	// timeout. A member on the far side of the world completes in well under a second.
	defaultHandshakeTimeout = 5 * time.Second
	// defaultMaxHandshakes caps the server-side handshakes in progress, so that a flood of
	// connections costs a bounded number of goroutines and sockets. A federation has tens
	// of members, each opening a handful of connections.
	defaultMaxHandshakes = 64
)

// ErrUnknownPeer is returned (wrapped, with the pin) when a peer's certificate key pin is
// not on the roster. Dial returns it when the server is not a member; on accept the
// client gets a TLS alert and the refusal is logged.
var ErrUnknownPeer = errors.New("transport: the peer's certificate key is not on the federation roster")

// ErrRefusedByPeer is returned (wrapped, with the cause) by Dial when the server ended the
// connection instead of accepting this node's certificate: usually because this node's pin
// is not on the server's roster, for example when the server has not yet applied the
// admission of this state.
var ErrRefusedByPeer = errors.New("transport: the peer refused this node's certificate")

// Authorizer says which state, if any, a certificate key pin belongs to. The roster changes
// when states are admitted or removed, so it is consulted on every handshake. It is called
// from several goroutines at once and must be safe for that.
type Authorizer interface {
	StateForPin(pin string) (state string, ok bool)
}

// StreamLayer is what raft's NetworkTransport runs over.
var _ raft.StreamLayer = (*StreamLayer)(nil)

// settings are the stream layer's limits; tests shorten them.
type settings struct {
	handshakeTimeout time.Duration
	maxHandshakes    int
}

// StreamLayer implements raft.StreamLayer over mutual TLS with the roster check on dial and
// on accept. Accept returns only connections whose handshake has completed and whose peer
// is a member; Close stops the accept loop, its handshakes and every connection the layer
// made, so that a closed raft transport leaves nothing running.
type StreamLayer struct {
	ln   net.Listener
	cert tls.Certificate
	auth Authorizer
	log  *slog.Logger
	set  settings

	accepted chan net.Conn  // authorised connections, handed to Accept
	slots    chan struct{}  // one token per server-side handshake in progress
	done     chan struct{}  // closed by Close
	stopped  chan struct{}  // closed when the accept loop has returned
	loopErr  error          // why the accept loop stopped, if not Close; set before stopped
	wg       sync.WaitGroup // the accept loop and the handshakes

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]*peerConn // raw connection -> its peer, nil while handshaking
}

// NewStreamLayer starts accepting connections on ln, presenting cert (a node identity's
// certificate) and admitting only peers whose pin auth knows. It takes ownership of ln:
// Close closes it. A nil log discards the layer's logs; auth must not be nil.
func NewStreamLayer(ln net.Listener, cert tls.Certificate, auth Authorizer, log *slog.Logger) *StreamLayer {
	return newStreamLayer(ln, cert, auth, log, settings{
		handshakeTimeout: defaultHandshakeTimeout,
		maxHandshakes:    defaultMaxHandshakes,
	})
}

func newStreamLayer(ln net.Listener, cert tls.Certificate, auth Authorizer, log *slog.Logger, set settings) *StreamLayer {
	if auth == nil {
		panic("transport: NewStreamLayer needs an Authorizer")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &StreamLayer{
		ln:       ln,
		cert:     cert,
		auth:     auth,
		log:      log,
		set:      set,
		accepted: make(chan net.Conn),
		slots:    make(chan struct{}, set.maxHandshakes),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		conns:    make(map[net.Conn]*peerConn),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

// Accept returns the next connection from a roster member, after its handshake. It returns
// an error wrapping net.ErrClosed once the layer is closed, and the listener's error if the
// listener was closed from outside.
func (s *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.accepted:
		return c, nil
	case <-s.done:
		return nil, fmt.Errorf("transport: stream layer closed: %w", net.ErrClosed)
	case <-s.stopped:
		if s.loopErr != nil {
			return nil, s.loopErr
		}
		return nil, fmt.Errorf("transport: stream layer closed: %w", net.ErrClosed)
	}
}

// Addr returns the listener's address: the address raft advertises for this node.
func (s *StreamLayer) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes the listener and every connection the layer accepted or
// dialled (including those raft still holds), and waits for its goroutines. raft's
// NetworkTransport.Close calls it, so shutting raft down ends the node's cluster traffic.
func (s *StreamLayer) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("transport: close listener: %w", err)
		}
		s.mu.Lock()
		s.closed = true
		conns := s.conns
		s.conns = map[net.Conn]*peerConn{}
		s.mu.Unlock()
		for raw := range conns {
			// The raw connection, not the TLS one: no close_notify that could wait on a
			// stalled peer.
			_ = raw.Close()
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// Dial connects to a raft peer, completes the handshake within timeout, and returns the
// connection only if the server's pin is on the roster (else an error wrapping
// ErrUnknownPeer) and the server accepted this node (else ErrRefusedByPeer).
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = s.set.handshakeTimeout
	}
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline}
	raw, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", address, err)
	}
	if !s.track(raw) {
		_ = raw.Close()
		return nil, fmt.Errorf("transport: dial %s: stream layer closed: %w", address, net.ErrClosed)
	}
	fail := func(err error) (net.Conn, error) {
		s.forget(raw)
		_ = raw.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", address, err)
	}
	var v verdict
	tc := tls.Client(raw, s.clientConfig(&v))
	_ = raw.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		if v.pin != "" && v.state == "" { // our check refused the server's certificate
			s.log.Warn("refused raft server", "state", "unknown", "pin", v.pin,
				"remote", raw.RemoteAddr().String(), "error", err)
		}
		return fail(err)
	}
	var ack [1]byte
	if _, err := io.ReadFull(tc, ack[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fail(fmt.Errorf("server %s did not accept within %v: %w", v.state, timeout, err))
		}
		return fail(fmt.Errorf("%w (server %s): %w", ErrRefusedByPeer, v.state, err))
	}
	if ack[0] != acceptByte {
		return fail(fmt.Errorf("server %s sent %#x instead of accepting; is it speaking %s?", v.state, ack[0], Protocol))
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	pc := &peerConn{Conn: tc, raw: raw, state: v.state, pin: v.pin, s: s}
	if !s.promote(raw, pc) {
		return fail(fmt.Errorf("stream layer closed: %w", net.ErrClosed))
	}
	s.log.Debug("raft peer connected", "state", v.state, "remote", raw.RemoteAddr().String(), "direction", "out")
	return pc, nil
}

// Recheck asks the Authorizer again about every established connection and closes those
// whose pin is no longer on the roster, or now belongs to another state. It returns how
// many it closed. The federation calls it after applying a roster change, so that a
// removed state loses the connections it already had, not only new ones.
func (s *StreamLayer) Recheck() int {
	s.mu.Lock()
	peers := make([]*peerConn, 0, len(s.conns))
	for _, pc := range s.conns {
		if pc != nil {
			peers = append(peers, pc)
		}
	}
	s.mu.Unlock()
	closed := 0
	for _, pc := range peers {
		if state, ok := s.auth.StateForPin(pc.pin); ok && state == pc.state {
			continue
		}
		s.forget(pc.raw)
		_ = pc.raw.Close()
		closed++
		s.log.Warn("closed raft connection: peer no longer on the roster",
			"state", pc.state, "pin", pc.pin, "remote", pc.raw.RemoteAddr().String())
	}
	return closed
}

// PeerState returns the roster state of the peer on a connection the stream layer accepted
// or dialled, as established at its handshake; ok is false for any other connection. It is
// for logs and tests: raft itself identifies peers by ServerID in its RPCs.
func PeerState(c net.Conn) (state string, ok bool) {
	pc, ok := c.(*peerConn)
	if !ok {
		return "", false
	}
	return pc.state, true
}

// acceptLoop accepts TCP connections and starts a handshake for each, so that one slow
// client never delays the next. It retries transient accept errors with a backoff.
func (s *StreamLayer) acceptLoop() {
	defer s.wg.Done()
	defer close(s.stopped)
	const baseDelay, maxDelay = 5 * time.Millisecond, time.Second
	var delay time.Duration
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				s.loopErr = fmt.Errorf("transport: raft listener closed: %w", err)
				s.log.Error("raft listener closed; no more peers will be accepted", "error", err)
				return
			}
			delay = min(max(2*delay, baseDelay), maxDelay)
			s.log.Warn("raft listener: accept failed; retrying", "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		delay = 0
		select {
		case s.slots <- struct{}{}:
		default:
			_ = raw.Close()
			s.log.Warn("refused raft connection: too many handshakes in progress",
				"remote", raw.RemoteAddr().String(), "limit", cap(s.slots))
			continue
		}
		if !s.track(raw) {
			_ = raw.Close()
			<-s.slots
			return
		}
		s.wg.Add(1)
		go s.handshake(raw)
	}
}

// handshake completes the server side of a handshake under a deadline, writes the
// acceptance byte, and hands the connection to Accept; a refused connection is closed and
// logged.
func (s *StreamLayer) handshake(raw net.Conn) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	remote := raw.RemoteAddr().String()
	var v verdict
	tc := tls.Server(raw, s.serverConfig(&v))
	_ = raw.SetDeadline(time.Now().Add(s.set.handshakeTimeout))
	err := tc.Handshake()
	if err == nil {
		_, err = tc.Write([]byte{acceptByte})
	}
	if err == nil {
		err = raw.SetDeadline(time.Time{})
	}
	if err != nil {
		s.forget(raw)
		_ = raw.Close()
		select {
		case <-s.done:
			return // closing: the handshake was cut short, not refused
		default:
		}
		state, pin := v.state, v.pin
		if state == "" {
			state = "unknown"
		}
		if pin == "" {
			pin = "none"
		}
		s.log.Warn("refused raft connection", "state", state, "pin", pin, "remote", remote, "error", err)
		return
	}
	pc := &peerConn{Conn: tc, raw: raw, state: v.state, pin: v.pin, s: s}
	if !s.promote(raw, pc) {
		_ = raw.Close()
		return
	}
	s.log.Debug("raft peer connected", "state", v.state, "remote", remote, "direction", "in")
	select {
	case s.accepted <- pc:
	case <-s.done:
		_ = raw.Close()
	}
}

// verdict is what the pin check found during one handshake.
type verdict struct {
	pin   string // the peer's pin, once it presented a certificate
	state string // the peer's state, once the roster knew the pin
}

// verify is the whole of the peer check, on both sides: TLS 1.3, our ALPN protocol, and a
// certificate whose key pin the roster knows. The pin replaces chain validation: the
// certificates are self-signed, and TLS has already proved that the peer holds the key.
// The certificate's validity period is still enforced, as the backstop crypto/identity
// means it to be; a renewed certificate with the same key keeps its pin.
func (s *StreamLayer) verify(cs tls.ConnectionState, v *verdict) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("transport: the peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	v.pin = identity.Pin(leaf) // first, so that every refusal can name it
	if cs.Version != tls.VersionTLS13 {
		return errors.New("transport: TLS 1.3 is required")
	}
	if cs.NegotiatedProtocol != Protocol {
		return fmt.Errorf("transport: the peer did not negotiate ALPN protocol %q", Protocol)
	}
	state, ok := s.auth.StateForPin(v.pin)
	if !ok {
		return fmt.Errorf("%w: pin %s", ErrUnknownPeer, v.pin)
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("transport: %s's certificate (pin %s) is valid only from %s to %s; it must be renewed",
			state, v.pin, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	v.state = state
	return nil
}

// serverConfig is the TLS configuration for one accepted connection; v receives the verdict.
// Session tickets are off so that every connection proves possession of a member's key and
// is checked against the roster of the moment, not a resumed session's.
func (s *StreamLayer) serverConfig(v *verdict) *tls.Config {
	return &tls.Config{
		Certificates:           []tls.Certificate{s.cert},
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		NextProtos:             []string{Protocol},
		ClientAuth:             tls.RequireAnyClientCert, // the pin check replaces chain validation
		SessionTicketsDisabled: true,
		VerifyConnection:       func(cs tls.ConnectionState) error { return s.verify(cs, v) },
	}
}

// clientConfig is the TLS configuration for one dial; v receives the verdict.
func (s *StreamLayer) clientConfig(v *verdict) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		NextProtos:   []string{Protocol},
		// Self-signed certificates: there is no chain to validate. VerifyConnection checks
		// the key pin against the roster instead, which is the stronger check here.
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return s.verify(cs, v) },
	}
}

// track registers a raw connection so that Close can end it; false if already closed.
func (s *StreamLayer) track(raw net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[raw] = nil
	return true
}

// promote records the peer of a tracked connection after its handshake; false if the
// layer was closed (and the connection closed) meanwhile.
func (s *StreamLayer) promote(raw net.Conn, pc *peerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[raw]; !ok || s.closed {
		return false
	}
	s.conns[raw] = pc
	return true
}

func (s *StreamLayer) forget(raw net.Conn) {
	s.mu.Lock()
	delete(s.conns, raw)
	s.mu.Unlock()
}

// peerConn is an authorised connection: the TLS connection, the socket under it, and the
// peer's state and pin as established at the handshake.
type peerConn struct {
	*tls.Conn
	raw   net.Conn
	state string
	pin   string
	s     *StreamLayer
}

// Close ends the connection and drops it from the stream layer's set.
func (c *peerConn) Close() error {
	c.s.forget(c.raw)
	return c.Conn.Close()
}
