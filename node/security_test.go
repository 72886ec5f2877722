package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
)

// TestHostileRequestsChangeNothing sends what an attacker holding a valid token would:
// bodies nested too deep, oversized, not UTF-8, with fields smuggled in, NATIONAL values
// aimed at the federation, and writes beyond the token's role. Each gets its own 4xx,
// naming the field where there is one, and afterwards the node holds exactly what it held
// before: the same records, watchlist entries and indicators.
func TestHostileRequestsChangeNothing(t *testing.T) {
	tn := startFederatedNode(t)
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))

	// Something to protect: one record, one nomination.
	if _, err := officer.Do(ctx, "POST", "/v1/records", tenFieldLicence("FRA-SEC-1"), nil); err != nil {
		t.Fatal(err)
	}
	var res api.FedResult
	var err error
	eventually(t, "the first nomination", func() (bool, string) {
		err = officer.JSON(ctx, "POST", "/v1/watchlist/nominations", secNomination("SEC-1", "REL TO FEDERATION"), &res)
		return err == nil, errString(err)
	})
	before := snapshotHoldings(t, tn)

	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	nomWithParty := func(party string) []byte {
		return []byte(`{"id":"SEC-X","kind":"denied-party","party":` + party + `,"basis":{"regime":"national"}}`)
	}
	cases := []struct {
		name, role, method, path string
		body                     []byte
		status                   int
		field                    string
	}{
		{"record nested 100k deep", "officer", "POST", "/v1/records",
			[]byte(`{"id":"FRA-SEC-X","kind":"licence-application","fields":{"end_use":` + deep(100000) + `}}`), http.StatusBadRequest, ""},
		{"nomination party nested 5k deep", "officer", "POST", "/v1/watchlist/nominations", nomWithParty(deep(5000)), http.StatusBadRequest, ""},
		{"nomination party nested 64 deep", "officer", "POST", "/v1/watchlist/nominations", nomWithParty(`{"type":"organisation","name":"X","aliases":` + deep(64) + `}`), http.StatusBadRequest, ""},
		{"oversized record", "officer", "POST", "/v1/records",
			[]byte(`{"id":"FRA-SEC-X","kind":"licence-application","fields":{"end_use":"` + strings.Repeat("x", 2<<20) + `"}}`), http.StatusRequestEntityTooLarge, ""},
		{"oversized nomination", "officer", "POST", "/v1/watchlist/nominations", nomWithParty(`"` + strings.Repeat("x", 64<<10) + `"`), http.StatusRequestEntityTooLarge, "body"},
		{"not UTF-8", "officer", "POST", "/v1/watchlist/nominations", []byte("{\"id\":\"SEC-\xff\",\"kind\":\"denied-party\"}"), http.StatusBadRequest, "body"},
		{"smuggled field", "officer", "POST", "/v1/watchlist/nominations", []byte(`{"id":"SEC-X","kind":"denied-party","origin":"DEU"}`), http.StatusBadRequest, "origin"},
		{"two objects", "officer", "POST", "/v1/indicators", []byte(`{"kind":"destination"} {"kind":"route"}`), http.StatusBadRequest, "body"},
		{"NATIONAL to the federation", "officer", "POST", "/v1/watchlist/nominations", mustJSON(t, secNomination("SEC-NAT", "NATIONAL")), http.StatusBadRequest, "markings.rationale"},
		{"integrator nominates", "integrator", "POST", "/v1/watchlist/nominations", mustJSON(t, secNomination("SEC-INT", "REL TO FEDERATION")), http.StatusForbidden, ""},
		{"steering writes a record", "steering", "POST", "/v1/records", mustJSON(t, tenFieldLicence("FRA-SEC-ST")), http.StatusForbidden, ""},
		{"integrator reads records", "integrator", "GET", "/v1/records", nil, http.StatusForbidden, ""},
		{"auditor votes", "auditor", "POST", "/v1/watchlist/SEC-1/votes", []byte(`{"position":"endorse"}`), http.StatusForbidden, ""},
		{"integrator issues a token", "integrator", "POST", "/v1/tokens", []byte(`{"role":"operator","ttl":"1h"}`), http.StatusForbidden, ""},
		// A rule that depends on the replicated state is judged in the log, the same on
		// every replica: the answer is the shared rejection, and nothing else changes.
		{"vote on nothing", "officer", "POST", "/v1/watchlist/NOPE/votes", []byte(`{"position":"endorse"}`), http.StatusConflict, ""},
		{"unknown vote position", "officer", "POST", "/v1/watchlist/SEC-1/votes", []byte(`{"position":"veto"}`), http.StatusBadRequest, "position"},
		{"indicator severity 9", "officer", "POST", "/v1/indicators",
			mustJSON(t, api.IndicatorRequest{Kind: "destination", Subject: "IRN", Severity: 9, Evidence: "x", ValidUntil: time.Now().Add(time.Hour)}), http.StatusBadRequest, "severity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tn.client(t, tn.token(t, tc.role))
			var body any
			if tc.body != nil {
				body = tc.body
			}
			_, err := c.Do(ctx, tc.method, tc.path, body, nil)
			ae := apiError(err)
			if ae == nil || ae.Status != tc.status {
				t.Fatalf("want %d, got %v", tc.status, err)
			}
			if tc.field != "" && ae.Field != tc.field {
				t.Fatalf("want the error to name %q, got %q (%v)", tc.field, ae.Field, err)
			}
		})
	}
	if after := snapshotHoldings(t, tn); after != before {
		t.Fatalf("hostile requests changed what the node holds:\nbefore %s\nafter  %s", before, after)
	}
}

func secNomination(id, marking string) api.NominationRequest {
	party, _ := json.Marshal(map[string]any{"type": "organisation", "name": "Security Matrix " + id, "countries": []string{"IRN"}})
	return api.NominationRequest{ID: id, Kind: "denied-party", Party: party, Basis: api.Basis{Regime: "national"},
		Rationale: "procures for a sanctioned programme", Markings: map[string]string{"rationale": marking}}
}

// snapshotHoldings summarises the records, watchlist entries and indicators the node
// holds, by id and version or status.
func snapshotHoldings(t *testing.T, tn *testNode) string {
	t.Helper()
	ctx := context.Background()
	c := tn.client(t, tn.token(t, "analyst"))
	var recs struct {
		Records []api.RecordView `json:"records"`
	}
	if err := c.JSON(ctx, "GET", "/v1/records", nil, &recs); err != nil {
		t.Fatal(err)
	}
	var wl struct {
		Entries []api.WatchlistEntry `json:"entries"`
	}
	if err := c.JSON(ctx, "GET", "/v1/watchlist?consistency=linearizable", nil, &wl); err != nil {
		t.Fatal(err)
	}
	var ind struct {
		Indicators []api.IndicatorView `json:"indicators"`
	}
	if err := c.JSON(ctx, "GET", "/v1/indicators", nil, &ind); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range recs.Records {
		b.WriteString("record " + r.ID + "@" + string(rune('0'+r.Version)) + "; ")
	}
	for _, e := range wl.Entries {
		b.WriteString("entry " + e.ID + " " + e.Kind + "; ")
	}
	for _, in := range ind.Indicators {
		b.WriteString("indicator " + in.ID + "; ")
	}
	return b.String()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
