package transport

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/entente/entente/crypto/identity"
)

// members returns two peers, FRA and DEU, each with the other (and itself) on its roster.
func members(t *testing.T) (fra, deu *peer) {
	t.Helper()
	fraID, deuID := newIdentity(t, "FRA"), newIdentity(t, "DEU")
	fra = newPeer(t, fraID, newRoster(fraID, deuID), fastSettings)
	deu = newPeer(t, deuID, newRoster(fraID, deuID), fastSettings)
	return fra, deu
}

func TestDialAndAcceptBetweenMembers(t *testing.T) {
	fra, deu := members(t)
	accepted := acceptNext(deu.layer)
	out, err := fra.layer.Dial(raft.ServerAddress(deu.addr()), 5*time.Second)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = out.Close() })
	in := await(t, accepted, 5*time.Second)

	if state, ok := PeerState(out); !ok || state != "DEU" {
		t.Errorf("dialled PeerState = %q, %v; want DEU", state, ok)
	}
	if state, ok := PeerState(in); !ok || state != "FRA" {
		t.Errorf("accepted PeerState = %q, %v; want FRA", state, ok)
	}
	for _, c := range []net.Conn{out, in} {
		cs := c.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
		if cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != Protocol || cs.DidResume {
			t.Errorf("connection: version %#x, ALPN %q, resumed %v; want TLS 1.3, %q, fresh",
				cs.Version, cs.NegotiatedProtocol, cs.DidResume, Protocol)
		}
	}
	if _, err := out.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(in, got); err != nil || string(got) != "ping" {
		t.Fatalf("read %q, %v; want ping", got, err)
	}
	if fra.layer.Addr().String() != fra.addr() || deu.layer.Addr() == nil {
		t.Error("Addr does not return the listener's address")
	}

	plain, other := net.Pipe()
	defer plain.Close()
	defer other.Close()
	if _, ok := PeerState(plain); ok {
		t.Error("PeerState claims a state for a connection the layer did not make")
	}
	if got := deu.logs.lines("raft peer connected", "state=FRA", "direction=in"); len(got) != 1 {
		t.Errorf("DEU logged %d connections from FRA; want 1", len(got))
	}
}

// A node whose certificate is not on the server's roster is refused on accept: its dial
// fails with ErrRefusedByPeer, the server logs the pin, and Accept never sees it.
func TestAcceptRefusesClientNotOnRoster(t *testing.T) {
	fra, deu := members(t)
	gbrID := newIdentity(t, "GBR")
	gbr := newPeer(t, gbrID, newRoster(gbrID, deu.id), fastSettings) // GBR trusts DEU; DEU does not know GBR
	accepted := acceptNext(deu.layer)

	c, err := gbr.layer.Dial(raft.ServerAddress(deu.addr()), 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("DEU accepted GBR, whose pin is not on its roster")
	}
	if !errors.Is(err, ErrRefusedByPeer) {
		t.Errorf("Dial error = %v; want ErrRefusedByPeer", err)
	}
	waitFor(t, 5*time.Second, "DEU to log the refusal", func() bool {
		return len(deu.logs.lines("refused raft connection", "state=unknown", pinAttr(gbrID.TLSPin), "remote=127.0.0.1:")) == 1
	})

	// The next connection Accept hands over is FRA's: GBR's never got that far.
	if _, err := fra.layer.Dial(raft.ServerAddress(deu.addr()), 5*time.Second); err != nil {
		t.Fatalf("FRA Dial: %v", err)
	}
	if state, _ := PeerState(await(t, accepted, 5*time.Second)); state != "FRA" {
		t.Fatalf("Accept returned a connection from %q; want FRA", state)
	}
}

// A server whose certificate is not on the dialling node's roster is refused on dial.
func TestDialRefusesServerNotOnRoster(t *testing.T) {
	fra, _ := members(t)
	gbrID := newIdentity(t, "GBR")
	gbr := newPeer(t, gbrID, newRoster(gbrID, fra.id), fastSettings) // GBR would accept FRA
	accepted := acceptNext(gbr.layer)

	c, err := fra.layer.Dial(raft.ServerAddress(gbr.addr()), 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("FRA connected to GBR, whose pin is not on its roster")
	}
	if !errors.Is(err, ErrUnknownPeer) || !strings.Contains(err.Error(), gbrID.TLSPin) {
		t.Errorf("Dial error = %v; want ErrUnknownPeer naming GBR's pin", err)
	}
	if got := fra.logs.lines("refused raft server", pinAttr(gbrID.TLSPin)); len(got) != 1 {
		t.Errorf("FRA logged %d refusals of GBR; want 1", len(got))
	}
	// GBR sees FRA abort the handshake, so it hands nothing to raft either.
	waitFor(t, 5*time.Second, "GBR to log the aborted handshake", func() bool {
		return len(gbr.logs.lines("refused raft connection", "remote=127.0.0.1:")) == 1
	})
	select {
	case r := <-accepted:
		t.Fatalf("GBR's Accept returned %v, %v", r.conn, r.err)
	default:
	}
}

