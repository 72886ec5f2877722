package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/entente/entente/node/access"
)

// Session limits. A session ends after IdleTimeout without a request or MaxAge after
// sign-in, whichever comes first, and in any case when its token stops authenticating.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultMaxSessions = 1000
)

// session is one signed-in browser. The token stays in this process's memory so that it
// can be authenticated again on every request; it is never written to disk, logged or
// sent back to the browser, which holds only the random session id.
type session struct {
	token    string
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions is the in-memory session store, bounded in count. It is keyed by the SHA-256
// of the session id, so a lookup's timing says nothing about the ids it holds.
type sessions struct {
	mu      sync.Mutex
	byHash  map[[32]byte]*session
	idle    time.Duration
	maxAge  time.Duration
	maxSize int
	now     func() time.Time
}

func newSessions(idle, maxAge time.Duration, maxSize int, now func() time.Time) *sessions {
	return &sessions{byHash: map[[32]byte]*session{}, idle: idle, maxAge: maxAge, maxSize: maxSize, now: now}
}

// randomToken is 256 random bits, base64url without padding.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ui: the system's random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) expired(se *session, now time.Time) bool {
	return now.Sub(se.lastSeen) > s.idle || now.Sub(se.created) > s.maxAge
}

// create starts a session for token and returns its id. When the store is full it first
// drops expired sessions, then the least recently used one.
func (s *sessions) create(token string) (id string, se *session) {
	id = randomToken()
	now := s.now()
	se = &session{token: token, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byHash) >= s.maxSize {
		var oldest [32]byte
		var oldestSeen time.Time
		for k, v := range s.byHash {
			if s.expired(v, now) {
				delete(s.byHash, k)
				continue
			}
			if oldestSeen.IsZero() || v.lastSeen.Before(oldestSeen) {
				oldest, oldestSeen = k, v.lastSeen
			}
		}
		if len(s.byHash) >= s.maxSize {
			delete(s.byHash, oldest)
		}
	}
	s.byHash[sha256.Sum256([]byte(id))] = se
	return id, se
}

// get returns the live session with id and marks it used; an expired one is removed.
func (s *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byHash[k]
	if !ok {
		return nil, false
	}
	if s.expired(se, now) {
		delete(s.byHash, k)
		return nil, false
	}
	se.lastSeen = now
	c := *se
	return &c, true
}

// alive reports whether the session with id is still live, without counting the check
// as activity: an open live timeline does not keep an idle session alive.
func (s *sessions) alive(id string) bool {
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byHash[k]
	return ok && !s.expired(se, now)
}

// end removes the session with id.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, sha256.Sum256([]byte(id)))
}

// count is the number of sessions held, expired ones included until they are next seen.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// sameToken compares two secret strings in constant time.
func sameToken(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// viewer is the signed-in caller of one request.
type viewer struct {
	id string
	se *session
	p  access.Principal
}
