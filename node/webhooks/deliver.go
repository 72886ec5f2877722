package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// job is one attempt to make: everything needed, copied out of the read transaction.
type job struct {
	id, hookID, eventID, kind string
	url, secret               string
	enqueued                  time.Time
	attempt                   int // 1-based, counting every attempt ever made
	payload                   []byte
	// extra and failing say how the attempt was admitted (see admit), so that run
	// can give the slot back to the right count.
	extra, failing bool
}

// result is the outcome of one attempt, for the recorder.
type result struct {
	id, hookID string
	// aborted: canceled by Close. Nothing is recorded and the delivery stays due, so
	// the next Open retries it under the same id.
	aborted    bool
	attempt    Attempt
	retryAfter time.Duration
}

// envelope is the delivery body. The delivery id is inside the signed bytes, so a
// captured delivery replayed under another X-Entente-Delivery header is still a
// duplicate to a receiver that dedupes on the body's id. Every member is fixed when the
// event is enqueued: all attempts of a delivery carry the same bytes.
type envelope struct {
	ID       string          `json:"id"`
	Hook     string          `json:"hook"`
	Event    string          `json:"event"`
	Kind     string          `json:"kind"`
	Enqueued time.Time       `json:"enqueued"`
	Payload  json.RawMessage `json:"payload"`
}

func (o *Outbox) dispatchLoop() {
	defer o.loops.Done()
	for {
		next, err := o.dispatch()
		var timer <-chan time.Time
		switch {
		case err != nil:
			o.log.Error("webhook dispatch failed", "err", err)
			timer = o.opt.Clock.After(recordErrorPause)
		case !next.IsZero():
			timer = o.opt.Clock.After(next.Sub(o.opt.Clock.Now()))
		}
		select {
		case <-o.stop:
			return
		case <-o.wakeCh:
		case <-timer:
		}
	}
}

// dispatch starts attempts for due deliveries, as many as the global and per-hook
// limits allow, and returns when the earliest not-yet-due delivery falls due (zero if
// none, or if only capacity is lacking: a finishing attempt wakes the loop).
//
// Fairness: the due index is per hook, and each pass visits hooks round-robin starting
// after the last hook served, taking at most PerHookConcurrency-busy from each. A hook
// with a large backlog or a dead receiver can therefore never occupy more than its
// share, nor keep other hooks' due deliveries from being seen.
func (o *Outbox) dispatch() (next time.Time, err error) {
	now := o.opt.Clock.Now()
	var jobs []*job
	err = o.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		snap := uint64(tx.ID())
		for id, written := range o.claimed { // bounded by maxClaimed
			if written != 0 && written <= snap {
				delete(o.claimed, id)
			}
		}
		// Visit the hooks that have pending deliveries, in a circle starting at
		// rrNext: the due index is grouped by hook, so one Seek finds the next hook
		// and hooks with nothing pending cost nothing.
		dc := b.due.Cursor()
		first := ""
		k, _ := dc.Seek([]byte(o.rrNext))
		for wrapped := false; o.inflight < o.opt.Workers && len(o.claimed) < o.maxClaimed; {
			if k == nil {
				if wrapped {
					break
				}
				wrapped = true
				if k, _ = dc.First(); k == nil {
					break
				}
			}
			end := bytes.IndexByte(k, 0)
			if end < 0 {
				return fmt.Errorf("webhooks: malformed due key %q", k)
			}
			h := string(k[:end])
			if h == first {
				break // full circle
			}
			if first == "" {
				first = h
			}
			took, at, err := o.takeDue(b, dc, h, now)
			if err != nil {
				return err
			}
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
			if len(took) > 0 {
				jobs = append(jobs, took...)
				o.rrNext = h + "\x01" // the hook after h
			}
			k, _ = dc.Seek([]byte(h + "\x01"))
		}
		return nil
	})
	for _, j := range jobs {
		o.jobs.Add(1)
		go o.run(j)
	}
	return next, err
}

