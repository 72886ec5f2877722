package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entente/entente/node/access"
)

// AlertService is what the alert feed and stream need from the node.
type AlertService interface {
	// AlertFeed returns up to limit alerts after the cursor, as p may see them, each
	// already encoded as its AlertView, and the cursor to continue from (AlertPage.Next).
	AlertFeed(p access.Principal, after uint64, limit int, kinds []string) ([]RawAlert, uint64, error)
	// AppendAlertPage appends the same alerts to dst as the JSON of an AlertPage: the
	// bytes json.Encoder (without HTML escaping) writes for it, newline included.
	AppendAlertPage(dst []byte, p access.Principal, after uint64, limit int, kinds []string) ([]byte, error)
	// FeedWait returns a channel closed when alerts are next appended.
	FeedWait() <-chan struct{}
}

// RawAlert is one alert as a caller sees it, already encoded: JSON is the exact bytes of
// its AlertView. The node keeps each alert's caller-independent part encoded, so pages
// and stream events are written by concatenation rather than encoded value by value.
type RawAlert struct {
	Seq  uint64
	JSON []byte
}

// AlertPage is one page of the alert feed. Next is the cursor to pass as after to
// continue; it moves past alerts a kind filter left out, so a filtered feed still ends.
type AlertPage struct {
	Alerts []AlertView `json:"alerts"`
	Next   uint64      `json:"next"`
}

// AlertView is one alert as a caller sees it.
type AlertView struct {
	Seq     uint64            `json:"seq"`
	Source  string            `json:"source"`
	Index   uint64            `json:"index,omitempty"`
	Time    time.Time         `json:"time"`
	Kind    string            `json:"kind"`
	Subject string            `json:"subject"`
	Origin  string            `json:"origin"`
	Detail  map[string]string `json:"detail,omitempty"`
	// Command is the originator's signed command that raised a federation alert: verify
	// Signature (a detached compact JWS, EdDSA) over SigningInput with the originator's
	// keys from the roster, and the alert is proven without trusting this node.
	Command *SignedCommandView `json:"command,omitempty"`
	// Entry or Indicator is the subject as it stands now, opened for the caller; absent
	// once the subject is purged.
	Entry     *WatchlistEntry `json:"entry,omitempty"`
	Indicator *IndicatorView  `json:"indicator,omitempty"`
}

// SignedCommandView is a replicated command's proof of origin.
type SignedCommandView struct {
	Type   string `json:"type"`
	Origin string `json:"origin"`
	// SigningInput is the exact bytes the origin signed, base64url without padding.
	SigningInput string `json:"signing_input"`
	Signature    string `json:"signature"`
}

// feedQuery reads after, limit and kind (repeated or comma-separated) and refuses
// anything else.
func feedQuery(r *http.Request, extra ...string) (after uint64, limit int, kinds []string, err error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "after", "limit", "kind":
		default:
			if !contains(extra, k) {
				return 0, 0, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: k, Msg: "unknown query parameter", Hint: "use after, limit or kind"}
			}
		}
	}
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "after", Msg: "not a cursor: want the seq or next of an earlier answer"}
		}
	}
	limit = 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return 0, 0, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "limit", Msg: "want a number from 1 to 1000"}
		}
	}
	for _, v := range q["kind"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k == "" || len(k) > 64 {
				return 0, 0, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "kind", Msg: "want alert kinds such as listed,indicator"}
			}
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 32 {
		return 0, 0, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "kind", Msg: "at most 32 kinds"}
	}
	return after, limit, kinds, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request, p access.Principal) {
	after, limit, kinds, err := feedQuery(r)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	bp := pageBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledPage {
			pageBufPool.Put(bp)
		}
	}()
	body, err := s.svc.AppendAlertPage((*bp)[:0], p, after, limit, kinds)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	*bp = body
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // copied into the buffer the response is signed from
}

// pageBufPool recycles the buffer a feed page is assembled in: a page of 1,000 alerts is
// about 230 KB, and it is copied into the signed response as soon as it is complete.
var pageBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledPage keeps buffers grown by pages of unusually large alerts out of the pool.
const maxPooledPage = 1 << 20

// Stream timings: a comment line keeps idle connections open through proxies, and each
// write must finish within streamWriteTimeout or the subscriber is dropped (it resumes
// with Last-Event-ID), so a client that stops reading holds nothing but its own socket.
const (
	defaultHeartbeat   = 15 * time.Second
	streamWriteTimeout = 30 * time.Second
)

// EventSender returns a function that writes b to an event stream and flushes it, each
// write bounded by streamWriteTimeout so that a client that stops reading is dropped; it
// reports false once the client is gone. The dashboard's timeline uses it too.
func EventSender(w http.ResponseWriter, rc *http.ResponseController) func(b []byte) bool {
	return func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
}

// alertStream serves the feed as Server-Sent Events. Each event's data is
// {"alert":...,"signature":...}: a detached JWS over the exact bytes of "alert", since a
// stream has no single body to sign. Resumes from Last-Event-ID or ?after.
func (s *Server) alertStream(w http.ResponseWriter, r *http.Request, p access.Principal) {
	after, limit, kinds, err := feedQuery(r, "heartbeat")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.writeServiceError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "Last-Event-ID", Msg: "not an event id this node sent"})
			return
		}
	}
	heartbeat := defaultHeartbeat
	if v := r.URL.Query().Get("heartbeat"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Minute {
			s.writeServiceError(w, &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "heartbeat", Msg: "want a duration from 1s to 1m"})
			return
		}
		heartbeat = d
	}
	slot, _ := r.Context().Value(streamKey{}).(*streamSlot)
	if slot == nil {
		s.writeServiceError(w, &Error{Status: http.StatusInternalServerError, Code: "internal", Msg: "the stream route is not set up to stream"})
		return
	}
	w.WriteHeader(http.StatusOK) // for wrap's metrics; the stream goes around wrap's buffer
	slot.taken, slot.scratch = true, http.Header{}
	h := slot.rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(slot.rw)
	_ = rc.SetReadDeadline(time.Time{})
	slot.rw.WriteHeader(http.StatusOK)
	send := EventSender(slot.rw, rc)
	if !send([]byte(": entente alert stream\n\n")) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		wake := s.svc.FeedWait() // before reading, so an append in between is not missed
		alerts, next, err := s.svc.AlertFeed(p, after, limit, kinds)
		if err != nil {
			s.log.Warn("alert stream: reading the feed", "err", err)
			return
		}
		for _, a := range alerts {
			ev, err := s.sseEvent(a)
			if err != nil || !send(ev) {
				return
			}
		}
		moved := next != after
		after = next
		if len(alerts) > 0 || moved {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-tick.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

// sseEvent frames one alert as an SSE event with its own signature.
func (s *Server) sseEvent(a RawAlert) ([]byte, error) {
	body := a.JSON
	sig, err := s.svc.Signer().Detached(body)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "id: %d\nevent: alert\ndata: {\"alert\":", a.Seq)
	b.Write(body) // JSON has no raw newlines, so it stays one data line
	fmt.Fprintf(&b, ",\"signature\":%q}\n\n", sig)
	return b.Bytes(), nil
}
