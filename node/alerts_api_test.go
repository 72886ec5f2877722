package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node/api"
)

// The feed over the API: a nomination's alerts come with the originator's signed command
// (which verifies against the originator's keys, not this node's word), the entry opened
// for the caller, and a local alert when a pending record matches; pages resume from any
// cursor; bad cursors and roles are refused.
func TestAlertFeedAndStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a one-node federation")
	}
	tn := startFederatedNode(t)
	ctx := context.Background()
	officer := tn.client(t, tn.token(t, "officer"))
	integrator := tn.client(t, tn.token(t, "integrator"))

	app := tenFieldLicence("APP-F")
	app["fields"].(map[string]any)["consignee"] = map[string]any{"type": "organisation", "name": "Qeshm Gyro Trading", "countries": []string{"IRN"}}
	if _, err := officer.Do(ctx, "POST", "/v1/records", app, nil); err != nil {
		t.Fatal(err)
	}
	nom := api.NominationRequest{ID: "FRA-N-F", Kind: "denied-party", Basis: api.Basis{Regime: "national list", ControlCodes: []string{"ML4"}},
		Party: json.RawMessage(`{"type":"organisation","name":"Qeshm Gyro Trading","countries":["IRN"]}`)}
	eventually(t, "nomination accepted", func() (bool, string) {
		_, err := officer.Do(ctx, "POST", "/v1/watchlist/nominations", nom, nil)
		return err == nil, fmt.Sprint(err)
	})

	// Follow the feed to the end, a page of one at a time, until the local alert arrives.
	var all []api.AlertView
	eventually(t, "the listing and the record match in the feed", func() (bool, string) {
		all = all[:0]
		for cursor := uint64(0); ; {
			var page api.AlertPage
			if err := integrator.JSON(ctx, "GET", "/v1/alerts?limit=1&after="+strconv.FormatUint(cursor, 10), nil, &page); err != nil {
				return false, err.Error()
			}
			if len(page.Alerts) == 0 {
				break
			}
			all = append(all, page.Alerts...)
			cursor = page.Next
		}
		kinds := map[string]bool{}
		for _, a := range all {
			kinds[a.Kind] = true
		}
		return kinds["nominated"] && kinds["listed"] && kinds["record-match"], fmt.Sprint(kinds)
	})
	for i, a := range all {
		if a.Seq != uint64(i+1) {
			t.Fatalf("the feed has a gap or is out of order at %d: seq %d", i, a.Seq)
		}
		if a.Source == "federation" && a.Subject == "watchlist/FRA-N-F" && a.Kind == "nominated" {
			if a.Command == nil || a.Command.Origin != "FRA" || a.Command.Type != "nominate" {
				t.Fatalf("nominated alert without its signed command: %+v", a)
			}
			input, err := base64.RawURLEncoding.DecodeString(a.Command.SigningInput)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.VerifyDetached(tn.id.Keys, input, a.Command.Signature); err != nil {
				t.Fatalf("the originator's signature does not verify: %v", err)
			}
			if _, err := jws.VerifyDetached(tn.id.Keys, append(input, ' '), a.Command.Signature); err == nil {
				t.Fatal("a changed signing input still verifies")
			}
			if a.Entry == nil || !strings.Contains(string(a.Entry.Fields["party"].Value), "Qeshm Gyro Trading") {
				t.Fatalf("the alert does not carry the entry opened for the caller: %+v", a.Entry)
			}
			// The entry is as it stands now, not as it was when the alert was raised.
			if a.Entry.Status != "listed" {
				t.Fatalf("the nominated alert carries the entry as %q, want its current status listed", a.Entry.Status)
			}
		}
		if a.Kind == "record-match" && (a.Source != "local" || a.Subject != "record/APP-F" || a.Detail["list"] != "consensus" || a.Detail["entity_id"] != "FRA-N-F" ||
			strings.Contains(fmt.Sprint(a.Detail), "Qeshm")) {
			t.Fatalf("local alert: %+v (the party's name must stay out of the feed)", a)
		}
	}

	// A page's body is exactly the encoding of the page it decodes to: the stored alerts
	// and the spliced-in commands and entries make one canonical document.
	raw, err := integrator.Do(ctx, "GET", "/v1/alerts?limit=1000", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var whole api.AlertPage
	if err := json.Unmarshal(raw.Body, &whole); err != nil || len(whole.Alerts) != len(all) {
		t.Fatalf("the whole feed in one page: %d alerts, %v; want %d", len(whole.Alerts), err, len(all))
	}
	var again bytes.Buffer
	enc := json.NewEncoder(&again)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(whole); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw.Body, again.Bytes()) {
		t.Fatalf("the page is not the encoding of what it decodes to:\n%s\n%s", raw.Body, again.Bytes())
	}

	// Filtering by kind still ends, and shows only that kind.
	var filtered api.AlertPage
	if err := integrator.JSON(ctx, "GET", "/v1/alerts?kind=listed,record-match", nil, &filtered); err != nil {
		t.Fatal(err)
	}
	for _, a := range filtered.Alerts {
		if a.Kind != "listed" && a.Kind != "record-match" {
			t.Fatalf("kind filter let through %s", a.Kind)
		}
	}
	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=1001", "kind=", "bogus=1"} {
		if err := integrator.JSON(ctx, "GET", "/v1/alerts?"+q, nil, nil); apiError(err) == nil || apiError(err).Status != 400 {
			t.Errorf("%s: %v, want 400", q, err)
		}
	}
	auditor := tn.client(t, tn.token(t, "auditor"))
	if err := auditor.JSON(ctx, "GET", "/v1/alerts", nil, nil); apiError(err) == nil || apiError(err).Status != 403 {
		t.Errorf("an auditor read the alert feed: %v", err)
	}

	// The stream: resume after the second alert, every event signed over its alert bytes.
	hc := tn.httpsClient(t)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", tn.url+"/v1/alerts/stream?heartbeat=1s", nil)
	req.Header.Set("Authorization", "Bearer "+tn.token(t, "integrator"))
	req.Header.Set("Last-Event-ID", "2")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	want := uint64(3)
	heartbeats := 0
	for want <= uint64(len(all)) || heartbeats == 0 {
		if !sc.Scan() {
			t.Fatalf("stream ended at seq %d: %v", want, sc.Err())
		}
		line := sc.Text()
		switch {
		case line == ": heartbeat":
			heartbeats++
		case strings.HasPrefix(line, "id: "):
			if line != "id: "+strconv.FormatUint(want, 10) {
				t.Fatalf("stream sent %q, want id %d", line, want)
			}
		case strings.HasPrefix(line, "data: "):
			var ev struct {
				Alert     json.RawMessage `json:"alert"`
				Signature string          `json:"signature"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
				t.Fatal(err)
			}
			if _, err := jws.VerifyDetached(tn.n.KeySet(), ev.Alert, ev.Signature); err != nil {
				t.Fatalf("event %d: signature: %v", want, err)
			}
			want++
		}
	}
}
