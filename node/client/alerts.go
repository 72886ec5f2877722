package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entente/entente/node/api"
)

// Following the alert feed. A node numbers its alerts 1, 2, 3... without gaps, and an
// integrator that remembers the last seq it handled can resume from it at any time. The
// followers here do that for the caller: they deliver each alert once, in order, to a
// callback, and after any failure (the node restarting, the network, 429 or 503) they
// wait and resume from the last alert the callback accepted. Persist a.Seq when the
// callback has handled a, pass it as after on the next start, and nothing is missed or
// seen twice across restarts of either side.
//
// Nothing unverified reaches the callback: every page is verified against the pinned
// JWKS before it is decoded (as every response of this client is), and every stream event
// carries its own signature over the alert's exact bytes, verified before the alert is
// decoded. A signature that does not verify ends the follower with ErrUnsigned instead
// of being retried: over a pinned TLS connection it means the node or something between
// it and its TLS terminator is broken, or the data was altered, and a person must look.

// ErrFeedOrder means the node sent alerts out of order or, following every kind, with a
// gap. The feed promises neither happens; the follower stops rather than skip or repeat.
var ErrFeedOrder = errors.New("client: the alert feed is out of order or has a gap")

// ErrNoKeys means a follower was asked of a client without pinned keys (Options.Keys):
// it would have to deliver data it cannot verify, so it refuses.
var ErrNoKeys = errors.New("client: following alerts needs the node's pinned keys (Options.Keys)")

// FollowOptions configure FollowAlerts and StreamAlertsWith. The zero value follows
// every kind, with the defaults below.
type FollowOptions struct {
	// Kinds keeps only these alert kinds (all when empty). With kinds, seqs jump over
	// the alerts left out, so only their order is checked, not their gaplessness.
	Kinds []string
	// Limit is the page size of FollowAlerts, 1 to 1000; 0 means 1000.
	Limit int
	// Poll is how long FollowAlerts waits at the end of the feed before asking again;
	// 0 means one second.
	Poll time.Duration
	// Heartbeat is the interval of heartbeats StreamAlerts asks of the node, 1s to 1m;
	// 0 means the node's default (15s). A stream silent for three heartbeats is taken
	// for dead and reopened.
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure: it doubles with each
	// failure in a row, from MinBackoff up to MaxBackoff, with jitter, and is at least
	// the node's Retry-After (up to MaxBackoff). 0 means 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// MaxFailures ends the follower after this many failures in a row, returning the
	// last; 0 means keep trying until ctx ends.
	MaxFailures int
	// OnError, when set, is told of each failure that will be retried and the wait
	// before the retry (for logs and metrics).
	OnError func(err error, retryIn time.Duration)
}

const (
	defaultPoll       = time.Second
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
	defaultHeartbeat  = 15 * time.Second
	// maxEvent bounds one stream event; an alert with its opened subject is a few KiB.
	maxEvent = 8 << 20
)

func (o FollowOptions) withDefaults() FollowOptions {
	if o.Limit <= 0 || o.Limit > 1000 {
		o.Limit = 1000
	}
	if o.Poll <= 0 {
		o.Poll = defaultPoll
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o
}

// backoff is the wait after the failures-th failure in a row: half of the exponential
// step plus a random part of the other half, so that many followers of one restarted node
// do not return together, and never less than what the node asked for.
func (o FollowOptions) backoff(failures int, retryAfter time.Duration) time.Duration {
	d := o.MinBackoff
	for i := 1; i < failures && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	d = d/2 + rand.N(d/2+1)
	return max(d, min(retryAfter, o.MaxBackoff))
}

// callbackError carries the caller's own error out of a follower unchanged.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// terminal marks a failure that retrying cannot cure.
type terminal struct{ err error }

func (e terminal) Error() string { return e.err.Error() }
func (e terminal) Unwrap() error { return e.err }

// retryable reports whether a failure may pass: the network, the node restarting or busy.
// The caller's refusals (400, 401, 403, 404), a server that is not the pinned node, and
// anything unverified or out of order will not pass by themselves.
func retryable(err error) bool {
	var ae *APIError
	var t terminal
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &t), errors.Is(err, ErrUnsigned), errors.Is(err, ErrFeedOrder),
		errors.Is(err, ErrPinMismatch), errors.As(err, &cve): // not the node: waiting will not make it so
		return false
	case errors.As(err, &ae):
		return ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusRequestTimeout || ae.Status >= 500
	}
	return true
}

// retryAfter reads a Retry-After in seconds from a response, if any.
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(min(s, 86400)) * time.Second
}

