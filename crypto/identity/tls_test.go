package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestTLSCertificate(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		wantDNS []string
		wantIPs []string
	}{
		{"dns host", "Node.FRA.example:8443", []string{"localhost", "node.fra.example"}, []string{"127.0.0.1", "::1"}},
		{"ipv4 host", "192.0.2.10:8443", []string{"localhost"}, []string{"127.0.0.1", "::1", "192.0.2.10"}},
		{"ipv6 host", "[2001:db8::10]:8443", []string{"localhost"}, []string{"127.0.0.1", "::1", "2001:db8::10"}},
		{"loopback host", "127.0.0.1:8443", []string{"localhost"}, []string{"127.0.0.1", "::1"}},
		{"localhost", "localhost:8443", []string{"localhost"}, []string{"127.0.0.1", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			start := time.Now()
			id, err := Create(dir, "DEU", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(mustRead(t, filepath.Join(dir, tlsCertFile)))
			if block == nil || block.Type != "CERTIFICATE" {
				t.Fatal("tls.crt is not a PEM certificate")
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.DNSNames, tt.wantDNS) {
				t.Errorf("DNS SANs %v, want %v", cert.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IP SANs %v, want %v", ips, tt.wantIPs)
			}
			if cert.Subject.CommonName != "entente DEU" {
				t.Errorf("CN %q", cert.Subject.CommonName)
			}
			if cert.IsCA || cert.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("IsCA %v, KeyUsage %v", cert.IsCA, cert.KeyUsage)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
				t.Errorf("ExtKeyUsage %v", cert.ExtKeyUsage)
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
			}
			if cert.NotBefore.After(start) || cert.NotBefore.Before(start.Add(-time.Hour)) {
				t.Errorf("NotBefore %v, created %v", cert.NotBefore, start)
			}
			if d := cert.NotAfter.Sub(start); d < 2*365*24*time.Hour-time.Minute || d > 2*366*24*time.Hour {
				t.Errorf("valid for %v after creation, want 2 years", d)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			host, _, _ := net.SplitHostPort(tt.addr)
			if err := cert.VerifyHostname(host); err != nil {
				t.Errorf("certificate does not cover the API host: %v", err)
			}
			sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			if want := "sha256:" + base64.StdEncoding.EncodeToString(sum[:]); id.TLSPin != want || Pin(cert) != want {
				t.Errorf("pin %q, recomputed %q", id.TLSPin, want)
			}
			keyBlock, _ := pem.Decode(mustRead(t, filepath.Join(dir, tlsKeyFile)))
			if keyBlock == nil || keyBlock.Type != "PRIVATE KEY" {
				t.Fatal("tls.key is not a PKCS#8 PEM block")
			}
			if _, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes); err != nil {
				t.Errorf("tls.key: %v", err)
			}
		})
	}
}

// TestTLSPinnedHandshake checks that the certificate works for mutual TLS between two
// nodes that trust each other only by pin.
func TestTLSPinnedHandshake(t *testing.T) {
	_, a := create(t)
	_, b := create(t)
	verifyPin := func(want string) func([][]byte, [][]*x509.Certificate) error {
		return func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errNoCert
			}
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if Pin(cert) != want {
				return errWrongPin
			}
			return nil
		}
	}
	serverConf := &tls.Config{
		Certificates:          []tls.Certificate{a.TLS},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifyPin(b.TLSPin),
		MinVersion:            tls.VersionTLS13,
	}
	clientConf := &tls.Config{
		Certificates:          []tls.Certificate{b.TLS},
		InsecureSkipVerify:    true, // replaced by the pin check below
		VerifyPeerCertificate: verifyPin(a.TLSPin),
		MinVersion:            tls.VersionTLS13,
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	errs := make(chan error, 1)
	go func() {
		s := tls.Server(c1, serverConf)
		errs <- s.Handshake()
	}()
	if err := tls.Client(c2, clientConf).Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errNoCert   = testErr("no certificate")
	errWrongPin = testErr("pin mismatch")
)
