package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket names; see the package documentation for the layout.
var (
	bucketHooks      = []byte("webhook_hooks")
	bucketKinds      = []byte("webhook_kinds")
	bucketDeleted    = []byte("webhook_deleted_hooks")
	bucketEvents     = []byte("webhook_events")
	bucketPayloads   = []byte("webhook_payloads")
	bucketEventExp   = []byte("webhook_event_expiry")
	bucketDeliveries = []byte("webhook_deliveries")
	bucketIDs        = []byte("webhook_delivery_ids")
	bucketDue        = []byte("webhook_due")
	bucketDead       = []byte("webhook_dead")
	bucketExpiry     = []byte("webhook_expiry")
)

var allBuckets = [][]byte{
	bucketHooks, bucketKinds, bucketDeleted, bucketEvents, bucketPayloads, bucketEventExp,
	bucketDeliveries, bucketIDs, bucketDue, bucketDead, bucketExpiry,
}

func ensureBuckets(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("webhooks: create bucket %s: %w", name, err)
		}
	}
	return nil
}

type buckets struct {
	hooks, kinds, deleted, events, payloads, eventExp *bbolt.Bucket
	deliveries, ids, due, dead, expiry                *bbolt.Bucket
}

func bucketsOf(tx *bbolt.Tx) (buckets, error) {
	b := buckets{
		hooks: tx.Bucket(bucketHooks), kinds: tx.Bucket(bucketKinds), deleted: tx.Bucket(bucketDeleted),
		events: tx.Bucket(bucketEvents), payloads: tx.Bucket(bucketPayloads), eventExp: tx.Bucket(bucketEventExp),
		deliveries: tx.Bucket(bucketDeliveries), ids: tx.Bucket(bucketIDs), due: tx.Bucket(bucketDue),
		dead: tx.Bucket(bucketDead), expiry: tx.Bucket(bucketExpiry),
	}
	for _, x := range []*bbolt.Bucket{b.hooks, b.kinds, b.deleted, b.events, b.payloads, b.eventExp, b.deliveries, b.ids, b.due, b.dead, b.expiry} {
		if x == nil {
			return b, errors.New("webhooks: buckets missing (Open creates them)")
		}
	}
	return b, nil
}

// hookRecord is a hook at rest. Unlike Hook it holds the secret, and it never leaves
// the package.
type hookRecord struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Kinds   []string  `json:"kinds"`
	Secret  string    `json:"secret"`
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
}

func (r *hookRecord) public() Hook {
	return Hook{ID: r.ID, URL: r.URL, Kinds: append([]string(nil), r.Kinds...), Owner: r.Owner, Created: r.Created}
}

// eventMeta records an enqueued event. Refs counts the delivery records that still
// exist for it; the payload is kept while Refs > 0. Expired is set when the event has
// outlived Retention while deliveries still refer to it; the last one to go removes it.
type eventMeta struct {
	Kind     string    `json:"kind"`
	Enqueued time.Time `json:"enqueued"`
	Refs     int       `json:"refs"`
	Expired  bool      `json:"expired,omitempty"`
}

// deliveryRecord is a delivery at rest. Seq, NextAt and Finished are what its index
// keys are built from, so deleting it can find and remove every index entry.
type deliveryRecord struct {
	ID       string    `json:"id"`
	HookID   string    `json:"hook_id"`
	EventID  string    `json:"event_id"`
	Kind     string    `json:"kind"`
	Seq      uint64    `json:"seq"`
	State    State     `json:"state"`
	Attempts int       `json:"attempts"`
	Tries    int       `json:"tries"` // failed attempts since creation or the last Replay
	Created  time.Time `json:"created"`
	Enqueued time.Time `json:"enqueued"` // of the event: part of the signed body
	NextAt   int64     `json:"next_at"`  // unix nanoseconds, while pending
	Finished int64     `json:"finished"` // unix nanoseconds, once delivered or dead
	History  []Attempt `json:"history"`
}

func (r *deliveryRecord) public() Delivery {
	d := Delivery{
		ID: r.ID, HookID: r.HookID, EventID: r.EventID, Kind: r.Kind, State: r.State,
		Attempts: r.Attempts, Created: r.Created, History: append([]Attempt{}, r.History...),
	}
	if r.State == StatePending {
		d.NextAttempt = time.Unix(0, r.NextAt).UTC()
	} else {
		d.Finished = time.Unix(0, r.Finished).UTC()
	}
	return d
}

// Key construction. Hook ids are fixed-length and NUL-free, so hook id + 0x00 is an
// unambiguous prefix.
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func hookPrefix(hookID string) []byte { return append([]byte(hookID), 0) }

// recordKey is where a delivery is stored: by hook, then in enqueue order, so that a
// hook's history is one range and the records written together sit together.
func recordKey(hookID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(hookPrefix(hookID), seq)
}

