package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/entente/entente/node"
)

// The feed numbers alerts in order without gaps, resumes from any cursor, filters by kind
// while still advancing the cursor, and wakes waiting readers.
func TestAlertFeedOrderCursorAndWake(t *testing.T) {
	tn := startNode(t, nil)
	n := tn.n
	wake := n.FeedWait()
	var batch []node.FeedAlert
	for i := range 25 {
		kind := "record-match"
		if i%5 == 0 {
			kind = "other"
		}
		batch = append(batch, node.FeedAlert{Kind: kind, Subject: fmt.Sprintf("record/R-%02d", i)})
	}
	if err := n.RaiseLocalAlerts(batch[:10]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("a reader waiting on the feed was not woken by an append")
	}
	if err := n.RaiseLocalAlerts(batch[10:]); err != nil {
		t.Fatal(err)
	}

	var seen []node.FeedAlert
	for cursor := uint64(0); ; {
		page, next, err := n.FeedAlerts(cursor, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if next != cursor {
				t.Fatalf("an empty page moved the cursor from %d to %d", cursor, next)
			}
			break
		}
		seen = append(seen, page...)
		cursor = next
	}
	if len(seen) != 25 {
		t.Fatalf("read %d alerts, want 25", len(seen))
	}
	for i, a := range seen {
		if a.Seq != uint64(i+1) || a.Subject != batch[i].Subject || a.Source != node.SourceLocal || a.Origin != "FRA" || a.Time.IsZero() {
			t.Fatalf("alert %d: %+v", i, a)
		}
	}
	// Resuming from the middle gives exactly the rest.
	page, _, err := n.FeedAlerts(20, 100, nil)
	if err != nil || len(page) != 5 || page[0].Seq != 21 {
		t.Fatalf("resume from 20: %d alerts, first %+v, %v", len(page), page, err)
	}
	// A kind filter returns only that kind and its cursor passes the others.
	page, next, err := n.FeedAlerts(0, 3, []string{"other"})
	if err != nil || len(page) != 3 || next != 11 {
		t.Fatalf("filtered page: %d alerts, next %d, %v", len(page), next, err)
	}
	for _, a := range page {
		if a.Kind != "other" {
			t.Fatalf("filtered page holds %+v", a)
		}
	}
}
