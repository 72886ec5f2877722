package node_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/client"
)

// The watchlist leaves the node in the formats integrators' tools read: FtM lines, CSV
// and a STIX bundle, and over TAXII 2.1; every answer is signed and checked by the client.
func TestExportsAndTAXII(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a one-node federation")
	}
	tn := startFederatedNode(t)
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))
	nom := api.NominationRequest{ID: "FRA-N-X", Kind: "denied-party", Basis: api.Basis{Regime: "national list", ControlCodes: []string{"ML4"}},
		Party:    json.RawMessage(`{"type":"organisation","name":"Borealis Avionics LLC","aliases":["=HYPERLINK(1)"],"countries":["ARE"]}`),
		Markings: map[string]string{"rationale": "REL TO FEDERATION"}, Rationale: "procured gyroscopes for a listed end user"}
	eventually(t, "nomination accepted", func() (bool, string) {
		_, err := officer.Do(ctx, "POST", "/v1/watchlist/nominations", nom, nil)
		return err == nil, fmt.Sprint(err)
	})
	integrator := tn.client(t, tn.token(t, "integrator"))
	eventually(t, "the entry listed", func() (bool, string) {
		resp, err := integrator.Do(ctx, "GET", "/v1/watchlist/export?format=csv", nil, nil)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(string(resp.Body), "Borealis Avionics LLC"), string(resp.Body)
	})

	resp, err := integrator.Do(ctx, "GET", "/v1/watchlist/export?format=csv", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(resp.Body))).ReadAll()
	if err != nil || len(rows) != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || resp.Signature == "" {
		t.Fatalf("csv: %d rows, %v, %s", len(rows), err, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(string(resp.Body), ",=HYPERLINK") || strings.Contains(string(resp.Body), "\"=HYPERLINK") {
		t.Fatalf("a formula reached the CSV unescaped: %s", resp.Body)
	}

	resp, err = integrator.Do(ctx, "GET", "/v1/watchlist/export?format=ftm", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(resp.Body)), "\n")
	schemas := map[string]bool{}
	for _, l := range lines {
		var e struct {
			ID     string `json:"id"`
			Schema string `json:"schema"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("ftm line %q: %v", l, err)
		}
		schemas[e.Schema] = true
	}
	if !schemas["Organization"] || !schemas["Sanction"] || !strings.Contains(string(resp.Body), "Borealis Avionics LLC") {
		t.Fatalf("ftm export: %s", resp.Body)
	}

	resp, err = integrator.Do(ctx, "GET", "/v1/watchlist/export?format=stix", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(resp.Body, &bundle); err != nil || bundle.Type != "bundle" || !strings.Contains(string(resp.Body), `"identity_class":"organization"`) {
		t.Fatalf("stix bundle: %v %s", err, resp.Body)
	}
	for _, q := range []string{"format=xml", "format=", "format=csv&x=1"} {
		if _, err := integrator.Do(ctx, "GET", "/v1/watchlist/export?"+q, nil, nil); apiError(err) == nil || apiError(err).Status != 400 {
			t.Errorf("%s: %v, want 400", q, err)
		}
	}

	// TAXII 2.1: discovery, collections, objects, and the media type is enforced.
	taxii := http.Header{"Accept": {"application/taxii+json;version=2.1"}}
	resp, err = integrator.Do(ctx, "GET", "/taxii2/", nil, taxii)
	if err != nil || !strings.Contains(string(resp.Body), "api_roots") {
		t.Fatalf("discovery: %v %s", err, respBody(resp))
	}
	var cols struct {
		Collections []struct {
			ID string `json:"id"`
		} `json:"collections"`
	}
	resp, err = integrator.Do(ctx, "GET", "/taxii2/entente/collections/", nil, taxii)
	if err != nil || json.Unmarshal(resp.Body, &cols) != nil || len(cols.Collections) != 1 {
		t.Fatalf("collections: %v %s", err, respBody(resp))
	}
	resp, err = integrator.Do(ctx, "GET", "/taxii2/entente/collections/"+cols.Collections[0].ID+"/objects/?limit=2", nil, taxii)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		More    bool              `json:"more"`
		Next    string            `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	all := ""
	for page := 0; ; page++ {
		if err := json.Unmarshal(resp.Body, &env); err != nil || page > 20 {
			t.Fatalf("objects page %d: %v", page, err)
		}
		for _, o := range env.Objects {
			all += string(o)
		}
		if !env.More {
			break
		}
		if resp, err = integrator.Do(ctx, "GET", "/taxii2/entente/collections/"+cols.Collections[0].ID+"/objects/?limit=2&next="+env.Next, nil, taxii); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(all, "Borealis Avionics LLC") || !strings.Contains(all, `"type":"marking-definition"`) {
		t.Fatalf("TAXII objects: %s", all)
	}
	if _, err := integrator.Do(ctx, "GET", "/taxii2/", nil, http.Header{"Accept": {"text/html"}}); apiError(err) == nil || apiError(err).Status != 406 {
		t.Errorf("TAXII with Accept text/html: %v, want 406", err)
	}
	auditor := tn.client(t, tn.token(t, "auditor"))
	if _, err := auditor.Do(ctx, "GET", "/taxii2/", nil, taxii); apiError(err) == nil || apiError(err).Status != 403 {
		t.Errorf("an auditor read TAXII: %v", err)
	}
}

func respBody(r *client.Response) string {
	if r == nil {
		return ""
	}
	return string(r.Body)
}
