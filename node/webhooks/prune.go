package webhooks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// pruneLoop removes what Retention no longer keeps, and the deliveries of deleted
// hooks, on a timer and whenever a hook is deleted.
func (o *Outbox) pruneLoop() {
	defer o.loops.Done()
	every := min(defaultPruneEvery, o.opt.Retention/2)
	for {
		if err := o.prune(); err != nil {
			o.log.Error("webhook pruning failed", "err", err)
		}
		select {
		case <-o.stop:
			return
		case <-o.pruneWakeCh:
		case <-o.opt.Clock.After(every):
		}
	}
}

// prune works in transactions of at most pruneBatch removals, and at most
// maxPruneTxPerRun of them per run, so it never holds the node's single writer for
// long; what is left waits for the next run.
func (o *Outbox) prune() error {
	for range maxPruneTxPerRun {
		select {
		case <-o.stop:
			return nil
		default:
		}
		n := 0
		cutoff := o.opt.Clock.Now().Add(-o.opt.Retention).UnixNano()
		err := o.db.Update(func(tx *bbolt.Tx) error {
			n = 0
			b, err := bucketsOf(tx)
			if err != nil {
				return err
			}
			if n, err = pruneDeletedHooks(b, pruneBatch); err != nil {
				return err
			}
			m, err := pruneDeliveries(b, cutoff, pruneBatch-n)
			if err != nil {
				return err
			}
			n += m
			m, err = pruneEvents(b, cutoff, pruneBatch-n)
			n += m
			return err
		})
		if err != nil {
			return err
		}
		if n < pruneBatch {
			return nil
		}
	}
	return nil
}

// pruneDeletedHooks removes up to limit deliveries of deleted hooks, and forgets a
// deleted hook once it has none left.
func pruneDeletedHooks(b buckets, limit int) (int, error) {
	n := 0
	var done [][]byte
	dc := b.deleted.Cursor()
	for hk, _ := dc.First(); hk != nil && n < limit; hk, _ = dc.Next() {
		prefix := hookPrefix(string(hk))
		var recs []*deliveryRecord
		c := b.deliveries.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n+len(recs) < limit; k, v = c.Next() {
			var rec deliveryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return n, fmt.Errorf("webhooks: decode delivery %q: %w", k, err)
			}
			recs = append(recs, &rec)
		}
		for _, rec := range recs {
			if err := deleteDelivery(b, rec); err != nil {
				return n, err
			}
			n++
		}
		if k, _ := b.deliveries.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
			done = append(done, bytes.Clone(hk))
		}
	}
	for _, hk := range done {
		if err := b.deleted.Delete(hk); err != nil {
			return n, err
		}
	}
	return n, nil
}

func deleteByID(b buckets, id []byte) error {
	rec, err := getDelivery(b, string(id))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return deleteDelivery(b, rec)
}

// pruneDeliveries removes up to limit delivered or dead deliveries finished before
// cutoff. Keys are collected before deleting: deleting under a bbolt cursor can make
// it skip the next key.
func pruneDeliveries(b buckets, cutoff int64, limit int) (int, error) {
	var ids [][]byte
	c := b.expiry.Cursor()
	for k, _ := c.First(); k != nil && len(ids) < limit; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) >= cutoff {
			break
		}
		ids = append(ids, bytes.Clone(k[8:]))
	}
	for _, id := range ids {
		if err := deleteByID(b, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// pruneEvents forgets up to limit events enqueued before cutoff. An event still
// referred to by a delivery keeps its record (marked Expired) until that delivery goes.
func pruneEvents(b buckets, cutoff int64, limit int) (int, error) {
	var keys [][]byte
	c := b.eventExp.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) >= cutoff {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.eventExp.Delete(k); err != nil {
			return 0, err
		}
		id := k[8:]
		var meta eventMeta
		ok, err := getJSON(b.events, id, &meta)
		if err != nil {
			return 0, err
		}
		switch {
		case !ok:
		case meta.Refs <= 0:
			if err := b.events.Delete(id); err != nil {
				return 0, err
			}
			if err := b.payloads.Delete(id); err != nil {
				return 0, err
			}
		default:
			meta.Expired = true
			if err := putJSON(b.events, id, &meta); err != nil {
				return 0, err
			}
		}
	}
	return len(keys), nil
}