// order checks the next alert against the cursor: later, and next when every kind is
// followed.
func order(cursor uint64, a *api.AlertView, filtered bool) error {
	if a.Seq <= cursor || (!filtered && a.Seq != cursor+1) {
		return fmt.Errorf("%w: alert %d after cursor %d", ErrFeedOrder, a.Seq, cursor)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failure decides what a follower does after err: return it, or wait and go on.
func (o FollowOptions) failure(ctx context.Context, failures *int, err error, h http.Header) error {
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !retryable(err) {
		return err
	}
	*failures++
	if o.MaxFailures > 0 && *failures >= o.MaxFailures {
		return fmt.Errorf("client: following the alert feed: %d failures in a row, the last: %w", *failures, err)
	}
	wait := o.backoff(*failures, retryAfter(h))
	if o.OnError != nil {
		o.OnError(err, wait)
	}
	return sleep(ctx, wait)
}

func (c *Client) needKeys() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || c.o.Keys == nil {
		return ErrNoKeys
	}
	return nil
}

// FollowAlerts follows the node's alert feed from the cursor after (0 for the start),
// paging through GET /v1/alerts, and calls fn with each alert in order, exactly once.
// It returns only when ctx ends (ctx.Err()), fn returns an error (that error, with the
// alert not counted as handled), the node refuses the caller (an *APIError such as 401
// or 403), a response does not verify (ErrUnsigned), the feed breaks its order
// (ErrFeedOrder), or MaxFailures failures come in a row. Anything else (the node
// restarting, the network, 429, 503) is waited out with backoff and the feed resumed
// after the last alert fn accepted.
//
// To resume across restarts of the integrator, persist a.Seq once fn has handled a, and
// pass the last persisted value as after.
func (c *Client) FollowAlerts(ctx context.Context, after uint64, opts FollowOptions, fn func(api.AlertView) error) error {
	if err := c.needKeys(); err != nil {
		return err
	}
	o := opts.withDefaults()
	cursor, failures := after, 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, hdr, err := c.alertPage(ctx, cursor, o)
		if err == nil {
			err = checkPage(cursor, page, len(o.Kinds) > 0)
		}
		if err != nil {
			if err := o.failure(ctx, &failures, err, hdr); err != nil {
				return err
			}
			continue
		}
		failures = 0
		for i := range page.Alerts {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(page.Alerts[i]); err != nil {
				return err
			}
			cursor = page.Alerts[i].Seq
		}
		if len(page.Alerts) == 0 && page.Next == cursor {
			if err := sleep(ctx, o.Poll); err != nil {
				return err
			}
		}
		cursor = max(cursor, page.Next) // past the alerts a kind filter left out
	}
}

// alertPage fetches and decodes one verified page.
func (c *Client) alertPage(ctx context.Context, after uint64, o FollowOptions) (*api.AlertPage, http.Header, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(o.Limit)}}
	if len(o.Kinds) > 0 {
		q.Set("kind", strings.Join(o.Kinds, ","))
	}
	resp, err := c.Do(ctx, http.MethodGet, "/v1/alerts?"+q.Encode(), nil, nil)
	if err != nil {
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		return nil, h, err
	}
	var page api.AlertPage
	if _, err := decodeAlertPage(resp.Body, &page); err != nil {
		return nil, resp.Header, terminal{fmt.Errorf("client: the node signed an alert page that does not decode: %w", err)}
	}
	return &page, resp.Header, nil
}

// checkPage checks a whole page before any of it is delivered, so that a bad page
// delivers nothing.
func checkPage(cursor uint64, page *api.AlertPage, filtered bool) error {
	for i := range page.Alerts {
		if err := order(cursor, &page.Alerts[i], filtered); err != nil {
			return err
		}
		cursor = page.Alerts[i].Seq
	}
	if page.Next < cursor {
		return fmt.Errorf("%w: next %d is before alert %d", ErrFeedOrder, page.Next, cursor)
	}
	return nil
}

// StreamAlerts follows the node's alert stream (GET /v1/alerts/stream, Server-Sent
// Events) from the cursor after, with the default FollowOptions; see StreamAlertsWith.
func (c *Client) StreamAlerts(ctx context.Context, after uint64, fn func(api.AlertView) error) error {
	return c.StreamAlertsWith(ctx, after, FollowOptions{}, fn)
}

