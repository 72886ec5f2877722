package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/policy"
)

// queueWait is how long a request waits for a free slot before it is turned away with 503.
const queueWait = 5 * time.Second

// maxResponseBytes bounds a buffered response; a larger one is an internal error rather
// than unbounded memory.
const maxResponseBytes = 64 << 20

// signedWriter buffers the response so that the signature, which must cover the exact
// body, can go in a header before the body is sent.
type signedWriter struct {
	header http.Header
	status int
	buf    *bytes.Buffer
	over   bool
}

func (w *signedWriter) Header() http.Header { return w.header }
func (w *signedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *signedWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.buf.Len()+len(p) > maxResponseBytes {
		w.over = true
		return 0, errors.New("api: response too large to sign")
	}
	return w.buf.Write(p)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// wrap applies, in order: the concurrency limit, the body limit, authentication, the
// token's rate limit, authorisation, the handler, then signing and metrics on the way out.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		w := &signedWriter{header: rw.Header(), buf: buf}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panicked", "route", rt.pattern, "panic", fmt.Sprint(p))
				buf.Reset()
				w.status = 0
				writeError(w, http.StatusInternalServerError, "internal", "", "the node hit an internal error", "the node's log has the detail; retry later")
			}
			s.finish(rw, w, r, rt, start)
			if buf.Cap() <= 1<<20 {
				bufPool.Put(buf)
			}
		}()

		select {
		case s.sem <- struct{}{}:
			defer func() { <-s.sem }()
		default:
			t := time.NewTimer(queueWait)
			select {
			case s.sem <- struct{}{}:
				t.Stop()
				defer func() { <-s.sem }()
			case <-t.C:
				w.header.Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, "overloaded", "", "the node is handling as many requests as it is set to", "retry after the time in Retry-After")
				return
			case <-r.Context().Done():
				return
			}
		}
		if r.ContentLength > s.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body", fmt.Sprintf("the body is %d bytes; the limit is %d", r.ContentLength, s.maxBody), "send a smaller body")
			return
		}
		r.Body = http.MaxBytesReader(nil, r.Body, s.maxBody)

		var p access.Principal
		switch {
		case rt.action == actPeer:
			state, ok := s.peerState(r)
			if !ok {
				writeError(w, http.StatusForbidden, "forbidden", "", "only a member state's node may call this, with its roster certificate", "")
				return
			}
			rt.handle(s, w, r, access.Principal{TokenID: "peer", Subject: "node " + state})
			return
		case s.admin:
			p = access.Principal{TokenID: "admin-socket", Subject: "operator (local socket)", Role: policy.RoleOperator}
		case authenticated(rt):
			var err error
			p, err = s.svc.Authenticate(bearer(r))
			if err != nil {
				w.header.Set("WWW-Authenticate", `Bearer realm="entente"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "Authorization", tokenProblem(err), "send a valid token as Authorization: Bearer TOKEN (entente token issue)")
				return
			}
		}
		if !s.withinRate(w, rt, p) {
			return
		}
		if rt.action != "" && !p.Allowed(rt.action) {
			writeError(w, http.StatusForbidden, "forbidden", "", fmt.Sprintf("role %q may not %s", p.Role, rt.action), "ask the node's operator for a token with a role that may")
			return
		}
		rt.handle(s, w, r, p)
	})
}

// finish signs the buffered body, sends it, and records the request.
func (s *Server) finish(rw http.ResponseWriter, w *signedWriter, r *http.Request, rt route, start time.Time) {
	if w.over {
		w.buf.Reset()
		w.status = 0
		writeError(w, http.StatusInternalServerError, "internal", "", "the response was too large to sign", "narrow the request (a smaller limit)")
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	body := w.buf.Bytes()
	signStart := time.Now()
	sig, err := s.svc.Signer().Detached(body)
	s.metrics.sign.Observe(time.Since(signStart).Seconds())
	if err != nil {
		// An unsigned response would break the API's promise: send nothing but the status.
		s.log.Error("signing the response failed", "route", rt.pattern, "err", err)
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set(SignatureHeader, sig)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(w.status)
	if r.Method != http.MethodHead {
		_, _ = rw.Write(body)
	}
	code := strconv.Itoa(w.status)
	s.metrics.requests.WithLabelValues(rt.pattern, code).Inc()
	s.metrics.duration.WithLabelValues(rt.pattern).Observe(time.Since(start).Seconds())
	if w.status >= 500 {
		s.log.Warn("request failed", "route", rt.pattern, "status", w.status)
	} else {
		s.log.Debug("request", "route", rt.pattern, "status", w.status, "took", time.Since(start))
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// tokenProblem says what was wrong with a token without echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, access.ErrNoToken):
		return "no bearer token"
	case errors.Is(err, access.ErrRevoked):
		return "the token was revoked"
	case errors.Is(err, jws.ErrExpired):
		return "the token has expired"
	case errors.Is(err, jws.ErrNotYetValid):
		return "the token is not valid yet"
	case errors.Is(err, jws.ErrAudience):
		return "the token was issued for another node"
	case errors.Is(err, jws.ErrAlgorithm):
		return "the token's algorithm is not accepted (EdDSA only)"
	case errors.Is(err, jws.ErrHeader):
		return "the token's header carries members that are not accepted (embedded keys or key URLs)"
	case errors.Is(err, jws.ErrSignature):
		return "the token's signature does not verify"
	default:
		return "the token is malformed"
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	sign     prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "entente_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "entente_http_request_duration_seconds", Help: "HTTP request latency by route, signing included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		sign: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "entente_http_response_sign_seconds", Help: "Time spent signing response bodies.",
			Buckets: []float64{.00001, .00002, .00005, .0001, .0002, .0005, .001},
		}),
	}
	// A second Server on the same registry (the admin socket) shares the collectors.
	m.requests = registerOr(reg, m.requests)
	m.duration = registerOr(reg, m.duration)
	m.sign = registerOr(reg, m.sign)
	return m
}

func registerOr[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(C)
		}
		panic(err)
	}
	return c
}
