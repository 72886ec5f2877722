package screening

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/screen"
)

var (
	bucketLists     = []byte("screening_lists")
	bucketAlerts    = []byte("screening_alerts")
	bucketAlertKeys = []byte("screening_alert_keys")
	keyMeta         = []byte("meta")
)

// ChunkSize is the number of entities stored per chunk: small enough that loading never
// holds much more than one chunk's bytes beside the entities, large enough that gzip
// finds the repetition between entries.
const ChunkSize = 4096

// maxChunkBytes bounds one decompressed chunk when it is read back, so that a corrupt
// chunk cannot expand without limit.
const maxChunkBytes = 512 << 20

// EnsureBuckets creates the screening buckets.
func EnsureBuckets(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketLists, bucketAlerts, bucketAlertKeys} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

func chunkKey(i int) []byte {
	k := make([]byte, 5)
	k[0] = 'e'
	binary.BigEndian.PutUint32(k[1:], uint32(i))
	return k
}

// SaveList replaces the stored list m.Name with m and entities, in tx, and returns the
// number of chunks written. The previous version's chunks go in the same transaction, so
// the file holds exactly one version of each list.
func SaveList(tx *bbolt.Tx, m Meta, entities []screen.Entity) (int, error) {
	root := tx.Bucket(bucketLists)
	if root == nil {
		return 0, errors.New("screening: buckets missing")
	}
	name := []byte(m.Name)
	if root.Bucket(name) != nil {
		if err := root.DeleteBucket(name); err != nil {
			return 0, err
		}
	}
	b, err := root.CreateBucket(name)
	if err != nil {
		return 0, err
	}
	chunks := 0
	var buf bytes.Buffer
	for start := 0; start < len(entities); start += ChunkSize {
		end := min(start+ChunkSize, len(entities))
		buf.Reset()
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		enc := json.NewEncoder(zw)
		enc.SetEscapeHTML(false)
		for i := start; i < end; i++ {
			if err := enc.Encode(&entities[i]); err != nil {
				return 0, err
			}
		}
		if err := zw.Close(); err != nil {
			return 0, err
		}
		if err := b.Put(chunkKey(chunks), bytes.Clone(buf.Bytes())); err != nil {
			return 0, err
		}
		chunks++
	}
	m.Chunks = chunks
	mb, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	return chunks, b.Put(keyMeta, mb)
}

// LoadMetas returns the description of every stored list, sorted by name.
func LoadMetas(tx *bbolt.Tx) ([]Meta, error) {
	root := tx.Bucket(bucketLists)
	if root == nil {
		return nil, nil
	}
	var out []Meta
	err := root.ForEachBucket(func(k []byte) error {
		v := root.Bucket(k).Get(keyMeta)
		if v == nil {
			return fmt.Errorf("list %q has no description", k)
		}
		var m Meta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("list %q: %w", k, err)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// LoadEntities calls fn with each stored entity of list name, in ID order.
func LoadEntities(tx *bbolt.Tx, name string, fn func(screen.Entity) error) error {
	root := tx.Bucket(bucketLists)
	if root == nil {
		return fmt.Errorf("no list %q", name)
	}
	b := root.Bucket([]byte(name))
	if b == nil {
		return fmt.Errorf("no list %q", name)
	}
	c := b.Cursor()
	for k, v := c.Seek([]byte{'e'}); k != nil && k[0] == 'e'; k, v = c.Next() {
		zr, err := gzip.NewReader(bytes.NewReader(v))
		if err != nil {
			return fmt.Errorf("chunk %x: %w", k, err)
		}
		dec := json.NewDecoder(bufio.NewReader(io.LimitReader(zr, maxChunkBytes)))
		for {
			var e screen.Entity
			err := dec.Decode(&e)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("chunk %x: %w", k, err)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Alert is a local alert: a pending national record whose party now matches a listed
// entity. It names the record and the entry; the party's name is opened from the record
// when the alert is read.
type Alert struct {
	Seq           uint64    `json:"seq"`
	Time          time.Time `json:"time"`
	RecordID      string    `json:"record_id"`
	RecordKind    string    `json:"record_kind"`
	RecordVersion int       `json:"record_version"`
	// Party is the record field the party is in: applicant, end_user, intermediaries[1]...
	Party       string  `json:"party"`
	List        string  `json:"list"`
	ListVersion string  `json:"list_version"`
	EntityID    string  `json:"entity_id"`
	MatchedName string  `json:"matched_name"`
	Score       float64 `json:"score"`
}

func alertKey(recordID, list, entityID string) []byte {
	return []byte(recordID + "\x00" + list + "\x00" + entityID)
}

// AddAlert stores a unless an alert for the same record, list and entity exists. It
// returns the alert as stored (with Seq) and whether it was new.
func AddAlert(tx *bbolt.Tx, a Alert) (Alert, bool, error) {
	keys, alerts := tx.Bucket(bucketAlertKeys), tx.Bucket(bucketAlerts)
	if keys == nil || alerts == nil {
		return a, false, errors.New("screening: buckets missing")
	}
	k := alertKey(a.RecordID, a.List, a.EntityID)
	if keys.Get(k) != nil {
		return a, false, nil
	}
	seq, err := alerts.NextSequence()
	if err != nil {
		return a, false, err
	}
	a.Seq = seq
	v, err := json.Marshal(a)
	if err != nil {
		return a, false, err
	}
	sk := binary.BigEndian.AppendUint64(nil, seq)
	if err := alerts.Put(sk, v); err != nil {
		return a, false, err
	}
	return a, true, keys.Put(k, sk)
}

// ListAlerts returns up to limit alerts with Seq below before (0: from the newest),
// newest first.
func ListAlerts(tx *bbolt.Tx, before uint64, limit int) ([]Alert, error) {
	b := tx.Bucket(bucketAlerts)
	if b == nil {
		return nil, nil
	}
	c := b.Cursor()
	var k, v []byte
	if before == 0 {
		k, v = c.Last()
	} else {
		// Seek lands on the first seq at or after before; the page starts just below it.
		if sk, _ := c.Seek(binary.BigEndian.AppendUint64(nil, before)); sk == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	var out []Alert
	for ; k != nil && len(out) < limit; k, v = c.Prev() {
		var a Alert
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("alert %x: %w", k, err)
		}
		out = append(out, a)
	}
	return out, nil
}
