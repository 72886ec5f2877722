package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/entente/entente/crypto/jws"
)

// CardVersion is the member card format version this package writes and reads.
const CardVersion = 1

// MaxCardSize caps a member card ParseCard reads. A card arrives from another state (by
// mail, a portal, a proposal) and is parsed before anyone trusts it; real cards are under
// a kilobyte.
const MaxCardSize = 64 << 10

// Card is the public member card other states need to admit this node.
type Card struct {
	Version      int             `json:"version"` // 1
	State        string          `json:"state"`
	AgeRecipient string          `json:"age_recipient"`
	SigningJWK   json.RawMessage `json:"signing_jwk"` // public Ed25519 JWK with kid
	TLSPin       string          `json:"tls_pin"`
	APIAddr      string          `json:"api_addr"`
	// RaftAddr and GossipAddr are where the node listens for the federation (cluster and
	// gossip ports); optional, since a node may run alone.
	RaftAddr   string `json:"raft_addr,omitempty"`
	GossipAddr string `json:"gossip_addr,omitempty"`
}

// cardFields are the exact member names of a card, in the order they are checked.
var cardFields = []string{"version", "state", "age_recipient", "signing_jwk", "tls_pin", "api_addr"}

// optionalCardFields may be present or absent.
var optionalCardFields = []string{"raft_addr", "gossip_addr"}

// Card returns the node's public member card for apiAddr, the host:port other states
// should dial. It holds public keys only. If the identity's signing key is unusable,
// SigningJWK is left empty and the card will not pass ParseCard.
func (id *Identity) Card(apiAddr string) Card {
	var signing json.RawMessage
	if id.Signer != nil {
		if b, err := jws.MarshalPublicJWK(id.Signer.Public()); err == nil {
			signing = b
		}
	}
	var recipient string
	if id.Age != nil {
		recipient = id.Age.Recipient().String()
	}
	return Card{
		Version:      CardVersion,
		State:        id.State,
		AgeRecipient: recipient,
		SigningJWK:   signing,
		TLSPin:       id.TLSPin,
		APIAddr:      apiAddr,
	}
}

// ParseCard parses and validates a member card. It is strict because the card decides
// which keys a whole federation will trust for a state: unknown, repeated or differently
// cased members, trailing data, more than MaxCardSize bytes, and any private key material
// in signing_jwk are refused, and every field is checked. Errors name the field.
// SigningJWK is returned in compact form.
func ParseCard(data []byte) (Card, error) {
	if len(data) > MaxCardSize {
		return Card{}, fmt.Errorf("card: %d bytes; at most %d are accepted", len(data), MaxCardSize)
	}
	if err := checkCardMembers(data); err != nil {
		return Card{}, fmt.Errorf("card: %w", err)
	}
	var c Card
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Card{}, fmt.Errorf("card: %w", err)
	}
	if err := c.validate(); err != nil {
		return Card{}, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, c.SigningJWK); err != nil {
		return Card{}, fmt.Errorf("card: signing_jwk: %w", err)
	}
	c.SigningJWK = compact.Bytes()
	return c, nil
}

// checkCardMembers walks the top-level object and refuses members that encoding/json would
// let through: repeated names (it keeps the last, so two readers could see two different
// cards), names that differ only in case, and anything after the object.
func checkCardMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not valid JSON: %w", err)
		}
		name, _ := tok.(string)
		known := false
		for _, f := range append(cardFields, optionalCardFields...) {
			known = known || f == name
		}
		if !known {
			return fmt.Errorf("unknown field %q", clip(name))
		}
		if seen[name] {
			return fmt.Errorf("field %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%s: not valid JSON: %w", name, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the card object")
	}
	for _, f := range cardFields {
		if !seen[f] {
			return fmt.Errorf("%s: missing", f)
		}
	}
	return nil
}

// validate checks every field and names the first bad one.
func (c Card) validate() error {
	if c.Version != CardVersion {
		return fmt.Errorf("card: version: %d is not supported (want %d)", c.Version, CardVersion)
	}
	if err := CheckStateShape(c.State); err != nil {
		return fmt.Errorf("card: state: %w", err)
	}
	if _, err := c.Recipient(); err != nil {
		return err
	}
	if _, err := c.SigningKey(); err != nil {
		return err
	}
	if err := checkPin(c.TLSPin); err != nil {
		return fmt.Errorf("card: tls_pin: %w", err)
	}
	for _, a := range []struct{ name, v string }{{"raft_addr", c.RaftAddr}, {"gossip_addr", c.GossipAddr}} {
		if a.v == "" {
			continue
		}
		if _, err := checkAPIAddr(a.v); err != nil {
			return fmt.Errorf("card: %s: %w", a.name, err)
		}
	}
	if _, err := checkAPIAddr(c.APIAddr); err != nil {
		return fmt.Errorf("card: api_addr: %w", err)
	}
	return nil
}

// Recipient returns the card's age recipient: the key values released to this state are
// sealed to. Only the canonical lower-case form is accepted, so a recipient has one
// spelling on every node.
func (c Card) Recipient() (*age.X25519Recipient, error) {
	if len(c.AgeRecipient) > 100 {
		return nil, errors.New("card: age_recipient: too long for an age X25519 recipient")
	}
	if strings.HasPrefix(strings.ToUpper(c.AgeRecipient), "AGE-SECRET-KEY-") {
		// Say so plainly: whoever made this card has published a private key.
		return nil, errors.New("card: age_recipient: holds an age secret key, not the public recipient (age1...); that key must be treated as leaked")
	}
	// age's error quotes its input; it is not wrapped so that a card error never repeats
	// whatever was pasted into the field.
	r, err := age.ParseX25519Recipient(c.AgeRecipient)
	if err != nil {
		return nil, errors.New("card: age_recipient: not an age X25519 recipient (age1..., 62 characters)")
	}
	if r.String() != c.AgeRecipient {
		return nil, errors.New("card: age_recipient: not in canonical form (lower-case age1...)")
	}
	return r, nil
}

// SigningKey returns the card's Ed25519 public signing key. The JWK must be public
// (a "d" member is refused: a card that carries a private key has leaked it) and its kid
// must be the key's RFC 7638 thumbprint.
func (c Card) SigningKey() (ed25519.PublicKey, error) {
	if len(c.SigningJWK) == 0 || string(c.SigningJWK) == "null" {
		return nil, errors.New("card: signing_jwk: missing")
	}
	pub, err := jws.ParsePublicJWK(c.SigningJWK)
	if err != nil {
		return nil, fmt.Errorf("card: signing_jwk: %w", err)
	}
	return pub, nil
}

// clip shortens s for an error message so that hostile input cannot blow up logs.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