// takeDue claims the due deliveries of hook h that admit allows (o.mu held) and
// returns them, and when the first pending delivery not taken falls due if that is in
// the future. It looks at no more than len(claimed) + PerHookConcurrency + 1 entries.
func (o *Outbox) takeDue(b buckets, dc *bbolt.Cursor, h string, now time.Time) ([]*job, time.Time, error) {
	var took []*job
	var hook *hookRecord
	prefix := hookPrefix(h)
	for k, v := dc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = dc.Next() {
		if _, ok := o.claimed[string(v)]; ok {
			continue
		}
		if at := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):]))); at.After(now) {
			return took, at, nil
		}
		ok, extra, failing := o.admit(h)
		if !ok {
			break
		}
		if hook == nil {
			var err error
			hook, err = getHook(b, h)
			if errors.Is(err, ErrNotFound) {
				delete(o.failing, h)
				return nil, time.Time{}, nil // deleted; the pruner removes its deliveries
			}
			if err != nil {
				return nil, time.Time{}, err
			}
		}
		j, err := loadJob(b, hook, string(v))
		if err != nil {
			// A record that cannot be read cannot be delivered: leave it for an
			// operator rather than spin on it, and serve the other hooks.
			if len(o.unreadable) < maxUnreadableLogged && !o.unreadable[string(v)] {
				o.unreadable[string(v)] = true
				o.log.Error("webhook delivery unreadable", "hook", h, "delivery", string(v), "err", err)
			}
			break
		}
		j.extra, j.failing = extra, failing
		o.claimed[j.id] = 0
		o.busy[h]++
		o.inflight++
		if extra {
			o.extra++
		}
		if failing {
			o.busyFailing++
		}
		took = append(took, j)
	}
	return took, time.Time{}, nil
}

// admit says whether hook h may start one more attempt now (o.mu held), and whether it
// counts as an extra (not the hook's only request in flight) or as a failing hook's.
//
// The per-hook limit alone would let a handful of hanging receivers fill every
// worker before any of them times out. So a hook's first request may use any free
// worker, but further ones only while more than a quarter of the workers are free:
// that quarter is kept for hooks with nothing in flight. And once a hook's last
// attempt failed, it gets one request at a time, and failing hooks together at most
// half of the workers, until it succeeds again.
func (o *Outbox) admit(h string) (ok, extra, failing bool) {
	busy := o.busy[h]
	switch {
	case o.inflight >= o.opt.Workers || len(o.claimed) >= o.maxClaimed:
		return false, false, false
	case o.failing[h]:
		return busy == 0 && o.busyFailing < max(1, o.opt.Workers/2), false, true
	case busy == 0:
		return true, false, false
	case busy >= o.opt.PerHookConcurrency:
		return false, false, false
	default:
		return o.inflight < o.opt.Workers-max(1, o.opt.Workers/4), true, false
	}
}

func loadJob(b buckets, hook *hookRecord, id string) (*job, error) {
	rec, err := getDelivery(b, id)
	if err != nil {
		return nil, err
	}
	payload := b.payloads.Get([]byte(rec.EventID))
	if payload == nil {
		return nil, fmt.Errorf("payload of event %q missing", rec.EventID)
	}
	return &job{
		id: rec.ID, hookID: rec.HookID, eventID: rec.EventID, kind: rec.Kind,
		url: hook.URL, secret: hook.Secret, enqueued: rec.Enqueued, attempt: rec.Attempts + 1,
		payload: bytes.Clone(payload),
	}, nil
}

// run makes one attempt and hands the result to the recorder. The results channel
// has room for every claimed delivery, so the send never blocks.
func (o *Outbox) run(j *job) {
	defer o.jobs.Done()
	r := o.attempt(j)
	if r.aborted {
		o.aborted.Add(1)
	}
	o.mu.Lock()
	if o.busy[j.hookID]--; o.busy[j.hookID] <= 0 {
		delete(o.busy, j.hookID)
	}
	o.inflight--
	if j.extra {
		o.extra--
	}
	if j.failing {
		o.busyFailing--
	}
	switch {
	case r.aborted:
	case r.attempt.Error == "":
		delete(o.failing, j.hookID)
	default:
		o.failing[j.hookID] = true
	}
	o.mu.Unlock()
	o.results <- r
	o.wake()
}

