package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/entente/entente/node/config"
)

// TestRolesReachOnlyTheirScope checks every role against every kind of action; each
// refusal is a 403 that changes nothing.
func TestRolesReachOnlyTheirScope(t *testing.T) {
	tn := startNode(t, nil)
	ctx := context.Background()
	type call struct{ method, path string }
	calls := map[string]call{
		"create": {"POST", "/v1/records"},
		"list":   {"GET", "/v1/records"},
		"audit":  {"GET", "/v1/audit"},
		"issue":  {"POST", "/v1/tokens"},
	}
	allowed := map[string]map[string]bool{
		"officer":    {"create": true, "list": true},
		"analyst":    {"list": true},
		"steering":   {},
		"integrator": {},
		"auditor":    {"audit": true},
	}
	for role, ok := range allowed {
		c := tn.client(t, tn.token(t, role))
		for name, cl := range calls {
			var body any
			switch name {
			case "create":
				body = tenFieldLicence("ROLE-" + role)
			case "issue":
				body = map[string]string{"role": "officer", "ttl": "1h"}
			}
			_, err := c.Do(ctx, cl.method, cl.path, body, nil)
			if ok[name] {
				if err != nil {
					t.Errorf("%s %s %s: %v", role, cl.method, cl.path, err)
				}
				continue
			}
			if ae := apiError(err); ae == nil || ae.Status != http.StatusForbidden {
				t.Errorf("%s %s %s: want 403, got %v", role, cl.method, cl.path, err)
			}
		}
	}
	// Only the officer's record exists.
	var page struct {
		Records []struct{ ID string } `json:"records"`
	}
	if err := tn.client(t, tn.token(t, "analyst")).JSON(ctx, "GET", "/v1/records", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].ID != "ROLE-officer" {
		t.Fatalf("records after the role matrix: %+v", page.Records)
	}
}

func TestBodyLimitAndUnknownRoutes(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.MaxBodyBytes = 4096 })
	c := tn.client(t, tn.token(t, "officer"))
	ctx := context.Background()
	_, err := c.Do(ctx, "POST", "/v1/records", []byte(`{"kind":"`+strings.Repeat("x", 8000)+`"}`), nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("want 413, got %v", err)
	}
	_, err = c.Do(ctx, "GET", "/v1/nothing-here", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusNotFound {
		t.Fatalf("want a signed 404, got %v", err)
	}
	_, err = c.Do(ctx, "DELETE", "/v1/records/x", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusMethodNotAllowed && ae.Status != http.StatusNotFound {
		t.Fatalf("want 405 or 404, got %v", err)
	}
	_, err = c.Do(ctx, "GET", "/v1/records?colour=red", nil, nil)
	if ae := apiError(err); ae == nil || ae.Field != "colour" {
		t.Fatalf("want an error naming the unknown parameter, got %v", err)
	}
	_, err = c.Do(ctx, "GET", "/v1/records?cursor=not-a-cursor!", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusBadRequest {
		t.Fatalf("want 400 for a malformed cursor, got %v", err)
	}
}

func TestTokenRequestsAreChecked(t *testing.T) {
	tn := startNode(t, nil)
	c := tn.client(t, tn.token(t, "operator"))
	ctx := context.Background()
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"role":"king"}`, "role"},
		{`{"role":"officer","ttl":"forever"}`, "ttl"},
		{`{"role":"officer","ttl":"9000h"}`, "ttl"},
		{`{"role":"officer","ttl":"500ms"}`, "ttl"},
		{`{"role":"officer","subject":"` + strings.Repeat("s", 129) + `"}`, "subject"},
		{`{"role":"officer","colour":"red"}`, "colour"},
		{`{"role":7}`, "role"},
		{`{"role":"officer"} {}`, "body"},
	} {
		_, err := c.Do(ctx, "POST", "/v1/tokens", []byte(tc.body), nil)
		if ae := apiError(err); ae == nil || ae.Status != http.StatusBadRequest || ae.Field != tc.field {
			t.Errorf("%s: want 400 naming %s, got %v", tc.body, tc.field, err)
		}
	}
	_, err := c.Do(ctx, "POST", "/v1/tokens/tok_nope/revoke", nil, nil)
	if ae := apiError(err); ae == nil || ae.Status != http.StatusNotFound {
		t.Fatalf("revoking an unknown token: want 404, got %v", err)
	}
}
