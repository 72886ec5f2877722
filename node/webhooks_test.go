package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/config"
)

// A webhook gets every alert of its kinds, signed by the node over the exact body; its
// history shows the deliveries; other integrators cannot see it; and internal targets
// are refused unless the operator allows them.
func TestWebhooksDeliverSignedAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a one-node federation")
	}
	var mu sync.Mutex
	got := map[string]string{} // delivery id -> alert kind
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			ID      string          `json:"id"`
			Kind    string          `json:"kind"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(body, &env) != nil || env.ID != r.Header.Get("X-Entente-Delivery") {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		got[env.ID] = env.Kind + "|" + r.Header.Get("X-JWS-Signature") + "|" + string(body)
		mu.Unlock()
	}))
	defer recv.Close()

	tn := startFederatedNodeWith(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	ctx := context.Background()
	integrator := tn.client(t, tn.token(t, "integrator"))
	var reg struct {
		Webhook struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		} `json:"webhook"`
	}
	if err := integrator.JSON(ctx, "POST", "/v1/webhooks", api.WebhookRequest{URL: recv.URL + "/hook", Kinds: []string{"nominated", "listed"}, Secret: "s3cret-value-of-some-length"}, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Webhook.ID == "" || reg.Webhook.Secret != "" {
		t.Fatalf("registration answer: %+v (the secret must not come back)", reg)
	}
	for _, bad := range []api.WebhookRequest{{URL: "ftp://example.org/x", Kinds: []string{"*"}, Secret: "a-long-enough-secret"}, {URL: recv.URL, Secret: "a-long-enough-secret"}, {URL: "https://user:pw@example.org/", Kinds: []string{"*"}, Secret: "a-long-enough-secret"}} {
		if err := integrator.JSON(ctx, "POST", "/v1/webhooks", bad, nil); apiError(err) == nil || apiError(err).Status != 400 {
			t.Errorf("%+v: %v, want 400", bad, err)
		}
	}

	officer := tn.client(t, tn.token(t, "officer"))
	nom := api.NominationRequest{ID: "FRA-N-W", Kind: "denied-party", Basis: api.Basis{Regime: "national list", ControlCodes: []string{"ML4"}},
		Party: json.RawMessage(`{"type":"organisation","name":"Webhook Test Trading","countries":["IRN"]}`)}
	eventually(t, "nomination accepted", func() (bool, string) {
		_, err := officer.Do(ctx, "POST", "/v1/watchlist/nominations", nom, nil)
		return err == nil, fmt.Sprint(err)
	})
	eventually(t, "the nominated and listed alerts delivered", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		kinds := map[string]bool{}
		for _, v := range got {
			kinds[strings.SplitN(v, "|", 2)[0]] = true
		}
		return kinds["nominated"] && kinds["listed"], fmt.Sprint(kinds)
	})
	mu.Lock()
	for id, v := range got {
		parts := strings.SplitN(v, "|", 3)
		if parts[0] != "nominated" && parts[0] != "listed" {
			t.Errorf("delivery %s of kind %s, which the hook did not ask for", id, parts[0])
		}
		if _, err := jws.VerifyDetached(tn.n.KeySet(), []byte(parts[2]), parts[1]); err != nil {
			t.Errorf("delivery %s: signature: %v", id, err)
		}
		if _, err := jws.VerifyDetached(tn.n.KeySet(), []byte(parts[2]+" "), parts[1]); err == nil {
			t.Errorf("delivery %s: a changed body still verifies", id)
		}
	}
	mu.Unlock()

	var hist struct {
		Deliveries []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"deliveries"`
	}
	if err := integrator.JSON(ctx, "GET", "/v1/webhooks/"+reg.Webhook.ID+"/deliveries", nil, &hist); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, d := range hist.Deliveries {
		if d.State == "delivered" {
			delivered++
		}
	}
	if delivered < 2 {
		t.Fatalf("history: %+v", hist)
	}
	// Another integrator's token (another subject) sees none of it.
	other := tn.client(t, tn.tokenFor(t, "integrator", "customs-system"))
	var list struct {
		Webhooks []json.RawMessage `json:"webhooks"`
	}
	if err := other.JSON(ctx, "GET", "/v1/webhooks", nil, &list); err != nil || len(list.Webhooks) != 0 {
		t.Fatalf("another integrator lists %d webhooks (%v)", len(list.Webhooks), err)
	}
	if err := other.JSON(ctx, "GET", "/v1/webhooks/"+reg.Webhook.ID+"/deliveries", nil, nil); apiError(err) == nil || apiError(err).Status != 404 {
		t.Fatalf("another integrator reads the history: %v", err)
	}
	if err := other.JSON(ctx, "DELETE", "/v1/webhooks/"+reg.Webhook.ID, nil, nil); apiError(err) == nil || apiError(err).Status != 404 {
		t.Fatalf("another integrator deletes the hook: %v", err)
	}
}

// By default a webhook may not point into the node's own network.
func TestWebhooksRefuseInternalTargets(t *testing.T) {
	tn := startNode(t, nil)
	integrator := tn.client(t, tn.token(t, "integrator"))
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data"} {
		if err := integrator.JSON(context.Background(), "POST", "/v1/webhooks", api.WebhookRequest{URL: u, Kinds: []string{"*"}, Secret: "a-long-enough-secret"}, nil); apiError(err) == nil || apiError(err).Status != 400 {
			t.Errorf("%s: %v, want 400", u, err)
		}
	}
}
