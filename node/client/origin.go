package client

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/node/api"
)

// Proof of origin. A response signature proves what the integrator's own node said. A
// federation alert can prove more: it carries the signed command that raised it, signed
// by the state that proposed it, so an integrator can show that state said it without
// trusting its own node. The originator's keys come from the federation's roster, not
// from the node: GET /v1/federation/members does not serve them (and integrator tokens
// may not read it), so RosterKeys reads them from the genesis document, which every
// member state holds. A state admitted after the genesis is not in it; its keys come
// from its member card, through the same channel the federation admitted it by.

// ErrOrigin means an alert's proof of origin is missing or does not verify.
var ErrOrigin = errors.New("client: the alert's originator signature is missing or does not verify")

// RosterKeys reads each member state's signing keys from a federation genesis document
// (the file every node starts from), keyed by state code.
func RosterKeys(genesis []byte) (map[string]*jws.KeySet, error) {
	var g struct {
		Members []struct {
			Code        string          `json:"code"`
			SigningKeys json.RawMessage `json:"signing_keys"`
		} `json:"members"`
	}
	if err := json.Unmarshal(genesis, &g); err != nil {
		return nil, fmt.Errorf("client: genesis: %w", err)
	}
	if len(g.Members) == 0 {
		return nil, errors.New("client: genesis: no members")
	}
	out := make(map[string]*jws.KeySet, len(g.Members))
	for _, m := range g.Members {
		ks, err := jws.ParseKeySet(m.SigningKeys)
		if err != nil {
			return nil, fmt.Errorf("client: genesis: %s's signing keys: %w", m.Code, err)
		}
		out[m.Code] = ks
	}
	return out, nil
}

// VerifyAlertOrigin checks a federation alert's proof of origin against the originating
// state's keys (see RosterKeys): that the signed command is framed as a federation
// command, names the alert's origin and type, and carries that state's valid signature.
// It returns the key id that signed. Local alerts have no originator signature: they are
// the node's own word, which the response or event signature already proves.
func VerifyAlertOrigin(a api.AlertView, originKeys *jws.KeySet) (string, error) {
	if a.Source != "federation" {
		return "", fmt.Errorf("%w: a %s alert is the node's own; its response signature is its proof", ErrOrigin, a.Source)
	}
	cmd := a.Command
	if cmd == nil {
		return "", fmt.Errorf("%w: alert %d carries no signed command", ErrOrigin, a.Seq)
	}
	if originKeys == nil {
		return "", fmt.Errorf("%w: no keys for %s", ErrOrigin, a.Origin)
	}
	input, err := base64.RawURLEncoding.DecodeString(cmd.SigningInput)
	if err != nil {
		return "", fmt.Errorf("%w: alert %d: signing input is not base64url", ErrOrigin, a.Seq)
	}
	c, err := parseSigningInput(input)
	if err != nil {
		return "", fmt.Errorf("%w: alert %d: %v", ErrOrigin, a.Seq, err)
	}
	// The origin and type that count are the ones inside the signed bytes.
	if c.Origin != a.Origin || cmd.Origin != a.Origin || c.Type.String() != cmd.Type {
		return "", fmt.Errorf("%w: alert %d from %s: the signed command is a %s from %s", ErrOrigin, a.Seq, a.Origin, c.Type, c.Origin)
	}
	c.Signature = cmd.Signature
	kid, err := c.Verify(originKeys)
	if err != nil {
		return "", fmt.Errorf("%w: alert %d: %v", ErrOrigin, a.Seq, err)
	}
	return kid, nil
}

// parseSigningInput reads a command back from the bytes its origin signed (domain, type,
// version, origin, payload, see command.SigningInput), and accepts it only if framing it
// again gives the same bytes, which checks the domain without copying it here.
func parseSigningInput(b []byte) (*command.Command, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 || len(b) < i+4 {
		return nil, errors.New("not a federation command's signing input")
	}
	rest := b[i+1:]
	c := &command.Command{Type: command.Type(rest[0]), Version: rest[1]}
	n := int(rest[2])
	rest = rest[3:]
	if len(rest) < n+4 {
		return nil, errors.New("signing input truncated")
	}
	c.Origin = string(rest[:n])
	size := binary.BigEndian.Uint32(rest[n : n+4])
	if uint64(len(rest[n+4:])) != uint64(size) {
		return nil, errors.New("signing input has the wrong payload length")
	}
	c.Payload = rest[n+4:]
	if !bytes.Equal(c.SigningInput(), b) {
		return nil, errors.New("not a federation command's signing input")
	}
	return c, nil
}

// Delivery is a webhook delivery whose signature verified: the envelope the node signed,
// and the alert it carries.
type Delivery struct {
	// ID is the delivery id: the same on every attempt, so the receiver's idempotency key.
	ID       string          `json:"id"`
	Hook     string          `json:"hook"`
	Event    string          `json:"event"`
	Kind     string          `json:"kind"`
	Enqueued time.Time       `json:"enqueued"`
	Payload  json.RawMessage `json:"payload"`
	// Alert is Payload decoded.
	Alert api.AlertView `json:"-"`
	// KID is the key that signed.
	KID string `json:"-"`
}

// maxDelivery bounds a delivery body a receiver reads.
const maxDelivery = 4 << 20

// ReadDelivery reads a webhook delivery from the request a receiver got (bounded) and
// verifies it; see VerifyDelivery.
func ReadDelivery(r *http.Request, keys *jws.KeySet) (*Delivery, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDelivery+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDelivery {
		return nil, fmt.Errorf("client: delivery larger than %d bytes", maxDelivery)
	}
	return VerifyDelivery(keys, r.Header, body)
}

// VerifyDelivery verifies a webhook delivery: the detached JWS in X-JWS-Signature over
// the exact body, against the node's pinned keys, before anything in it is read; and the
// X-Entente-Delivery header, which is not signed, against the id inside the body. A
// receiver should then drop any delivery id it has already handled.
func VerifyDelivery(keys *jws.KeySet, h http.Header, body []byte) (*Delivery, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no pinned keys to verify the delivery with", ErrUnsigned)
	}
	kid, err := jws.VerifyDetached(keys, body, h.Get(SignatureHeader))
	if err != nil {
		return nil, fmt.Errorf("%w: webhook delivery: %v", ErrUnsigned, err)
	}
	var d Delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("client: the node signed a delivery that does not decode: %w", err)
	}
	if d.ID == "" || h.Get("X-Entente-Delivery") != d.ID {
		return nil, fmt.Errorf("%w: X-Entente-Delivery %q does not match the signed id %q", ErrUnsigned, h.Get("X-Entente-Delivery"), d.ID)
	}
	if err := json.Unmarshal(d.Payload, &d.Alert); err != nil {
		return nil, fmt.Errorf("client: the delivery's alert does not decode: %w", err)
	}
	d.KID = kid
	return &d, nil
}