func (o *Outbox) attempt(j *job) result {
	r := result{id: j.id, hookID: j.hookID}
	r.attempt.At = o.opt.Clock.Now().UTC()
	fail := func(msg string) result {
		r.attempt.Error = msg
		return r
	}
	body, err := json.Marshal(envelope{ID: j.id, Hook: j.hookID, Event: j.eventID, Kind: j.kind, Enqueued: j.enqueued, Payload: j.payload})
	if err != nil {
		return fail("encode body: " + err.Error())
	}
	if _, err := o.checkURL(j.url); err != nil {
		return fail(err.Error())
	}
	sig, err := o.opt.Signer.Detached(body)
	if err != nil {
		o.log.Error("webhook signing failed", "hook", j.hookID, "delivery", j.id, "err", err)
		return fail("signing failed")
	}
	ctx, cancel := context.WithTimeout(o.jobCtx, o.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(body))
	if err != nil {
		return fail("build request")
	}
	ts := strconv.FormatInt(r.attempt.At.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(headerDelivery, j.id)
	req.Header.Set(headerEvent, j.eventID)
	req.Header.Set(headerKind, j.kind)
	req.Header.Set(headerHook, j.hookID)
	req.Header.Set(headerAttempt, strconv.Itoa(j.attempt))
	req.Header.Set(headerJWS, sig)
	req.Header.Set(headerHMAC, "t="+ts+",v1="+HMAC([]byte(j.secret), ts, body))

	start := time.Now()
	resp, err := o.client.Do(req)
	if err != nil {
		r.attempt.Duration = time.Since(start)
		if o.jobCtx.Err() != nil {
			r.aborted = true
			return r
		}
		return fail(describe(ctx, err))
	}
	snippet, readErr := io.ReadAll(io.LimitReader(resp.Body, int64(o.opt.MaxResponseBytes)))
	resp.Body.Close()
	r.attempt.Duration = time.Since(start)
	r.attempt.StatusCode = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The receiver said yes; a body cut short after that does not change it.
		return r
	}
	r.attempt.Response = strings.ToValidUTF8(string(snippet[:min(len(snippet), maxResponseSnippet)]), "\uFFFD")
	if readErr != nil && o.jobCtx.Err() != nil {
		r.aborted = true
		return r
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), r.attempt.At)
	}
	return fail("status " + strconv.Itoa(resp.StatusCode))
}

