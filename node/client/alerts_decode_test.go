package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/entente/entente/node/api"
)

// testPage is a page as a node writes it: local alerts with details, and federation
// alerts with a signed command and an opened entry or indicator.
func testPage(n int) []byte {
	var p api.AlertPage
	t0 := time.Date(2026, 11, 22, 4, 12, 17, 123456789, time.UTC)
	for i := range n {
		a := api.AlertView{Seq: uint64(i + 1), Source: "local", Time: t0.Add(time.Duration(i) * time.Millisecond), Kind: "record-match",
			Subject: fmt.Sprintf("record/APP-%06d", i), Origin: "FRA",
			Detail: map[string]string{"record": fmt.Sprintf("APP-%06d", i), "list": "consensus", "entity_id": fmt.Sprintf("FRA-B-%d", i%5), "score": "0.931"}}
		switch i % 50 {
		case 7:
			a.Source, a.Index, a.Kind, a.Subject, a.Detail = "federation", uint64(100+i), "listed", "watchlist/FRA-B-1", nil
			a.Command = &api.SignedCommandView{Type: "nominate", Origin: "FRA", SigningInput: "eyJhbGciOiJFZERTQSJ9", Signature: "e30..c2ln"}
			a.Entry = &api.WatchlistEntry{ID: "FRA-B-1", Kind: "denied-party", Origin: "FRA", Status: "listed", Commands: []uint64{3, 9},
				Fields: map[string]api.FieldView{"party": {Marking: "REL TO FEDERATION", Value: json.RawMessage(`{"name":"Bench \"Trading\" 1 — Тест"}`)}}}
		case 8:
			a.Source, a.Index, a.Kind, a.Subject, a.Detail = "federation", uint64(100+i), "indicator", "indicator/DEU-I-1", nil
			a.Indicator = &api.IndicatorView{ID: "DEU-I-1", Kind: "destination", Origin: "DEU", Severity: 4, Status: "active", Published: t0, ValidUntil: t0.Add(time.Hour)}
		case 9:
			a.Subject = "record/Zoë <&> \u2028 \"quoted\""
			a.Detail["party"] = "Ünïcode ✓ 中文"
		}
		p.Alerts = append(p.Alerts, a)
	}
	p.Next = uint64(n)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
	return b.Bytes()
}

// sameAsJSON decodes data both ways and reports any difference in value or error.
func sameAsJSON(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	var want, got api.AlertPage
	wantErr := json.Unmarshal(data, &want)
	fast, gotErr := decodeAlertPage(data, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: encoding/json says %v, decodeAlertPage %v", data, wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: decoded differently:\nencoding/json  %+v\ndecodeAlertPage %+v", data, want, got)
	}
	if fast && wantErr != nil {
		t.Fatalf("%q: the fast path accepted what encoding/json refuses (%v)", data, wantErr)
	}
	return fast
}

