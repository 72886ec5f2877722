package gossip

import (
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/crypto/jws"
)

// TestStartRejectsConfig: every mistake is refused before anything binds, with an error
// naming the field, and the key never appears in an error.
func TestStartRejectsConfig(t *testing.T) {
	s := newLogSink(t)
	secret := []byte("SECRET-gossip-key-material-0123") // 31 bytes: also the "short key" case
	good := func() Config {
		c := testConfig(s, testMeta("FRA", 0), testPriv(1), newTestRoster(), append([]byte(nil), secret...))
		c.Key = append(c.Key, '!')
		return c
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no key", func(c *Config) { c.Key = nil }, "Config.Key"},
		{"short key", func(c *Config) { c.Key = secret }, "Config.Key"},
		{"AES-128 key", func(c *Config) { c.Key = c.Key[:16] }, "Config.Key"},
		{"no bind address", func(c *Config) { c.BindAddr = "" }, "Config.BindAddr"},
		{"host name", func(c *Config) { c.BindAddr = "localhost" }, "Config.BindAddr"},
		{"negative port", func(c *Config) { c.BindPort = -1 }, "Config.BindPort"},
		{"huge port", func(c *Config) { c.BindPort = 70000 }, "Config.BindPort"},
		{"advertise host name", func(c *Config) { c.AdvertiseAddr = "node.example" }, "Config.AdvertiseAddr"},
		{"advertise port alone", func(c *Config) { c.AdvertisePort = 7946 }, "Config.AdvertisePort"},
		{"advertise port range", func(c *Config) { c.AdvertiseAddr, c.AdvertisePort = "10.0.0.1", 65536 }, "Config.AdvertisePort"},
		{"bad state", func(c *Config) { c.Meta.State = "France" }, "Config.Meta.State"},
		{"bad api", func(c *Config) { c.Meta.APIURL = "api" }, "Config.Meta.APIURL"},
		{"bad raft", func(c *Config) { c.Meta.RaftAddr = "" }, "Config.Meta.RaftAddr"},
		{"bad version", func(c *Config) { c.Meta.Version = "" }, "Config.Meta.Version"},
		{"no signer", func(c *Config) { c.Signer = nil }, "Config.Signer"},
		{"broken signer", func(c *Config) { c.Signer = jws.NewSigner(ed25519.PrivateKey("short")) }, "Config.Signer"},
		{"no roster", func(c *Config) { c.Roster = nil }, "Config.Roster"},
		{"negative probe", func(c *Config) { c.ProbeInterval = -time.Second }, "Config.ProbeInterval"},
		{"negative timeout", func(c *Config) { c.ProbeTimeout = -time.Second }, "Config.ProbeTimeout"},
		{"negative gossip", func(c *Config) { c.GossipInterval = -time.Second }, "Config.GossipInterval"},
		{"negative push/pull", func(c *Config) { c.PushPullInterval = -time.Second }, "Config.PushPullInterval"},
		{"timeout not below interval", func(c *Config) { c.ProbeTimeout = c.ProbeInterval }, "Config.ProbeTimeout"},
		{"default timeout above short interval", func(c *Config) { c.ProbeInterval, c.ProbeTimeout = 100*time.Millisecond, 0 }, "Config.ProbeTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good()
			c.edit(&cfg)
			g, err := Start(cfg)
			if err == nil {
				_ = g.Shutdown()
				t.Fatalf("Start accepted it")
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name %s", err, c.field)
			}
			for _, k := range [][]byte{cfg.Key, secret} {
				if len(k) > 0 && (strings.Contains(err.Error(), string(k[:8])) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(k)[:8])) {
					t.Fatalf("error %q quotes the key", err)
				}
			}
		})
	}
}

func TestStartAddresses(t *testing.T) {
	s := newLogSink(t)
	r := newTestRoster()
	priv := testPriv(1)
	r.set("FRA", priv.Public().(ed25519.PublicKey))
	a := start(t, testConfig(s, testMeta("FRA", 0), priv, r, testGossipKey(7)))
	host, port, err := net.SplitHostPort(a.LocalAddr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("LocalAddr %q: %v", a.LocalAddr(), err)
	}
	m, ok := a.Member("FRA")
	if !ok || !m.Alive || m.Addr != a.LocalAddr() {
		t.Fatalf("a lone node should see itself verified: %+v %t", m, ok)
	}

	// The port is taken: Start fails cleanly (and TestMain's leak check covers cleanup).
	p, _ := strconv.Atoi(port)
	busy := testConfig(s, testMeta("DEU", 1), testPriv(2), r, testGossipKey(7))
	busy.BindPort = p
	if g, err := Start(busy); err == nil {
		_ = g.Shutdown()
		t.Fatalf("Start on a busy port succeeded")
	}

	// Advertising another address, with the picked port.
	adv := testConfig(s, testMeta("GBR", 2), testPriv(3), r, testGossipKey(7))
	adv.AdvertiseAddr = "127.0.0.9"
	b := start(t, adv)
	if h, _, _ := net.SplitHostPort(b.LocalAddr()); h != "127.0.0.9" {
		t.Fatalf("advertised %q", b.LocalAddr())
	}

	// A node whose own key the roster does not list starts (it may be awaiting
	// admission) but says that peers will not trust it.
	r.set("ITA", testPriv(9).Public().(ed25519.PublicKey))
	start(t, testConfig(s, testMeta("ITA", 3), testPriv(4), r, testGossipKey(7)))
	if !s.contains("node=ITA", "own metadata does not verify") {
		t.Fatalf("no warning about unverifiable own metadata")
	}
}