func dueKey(hookID string, at int64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(hookPrefix(hookID), uint64(max(at, 0))), seq)
}

func deadKey(hookID string, finished int64, seq uint64) []byte {
	return dueKey(hookID, finished, seq)
}

func expiryKey(at int64, id string) []byte {
	return append(u64(uint64(max(at, 0))), id...)
}

func kindKey(kind, hookID string) []byte {
	return append(append([]byte(kind), 0), hookID...)
}

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("webhooks: decode record %.80q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func newHookID() string {
	var b [hookIDRandomBytes]byte
	rand.Read(b[:])
	return hookIDPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Register stores a new hook and returns it with its ID, without its secret. Events
// enqueued from now on are delivered to it; earlier ones are not.
func (o *Outbox) Register(ctx context.Context, h Hook) (Hook, error) {
	if err := ctx.Err(); err != nil {
		return Hook{}, err
	}
	if err := checkHookInput(h); err != nil {
		return Hook{}, err
	}
	if _, err := o.checkURL(h.URL); err != nil {
		return Hook{}, err
	}
	kinds, err := normalizeKinds(h.Kinds)
	if err != nil {
		return Hook{}, err
	}
	rec := hookRecord{
		ID: newHookID(), URL: h.URL, Kinds: kinds, Secret: string(h.Secret), Owner: h.Owner,
		Created: o.opt.Clock.Now().UTC(),
	}
	err = o.db.Update(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		n, c := 0, b.hooks.Cursor()
		for k, _ := c.First(); k != nil && n < o.opt.MaxHooks; k, _ = c.Next() {
			n++
		}
		if n >= o.opt.MaxHooks {
			return fmt.Errorf("%w: %d hooks", ErrLimit, o.opt.MaxHooks)
		}
		if err := putJSON(b.hooks, []byte(rec.ID), &rec); err != nil {
			return err
		}
		for _, k := range kinds {
			if err := b.kinds.Put(kindKey(k, rec.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Hook{}, err
	}
	o.log.Info("webhook registered", "hook", rec.ID, "owner", rec.Owner, "kinds", kinds)
	return rec.public(), nil
}

// Get returns a hook, without its secret.
func (o *Outbox) Get(ctx context.Context, id string) (Hook, error) {
	if err := ctx.Err(); err != nil {
		return Hook{}, err
	}
	var h Hook
	err := o.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		rec, err := getHook(b, id)
		if err != nil {
			return err
		}
		h = rec.public()
		return nil
	})
	return h, err
}

func getHook(b buckets, id string) (*hookRecord, error) {
	if !validHookID(id) {
		return nil, fmt.Errorf("%w: hook %.40q", ErrNotFound, id)
	}
	var rec hookRecord
	ok, err := getJSON(b.hooks, []byte(id), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: hook %s", ErrNotFound, id)
	}
	return &rec, nil
}

// List returns the hooks of owner, without their secrets, in id order. It is bounded
// by MaxHooks.
func (o *Outbox) List(ctx context.Context, owner string) ([]Hook, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []Hook{}
	err := o.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		return b.hooks.ForEach(func(k, v []byte) error {
			var rec hookRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("webhooks: decode hook %q: %w", k, err)
			}
			if rec.Owner == owner {
				out = append(out, rec.public())
			}
			return nil
		})
	})
	return out, err
}

// Delete removes a hook at once: nothing more is enqueued for it or attempted (an
// attempt already in flight completes but is not recorded). Its deliveries and history
// are removed in the background, a bounded batch per transaction.
func (o *Outbox) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := o.db.Update(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		rec, err := getHook(b, id)
		if err != nil {
			return err
		}
		for _, k := range rec.Kinds {
			if err := b.kinds.Delete(kindKey(k, id)); err != nil {
				return err
			}
		}
		if err := b.hooks.Delete([]byte(id)); err != nil {
			return err
		}
		return b.deleted.Put([]byte(id), nil)
	})
	if err != nil {
		return err
	}
	o.log.Info("webhook deleted", "hook", id)
	o.wakePruner()
	return nil
}

