// Package command defines the federation's replicated commands: how each is framed in a
// raft log entry, how the proposing state signs it, and the versioned payload of each type.
//
// A command is verified twice: by the node that proposes it, before it reaches raft, and
// by every replica when it is applied, against the roster in the replicated state. So the
// log alone proves who said what. Type numbers are append-only: a new command gets the next
// number, and a number is never reused or renumbered (see DESIGN.md).
package command

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/entente/entente/crypto/jws"
)

// Type is a command's type byte.
type Type byte

// Command types. Append only; never renumber. Types with bit 0x80 set may be skipped by a
// node that does not know them (none are defined yet).
const (
	TypeNominate    Type = 1  // a state nominates a party for the consensus watchlist
	TypeVote        Type = 2  // a member endorses or objects to a nomination
	TypeAppeal      Type = 3  // a member brings an appeal against a listing
	TypeAppealVote  Type = 4  // a voter decides an appeal: delist or uphold
	TypeRenew       Type = 5  // the originator renews a listing before its review falls due
	TypeTransition  Type = 6  // the leader applies a deadline transition that has fallen due
	TypeIndicator   Type = 7  // a state publishes a risk indicator
	TypeCorroborate Type = 8  // another state corroborates an indicator
	TypeWithdraw    Type = 9  // the originator withdraws its indicator
	TypeEpochKey    Type = 10 // a node publishes its recipient for a key epoch
	TypeMembership  Type = 11 // a member proposes to admit or remove a state
	TypeMemberVote  Type = 12 // a voter endorses or objects to a membership proposal
	TypeRewrap      Type = 13 // the originator rewraps a retained subject's key to later epochs
	TypeDecide      Type = 14 // a voter decides a disputed nomination: list or reject
)

// SkippableBit marks a type that a node which does not know it may skip.
const SkippableBit Type = 0x80

var typeNames = map[Type]string{
	TypeNominate: "nominate", TypeVote: "vote", TypeAppeal: "appeal", TypeAppealVote: "appeal-vote",
	TypeRenew: "renew", TypeTransition: "transition", TypeIndicator: "indicator",
	TypeCorroborate: "corroborate", TypeWithdraw: "withdraw", TypeEpochKey: "epoch-key",
	TypeMembership: "membership", TypeMemberVote: "member-vote", TypeRewrap: "rewrap",
	TypeDecide: "decide",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", byte(t))
}

// Known reports whether this build knows t.
func (t Type) Known() bool { _, ok := typeNames[t]; return ok }

// Errors.
var (
	// ErrMalformed means bytes do not decode as a command or entry. On apply it halts the
	// node: replicas that cannot decode the same entry would diverge.
	ErrMalformed = errors.New("command: malformed")
	// ErrSignature means a command's signature does not verify for its origin state.
	ErrSignature = errors.New("command: signature does not verify for the origin state")
	// ErrInvalid means a payload decodes but breaks a shape rule (a missing field, a bad
	// code); the error names the field.
	ErrInvalid = errors.New("command: invalid")
)

// Limits that bound what a proposer can make every replica store.
const (
	MaxPayload   = 256 << 10
	MaxSignature = 1024
	MaxEntry     = MaxPayload + MaxSignature + 64
)

// domain separates command signatures from every other signature the state's key makes
// (API responses, tokens, gossip metadata).
const domain = "entente/command/v1\x00"

// Command is one signed, replicated command.
type Command struct {
	Type    Type
	Version uint8
	// Origin is the ISO 3166-1 alpha-3 code of the proposing state; its roster key signs.
	Origin string
	// Payload is the canonical JSON of the type's payload struct.
	Payload []byte
	// Signature is a compact detached JWS (EdDSA) over SigningInput.
	Signature string
}

