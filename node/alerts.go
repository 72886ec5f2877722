package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/node/webhooks"
)

// The alert feed is one ordered, gapless sequence per node: every federation alert, in
// log order, and every local alert (a national record that now matches a listed party),
// each given the next feed sequence number in the node's own database. A single local
// sequence is what lets an integrator resume from any cursor without gaps, whatever the
// two sources do; the federation's log index is kept with each alert for provenance.

var (
	bucketFeed     = []byte("alert_feed")
	bucketFeedMeta = []byte("alert_feed_meta")
	keyFeedFedIdx  = []byte("federation_index") // the last federation log index copied
	keyFeedLayout  = []byte("layout")           // the layout every stored entry is in
)

// Alert sources.
const (
	SourceFederation = "federation"
	SourceLocal      = "local"
)

// FeedAlert is one alert in the node's feed.
type FeedAlert struct {
	// Seq is the alert's position in this node's feed: the cursor integrators resume from.
	Seq uint64 `json:"seq"`
	// Source is "federation" or "local".
	Source string `json:"source"`
	// Index is the federation log index of the command that raised it (federation only).
	Index uint64 `json:"index,omitempty"`
	// Time is when it was raised: the leader's stamp for federation alerts.
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Subject names what it is about: watchlist/ID, indicator/ID, record/ID.
	Subject string `json:"subject"`
	// Origin is the state whose command raised it (federation), or this state (local).
	Origin string `json:"origin"`
	// Detail carries what a local alert is about (record, party, list, entry, score).
	Detail map[string]string `json:"detail,omitempty"`
}

// MaxFeedPage bounds one page of the feed.
const MaxFeedPage = 1000

// ensureFeedBuckets creates the feed's buckets, and brings entries stored before the
// current layout (see alerts_entry.go) up to it, once: the old ones are still read, but
// each costs a decode and an encode on every page that holds it.
func ensureFeedBuckets(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketFeed, bucketFeedMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketFeedMeta)
	if v := meta.Get(keyFeedLayout); len(v) == 1 && v[0] == feedEntryV1 {
		return nil
	}
	if err := upgradeFeedEntries(tx.Bucket(bucketFeed)); err != nil {
		return fmt.Errorf("alert feed: upgrading stored entries: %w", err)
	}
	return meta.Put(keyFeedLayout, []byte{feedEntryV1})
}

// upgradeFeedEntries rewrites every entry in the layout before feedEntryV1, a batch at a
// time (a cursor must be placed again after the bucket changes under it).
func upgradeFeedEntries(b *bbolt.Bucket) error {
	type rewrite struct{ k, v []byte }
	var from []byte
	for {
		var batch []rewrite
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && len(batch) < 1000; k, v = c.Next() {
			if len(v) == 0 || v[0] != '{' {
				continue
			}
			var a FeedAlert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("entry %x: %w", k, err)
			}
			entry, _, err := encodeFeedEntry(&a)
			if err != nil {
				return err
			}
			batch = append(batch, rewrite{k: append([]byte(nil), k...), v: entry})
		}
		for _, r := range batch {
			if err := b.Put(r.k, r.v); err != nil {
				return err
			}
		}
		if k == nil {
			return nil
		}
		from = append([]byte(nil), k...)
	}
}

// feedSignal wakes readers waiting for new alerts: each append closes the current channel
// and makes a new one, so any number of waiters are woken at once and none is ever sent
// to, so a slow reader cannot hold back the writer.
type feedSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *feedSignal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *feedSignal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// appendFeed appends alerts to the feed in tx, numbering them in order, and queues each
// for the webhooks that want its kind in the same transaction: an alert and its
// deliveries commit together or not at all.
func (n *Node) appendFeed(tx *bbolt.Tx, alerts []FeedAlert) error {
	b := tx.Bucket(bucketFeed)
	for i := range alerts {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		alerts[i].Seq = seq
		entry, view, err := encodeFeedEntry(&alerts[i])
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), entry); err != nil {
			return err
		}
		if n.hooks != nil {
			if _, err := n.hooks.EnqueueTx(tx, webhooks.Event{ID: "alert-" + strconv.FormatUint(seq, 10), Kind: alerts[i].Kind, Payload: view}); err != nil {
				return fmt.Errorf("queueing alert %d for webhooks: %w", seq, err)
			}
		}
	}
	return nil
}