// Enqueue records ev and, in the same transaction, one pending delivery per hook whose
// kinds match, and returns how many deliveries it created. It is idempotent by ev.ID:
// enqueuing an event already recorded (within Retention) creates nothing and returns
// 0. Once Enqueue returns nil, the deliveries survive any crash.
func (o *Outbox) Enqueue(ctx context.Context, ev Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := o.checkEvent(ev); err != nil {
		return 0, err
	}
	var n int
	err := o.db.Update(func(tx *bbolt.Tx) error {
		var err error
		n, err = o.enqueue(tx, ev)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// EnqueueTx is Enqueue inside the caller's writable transaction, so that the node can
// record an alert and its deliveries atomically: either both are committed or neither.
// Delivery starts when tx commits.
func (o *Outbox) EnqueueTx(tx *bbolt.Tx, ev Event) (int, error) {
	if !tx.Writable() {
		return 0, fmt.Errorf("%w: EnqueueTx needs a writable transaction", ErrInvalid)
	}
	if err := o.checkEvent(ev); err != nil {
		return 0, err
	}
	return o.enqueue(tx, ev)
}

func (o *Outbox) enqueue(tx *bbolt.Tx, ev Event) (int, error) {
	b, err := bucketsOf(tx)
	if err != nil {
		return 0, err
	}
	if b.events.Get([]byte(ev.ID)) != nil {
		return 0, nil
	}
	// Matching hooks come from the kind index, not a scan of every hook: a kind and
	// "*" are two prefix seeks, each yielding at most one entry per hook (kinds are
	// normalised, so no hook is under both), and Register bounds the hooks.
	var hooks []string
	c := b.kinds.Cursor()
	for _, kind := range []string{ev.Kind, "*"} {
		p := append([]byte(kind), 0)
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			hooks = append(hooks, string(k[len(p):]))
		}
	}
	now := o.opt.Clock.Now().UTC()
	meta := eventMeta{Kind: ev.Kind, Enqueued: now}
	for _, h := range hooks {
		id := DeliveryID(h, ev.ID)
		// The event record outlives its deliveries (see eventMeta), so this cannot
		// find one; it guards the invariant that one id never gets a second record.
		if b.ids.Get([]byte(id)) != nil {
			meta.Refs++
			continue
		}
		seq, err := b.deliveries.NextSequence()
		if err != nil {
			return 0, err
		}
		rec := deliveryRecord{
			ID: id, HookID: h, EventID: ev.ID, Kind: ev.Kind, Seq: seq, State: StatePending,
			Created: now, Enqueued: now, NextAt: now.UnixNano(), History: []Attempt{},
		}
		key := recordKey(h, seq)
		if err := putJSON(b.deliveries, key, &rec); err != nil {
			return 0, err
		}
		if err := b.ids.Put([]byte(id), key); err != nil {
			return 0, err
		}
		if err := b.due.Put(dueKey(h, rec.NextAt, seq), []byte(id)); err != nil {
			return 0, err
		}
		meta.Refs++
	}
	if err := putJSON(b.events, []byte(ev.ID), &meta); err != nil {
		return 0, err
	}
	if err := b.eventExp.Put(expiryKey(now.UnixNano(), ev.ID), nil); err != nil {
		return 0, err
	}
	if meta.Refs > 0 {
		if err := b.payloads.Put([]byte(ev.ID), ev.Payload); err != nil {
			return 0, err
		}
		tx.OnCommit(o.wake)
	}
	return meta.Refs, nil
}

// Delivery returns one delivery with its attempt history.
func (o *Outbox) Delivery(ctx context.Context, id string) (Delivery, error) {
	if err := ctx.Err(); err != nil {
		return Delivery{}, err
	}
	var d Delivery
	err := o.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		rec, err := getDelivery(b, id)
		if err != nil {
			return err
		}
		if b.hooks.Get([]byte(rec.HookID)) == nil {
			return fmt.Errorf("%w: delivery %s (hook deleted)", ErrNotFound, id)
		}
		d = rec.public()
		return nil
	})
	return d, err
}

func getDelivery(b buckets, id string) (*deliveryRecord, error) {
	if len(id) > 64 {
		return nil, fmt.Errorf("%w: delivery %.40q", ErrNotFound, id)
	}
	key := b.ids.Get([]byte(id))
	if key == nil {
		return nil, fmt.Errorf("%w: delivery %.40q", ErrNotFound, id)
	}
	var rec deliveryRecord
	ok, err := getJSON(b.deliveries, key, &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("webhooks: delivery %s indexed but missing", id)
	}
	return &rec, nil
}

// Deliveries returns a page of hook hookID's deliveries, newest first, and the cursor
// of the next page ("" after the last). limit 0 means 50; at most 500.
func (o *Outbox) Deliveries(ctx context.Context, hookID, cursor string, limit int) ([]Delivery, string, error) {
	var upper uint64 = ^uint64(0)
	if cursor != "" {
		v, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
		}
		upper = v
	}
	return o.page(ctx, hookID, limit, bucketDeliveries, u64(upper), func(suffix []byte) string {
		return strconv.FormatUint(binary.BigEndian.Uint64(suffix), 10)
	}, func(_ buckets, v []byte) (*deliveryRecord, error) {
		var rec deliveryRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, fmt.Errorf("webhooks: decode delivery: %w", err)
		}
		return &rec, nil
	})
}