// SigningInput is what the origin state signs: the domain, the type, the version, the
// origin and the payload, each unambiguously framed.
func (c *Command) SigningInput() []byte {
	b := make([]byte, 0, len(domain)+8+len(c.Origin)+len(c.Payload))
	b = append(b, domain...)
	b = append(b, byte(c.Type), c.Version, byte(len(c.Origin)))
	b = append(b, c.Origin...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Payload)))
	return append(b, c.Payload...)
}

// Sign signs c with the origin state's current signing key.
func (c *Command) Sign(s *jws.Signer) error {
	sig, err := s.Detached(c.SigningInput())
	if err != nil {
		return fmt.Errorf("command: sign: %w", err)
	}
	c.Signature = sig
	return nil
}

// Verify checks c's signature against the origin state's keys (from the roster). It
// returns the key id that signed.
func (c *Command) Verify(originKeys *jws.KeySet) (string, error) {
	if originKeys == nil {
		return "", fmt.Errorf("%w: %s is not on the roster", ErrSignature, c.Origin)
	}
	kid, err := jws.VerifyDetached(originKeys, c.SigningInput(), c.Signature)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrSignature, c.Origin, err)
	}
	return kid, nil
}

// Marshal encodes c: type, version, origin length and origin, payload length (4 bytes,
// big-endian) and payload, signature length (2 bytes) and signature.
func (c *Command) Marshal() ([]byte, error) {
	if len(c.Origin) == 0 || len(c.Origin) > 16 || len(c.Payload) > MaxPayload || len(c.Signature) > MaxSignature {
		return nil, fmt.Errorf("%w: origin, payload or signature out of bounds", ErrMalformed)
	}
	b := make([]byte, 0, 9+len(c.Origin)+len(c.Payload)+len(c.Signature))
	b = append(b, byte(c.Type), c.Version, byte(len(c.Origin)))
	b = append(b, c.Origin...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Payload)))
	b = append(b, c.Payload...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Signature)))
	return append(b, c.Signature...), nil
}

// Unmarshal decodes a command strictly: every length is checked, nothing may trail.
func Unmarshal(b []byte) (*Command, error) {
	bad := func(what string) (*Command, error) { return nil, fmt.Errorf("%w: %s", ErrMalformed, what) }
	if len(b) < 3 {
		return bad("too short")
	}
	c := &Command{Type: Type(b[0]), Version: b[1]}
	n := int(b[2])
	b = b[3:]
	if n == 0 || n > 16 || len(b) < n {
		return bad("origin")
	}
	c.Origin, b = string(b[:n]), b[n:]
	if len(b) < 4 {
		return bad("payload length")
	}
	pl := binary.BigEndian.Uint32(b)
	b = b[4:]
	if pl > MaxPayload || uint32(len(b)) < pl {
		return bad("payload")
	}
	c.Payload, b = bytes.Clone(b[:pl]), b[pl:]
	if len(b) < 2 {
		return bad("signature length")
	}
	sl := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if sl > MaxSignature || len(b) != sl {
		return bad("signature")
	}
	c.Signature = string(b)
	return c, nil
}

// Entry is a raft log entry's data: the leader's stamp and one command.
type Entry struct {
	// Stamp is the leader's clock when it appended the entry, in Unix nanoseconds. It is
	// the only time the state machine sees.
	Stamp int64
	// Command is the encoded command.
	Command []byte
}

// MarshalEntry frames an entry: the stamp as 8 bytes big-endian, then the command.
func MarshalEntry(e Entry) []byte {
	b := make([]byte, 8, 8+len(e.Command))
	binary.BigEndian.PutUint64(b, uint64(e.Stamp))
	return append(b, e.Command...)
}

// UnmarshalEntry splits entry data into stamp and command bytes.
func UnmarshalEntry(b []byte) (Entry, error) {
	if len(b) < 8+3 || len(b) > MaxEntry {
		return Entry{}, fmt.Errorf("%w: entry of %d bytes", ErrMalformed, len(b))
	}
	return Entry{Stamp: int64(binary.BigEndian.Uint64(b)), Command: bytes.Clone(b[8:])}, nil
}