// The roster is read on every handshake: removing a member refuses its next connection in
// both directions, Recheck ends the connections it already had, and re-admitting it works.
func TestRosterChangeTakesEffectOnNextHandshake(t *testing.T) {
	fra, deu := members(t)
	dial := func(from, to *peer) (net.Conn, error) {
		return from.layer.Dial(raft.ServerAddress(to.addr()), 5*time.Second)
	}
	accepted := acceptNext(deu.layer)
	before, err := dial(fra, deu)
	if err != nil {
		t.Fatalf("FRA -> DEU while a member: %v", err)
	}
	defer before.Close()
	await(t, accepted, 5*time.Second)

	deu.roster.remove(fra.id)
	if c, err := dial(fra, deu); !errors.Is(err, ErrRefusedByPeer) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("FRA -> DEU after removal: %v; want ErrRefusedByPeer", err)
	}
	if c, err := dial(deu, fra); !errors.Is(err, ErrUnknownPeer) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("DEU -> FRA after removal: %v; want ErrUnknownPeer", err)
	}

	// The connection made before the removal stays until Recheck.
	if n := fra.layer.Recheck(); n != 0 {
		t.Errorf("FRA's Recheck closed %d connections; DEU is still on FRA's roster", n)
	}
	if n := deu.layer.Recheck(); n != 1 {
		t.Fatalf("DEU's Recheck closed %d connections; want FRA's one", n)
	}
	expectClosedByServer(t, before, 5*time.Second)
	if got := deu.logs.lines("peer no longer on the roster", "state=FRA", pinAttr(fra.id.TLSPin)); len(got) != 1 {
		t.Errorf("DEU logged %d closed connections of FRA; want 1", len(got))
	}

	deu.roster.add(fra.id)
	accepted = acceptNext(deu.layer)
	after, err := dial(fra, deu)
	if err != nil {
		t.Fatalf("FRA -> DEU after re-admission: %v", err)
	}
	defer after.Close()
	if state, _ := PeerState(await(t, accepted, 5*time.Second)); state != "FRA" {
		t.Fatalf("Accept returned %q; want FRA", state)
	}
}