// AppendLocalAlerts adds local alerts to the feed in the caller's transaction (so an alert
// commits with what raised it) and wakes the feed's readers once the caller has
// committed. Source, Origin and Time are filled in.
func (n *Node) AppendLocalAlerts(tx *bbolt.Tx, alerts []FeedAlert) error {
	now := n.now().UTC()
	for i := range alerts {
		alerts[i].Source, alerts[i].Origin = SourceLocal, n.id.State
		if alerts[i].Time.IsZero() {
			alerts[i].Time = now
		}
	}
	if err := n.appendFeed(tx, alerts); err != nil {
		return err
	}
	tx.OnCommit(n.feed.notify)
	return nil
}

// copyFederationAlerts copies the federation's alerts after the last one copied into the
// feed, in one transaction with the new high-water mark, so that after a crash each is
// copied exactly once. It returns how many it copied.
func (n *Node) copyFederationAlerts(f *federation.Federation) (int, error) {
	var after uint64
	if err := n.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketFeedMeta).Get(keyFeedFedIdx); len(v) == 8 {
			after = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	src, err := f.State().Alerts(after, MaxFeedPage)
	if err != nil || len(src) == 0 {
		return 0, err
	}
	out := make([]FeedAlert, len(src))
	for i, a := range src {
		out[i] = FeedAlert{Source: SourceFederation, Index: a.Index, Time: time.Unix(0, a.Time).UTC(), Kind: a.Kind, Subject: a.Subject, Origin: a.Origin}
	}
	err = n.db.Update(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketFeedMeta).Get(keyFeedFedIdx); len(v) == 8 && binary.BigEndian.Uint64(v) != after {
			return fmt.Errorf("alert feed: copied concurrently") // one copier only; never expected
		}
		if err := n.appendFeed(tx, out); err != nil {
			return err
		}
		return tx.Bucket(bucketFeedMeta).Put(keyFeedFedIdx, binary.BigEndian.AppendUint64(nil, src[len(src)-1].Index))
	})
	if err != nil {
		return 0, err
	}
	n.feed.notify()
	return len(out), nil
}

// runAlertCopier copies federation alerts into the feed until ctx ends, polling the
// replicated state; a full page is followed at once by the next.
func (n *Node) runAlertCopier(ctx context.Context, f *federation.Federation) {
	for {
		copied, err := n.copyFederationAlerts(f)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("alert feed: copying federation alerts", "err", err)
		}
		wait := 100 * time.Millisecond
		if copied == MaxFeedPage {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// FeedAlerts returns up to limit alerts after the cursor after, in feed order, keeping
// only the kinds listed (all when kinds is empty), and the cursor to resume from: the last
// alert scanned, so filtered pages still advance.
func (n *Node) FeedAlerts(after uint64, limit int, kinds []string) ([]FeedAlert, uint64, error) {
	var out []FeedAlert
	next, err := n.scanFeed(after, limit, kinds, func(seq uint64, e feedEntry) error {
		a, err := e.feedAlert()
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, next, err
}

// scanFeed calls fn with up to limit entries after the cursor after, in feed order,
// keeping only the kinds listed (all when kinds is empty), and returns the cursor to
// resume from: the last entry scanned, so filtered pages still advance. The entry's
// slices are valid only during the call. A filtered scan looks at no more than 50 pages'
// worth of entries, so a rare kind cannot make one request read the whole feed.
func (n *Node) scanFeed(after uint64, limit int, kinds []string, fn func(seq uint64, e feedEntry) error) (uint64, error) {
	limit = min(max(limit, 1), MaxFeedPage)
	next := after
	err := n.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketFeed).Cursor()
		scanned, kept := 0, 0
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && kept < limit && scanned < 50*MaxFeedPage; k, v = c.Next() {
			scanned++
			if len(k) != 8 {
				return fmt.Errorf("alert feed key %x: %w", k, errFeedEntry)
			}
			seq := binary.BigEndian.Uint64(k)
			e, err := decodeFeedEntry(v)
			if err != nil {
				return fmt.Errorf("alert feed entry %d: %w", seq, err)
			}
			next = seq
			if len(kinds) > 0 && !slices.Contains(kinds, string(e.kind)) {
				continue
			}
			kept++
			if err := fn(seq, e); err != nil {
				return fmt.Errorf("alert feed entry %d: %w", seq, err)
			}
		}
		return nil
	})
	return next, err
}

// FeedWait returns a channel closed when alerts are next appended to the feed.
func (n *Node) FeedWait() <-chan struct{} { return n.feed.wait() }

// RaiseLocalAlerts appends local alerts to the feed in a transaction of their own.
func (n *Node) RaiseLocalAlerts(alerts []FeedAlert) error {
	return n.db.Update(func(tx *bbolt.Tx) error { return n.AppendLocalAlerts(tx, alerts) })
}
