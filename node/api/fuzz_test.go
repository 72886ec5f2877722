package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzDecodeBodies feeds arbitrary bytes to the strict decoder behind every small JSON
// request body (nominations, votes, appeals, indicators, tokens, admissions, webhooks).
// Whatever arrives, the decoder must not panic, must answer with a 400 or 413 that names
// a field, and whatever it accepts must be a body it would accept again once re-encoded.
func FuzzDecodeBodies(f *testing.F) {
	for _, seed := range []string{
		`{"id":"N-1","kind":"denied-party","party":{"type":"organisation","name":"Zorbatek"},"basis":{"regime":"national"},"markings":{"rationale":"REL TO FEDERATION"}}`,
		`{"position":"object","blocking":true,"reason":"front company","marking":"REL TO DEU,FRA"}`,
		`{"grounds":"the listing named the wrong party"}`,
		`{"kind":"diversion","subject":"IRN","severity":4,"evidence":"re-routed","valid_until":"2027-01-01T00:00:00Z"}`,
		`{"role":"officer","ttl":"1h"}`,
		`{"url":"https://example.org/hook","kinds":["listed"],"secret":"0123456789abcdef0123456789abcdef"}`,
		`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`,
		`{"kind":"x"} {"kind":"y"}`,
		"{\"kind\":\"\xff\"}",
		``,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return new(NominationRequest) },
		func() any { return new(VoteRequest) },
		func() any { return new(AppealRequest) },
		func() any { return new(IndicatorRequest) },
		func() any { return new(TokenRequest) },
		func() any { return new(AdmissionRequest) },
		func() any { return new(WebhookRequest) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range targets {
			v := mk()
			err := decodeSmall(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), v)
			if err != nil {
				var ae *Error
				if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge) || ae.Field == "" {
					t.Fatalf("%T: error %v is not a 400/413 naming a field", v, err)
				}
				continue
			}
			again, merr := json.Marshal(v)
			if merr != nil {
				t.Fatalf("%T: accepted, then does not encode: %v", v, merr)
			}
			if err := decodeSmall(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(again)), mk()); err != nil {
				t.Fatalf("%T: accepted %q but not its own encoding %q: %v", v, body, again, err)
			}
		}
	})
}
