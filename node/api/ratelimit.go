package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entente/entente/node/access"
)

// Fair use. max_concurrent shares the node among everyone at once, but one integrator's
// tight loop can still hold most of it for as long as it runs. A token bucket per client
// token lets each token make RateBurst requests at once and RateLimit per second on
// average; beyond that it gets 429 with Retry-After, and other tokens are not affected.
//
// The key is the token id, not the address: integrators sit behind NATs and proxies, and
// the token is what the node issued and can revoke. Only authenticated requests are
// limited: the public probes carry no token, a request with a bad token is refused before
// it costs anything, the operator's admin socket must work when the API is busiest, and
// member nodes' calls (raft forwarding, reads) are the federation itself.

const (
	// maxTrackedTokens caps the buckets held. Tokens are issued by the node, so this is
	// defence in depth rather than the expected bound: a full bucket is dropped anyway.
	maxTrackedTokens = 100_000
	// sweepEvery is how often buckets that have refilled are dropped.
	sweepEvery = time.Minute
)

// rateLimiter holds one token bucket per client token.
type rateLimiter struct {
	rate    float64 // requests added per second
	burst   float64 // the bucket's size
	max     int     // buckets held at most
	refused *prometheus.CounterVec

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

// bucket is a token's budget: tokens requests available as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter returns nil (no limit) when rate is not positive.
func newRateLimiter(rate float64, burst int, reg *prometheus.Registry) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	refused := registerOr(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "entente_http_rate_limited_total", Help: "Requests refused with 429 because their token was over its rate limit, by route.",
	}, []string{"route"}))
	return &rateLimiter{rate: rate, burst: float64(max(burst, 1)), max: maxTrackedTokens, refused: refused, buckets: map[string]*bucket{}}
}

// take spends one request from id's bucket at now. When the bucket holds less than one
// it spends nothing and returns how long until it holds one again.
func (l *rateLimiter) take(id string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	b, ok := l.buckets[id]
	if !ok {
		if len(l.buckets) >= l.max {
			l.makeRoom(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[id] = b
	} else if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops every bucket that has refilled by now: a new bucket would be the same, so
// forgetting it costs the token nothing. This is what keeps memory to the tokens in use.
func (l *rateLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for id, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, id)
		}
	}
}

// makeRoom frees a slot when the cap is reached: refilled buckets first, and if every
// bucket is in use, an arbitrary one (map order is random), whose token then starts
// again from a full bucket. That leniency needs more tokens active at once than the
// cap, which a node that issues its own tokens does not see in practice; memory stays
// bounded either way.
func (l *rateLimiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.sweep(now)
	}
	for id := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, id)
	}
}

// tracked is how many buckets are held (for tests).
func (l *rateLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// withinRate spends one request of p's token and reports whether the request may go on;
// when it may not, it has written the 429. Requests without a client token (public
// routes) and the admin socket are not limited.
func (s *Server) withinRate(w http.ResponseWriter, rt route, p access.Principal) bool {
	if s.limiter == nil || s.admin || p.TokenID == "" {
		return true
	}
	ok, wait := s.limiter.take(p.TokenID, s.now())
	if ok {
		return true
	}
	// Retry-After is in whole seconds; rounding up means a client that obeys it finds a
	// request waiting for it.
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	s.limiter.refused.WithLabelValues(rt.pattern).Inc()
	writeError(w, http.StatusTooManyRequests, "rate_limited", "",
		fmt.Sprintf("this token is over its rate limit of %g requests per second (%g at once)", s.limiter.rate, s.limiter.burst),
		"retry after the seconds in Retry-After, and pace requests; the node's operator sets rate_limit and rate_burst")
	return false
}
