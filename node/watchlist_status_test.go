package node_test

import (
	"context"
	"testing"

	"github.com/entente/entente/node/api"
)

// TestWatchlistStatusFilter: every status an entry can have may be asked for, rejected
// included, and anything else is refused naming the parameter.
func TestWatchlistStatusFilter(t *testing.T) {
	tn := startFederatedNode(t)
	c := tn.client(t, tn.token(t, "analyst"))
	ctx := context.Background()
	for _, st := range []string{"nominated", "listed", "disputed", "review-due", "appealed", "delisted", "rejected", "expired"} {
		var out struct {
			Entries []api.WatchlistEntry `json:"entries"`
		}
		if err := c.JSON(ctx, "GET", "/v1/watchlist?status="+st, nil, &out); err != nil {
			t.Errorf("status=%s: %v", st, err)
		}
	}
	_, err := c.Do(ctx, "GET", "/v1/watchlist?status=pending", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != 400 || ae.Field != "status" {
		t.Fatalf("status=pending: want 400 naming status, got %v", err)
	}
}