// A page as the node writes it takes the fast path and decodes as encoding/json does;
// anything outside the fast path's shape still decodes as encoding/json does, by
// encoding/json.
func TestDecodeAlertPage(t *testing.T) {
	if !sameAsJSON(t, testPage(120)) {
		t.Fatal("a page as the node writes it did not take the fast path")
	}
	if !sameAsJSON(t, testPage(1000)) {
		t.Fatal("a page of 1,000 alerts did not take the fast path")
	}
	// A large nested value that holds what looks like the start of alerts.
	var votes bytes.Buffer
	votes.WriteString(`[{"seq":0}`)
	for i := 1; votes.Len() < 128<<10; i++ {
		fmt.Fprintf(&votes, `,{"seq":%d}`, i)
	}
	votes.WriteString(`]`)
	nested := fmt.Appendf(nil, `{"alerts":[{"seq":1,"kind":"listed"},{"seq":2,"entry":{"id":"X","fields":{"party":{"marking":"PUBLIC","value":%s}}}},{"seq":3}],"next":3}`, votes.Bytes())
	if !sameAsJSON(t, nested) {
		t.Fatal("a page with a large nested value did not take the fast path")
	}
	if !sameAsJSON(t, []byte(" {\n\"alerts\" : [ ] , \"next\":0 }\r\n")) {
		t.Fatal("an empty page with whitespace did not take the fast path")
	}
	slow := []string{
		`{"alerts":[{"Seq":1}],"next":1}`,                            // encoding/json matches names without case
		`{"alerts":[{"seq":1,"seq":2}],"next":2}`,                    // repeated member
		`{"alerts":[{"seq":1,"detail":{"a":"1","a":"2"}}],"next":1}`, // repeated key
		`{"alerts":[{"seq":1,"detail":null}],"next":1}`,
		`{"alerts":null,"next":1}`,
		`{"alerts":[null],"next":1}`,
		`{"alerts":[{"seq":1,"extra":true}],"next":1}`,
		`{"alerts":[{"seq":1,"command":null}],"next":1}`,
		`{"alerts":[{"seq":1,"subject":"a\u00e9\n\ud83d\ude00"}],"next":1}`,
		"{\"alerts\":[{\"seq\":1,\"subject\":\"bad \xff utf-8\"}],\"next\":1}",
		`{"alerts":[{"seq":1,"time":"2026-11-22T04:12:17Z"}],"next":1}`,
		`{"alerts":[{"seq":1,"time":"2024-02-29T23:59:59.1Z"}],"next":1}`,
		`{"alerts":[{"seq":1,"time":"2026-11-22T04:12:17.123+02:00"}],"next":1}`, // not UTC: left to UnmarshalJSON
		`{"alerts":[{"seq":1,"time":"2026-11-22T04:12:17,5Z"}],"next":1}`,
		`{"alerts":[{"seq":1,"time":"2026-11-22T04:12:17.1234567891Z"}],"next":1}`,
		`{"alerts":[{"seq":1,"time":null}],"next":1}`,
		`{"alerts":[],"next":1,"more":1}`,
		`{"alerts":[{"seq":1}],"alerts":[{"seq":2}],"next":2}`,
		`{"next":1,"alerts":[],"next":2}`,
		`{}`, `{"alerts":[{}]}`,
	}
	for _, s := range slow {
		sameAsJSON(t, []byte(s))
	}
	bad := []string{
		``, `{`, `[]`, `{"alerts":[],"next":-1}`, `{"alerts":[],"next":1.5}`, `{"alerts":[],"next":01}`,
		`{"alerts":[],"next":18446744073709551616}`, `{"alerts":[{"seq":"1"}],"next":1}`,
		`{"alerts":[{"time":"yesterday"}],"next":1}`, `{"alerts":[{"time":"2023-02-29T00:00:00Z"}],"next":1}`,
		`{"alerts":[{"time":"2026-11-22T24:00:00Z"}],"next":1}`, `{"alerts":[{"time":"2026-11-22T04:12:60Z"}],"next":1}`,
		`{"alerts":[{"time":"2026-11-22T04:12:17.Z"}],"next":1}`, `{"alerts":[{"time":"2026-13-22T04:12:17Z"}],"next":1}`, `{"alerts":[{"time":"2026-11-22T04:12:17\u005a"}],"next":1}`,
		"{\"alerts\":[{\"kind\":\"tab\tinside\"}],\"next\":1}", `{"alerts":[],"next":1} x`, `{"alerts":[],"next":1}}`,
		`{"alerts":[{"command":{"type":"x"]}],"next":1}`, `{"alerts":[{"entry":{"id":1}}],"next":1}`,
		`{"alerts":[{"detail":{"a":1}}],"next":1}`, `{"alerts":[{"kind":"unterminated}],"next":1}`,
	}
	for _, s := range bad {
		var p api.AlertPage
		if _, err := decodeAlertPage([]byte(s), &p); err == nil {
			t.Errorf("%q decoded without error", s)
		}
		sameAsJSON(t, []byte(s))
	}
}

// The fast path and encoding/json agree on every input: same value or both an error.
func FuzzDecodeAlertPage(f *testing.F) {
	f.Add(testPage(60))
	f.Add([]byte(`{"alerts":[{"seq":1,"detail":{"a":"\u00e9"}}],"next":1}`))
	f.Add([]byte(`{"alerts":[{"seq":1,"command":{"type":"a","signature":"[{"}}],"next":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsJSON(t, data)
	})
}

// parseUTC gives time.Time's own answer for every string it accepts.
func FuzzParseUTC(f *testing.F) {
	for _, s := range []string{"2026-11-22T04:12:17.123456789Z", "2024-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T23:59:59.5Z", "0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		var want time.Time
		err := want.UnmarshalJSON([]byte(strconv.Quote(s)))
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q: parseUTC %v, UnmarshalJSON %v %v", s, got, want, err)
		}
	})
}

// The fast path against encoding/json on a page of 1,000 alerts.
func BenchmarkDecodeAlertPage(b *testing.B) {
	data := testPage(1000)
	for _, bc := range []struct {
		name string
		dec  func([]byte, *api.AlertPage) error
	}{
		{"fast", func(d []byte, p *api.AlertPage) error { _, err := decodeAlertPage(d, p); return err }},
		{"encoding-json", func(d []byte, p *api.AlertPage) error { return json.Unmarshal(d, p) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var p api.AlertPage
				if err := bc.dec(data, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
