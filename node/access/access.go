// Package access decides who is calling the node. It issues the node's client tokens,
// records every token id it issues, revokes them with immediate effect, and turns a bearer
// token into a Principal whose role the policy package then checks.
//
// Revocation is a deny list kept both in bbolt (so it survives restarts) and in memory (so
// a revoked token is refused on the very next request without a database read).
// Verified tokens are cached by their exact bytes so that the Ed25519 check runs once per
// token rather than once per request; expiry and revocation are still checked every time.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/policy"
)

// Errors returned by Authenticate, besides the jws token errors it wraps.
var (
	// ErrRevoked means the token's id was revoked.
	ErrRevoked = errors.New("token revoked")
	// ErrNoToken means the request carried no bearer token.
	ErrNoToken = errors.New("no bearer token")
	// ErrUnknownToken means a revocation named a token id this node never issued.
	ErrUnknownToken = errors.New("no token with that id was issued by this node")
)

var bucketTokens = []byte("tokens")

// Principal is an authenticated caller.
type Principal struct {
	TokenID string      `json:"token_id"`
	Subject string      `json:"subject"`
	Role    policy.Role `json:"role"`
	Expiry  time.Time   `json:"expiry"`
}

// Allowed reports whether the principal's role may perform a.
func (p Principal) Allowed(a policy.Action) bool { return policy.Allowed(p.Role, a) }

// Token is the record a node keeps of a token it issued. The token itself is never stored.
type Token struct {
	ID      string      `json:"id"`
	Subject string      `json:"subject"`
	Role    policy.Role `json:"role"`
	Issued  time.Time   `json:"issued"`
	Expiry  time.Time   `json:"expiry"`
	Revoked *time.Time  `json:"revoked,omitempty"`
}

// KeySource gives the current signer and the public key set; the node swaps both when the
// signing key is rotated.
type KeySource interface {
	Signer() *jws.Signer
	KeySet() *jws.KeySet
}

// Registry issues, records, revokes and checks tokens for one node.
type Registry struct {
	audience string
	keys     KeySource

	mu      sync.RWMutex
	revoked map[string]bool
	cache   map[[32]byte]jws.Claims
}

// cacheLimit bounds the verified-token cache; when full it is emptied, which only costs
// one signature check per live token.
const cacheLimit = 8192

// EnsureBuckets creates the registry's bucket.
func EnsureBuckets(tx *bbolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketTokens)
	return err
}

// NewRegistry loads the revoked token ids from tx's database.
func NewRegistry(tx *bbolt.Tx, audience string, keys KeySource) (*Registry, error) {
	r := &Registry{audience: audience, keys: keys, revoked: map[string]bool{}, cache: map[[32]byte]jws.Claims{}}
	b := tx.Bucket(bucketTokens)
	if b == nil {
		return nil, errors.New("access: tokens bucket missing")
	}
	err := b.ForEach(func(k, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("access: token record %q: %w", k, err)
		}
		if t.Revoked != nil {
			r.revoked[t.ID] = true
		}
		return nil
	})
	return r, err
}

// Audience is the aud claim this node issues and accepts.
func (r *Registry) Audience() string { return r.audience }

// Issue mints a token for subject with role, valid from now for ttl, and records its id
// in tx. The caller commits tx (with the audit entry) before handing the token out.
func (r *Registry) Issue(tx *bbolt.Tx, subject string, role policy.Role, ttl time.Duration, now time.Time) (string, Token, error) {
	if _, err := policy.ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	if subject == "" || len(subject) > 128 {
		return "", Token{}, errors.New("subject: want 1 to 128 characters naming who holds the token")
	}
	// Tokens carry whole seconds: a shorter ttl would be refused by the signer with a
	// message about exp and iat, and a fractional one would make the record's expiry
	// later than the token's.
	if ttl < time.Second {
		return "", Token{}, errors.New("ttl: must be at least one second")
	}
	id, err := newTokenID()
	if err != nil {
		return "", Token{}, err
	}
	now = now.UTC().Truncate(time.Second)
	t := Token{ID: id, Subject: subject, Role: role, Issued: now, Expiry: now.Add(ttl).Truncate(time.Second)}
	raw, err := r.keys.Signer().IssueToken(jws.Claims{
		ID: id, Issuer: r.audience, Subject: subject, Audience: r.audience, Role: string(role),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: t.Expiry.Unix(),
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("access: sign token: %w", err)
	}
	v, _ := json.Marshal(t)
	if err := tx.Bucket(bucketTokens).Put([]byte(id), v); err != nil {
		return "", Token{}, fmt.Errorf("access: record token: %w", err)
	}
	return raw, t, nil
}

// Revoke marks id revoked in tx. Call Revoked after tx commits so that the in-memory
// deny list never runs ahead of the database.
func (r *Registry) Revoke(tx *bbolt.Tx, id string, now time.Time) (Token, error) {
	b := tx.Bucket(bucketTokens)
	v := b.Get([]byte(id))
	if v == nil {
		return Token{}, fmt.Errorf("%w: %q", ErrUnknownToken, id)
	}
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return Token{}, fmt.Errorf("access: token record %q: %w", id, err)
	}
	if t.Revoked == nil {
		at := now.UTC()
		t.Revoked = &at
		nv, _ := json.Marshal(t)
		if err := b.Put([]byte(id), nv); err != nil {
			return Token{}, fmt.Errorf("access: revoke: %w", err)
		}
	}
	return t, nil
}

// Revoked applies a committed revocation to the in-memory deny list.
func (r *Registry) Revoked(id string) {
	r.mu.Lock()
	r.revoked[id] = true
	r.mu.Unlock()
}

// List returns every token this node issued, in token id order (ids are random, so this
// is not the order of issue).
func List(tx *bbolt.Tx) ([]Token, error) {
	var out []Token
	err := tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// Authenticate checks a bearer token and returns its principal.
func (r *Registry) Authenticate(raw string, now time.Time) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	if len(raw) > jws.MaxTokenBytes {
		return Principal{}, fmt.Errorf("%w: token longer than %d bytes", jws.ErrMalformed, jws.MaxTokenBytes)
	}
	key := sha256.Sum256([]byte(raw))
	r.mu.RLock()
	c, cached := r.cache[key]
	r.mu.RUnlock()
	if !cached {
		var err error
		c, err = jws.ParseToken(raw, r.keys.KeySet(), r.audience, now)
		if err != nil {
			return Principal{}, err
		}
		if _, err := policy.ParseRole(c.Role); err != nil {
			return Principal{}, fmt.Errorf("%w: %v", jws.ErrMalformed, err)
		}
		r.mu.Lock()
		if len(r.cache) >= cacheLimit {
			clear(r.cache)
		}
		r.cache[key] = c
		r.mu.Unlock()
	}
	if now.Unix() >= c.Expiry {
		return Principal{}, fmt.Errorf("%w: expired at %s", jws.ErrExpired, time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	}
	r.mu.RLock()
	revoked := r.revoked[c.ID]
	r.mu.RUnlock()
	if revoked {
		return Principal{}, ErrRevoked
	}
	return Principal{TokenID: c.ID, Subject: c.Subject, Role: policy.Role(c.Role), Expiry: time.Unix(c.Expiry, 0).UTC()}, nil
}

func newTokenID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("access: token id: %w", err)
	}
	return "tok_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