// Everything that is not a member speaking TLS 1.3 with a certificate and our ALPN
// protocol is refused, and none of it reaches Accept.
func TestAcceptRefusesNonConformingClients(t *testing.T) {
	fra, deu := members(t)
	addr := deu.addr()
	member := fra.id.TLS

	tlsCase := func(cfg *tls.Config) func(t *testing.T) {
		return func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
			c := tls.Client(raw, cfg)
			if err := c.Handshake(); err != nil {
				return // refused during the handshake
			}
			expectClosedByServer(t, c, 5*time.Second)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"plain TCP", func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A raft RequestVote type byte and some bytes, as a raft node without TLS would send.
			if _, err := c.Write([]byte{1, 0x85, 0xa4, 'T', 'e', 'r', 'm', 7}); err != nil {
				t.Fatal(err)
			}
			expectClosedByServer(t, c, 5*time.Second)
		}},
		{"TLS without a client certificate", tlsCase(&tls.Config{
			MinVersion: tls.VersionTLS13, NextProtos: []string{Protocol}, InsecureSkipVerify: true,
		})},
		{"wrong ALPN", tlsCase(&tls.Config{
			Certificates: []tls.Certificate{member}, MinVersion: tls.VersionTLS13,
			NextProtos: []string{"h2"}, InsecureSkipVerify: true,
		})},
		{"no ALPN", tlsCase(&tls.Config{
			Certificates: []tls.Certificate{member}, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
		})},
		{"TLS 1.2", tlsCase(&tls.Config{
			Certificates: []tls.Certificate{member}, MaxVersion: tls.VersionTLS12,
			NextProtos: []string{Protocol}, InsecureSkipVerify: true,
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
	waitFor(t, 5*time.Second, "DEU to log every refusal", func() bool {
		return len(deu.logs.lines("refused raft connection", "remote=127.0.0.1:")) == len(cases)
	})
	for _, want := range []string{
		"first record does not look like a TLS handshake",
		"didn't provide a certificate",
		"unsupported application protocols",
		`did not negotiate ALPN protocol \"entente-raft/1\"`,
		"unsupported versions",
	} {
		if len(deu.logs.lines("refused raft connection", want)) != 1 {
			t.Errorf("no refusal logged for %q", want)
		}
	}

	// None of them reached Accept: the first connection it returns is the member's.
	accepted := acceptNext(deu.layer)
	if _, err := fra.layer.Dial(raft.ServerAddress(addr), 5*time.Second); err != nil {
		t.Fatalf("member Dial: %v", err)
	}
	if state, _ := PeerState(await(t, accepted, 5*time.Second)); state != "FRA" {
		t.Fatalf("Accept returned %q; want FRA", state)
	}
	// A client that uses the member's certificate but not our ALPN was still refused: the
	// certificate alone is not enough.
	if len(deu.logs.lines("refused raft connection", pinAttr(fra.id.TLSPin))) != 1 {
		t.Error("the no-ALPN refusal does not name the certificate's pin")
	}
}

// Clients that connect and say nothing hold a handshake slot until the deadline, but do
// not delay a member's connection.
func TestSilentClientsDoNotBlockAccept(t *testing.T) {
	fra, deu := members(t)
	for range 3 {
		c, err := net.Dial("tcp", deu.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitFor(t, 5*time.Second, "the silent handshakes to start", func() bool { return len(deu.layer.slots) == 3 })

	start := time.Now()
	accepted := acceptNext(deu.layer)
	if _, err := fra.layer.Dial(raft.ServerAddress(deu.addr()), 2*time.Second); err != nil {
		t.Fatalf("member Dial with silent clients connected: %v", err)
	}
	if state, _ := PeerState(await(t, accepted, 2*time.Second)); state != "FRA" {
		t.Fatalf("Accept returned %q; want FRA", state)
	}
	if elapsed := time.Since(start); elapsed >= defaultHandshakeTimeout {
		t.Fatalf("member accepted after %v: it waited for the silent clients", elapsed)
	}
	// The member's slot is released just after Accept hands the connection over.
	waitFor(t, 2*time.Second, "only the 3 silent handshakes to remain", func() bool { return len(deu.layer.slots) == 3 })
}

// A silent client is cut off at the handshake deadline.
func TestHandshakeDeadline(t *testing.T) {
	deuID := newIdentity(t, "DEU")
	deu := newPeer(t, deuID, newRoster(deuID), settings{handshakeTimeout: 200 * time.Millisecond, maxHandshakes: 4})
	c, err := net.Dial("tcp", deu.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	expectClosedByServer(t, c, 5*time.Second)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("silent client cut off after %v; the deadline is 200ms", elapsed)
	}
	waitFor(t, 5*time.Second, "the timeout to be logged", func() bool {
		return len(deu.logs.lines("refused raft connection", "pin=none", "i/o timeout")) == 1
	})
	waitFor(t, 5*time.Second, "the handshake slot to be released", func() bool { return len(deu.layer.slots) == 0 })
}

// When the handshakes in progress reach the cap, further connections are closed at once
// until a slot is free.
func TestHandshakeCap(t *testing.T) {
	fraID, deuID := newIdentity(t, "FRA"), newIdentity(t, "DEU")
	fra := newPeer(t, fraID, newRoster(fraID, deuID), fastSettings)
	deu := newPeer(t, deuID, newRoster(fraID, deuID), settings{handshakeTimeout: defaultHandshakeTimeout, maxHandshakes: 2})

	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", deu.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	waitFor(t, 5*time.Second, "both slots to be taken", func() bool { return len(deu.layer.slots) == 2 })

	extra, err := net.Dial("tcp", deu.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if err := expectClosedByServer(t, extra, 2*time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("connection over the cap: %v; want EOF (closed unread)", err)
	}
	waitFor(t, 5*time.Second, "the refusal over the cap to be logged", func() bool {
		return len(deu.logs.lines("too many handshakes in progress", "limit=2")) == 1
	})

	silent[0].Close()
	waitFor(t, 5*time.Second, "a slot to be released", func() bool { return len(deu.layer.slots) == 1 })
	if c, err := fra.layer.Dial(raft.ServerAddress(deu.addr()), 5*time.Second); err != nil {
		t.Fatalf("member Dial once a slot is free: %v", err)
	} else {
		c.Close()
	}
}

// Close ends the accept loop, handshakes in progress and established connections at once,
// and the layer refuses to be used afterwards.
func TestCloseEndsEverything(t *testing.T) {
	fra, deu := members(t)
	accepted := acceptNext(deu.layer)
	out, err := fra.layer.Dial(raft.ServerAddress(deu.addr()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in := await(t, accepted, 5*time.Second)
	silent, err := net.Dial("tcp", deu.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, 5*time.Second, "the silent handshake to start", func() bool { return len(deu.layer.slots) == 1 })

	start := time.Now()
	if err := deu.layer.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Close took %v; it must not wait for handshake deadlines", elapsed)
	}
	if err := deu.layer.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	expectClosedByServer(t, out, 2*time.Second)
	if _, err := in.Write([]byte("x")); err == nil {
		t.Error("DEU's accepted connection still writable after Close")
	}
	expectClosedByServer(t, silent, 2*time.Second)
	if _, err := deu.layer.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v; want net.ErrClosed", err)
	}
	if _, err := deu.layer.Dial(raft.ServerAddress(fra.addr()), time.Second); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close: %v; want net.ErrClosed", err)
	}
	if len(deu.logs.lines("refused raft connection")) != 0 {
		t.Error("a handshake cut short by Close was logged as a refusal")
	}
}

// If the listener is closed from outside, Accept reports it instead of blocking forever.
func TestListenerClosedUnderneath(t *testing.T) {
	deuID := newIdentity(t, "DEU")
	deu := newPeer(t, deuID, newRoster(deuID), fastSettings)
	_ = deu.layer.ln.Close()
	_, err := deu.layer.Accept()
	if err == nil || !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "raft listener closed") {
		t.Fatalf("Accept after the listener closed: %v", err)
	}
	waitFor(t, 5*time.Second, "the error to be logged", func() bool {
		return len(deu.logs.lines("level=ERROR", "raft listener closed")) == 1
	})
}

// withValidity re-issues id's certificate for the same key (so the same pin) with another
// validity period.
func withValidity(t *testing.T, id *identity.Identity, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	leaf := id.TLS.Leaf
	tmpl := *leaf
	tmpl.SerialNumber = new(big.Int).Add(leaf.SerialNumber, big.NewInt(1))
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, leaf.PublicKey, id.TLS.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if identity.Pin(cert) != id.TLSPin {
		t.Fatal("re-issued certificate has another pin")
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: id.TLS.PrivateKey, Leaf: cert}
}

// The pin replaces chain validation but not the validity period: an expired certificate
// of a member is refused in both directions, and renewing it with the same key (same
// pin) is enough to be accepted again.
func TestExpiredCertificateRefused(t *testing.T) {
	fraID, deuID := newIdentity(t, "FRA"), newIdentity(t, "DEU")
	r := newRoster(fraID, deuID)
	deu := newPeer(t, deuID, r, fastSettings)
	now := time.Now()
	expired := withValidity(t, fraID, now.Add(-48*time.Hour), now.Add(-time.Hour))
	log, logs := testLogger(t, "FRA-expired")
	fra := newStreamLayer(listen(t), expired, r, log, fastSettings)
	t.Cleanup(func() { _ = fra.Close() })

	if c, err := fra.Dial(raft.ServerAddress(deu.addr()), 5*time.Second); !errors.Is(err, ErrRefusedByPeer) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("expired FRA -> DEU: %v; want ErrRefusedByPeer", err)
	}
	waitFor(t, 5*time.Second, "DEU to log the expired certificate", func() bool {
		return len(deu.logs.lines("refused raft connection", pinAttr(fraID.TLSPin), "FRA's certificate", "must be renewed")) == 1
	})
	c, err := deu.layer.Dial(raft.ServerAddress(fra.Addr().String()), 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("DEU connected to FRA's expired certificate")
	}
	if !strings.Contains(err.Error(), "must be renewed") {
		t.Errorf("DEU -> expired FRA: %v; want the validity period named", err)
	}
	waitFor(t, 5*time.Second, "FRA to log DEU's aborted handshake", func() bool {
		return len(logs.lines("refused raft connection", "remote error: tls: bad certificate")) == 1
	})

	renewed := newStreamLayer(listen(t), withValidity(t, fraID, now.Add(-time.Minute), now.Add(time.Hour)), r, log, fastSettings)
	t.Cleanup(func() { _ = renewed.Close() })
	c, err = renewed.Dial(raft.ServerAddress(deu.addr()), 5*time.Second)
	if err != nil {
		t.Fatalf("renewed FRA -> DEU: %v", err)
	}
	c.Close()
}