// describe turns a transport error into a message without the URL (url.Error would
// include it, query string and all).
func describe(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return strings.ToValidUTF8(msg, "\uFFFD")
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero if absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// HMAC is the v1 value of X-Entente-Signature: hex HMAC-SHA256 keyed with the hook's
// secret over ts "." body, where ts is the t value (Unix seconds) of the same header.
// Exported so that receivers written in Go, and tests, compute it the same way.
func HMAC(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// backoff is the delay before the attempt following the tries-th failed one: uniform
// in [0, min(BackoffMax, BackoffBase*2^(tries-1))].
func (o *Outbox) backoff(tries int) time.Duration {
	ceil := o.opt.BackoffMax
	if shift := tries - 1; shift < 62 {
		if d := o.opt.BackoffBase << shift; d > 0 && d>>shift == o.opt.BackoffBase && d < ceil {
			ceil = d
		}
	}
	return rand.N(ceil + 1)
}

// recordLoop writes results in batches: one transaction (one fsync) for everything
// that finished while the previous batch was being written. It exits when Close has
// closed the results channel and everything is written.
func (o *Outbox) recordLoop() {
	defer close(o.recorded)
	batch := make([]result, 0, maxRecordBatch)
	for r := range o.results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-o.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		o.record(batch)
	}
}

// logEntry is a message to log once its transaction has committed.
type logEntry struct {
	level slog.Level
	msg   string
	args  []any
}

func (o *Outbox) record(batch []result) {
	write := false
	for _, r := range batch {
		write = write || !r.aborted
	}
	var logs []logEntry
	var txid uint64 // of the transaction that wrote the batch; 0 if none did
	if write {
		now := o.opt.Clock.Now()
		err := o.db.Update(func(tx *bbolt.Tx) error {
			logs = logs[:0]
			txid = uint64(tx.ID())
			b, err := bucketsOf(tx)
			if err != nil {
				return err
			}
			for _, r := range batch {
				if r.aborted {
					continue
				}
				e, err := o.apply(b, r, now)
				if err != nil {
					return err
				}
				if e.msg != "" {
					logs = append(logs, e)
				}
			}
			return nil
		})
		if err != nil {
			logs, txid = nil, 0
			o.log.Error("webhook results not recorded; the deliveries stay due", "n", len(batch), "err", err)
			// Hold the claims for a moment so a failing disk does not turn into a
			// tight loop of re-deliveries.
			select {
			case <-o.opt.Clock.After(recordErrorPause):
			case <-o.stop:
			}
		}
		for _, e := range logs {
			o.log.Log(context.Background(), e.level, e.msg, e.args...)
		}
	}
	o.mu.Lock()
	for _, r := range batch {
		if txid == 0 {
			delete(o.claimed, r.id)
		} else {
			o.claimed[r.id] = txid
		}
	}
	o.mu.Unlock()
	o.wake()
}

// apply records one attempt's outcome. A delivery whose hook was deleted meanwhile is
// left alone (the pruner removes it); one that cannot be decoded fails the batch.
func (o *Outbox) apply(b buckets, r result, now time.Time) (logEntry, error) {
	if b.hooks.Get([]byte(r.hookID)) == nil {
		return logEntry{}, nil
	}
	rec, err := getDelivery(b, r.id)
	if errors.Is(err, ErrNotFound) {
		return logEntry{}, nil
	}
	if err != nil {
		return logEntry{}, err
	}
	if rec.State != StatePending {
		return logEntry{}, nil
	}
	if err := b.due.Delete(dueKey(rec.HookID, rec.NextAt, rec.Seq)); err != nil {
		return logEntry{}, err
	}
	rec.Attempts++
	rec.History = append(rec.History, r.attempt)
	if n := len(rec.History); n > maxStoredAttempts {
		rec.History = append(rec.History[:0:0], rec.History[n-maxStoredAttempts:]...)
	}
	var e logEntry
	switch {
	case r.attempt.Error == "":
		rec.State, rec.NextAt, rec.Finished = StateDelivered, 0, now.UnixNano()
		if err := b.expiry.Put(expiryKey(rec.Finished, rec.ID), nil); err != nil {
			return e, err
		}
	case rec.Tries+1 >= o.opt.MaxAttempts:
		rec.Tries++
		rec.State, rec.NextAt, rec.Finished = StateDead, 0, now.UnixNano()
		if err := b.dead.Put(deadKey(rec.HookID, rec.Finished, rec.Seq), []byte(rec.ID)); err != nil {
			return e, err
		}
		if err := b.expiry.Put(expiryKey(rec.Finished, rec.ID), nil); err != nil {
			return e, err
		}
		e = logEntry{slog.LevelWarn, "webhook delivery dead-lettered", []any{"hook", rec.HookID, "delivery", rec.ID, "event", rec.EventID, "attempts", rec.Attempts, "last_error", r.attempt.Error}}
	default:
		rec.Tries++
		delay := max(o.backoff(rec.Tries), min(r.retryAfter, o.opt.BackoffMax))
		rec.NextAt = now.Add(delay).UnixNano()
		if err := b.due.Put(dueKey(rec.HookID, rec.NextAt, rec.Seq), []byte(rec.ID)); err != nil {
			return e, err
		}
		e = logEntry{slog.LevelDebug, "webhook attempt failed; will retry", []any{"hook", rec.HookID, "delivery", rec.ID, "attempts", rec.Attempts, "error", r.attempt.Error, "retry_in", delay}}
	}
	return e, putJSON(b.deliveries, recordKey(rec.HookID, rec.Seq), rec)
}