// StreamAlertsWith follows the node's alert stream from the cursor after and calls fn with
// each alert in order, exactly once, as soon as the node has it. Each event's signature
// (a detached JWS over the exact bytes of the alert) is verified against the pinned keys
// before the alert is decoded; an event that does not verify ends the stream with
// ErrUnsigned and is never delivered. When the stream breaks (the node restarts, the
// network, or three heartbeats of silence) it is reopened with Last-Event-ID set to the
// last alert fn accepted, after a backoff. It returns as FollowAlerts does.
func (c *Client) StreamAlertsWith(ctx context.Context, after uint64, opts FollowOptions, fn func(api.AlertView) error) error {
	if err := c.needKeys(); err != nil {
		return err
	}
	o := opts.withDefaults()
	cursor, failures := after, 0
	for {
		delivered, hdr, err := c.streamOnce(ctx, &cursor, o, fn)
		if delivered {
			failures = 0 // the stream worked; this break is a new one
		}
		if err == nil {
			err = errors.New("client: the node ended the alert stream")
		}
		if err := o.failure(ctx, &failures, err, hdr); err != nil {
			return err
		}
	}
}

// streamOnce opens the stream once and delivers events until it breaks. It reports
// whether it delivered anything, the error response's header when the node refused, and
// why it stopped.
func (c *Client) streamOnce(ctx context.Context, cursor *uint64, o FollowOptions, fn func(api.AlertView) error) (bool, http.Header, error) {
	q := url.Values{}
	if len(o.Kinds) > 0 {
		q.Set("kind", strings.Join(o.Kinds, ","))
	}
	heartbeat := defaultHeartbeat
	if o.Heartbeat > 0 {
		heartbeat = min(max(o.Heartbeat, time.Second), time.Minute)
		q.Set("heartbeat", heartbeat.String())
	}
	path := "/v1/alerts/stream"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watchdog: silence for three heartbeats (the connect included) ends the attempt.
	idle := 3*heartbeat + 2*time.Second
	dog := time.AfterFunc(idle, cancel)
	defer dog.Stop()

	req, err := http.NewRequestWithContext(sctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return false, nil, terminal{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	req.Header.Set("Last-Event-ID", strconv.FormatUint(*cursor, 10))
	resp, err := c.stream.Do(req)
	if err != nil {
		return false, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// An error answer is an ordinary signed response: verify it like any other.
		out, err := c.read(http.MethodGet, path, resp)
		if err == nil {
			err = fmt.Errorf("client: the alert stream answered %d", resp.StatusCode)
		}
		var h http.Header
		if out != nil {
			h = out.Header
		}
		return false, h, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, nil, terminal{fmt.Errorf("client: the alert stream answered %q, not text/event-stream", ct)}
	}

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var id string
	var data bytes.Buffer
	delivered := false
	for sc.Scan() {
		dog.Reset(idle)
		line := sc.Bytes()
		if len(line) == 0 { // the blank line ends an event
			if data.Len() > 0 {
				a, err := c.streamEvent(id, data.Bytes(), *cursor, len(o.Kinds) > 0)
				if err != nil {
					return delivered, nil, err
				}
				dog.Stop() // the caller's time is not the stream's silence
				if err := fn(a); err != nil {
					return delivered, nil, callbackError{err}
				}
				dog.Reset(idle)
				*cursor, delivered = a.Seq, true
			}
			id = ""
			data.Reset()
			continue
		}
		if line[0] == ':' { // a comment: the greeting or a heartbeat
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			id = string(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxEvent {
				return delivered, nil, terminal{fmt.Errorf("client: a stream event is larger than %d bytes", maxEvent)}
			}
			data.Write(value)
		}
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	if ctx.Err() == nil && sctx.Err() != nil {
		err = fmt.Errorf("client: the alert stream was silent for %s", idle)
	}
	return delivered, nil, err
}

// streamEvent verifies and decodes one event's data: {"alert":...,"signature":...}.
func (c *Client) streamEvent(id string, data []byte, cursor uint64, filtered bool) (api.AlertView, error) {
	var a api.AlertView
	var ev struct {
		Alert     json.RawMessage `json:"alert"`
		Signature string          `json:"signature"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || len(ev.Alert) == 0 {
		return a, fmt.Errorf("%w: stream event %q is not a signed alert", ErrUnsigned, id)
	}
	// The raw message holds the exact bytes the node signed; verify before decoding.
	if _, err := c.verify(ev.Alert, ev.Signature); err != nil {
		return a, fmt.Errorf("%w: stream event %q: %v", ErrUnsigned, id, err)
	}
	if err := json.Unmarshal(ev.Alert, &a); err != nil {
		return a, terminal{fmt.Errorf("client: the node signed stream event %q that does not decode: %w", id, err)}
	}
	// The id line is outside the signature: it must agree with the signed seq.
	if id != strconv.FormatUint(a.Seq, 10) {
		return a, fmt.Errorf("%w: event id %q carries alert %d", ErrFeedOrder, id, a.Seq)
	}
	return a, order(cursor, &a, filtered)
}
