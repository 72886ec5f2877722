package node_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/entente/entente/node"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/node/config"
)

// Fair use end to end: a token over its burst gets a signed 429 with Retry-After that
// the client verifies and reports; another token, the probes and the operator's admin
// socket go on. The rate is so low that no request refills during the test, so the
// outcome does not depend on timing.
func TestRateLimitPerToken(t *testing.T) {
	var dir string
	tn := startNode(t, func(c *config.Config) { c.RateLimit, c.RateBurst, dir = 0.001, 3, c.DataDir })
	ctx := context.Background()
	a := tn.client(t, tn.token(t, "integrator"))
	for i := 0; i < 3; i++ {
		if _, err := a.Do(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	resp, err := a.Do(ctx, "GET", "/v1/alerts", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusTooManyRequests || ae.Code != "rate_limited" {
		t.Fatalf("over the burst: %v, want a verified 429", err)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q: want whole seconds", resp.Header.Get("Retry-After"))
	}

	b := tn.client(t, tn.token(t, "integrator"))
	if _, err := b.Do(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
		t.Fatalf("a second token is limited by the first: %v", err)
	}
	probe := tn.client(t, "")
	for i := 0; i < 10; i++ {
		if _, err := probe.Do(ctx, "GET", "/healthz", nil, nil); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	admin, err := client.New("http://admin", client.Options{UnixSocket: filepath.Join(dir, node.AdminSocket), Keys: tn.n.KeySet()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.CloseIdle()
	for i := 0; i < 10; i++ {
		if _, err := admin.Do(ctx, "GET", "/v1/tokens", nil, nil); err != nil {
			t.Fatalf("admin socket request %d: %v", i, err)
		}
	}
}
