package state

import (
	"testing"
	"time"

	"github.com/entente/entente/federation/command"
)

// TestDisputeDecisions: the steering body settles a disputed nomination by a majority of
// its voters, one decision each; nobody else decides, and nothing else is decided so.
func TestDisputeDecisions(t *testing.T) {
	f := newFed(t)
	s := f.open("fra.db")
	for _, id := range []string{"A", "B", "C"} {
		wantOK(t, f.do(s, "FRA", nomination(id)), "nominated")
	}
	wantRejected(t, f.do(s, "DEU", &command.Decide{Entry: "A", Decision: "list"}), "not disputed")
	f.clock = f.clock.Add(time.Hour)
	for _, id := range []string{"A", "B", "C"} {
		wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/" + id, To: "closed"}), StatusDisputed)
	}

	wantRejected(t, f.do(s, "ITA", &command.Decide{Entry: "A", Decision: "list"}), "not a voter")
	wantRejected(t, f.do(s, "CAN", &command.Decide{Entry: "A", Decision: "list"}), "not a voter")
	// One of three voters is not a majority; a second decision the same way is.
	wantOK(t, f.do(s, "DEU", &command.Decide{Entry: "A", Decision: "list"}), "decision")
	wantRejected(t, f.do(s, "DEU", &command.Decide{Entry: "A", Decision: "reject"}), "already decided")
	status(t, s, "A", StatusDisputed)
	wantOK(t, f.do(s, "GBR", &command.Decide{Entry: "A", Decision: "list"}), "listed")
	status(t, s, "A", StatusListed)
	if e, _, _ := s.Entry("A"); e.ReviewDue != f.clock.UnixNano()+(24*time.Hour).Nanoseconds() || e.Decided != f.clock.UnixNano() {
		t.Fatalf("listed by decision: review due %d, decided %d", e.ReviewDue, e.Decided)
	}
	wantRejected(t, f.do(s, "FRA", &command.Decide{Entry: "A", Decision: "reject"}), "not disputed")

	// Split decisions do not settle it until one side has a majority.
	wantOK(t, f.do(s, "FRA", &command.Decide{Entry: "B", Decision: "list"}), "decision")
	wantOK(t, f.do(s, "DEU", &command.Decide{Entry: "B", Decision: "reject"}), "decision")
	status(t, s, "B", StatusDisputed)
	wantOK(t, f.do(s, "GBR", &command.Decide{Entry: "B", Decision: "reject"}), "rejected")
	status(t, s, "B", StatusRejected)

	// A rejected nomination expires at once and is purged when its retention ends.
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/B", To: "expired"}), StatusExpired)
	wantRejected(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/B", To: "purged"}), "is not due until")
	f.clock = f.clock.Add(72 * time.Hour)
	wantOK(t, f.do(s, "DEU", &command.Transition{Subject: "watchlist/B", To: "purged"}), "purged")
	if _, ok, _ := s.Entry("B"); ok {
		t.Fatal("the purged entry is still there")
	}
	checkDeadlineIndex(t, s)

	// Every replica decides the same.
	r := f.open("deu.db")
	for i, data := range f.log {
		r.Apply(uint64(i+1), data)
	}
	ha, _ := s.Hash()
	hb, _ := r.Hash()
	if ha != hb {
		t.Fatal("replicas differ after the same decisions")
	}
}
