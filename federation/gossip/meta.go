package gossip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/entente/entente/crypto/jws"
	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the federation about itself through gossip: where its API
// and its raft transport listen, and which software version it runs. Peers use it to
// reach the leader's API and to dial raft, so it is signed with the node's key and only
// trusted when the signature verifies against the roster.
//
// Every field is printable ASCII without spaces, quotes, backslashes or the characters
// encoding/json escapes (<, >, &), and bounded in length, so that the JSON encoding is
// exactly as long as the fields and every valid Meta fits in memberlist's 512-byte limit
// together with its signature.
type Meta struct {
	// State is the ISO 3166-1 alpha-3 code of the member state the node belongs to. It
	// must equal the node's gossip name and selects the roster keys that verify it.
	State string `json:"state"`
	// APIURL is the base URL of the node's API ("https://host:port/path", no user info,
	// query or fragment), at most MaxAPIURL bytes; followers forward writes to the
	// leader's APIURL.
	APIURL string `json:"api_url"`
	// RaftAddr is the host:port of the node's raft transport, at most MaxRaftAddr bytes.
	RaftAddr string `json:"raft_addr"`
	// Version is the node's software version, at most MaxVersion bytes; it lets
	// operators see a rolling upgrade progress.
	Version string `json:"version"`
}

// Field length limits for Meta. They are chosen so that the largest valid Meta, with its
// Ed25519 detached JWS (178 bytes), still fits in memberlist.MetaMaxSize.
const (
	// MaxAPIURL bounds Meta.APIURL: room for a long host name, a port and a path.
	MaxAPIURL = 160
	// MaxRaftAddr bounds Meta.RaftAddr: an IPv6 literal or a host name, and a port.
	MaxRaftAddr = 64
	// MaxVersion bounds Meta.Version: a semantic version with build metadata.
	MaxVersion = 48
)

// metaFormat is the first byte of the wire form; a later format gets a new number so an
// old node refuses it cleanly instead of misreading it.
const metaFormat = 0x01

// metaHeader is the format byte and the uint16 length of the meta JSON.
const metaHeader = 3

// signContext is prepended to the meta JSON before signing. The node's key also signs
// API response bodies (JSON, starting with '{' or '['); the prefix keeps a gossip
// signature from ever verifying as a response signature and vice versa.
const signContext = "entente-gossip-meta/1\n"

// errMalformedMeta marks metadata that does not decode: wrong size, format, framing,
// non-canonical or invalid JSON, or a field that breaks Meta's rules.
var errMalformedMeta = errors.New("malformed metadata")

// Reasons a decoded metadata blob is not trusted; they end up in Member.Reason.
var (
	errNameMismatch = errors.New("node name differs from metadata state")
	errNotOnRoster  = errors.New("state not on the roster")
	errSignature    = errors.New("signature does not verify against the roster")
)

// validate checks m against the rules documented on Meta; errors name the field.
func (m Meta) validate() error {
	if !isStateCode(m.State) {
		return fmt.Errorf("Meta.State: %.16q is not an ISO 3166-1 alpha-3 code (three letters A-Z)", m.State)
	}
	if err := checkField("Meta.APIURL", m.APIURL, MaxAPIURL); err != nil {
		return err
	}
	u, err := url.Parse(m.APIURL)
	switch {
	case err != nil:
		return fmt.Errorf("Meta.APIURL: not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("Meta.APIURL: scheme must be https or http")
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("Meta.APIURL: no host")
	case u.User != nil:
		return fmt.Errorf("Meta.APIURL: must not carry user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("Meta.APIURL: must not carry a query or fragment")
	}
	if err := checkField("Meta.RaftAddr", m.RaftAddr, MaxRaftAddr); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(m.RaftAddr)
	if err != nil || host == "" {
		return fmt.Errorf("Meta.RaftAddr: must be host:port")
	}
	if !isPort(port) {
		return fmt.Errorf("Meta.RaftAddr: port must be a number from 1 to 65535")
	}
	return checkField("Meta.Version", m.Version, MaxVersion)
}

func isStateCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// checkField requires a non-empty value of at most max bytes, made only of printable
// ASCII that encoding/json writes unescaped.
func checkField(name, v string, max int) error {
	if v == "" {
		return fmt.Errorf("%s: required", name)
	}
	if len(v) > max {
		return fmt.Errorf("%s: %d bytes, at most %d", name, len(v), max)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c <= ' ' || c >= 0x7f:
			return fmt.Errorf("%s: byte %d is not printable ASCII", name, i)
		case c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			return fmt.Errorf("%s: byte %d (%q) is not allowed", name, i, c)
		}
	}
	return nil
}

// signedBytes is what the detached JWS covers: the context prefix and the meta JSON.
func signedBytes(metaJSON []byte) []byte {
	b := make([]byte, 0, len(signContext)+len(metaJSON))
	b = append(b, signContext...)
	return append(b, metaJSON...)
}

// encodeMeta validates m, signs it and returns its wire form. Errors name the Meta field
// or the signer; a result longer than memberlist.MetaMaxSize is refused (it cannot
// happen with a valid Meta and an Ed25519 signer, but memberlist panics on one).
func encodeMeta(m Meta, s *jws.Signer) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding Meta: %w", err)
	}
	sig, err := s.Detached(signedBytes(body))
	if err != nil {
		return nil, fmt.Errorf("signing Meta with Config.Signer: %w", err)
	}
	return frameMeta(body, sig)
}

