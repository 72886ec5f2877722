package export

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzTAXIIQuery sends arbitrary query strings (and path tails) to the paged TAXII
// endpoints. The server must not panic, must answer only 200, 400 or 404 with a valid
// TAXII JSON body, and must never return more objects than its maximum page.
func FuzzTAXIIQuery(f *testing.F) {
	seeds := []string{
		"", "limit=1", "limit=0", "limit=-5", "limit=99999999999999999999", "added_after=2026-04-01T12:00:00Z",
		"added_after=2026-04-01T12:00:00.5+02:00", "next=AQAAAAAAAAAAAAA", "next=%ZZ", "match[type]=identity,indicator",
		"match[id]=identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8", "match[version]=first,last,all",
		"match[version]=2026-04-02T00:00:00.000Z", "match[spec_version]=2.1&limit=2", "limit=1&limit=2",
		"match[type]=&limit=1", "a=%00&limit=%31",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	src, _ := fixtureSource(f)
	const maxLimit = 7
	h := NewTAXII(src, Options{MaxLimit: maxLimit}).Handler()
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) {
		paths := []string{
			colPath(watchlistCol, "objects/"),
			colPath(watchlistCol, "manifest/"),
			colPath(watchlistCol, "objects/identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8/"),
			colPath(watchlistCol, "objects/identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8/versions/"),
			colPath(watchlistCol, "objects/"+url.PathEscape(rawQuery)+"/"),
		}
		req := httptest.NewRequest(http.MethodGet, "http://node.example"+paths[int(which)%len(paths)], nil)
		req.URL.RawQuery = rawQuery
		req.Header.Set("Accept", TAXIIMediaType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("status %d for %q", rec.Code, rawQuery)
		}
		var body struct {
			Title    string            `json:"title"`
			Objects  []json.RawMessage `json:"objects"`
			Versions []string          `json:"versions"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body is not JSON: %v: %q", err, rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK && body.Title == "" {
			t.Fatalf("error without a title: %s", rec.Body.Bytes())
		}
		if len(body.Objects) > maxLimit || len(body.Versions) > maxLimit {
			t.Fatalf("%d objects, %d versions on one page; the maximum is %d", len(body.Objects), len(body.Versions), maxLimit)
		}
	})
}
