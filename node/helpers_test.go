package node_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/entente/entente/crypto/identity"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/access"
	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/node/config"
	"github.com/entente/entente/policy"
)

var operator = access.Principal{TokenID: "test", Subject: "test operator", Role: policy.RoleOperator}

// testNode is a node serving HTTPS on a loopback port inside the test process.
type testNode struct {
	n    *node.Node
	url  string
	id   *identity.Identity
	stop func()
}

func startNode(tb testing.TB, mutate func(*config.Config)) *testNode {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "fra")
	if _, err := identity.Create(dir, "FRA", "127.0.0.1:8443"); err != nil {
		tb.Fatal(err)
	}
	return startNodeAt(tb, dir, func(c *config.Config) {
		c.MaxConcurrent = 4096
		if mutate != nil {
			mutate(c)
		}
	})
}

func (tn *testNode) token(tb testing.TB, role string) string {
	tb.Helper()
	tok, _, err := tn.n.IssueToken(operator, api.TokenRequest{Subject: "test-" + role, Role: role, TTL: "1h"})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// tokenFor issues a token for role to another subject (another integrator, say).
func (tn *testNode) tokenFor(tb testing.TB, role, subject string) string {
	tb.Helper()
	tok, _, err := tn.n.IssueToken(operator, api.TokenRequest{Subject: subject, Role: role, TTL: "1h"})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func (tn *testNode) client(tb testing.TB, token string) *client.Client {
	tb.Helper()
	c, err := client.New(tn.url, client.Options{Token: token, TLSPin: tn.id.TLSPin, Keys: tn.n.KeySet()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// loadClient is a benchmark load generator: it pins the node's certificate but does not
// verify response signatures. Verification is the integrator's cost, on the integrator's
// machine; here it would take CPU from the node under test, which shares the same cores.
// Every test client verifies.
func (tn *testNode) loadClient(tb testing.TB, token string) *client.Client {
	tb.Helper()
	c, err := client.New(tn.url, client.Options{Token: token, TLSPin: tn.id.TLSPin})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// tenFieldLicence is a licence application with ten fields, the shape the benchmark uses.
func tenFieldLicence(id string) map[string]any {
	party := func(name, country string) map[string]any {
		return map[string]any{"type": "organisation", "name": name, "countries": []string{country},
			"identifiers": []any{map[string]any{"scheme": "registration", "value": "RCS-" + id}}}
	}
	return map[string]any{
		"id":   id,
		"kind": "licence-application",
		"fields": map[string]any{
			"applicant":           party("Helion Optronique SAS", "FRA"),
			"consignee":           party("Gulf Systems Trading FZE", "ARE"),
			"end_user":            party("Coastal Guard Directorate", "ARE"),
			"intermediaries":      []any{party("Transit Logistics GmbH", "DEU")},
			"destination":         "ARE",
			"items":               []any{map[string]any{"description": "thermal imaging camera core", "control_code": "ML15.a", "quantity": 40, "unit": "pcs", "value": map[string]any{"amount": 480000, "currency": "EUR"}}},
			"end_use":             "coastal surveillance",
			"submitted_on":        "2026-11-02",
			"value":               map[string]any{"amount": 480000, "currency": "EUR"},
			"applicant_reference": "HO-2026-" + id,
		},
		"markings":  map[string]string{"end_user": "REL TO FEDERATION", "destination": "REL TO FEDERATION"},
		"rationale": "application received",
	}
}

func apiError(err error) *client.APIError {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