// frameMeta assembles the wire form from the meta JSON and its signature.
func frameMeta(body []byte, sig string) ([]byte, error) {
	n := metaHeader + len(body) + len(sig)
	if n > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("signed Meta encodes to %d bytes, more than memberlist's %d", n, memberlist.MetaMaxSize)
	}
	out := make([]byte, metaHeader, n)
	out[0] = metaFormat
	binary.BigEndian.PutUint16(out[1:], uint16(len(body)))
	out = append(out, body...)
	return append(out, sig...), nil
}

// decodeMeta parses a wire blob received from a peer. It trusts nothing: size, format,
// framing, canonical JSON and every field rule are checked, and no error quotes more
// than a few bytes of the input. It does not verify the signature; see verifyMeta.
func decodeMeta(b []byte) (m Meta, body []byte, sig string, err error) {
	if len(b) > memberlist.MetaMaxSize {
		return Meta{}, nil, "", fmt.Errorf("%w: %d bytes, more than %d", errMalformedMeta, len(b), memberlist.MetaMaxSize)
	}
	if len(b) == 0 {
		return Meta{}, nil, "", fmt.Errorf("%w: none", errMalformedMeta)
	}
	if len(b) < metaHeader {
		return Meta{}, nil, "", fmt.Errorf("%w: %d bytes, shorter than the header", errMalformedMeta, len(b))
	}
	if b[0] != metaFormat {
		return Meta{}, nil, "", fmt.Errorf("%w: format %d, only %d is understood", errMalformedMeta, b[0], metaFormat)
	}
	n := int(binary.BigEndian.Uint16(b[1:metaHeader]))
	if n == 0 || n >= len(b)-metaHeader {
		return Meta{}, nil, "", fmt.Errorf("%w: meta length %d does not leave room for a signature in %d bytes", errMalformedMeta, n, len(b))
	}
	body = b[metaHeader : metaHeader+n]
	sig = string(b[metaHeader+n:])

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Meta{}, nil, "", fmt.Errorf("%w: meta is not the expected JSON object", errMalformedMeta)
	}
	// Re-encoding must give back the exact bytes: this refuses trailing data, spaces,
	// duplicate or case-folded members and escapes, so the signed bytes and the Meta
	// reported are one and the same.
	canon, err := json.Marshal(m)
	if err != nil || !bytes.Equal(canon, body) {
		return Meta{}, nil, "", fmt.Errorf("%w: meta JSON is not in canonical form", errMalformedMeta)
	}
	if err := m.validate(); err != nil {
		return Meta{}, nil, "", fmt.Errorf("%w: %v", errMalformedMeta, err)
	}
	return m, bytes.Clone(body), sig, nil
}

// verifyMeta decodes a peer's blob and decides whether it is trusted: the node's gossip
// name must equal Meta.State and the signature must verify with a key the roster holds
// for that state. The decoded Meta is returned even when it is not trusted, so that
// operators can see what an untrusted node claims; callers must not use it then.
func verifyMeta(r Roster, name string, blob []byte) (Meta, error) {
	m, body, sig, err := decodeMeta(blob)
	if err != nil {
		return Meta{}, err
	}
	if name != m.State {
		return m, fmt.Errorf("%w: name %.16q, state %s", errNameMismatch, name, m.State)
	}
	ks, ok := r.SigningKeys(m.State)
	if !ok || ks == nil {
		return m, fmt.Errorf("%w: %s", errNotOnRoster, m.State)
	}
	if _, err := jws.VerifyDetached(ks, signedBytes(body), sig); err != nil {
		return m, fmt.Errorf("%w: %v", errSignature, err)
	}
	return m, nil
}
