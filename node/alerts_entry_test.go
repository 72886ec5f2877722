package node

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
)

func feedTestAlerts() []FeedAlert {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 89, time.UTC)
	return []FeedAlert{
		{Seq: 1, Source: SourceFederation, Index: 42, Time: t0, Kind: "listed", Subject: "watchlist/FRA-N-1", Origin: "DEU"},
		{Seq: 2, Source: SourceLocal, Time: t0.Add(time.Second), Kind: "record-match", Subject: "record/APP-<&>\u2028", Origin: "FRA",
			Detail: map[string]string{"record": "APP-1", "party": "Zoë \"Ω\" <b>", "score": "0.9"}},
		{Seq: 3, Source: SourceLocal, Time: t0.Add(2 * time.Second), Kind: "other", Subject: "record/APP-2", Origin: "FRA"},
	}
}

// An entry decodes to what was encoded, and its stored JSON is exactly the encoding of
// the alert's api.AlertView as pages carry it; an entry in the layout written before
// (the FeedAlert's JSON) reads the same; a damaged entry is refused.
func TestFeedEntryCodec(t *testing.T) {
	for _, a := range feedTestAlerts() {
		entry, view, err := encodeFeedEntry(&a)
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeFeedEntry(entry)
		if err != nil {
			t.Fatal(err)
		}
		if e.federation != (a.Source == SourceFederation) || e.index != a.Index || string(e.kind) != a.Kind || string(e.subject) != a.Subject || !bytes.Equal(e.view, view) {
			t.Fatalf("%+v decoded as %+v", a, e)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(api.AlertView{Seq: a.Seq, Source: a.Source, Index: a.Index, Time: a.Time, Kind: a.Kind, Subject: a.Subject, Origin: a.Origin, Detail: a.Detail})
		if !bytes.Equal(view, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("stored JSON %s, want the AlertView's %s", view, want.Bytes())
		}
		if back, err := e.feedAlert(); err != nil || !reflect.DeepEqual(back, a) {
			t.Fatalf("feedAlert: %+v, %v; want %+v", back, err, a)
		}
		legacy, _ := json.Marshal(a)
		le, err := decodeFeedEntry(legacy)
		if err != nil || !reflect.DeepEqual(le, e) {
			t.Fatalf("the old layout reads as %+v, %v; want %+v", le, err, e)
		}
		for cut := 1; cut < len(entry)-len(view)+1; cut++ {
			if _, err := decodeFeedEntry(entry[:cut]); err == nil {
				t.Fatalf("an entry cut to %d bytes decoded", cut)
			}
		}
	}
	for _, bad := range [][]byte{nil, {}, {2, 0, 0, 0, 0, '{', '}'}, {1, 2, 0, 0, 0, '{', '}'}, {1, 0, 0, 9, 0, '{', '}'}, {1, 0, 0, 0, 0, '[', ']'}, []byte(`{"seq":`)} {
		if _, err := decodeFeedEntry(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// A feed holding entries of both layouts pages through in order, filters by kind, and
// serves the same bytes for an alert whichever layout holds it.
func TestFeedReadsOldEntries(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "feed.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := &Node{db: db}
	alerts := feedTestAlerts()
	// The first alert as a node stored it before the binary layout, the rest as now.
	if err := db.Update(func(tx *bbolt.Tx) error {
		// The buckets as a node made them before the layout was recorded.
		if _, err := tx.CreateBucket(bucketFeedMeta); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketFeed)
		if err != nil {
			return err
		}
		old, _ := json.Marshal(alerts[0])
		if err := b.Put(binary.BigEndian.AppendUint64(nil, 1), old); err != nil {
			return err
		}
		if err := b.SetSequence(1); err != nil {
			return err
		}
		rest := append([]FeedAlert(nil), alerts[1:]...)
		return n.appendFeed(tx, rest)
	}); err != nil {
		t.Fatal(err)
	}
	got, next, err := n.FeedAlerts(0, 10, nil)
	if err != nil || next != 3 || !reflect.DeepEqual(got, alerts) {
		t.Fatalf("FeedAlerts: %+v next %d %v; want %+v", got, next, err, alerts)
	}
	got, next, err = n.FeedAlerts(0, 10, []string{"listed", "other"})
	if err != nil || next != 3 || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 3 {
		t.Fatalf("filtered: %+v next %d %v", got, next, err)
	}
	body, err := n.AppendAlertPage(nil, access.Principal{}, 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	var page api.AlertPage
	if err := json.Unmarshal(body, &page); err != nil || len(page.Alerts) != 3 || page.Next != 3 {
		t.Fatalf("page %s: %v", body, err)
	}
	var again bytes.Buffer
	enc := json.NewEncoder(&again)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(page)
	if !bytes.Equal(body, again.Bytes()) {
		t.Fatalf("the page is not the encoding of what it decodes to:\n%s\n%s", body, again.Bytes())
	}
	raw, next, err := n.AlertFeed(access.Principal{}, 1, 1, nil)
	if err != nil || next != 2 || len(raw) != 1 || raw[0].Seq != 2 || !bytes.Contains(body, raw[0].JSON) {
		t.Fatalf("AlertFeed after 1: %+v next %d %v", raw, next, err)
	}

	// Opening the node brings the old entry to the current layout, once; the feed
	// serves the same bytes after.
	if err := db.Update(ensureFeedBuckets); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketFeed).ForEach(func(k, v []byte) error {
			if v[0] != feedEntryV1 {
				t.Errorf("entry %x is still in the old layout: %s", k, v)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if after, err := n.AppendAlertPage(nil, access.Principal{}, 0, 10, nil); err != nil || !bytes.Equal(after, body) {
		t.Fatalf("after the upgrade the page is %s (%v), want %s", after, err, body)
	}
}

// The upgrade rewrites every old entry however many there are, in batches.
func TestFeedUpgradeInBatches(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "feed.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const total = 2500
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bucketFeed)
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= total; seq++ {
			old, _ := json.Marshal(FeedAlert{Seq: seq, Source: SourceLocal, Kind: "record-match", Subject: "record/R", Origin: "FRA", Time: time.Unix(int64(seq), 0).UTC()})
			if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), old); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ensureFeedBuckets); err != nil {
		t.Fatal(err)
	}
	n := &Node{db: db}
	seen := 0
	next, err := n.scanFeed(0, MaxFeedPage, nil, func(uint64, feedEntry) error { return nil })
	if err != nil || next != MaxFeedPage {
		t.Fatalf("scan: next %d, %v", next, err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketFeed).ForEach(func(k, v []byte) error {
			seen++
			if v[0] != feedEntryV1 {
				t.Fatalf("entry %x is still in the old layout", k)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if seen != total {
		t.Fatalf("%d entries after the upgrade, want %d", seen, total)
	}
}
