package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// certValidity is how long the self-signed certificate is valid. Peers trust it by pin,
// not by chain, so the expiry is a backstop that forces a key change now and then rather
// than the thing that keeps the federation safe.
const certValidity = 2 * 365 * 24 * time.Hour

// certBackdate allows for peers whose clocks run a little behind ours.
const certBackdate = 5 * time.Minute

// pinPrefix names the hash in a TLS pin so that the format can change without ambiguity.
const pinPrefix = "sha256:"

// Pin returns the TLS pin of a certificate: "sha256:" followed by the standard base64 of
// the SHA-256 of its SubjectPublicKeyInfo. The pin covers the key, not the certificate,
// so a node can renew its certificate with the same key without every peer updating.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return pinPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// checkPin validates the form of a pin as it appears on a card.
func checkPin(pin string) error {
	b64, ok := strings.CutPrefix(pin, pinPrefix)
	if !ok {
		return fmt.Errorf("want %q followed by base64 of a SHA-256 digest", pinPrefix)
	}
	sum, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return fmt.Errorf("want %q followed by the standard base64 of a 32-byte SHA-256 digest", pinPrefix)
	}
	return nil
}

// newTLS makes the node's ECDSA P-256 key and a self-signed certificate for it, usable
// both as a server certificate (the API) and as a client certificate (raft mutual TLS).
// It returns the PEM encodings of the certificate and of the PKCS#8 key.
func newTLS(state, apiHost string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("identity: certificate serial: %w", err)
	}
	dnsNames, ips := sans(apiHost)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "entente " + state},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: create TLS certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: encode TLS key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return certPEM, keyPEM, nil
}

// sans lists the certificate's subject alternative names: loopback for local tools and
// the test network, plus the API host so that peers can dial the node by the address on
// its card.
func sans(apiHost string) ([]string, []net.IP) {
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if apiHost == "" {
		return dnsNames, ips
	}
	if addr, err := netip.ParseAddr(apiHost); err == nil {
		ip := net.IP(addr.AsSlice())
		for _, have := range ips {
			if have.Equal(ip) {
				return dnsNames, ips
			}
		}
		return dnsNames, append(ips, ip)
	}
	host := strings.ToLower(apiHost)
	if host != "localhost" {
		dnsNames = append(dnsNames, host)
	}
	return dnsNames, ips
}

// checkAPIAddr validates an API address as host:port that another state can dial and
// returns the host. An empty or unspecified host (":8443", "0.0.0.0:8443") is a listen
// address, not an address to publish.
func checkAPIAddr(addr string) (string, error) {
	if len(addr) > 261 {
		return "", errors.New("longer than a host name and port can be")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port, for example node.example.org:8443 or [2001:db8::1]:8443", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] < '0' || port[0] > '9' {
		return "", fmt.Errorf("%q: port must be a number from 1 to 65535", addr)
	}
	if host == "" {
		return "", fmt.Errorf("%q: give a host other states can reach, for example node.example.org:8443", addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("%q: an IPv6 zone is local to this machine; give an address other states can reach", addr)
		}
		if ip.IsUnspecified() {
			return "", fmt.Errorf("%q: %s is a listen address; give one other states can reach", addr, host)
		}
		return host, nil
	}
	if !isDNSName(host) {
		return "", fmt.Errorf("%q: %q is neither an IP address nor a DNS name", addr, host)
	}
	return host, nil
}

// isDNSName reports whether s is a syntactically valid DNS host name (RFC 1123 labels).
func isDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
