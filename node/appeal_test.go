package node_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entente/entente/node/api"
)

// TestAppealShowsItsGrounds: once a listing is appealed, the entry carries the appeal,
// who brought it and when, with its grounds opened for a caller cleared to read them.
func TestAppealShowsItsGrounds(t *testing.T) {
	tn := startFederatedNode(t)
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))
	eventually(t, "the nomination", func() (bool, string) {
		err := officer.JSON(ctx, "POST", "/v1/watchlist/nominations", secNomination("APP-1", "REL TO FEDERATION"), nil)
		return err == nil, errString(err)
	})
	var out struct {
		Entry api.WatchlistEntry `json:"entry"`
	}
	eventually(t, "the listing", func() (bool, string) {
		err := officer.JSON(ctx, "GET", "/v1/watchlist/APP-1", nil, &out)
		return err == nil && out.Entry.Status == "listed", out.Entry.Status + errString(err)
	})
	if out.Entry.Appeal != nil {
		t.Fatalf("a listing nobody appealed carries an appeal: %+v", out.Entry.Appeal)
	}
	if err := officer.JSON(ctx, "POST", "/v1/watchlist/APP-1/appeals", api.AppealRequest{Grounds: "the listing named the wrong company", Marking: "REL TO FEDERATION"}, nil); err != nil {
		t.Fatal(err)
	}
	analyst := tn.client(t, tn.token(t, "analyst"))
	if err := analyst.JSON(ctx, "GET", "/v1/watchlist/APP-1?consistency=linearizable", nil, &out); err != nil {
		t.Fatal(err)
	}
	a := out.Entry.Appeal
	if out.Entry.Status != "appealed" || a == nil || a.By != "FRA" || a.At.IsZero() || a.Grounds.Sealed ||
		!strings.Contains(string(a.Grounds.Value), "the listing named the wrong company") {
		t.Fatalf("appealed entry: status %s, appeal %+v", out.Entry.Status, a)
	}
}