// DeadLetters returns a page of hook hookID's dead-lettered deliveries, most recently
// dead first, and the cursor of the next page ("" after the last).
func (o *Outbox) DeadLetters(ctx context.Context, hookID, cursor string, limit int) ([]Delivery, string, error) {
	upper := bytes.Repeat([]byte{0xff}, 16)
	if cursor != "" {
		v, err := hex.DecodeString(cursor)
		if err != nil || len(v) != 16 {
			return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
		}
		upper = v
	}
	return o.page(ctx, hookID, limit, bucketDead, upper, hex.EncodeToString, func(b buckets, v []byte) (*deliveryRecord, error) {
		return getDelivery(b, string(v))
	})
}

// page walks index bucket idx backwards from hook prefix + upper (exclusive).
// load turns the value found there into the delivery.
func (o *Outbox) page(ctx context.Context, hookID string, limit int, idx, upper []byte, cursorOf func([]byte) string, load func(buckets, []byte) (*deliveryRecord, error)) ([]Delivery, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	switch {
	case limit == 0:
		limit = defaultListLimit
	case limit < 0 || limit > maxListLimit:
		return nil, "", fmt.Errorf("%w: limit %d not in [1, %d]", ErrInvalid, limit, maxListLimit)
	}
	out := []Delivery{}
	next := ""
	err := o.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		if _, err := getHook(b, hookID); err != nil {
			return err
		}
		prefix := hookPrefix(hookID)
		c := tx.Bucket(idx).Cursor()
		k, _ := c.Seek(append(prefix, upper...))
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		var lastSuffix []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(out) == limit {
				// There is more: the next page starts below the last one returned.
				next = cursorOf(lastSuffix)
				break
			}
			rec, err := load(b, v)
			if err != nil {
				return err
			}
			out = append(out, rec.public())
			lastSuffix = append(lastSuffix[:0], k[len(prefix):]...)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// Replay moves a dead-lettered delivery back to pending, due now, with a fresh budget
// of MaxAttempts attempts. Its id, and so the receiver's deduplication, is unchanged.
func (o *Outbox) Replay(ctx context.Context, deliveryID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := o.db.Update(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		rec, err := getDelivery(b, deliveryID)
		if err != nil {
			return err
		}
		if b.hooks.Get([]byte(rec.HookID)) == nil {
			return fmt.Errorf("%w: delivery %s (hook deleted)", ErrNotFound, deliveryID)
		}
		if rec.State != StateDead {
			return fmt.Errorf("%w: %s is %s", ErrNotDead, deliveryID, rec.State)
		}
		if err := b.dead.Delete(deadKey(rec.HookID, rec.Finished, rec.Seq)); err != nil {
			return err
		}
		if err := b.expiry.Delete(expiryKey(rec.Finished, rec.ID)); err != nil {
			return err
		}
		rec.State, rec.Tries, rec.Finished = StatePending, 0, 0
		rec.NextAt = o.opt.Clock.Now().UnixNano()
		if err := b.due.Put(dueKey(rec.HookID, rec.NextAt, rec.Seq), []byte(rec.ID)); err != nil {
			return err
		}
		tx.OnCommit(o.wake)
		return putJSON(b.deliveries, recordKey(rec.HookID, rec.Seq), rec)
	})
	if err != nil {
		return err
	}
	o.log.Info("webhook delivery replayed", "delivery", deliveryID)
	return nil
}

// deleteDelivery removes a delivery record and every index entry that points at it,
// and releases its event's payload when it was the last reference.
func deleteDelivery(b buckets, rec *deliveryRecord) error {
	type del struct {
		b *bbolt.Bucket
		k []byte
	}
	dels := []del{{b.deliveries, recordKey(rec.HookID, rec.Seq)}, {b.ids, []byte(rec.ID)}}
	switch rec.State {
	case StatePending:
		dels = append(dels, del{b.due, dueKey(rec.HookID, rec.NextAt, rec.Seq)})
	case StateDead:
		dels = append(dels, del{b.dead, deadKey(rec.HookID, rec.Finished, rec.Seq)}, del{b.expiry, expiryKey(rec.Finished, rec.ID)})
	case StateDelivered:
		dels = append(dels, del{b.expiry, expiryKey(rec.Finished, rec.ID)})
	}
	for _, d := range dels {
		if err := d.b.Delete(d.k); err != nil {
			return err
		}
	}
	var meta eventMeta
	ok, err := getJSON(b.events, []byte(rec.EventID), &meta)
	if err != nil || !ok {
		return err
	}
	meta.Refs--
	if meta.Refs > 0 {
		return putJSON(b.events, []byte(rec.EventID), &meta)
	}
	if err := b.payloads.Delete([]byte(rec.EventID)); err != nil {
		return err
	}
	if meta.Expired {
		return b.events.Delete([]byte(rec.EventID))
	}
	meta.Refs = 0
	return putJSON(b.events, []byte(rec.EventID), &meta)
}
