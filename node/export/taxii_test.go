package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSource is a Source over objects in memory, safe for concurrent use.
type memSource struct {
	mu   sync.Mutex
	cols []Collection
	objs map[string][]Object
	err  error
}

func (s *memSource) Collections(context.Context) ([]Collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cols), s.err
}

func (s *memSource) Objects(_ context.Context, id string) ([]Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.objs[id]), s.err
}

func (s *memSource) add(t testing.TB, col string, raw json.RawMessage, added time.Time) {
	t.Helper()
	o, err := NewObject(raw, added)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[col] = append(s.objs[col], o)
}

var (
	watchlistCol = CollectionID("watchlist")
	emptyCol     = CollectionID("empty")
	addedBase    = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
)

// fixtureSource serves the fixture STIX objects in one collection. Objects are added
// three at a time with the same date_added, so that pages split ties; one party also
// gets a second version.
func fixtureSource(t testing.TB) (*memSource, []json.RawMessage) {
	t.Helper()
	raws, err := STIXObjects(fixtureEntries(t), fixtureIndicators(t), "FRA")
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{objs: map[string][]Object{}, cols: []Collection{
		{ID: watchlistCol, Title: "Consensus watchlist", Description: "Listed parties and risk indicators", Alias: "watchlist"},
		{ID: emptyCol, Title: "Empty"},
	}}
	for i, r := range raws {
		src.add(t, watchlistCol, r, addedBase.Add(time.Duration(i/3)*time.Second))
	}
	// A second version of the first party: same id, later modified, added later.
	var v2 map[string]any
	_ = json.Unmarshal(raws[5], &v2)
	v2["modified"] = "2026-04-02T00:00:00.000Z"
	v2["x_entente_status"] = "listed"
	b, _ := json.Marshal(v2)
	src.add(t, watchlistCol, b, addedBase.Add(time.Hour))
	return src, raws
}

type taxiiResp struct {
	status int
	header http.Header
	body   []byte
}

func get(t testing.TB, h http.Handler, path string, accept ...string) taxiiResp {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept == nil {
		accept = []string{TAXIIMediaType}
	}
	for _, a := range accept {
		req.Header.Add("Accept", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return taxiiResp{rec.Code, rec.Header(), rec.Body.Bytes()}
}

func colPath(col, rest string) string {
	return "/taxii2/entente/collections/" + col + "/" + rest
}

func TestTAXIIResourcesMatchSchemas(t *testing.T) {
	src, _ := fixtureSource(t)
	h := NewTAXII(src, Options{Title: "Entente FRA", Contact: "cert@example.fr"}).Handler()
	partyID := firstID(t, h, "identity")
	cases := []struct{ path, schema string }{
		{"/taxii2/", "taxii/discovery.json"},
		{"/taxii2/entente/", "taxii/api-root.json"},
		{"/taxii2/entente/collections/", "taxii/collections.json"},
		{colPath(watchlistCol, ""), "taxii/collection.json"},
		{colPath(watchlistCol, "objects/"), "taxii/envelope.json"},
		{colPath(watchlistCol, "objects/?limit=2"), "taxii/envelope.json"},
		{colPath(emptyCol, "objects/"), "taxii/envelope.json"},
		{colPath(watchlistCol, "objects/"+partyID+"/"), "taxii/envelope.json"},
		{colPath(watchlistCol, "objects/"+partyID+"/versions/"), "taxii/versions.json"},
		{colPath(watchlistCol, "manifest/"), "taxii/manifest.json"},
		{colPath(watchlistCol, "manifest/?limit=3"), "taxii/manifest.json"},
		{"/taxii2/other/", "taxii/error.json"},
		{colPath(watchlistCol, "objects/?limit=0"), "taxii/error.json"},
	}
	for _, c := range cases {
		r := get(t, h, c.path)
		if ct := r.header.Get("Content-Type"); ct != TAXIIMediaType {
			t.Errorf("%s: Content-Type %q", c.path, ct)
		}
		validate(t, c.schema, r.body)
		if c.schema == "taxii/envelope.json" {
			var env struct{ Objects []json.RawMessage }
			_ = json.Unmarshal(r.body, &env)
			for _, o := range env.Objects {
				validate(t, stixSchemaFor(t, o), o)
			}
		}
	}
	var disc discoveryResource
	_ = json.Unmarshal(get(t, h, "/taxii2/").body, &disc)
	if !slices.Contains(disc.APIRoots, disc.Default) || disc.Title != "Entente FRA" {
		t.Errorf("discovery: %+v", disc)
	}
	var cols collectionsResource
	_ = json.Unmarshal(get(t, h, "/taxii2/entente/collections/").body, &cols)
	if len(cols.Collections) != 2 || !cols.Collections[0].CanRead || cols.Collections[0].CanWrite {
		t.Errorf("collections: %+v", cols)
	}
}

// firstID returns the id of the first object of a type in the default objects listing.
func firstID(t testing.TB, h http.Handler, typ string) string {
	t.Helper()
	var env struct{ Objects []map[string]any }
	_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "objects/?match[type]="+typ+"&limit=1")).body, &env)
	if len(env.Objects) == 0 {
		t.Fatalf("no %s", typ)
	}
	return env.Objects[0]["id"].(string)
}

type page struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

type idVersion struct{ id, version string }

func objectKeyOf(t testing.TB, raw json.RawMessage) idVersion {
	t.Helper()
	var m struct{ ID, Modified, Created string }
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	v := m.Modified
	if v == "" {
		v = m.Created
	}
	return idVersion{m.ID, v}
}

// pageAll follows next from the first page of query until more is false, and returns
// every object seen, in order.
func pageAll(t testing.TB, h http.Handler, query string, between func()) []idVersion {
	t.Helper()
	var seen []idVersion
	next := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		q := query
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		r := get(t, h, colPath(watchlistCol, "objects/?"+q))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.More != (p.Next != "") {
			t.Fatalf("more %v with next %q", p.More, p.Next)
		}
		if len(p.Objects) > 0 {
			first, _ := time.Parse(time.RFC3339, r.header.Get("X-TAXII-Date-Added-First"))
			last, _ := time.Parse(time.RFC3339, r.header.Get("X-TAXII-Date-Added-Last"))
			if first.IsZero() || last.Before(first) {
				t.Fatalf("date-added headers %q %q", r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last"))
			}
		} else if p.More {
			t.Fatal("an empty page says there is more")
		}
		for _, o := range p.Objects {
			seen = append(seen, objectKeyOf(t, o))
		}
		if !p.More {
			return seen
		}
		next = p.Next
		if between != nil {
			between()
		}
	}
}

// TestTAXIIPaginationCoversAllOnce pages through the collection at every page size and
// checks that each object's latest version comes exactly once, and nothing else.
func TestTAXIIPaginationCoversAllOnce(t *testing.T) {
	src, raws := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	want := map[idVersion]bool{}
	for i, r := range raws {
		k := objectKeyOf(t, r)
		if i == 5 {
			k.version = "2026-04-02T00:00:00.000Z" // superseded by its second version
		}
		want[k] = true
	}
	for limit := 1; limit <= len(raws)+1; limit++ {
		seen := pageAll(t, h, fmt.Sprintf("limit=%d", limit), nil)
		got := map[idVersion]bool{}
		for _, k := range seen {
			if got[k] {
				t.Fatalf("limit %d: %v served twice", limit, k)
			}
			got[k] = true
		}
		if len(got) != len(want) {
			t.Fatalf("limit %d: %d objects, want %d", limit, len(got), len(want))
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("limit %d: %v never served", limit, k)
			}
		}
	}
	all := pageAll(t, h, "match[version]=all&limit=4", nil)
	if len(all) != len(raws)+1 {
		t.Errorf("match[version]=all served %d versions, want %d", len(all), len(raws)+1)
	}
}

// TestTAXIIPaginationGaplessUnderAdds adds objects and new versions between pages, as
// the node does while a client pages: every object present at the start is still served
// (in its latest version), every object added is served, and no version twice.
func TestTAXIIPaginationGaplessUnderAdds(t *testing.T) {
	src, raws := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	n := 0
	addedLater := map[string]bool{}
	between := func() {
		if n == 10 {
			return // stop adding, or a client paging 2 at a time never catches up
		}
		n++
		// A brand-new object, and a new version of an old one, each added now.
		id := fmt.Sprintf("identity--%s", uuid5(fmt.Sprint("late", n)))
		raw := json.RawMessage(fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":%q,"created":"2026-05-01T00:00:00.000Z","modified":"2026-05-01T00:00:00.000Z","name":"late %d"}`, id, n))
		// date_added only ever grows, as the Source contract requires.
		src.add(t, watchlistCol, raw, addedBase.Add(2*time.Hour+time.Duration(2*n)*time.Second))
		addedLater[id] = true
		var old map[string]any
		_ = json.Unmarshal(raws[6+n%4], &old)
		old["modified"] = fmt.Sprintf("2026-05-02T00:%02d:%02d.000Z", n/60, n%60)
		b, _ := json.Marshal(old)
		src.add(t, watchlistCol, b, addedBase.Add(2*time.Hour+time.Duration(2*n+1)*time.Second))
	}
	seen := pageAll(t, h, "limit=2", between)
	ids := map[string]bool{}
	versions := map[idVersion]bool{}
	for _, k := range seen {
		if versions[k] {
			t.Fatalf("%v served twice", k)
		}
		versions[k] = true
		ids[k.id] = true
	}
	for _, r := range raws {
		if id := objectKeyOf(t, r).id; !ids[id] {
			t.Errorf("%s never served", id)
		}
	}
	for id := range addedLater {
		if !ids[id] {
			t.Errorf("%s (added while paging) never served", id)
		}
	}
	// And the version served last for each object is its latest one.
	latest := map[string]string{}
	for _, o := range src.objs[watchlistCol] {
		if o.versionText > latest[o.id] {
			latest[o.id] = o.versionText
		}
	}
	servedLatest := map[string]string{}
	for _, k := range seen {
		servedLatest[k.id] = max(servedLatest[k.id], k.version)
	}
	for id, v := range latest {
		if servedLatest[id] != v {
			t.Errorf("%s: latest version %s, served up to %s", id, v, servedLatest[id])
		}
	}
}

// TestTAXIIAddedAfter checks that added_after returns exactly the objects added later,
// and that polling with X-TAXII-Date-Added-Last finds nothing new until something is.
func TestTAXIIAddedAfter(t *testing.T) {
	src, _ := fixtureSource(t)
	h := NewTAXII(src, Options{MaxLimit: 1000}).Handler()
	all := src.objs[watchlistCol]
	for i := -1; i < 8; i++ {
		cut := addedBase.Add(time.Duration(i) * time.Second)
		seen := pageAll(t, h, "match[version]=all&limit=3&added_after="+url.QueryEscape(cut.Format(time.RFC3339Nano)), nil)
		want := 0
		for _, o := range all {
			if o.DateAdded().After(cut) {
				want++
			}
		}
		if len(seen) != want {
			t.Errorf("added_after %s: %d objects, want %d", cut, len(seen), want)
		}
	}
	r := get(t, h, colPath(watchlistCol, "objects/?match[version]=all&limit=1000"))
	last := r.header.Get("X-TAXII-Date-Added-Last")
	if r2 := get(t, h, colPath(watchlistCol, "objects/?added_after="+url.QueryEscape(last))); string(r2.body) != `{"more":false}` {
		t.Errorf("poll after the last date added: %s", r2.body)
	}
	src.add(t, watchlistCol, json.RawMessage(`{"type":"identity","spec_version":"2.1","id":"identity--`+uuid5("new")+`","created":"2026-06-01T00:00:00.000Z","modified":"2026-06-01T00:00:00.000Z","name":"new"}`), addedBase.Add(48*time.Hour))
	var p page
	_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "objects/?added_after="+url.QueryEscape(last))).body, &p)
	if len(p.Objects) != 1 {
		t.Errorf("poll after an add: %d objects", len(p.Objects))
	}
}

func TestTAXIIFilters(t *testing.T) {
	src, raws := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	count := func(q string) int {
		t.Helper()
		return len(pageAll(t, h, q, nil))
	}
	types := map[string]int{}
	for _, r := range raws {
		var m struct{ Type string }
		_ = json.Unmarshal(r, &m)
		types[m.Type]++
	}
	for typ, n := range types {
		if got := count("match[type]=" + typ); got != n {
			t.Errorf("match[type]=%s: %d, want %d", typ, got, n)
		}
	}
	if got := count("match[type]=indicator,marking-definition"); got != types["indicator"]+types["marking-definition"] {
		t.Errorf("two types: %d", got)
	}
	if got := count("match[type]=indicator&match[type]=identity"); got != types["indicator"]+types["identity"] {
		t.Errorf("repeated match[type]: %d", got)
	}
	party := objectKeyOf(t, raws[5]).id
	if got := count("match[id]=" + party + "&match[version]=all"); got != 2 {
		t.Errorf("both versions of %s: %d", party, got)
	}
	for q, want := range map[string]string{
		"match[version]=first":                    objectKeyOf(t, raws[5]).version,
		"match[version]=last":                     "2026-04-02T00:00:00.000Z",
		"match[version]=2026-04-02T00:00:00.000Z": "2026-04-02T00:00:00.000Z",
	} {
		seen := pageAll(t, h, "match[id]="+party+"&"+q, nil)
		if len(seen) != 1 || seen[0].version != want {
			t.Errorf("%s: %v, want version %s", q, seen, want)
		}
	}
	if got := count("match[spec_version]=2.0"); got != 0 {
		t.Errorf("spec_version 2.0: %d", got)
	}
	if got := count("match[id]=identity--" + uuid5("absent")); got != 0 {
		t.Errorf("absent id: %d", got)
	}
	// The object endpoint and its versions.
	var p page
	_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "objects/"+party+"/?match[version]=all")).body, &p)
	if len(p.Objects) != 2 {
		t.Errorf("object endpoint, all versions: %d", len(p.Objects))
	}
	var vs versionsResource
	_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "objects/"+party+"/versions/")).body, &vs)
	if len(vs.Versions) != 2 || vs.Versions[1] != "2026-04-02T00:00:00.000Z" {
		t.Errorf("versions: %+v", vs)
	}
	if r := get(t, h, colPath(watchlistCol, "objects/identity--"+uuid5("absent")+"/")); r.status != http.StatusNotFound {
		t.Errorf("absent object: %d", r.status)
	}
}

func TestTAXIIManifest(t *testing.T) {
	src, raws := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	var m manifestResource
	_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "manifest/?limit=1000")).body, &m)
	if len(m.Objects) != len(raws) {
		t.Fatalf("manifest has %d records, want %d", len(m.Objects), len(raws))
	}
	for i, rec := range m.Objects {
		if rec.MediaType != STIXMediaType {
			t.Errorf("media type %q", rec.MediaType)
		}
		if i > 0 && rec.DateAdded < m.Objects[i-1].DateAdded {
			t.Error("manifest not ordered by date added")
		}
	}
	// Paged manifests cover the same records.
	var all []manifestRecord
	next := ""
	for {
		q := "limit=4"
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		var p manifestResource
		_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "manifest/?"+q)).body, &p)
		all = append(all, p.Objects...)
		if !p.More {
			break
		}
		next = p.Next
	}
	if !slices.Equal(all, m.Objects) {
		t.Error("paged manifest differs from the whole")
	}
}

func TestTAXIIAcceptNegotiation(t *testing.T) {
	src, _ := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	ok := [][]string{
		{"application/taxii+json;version=2.1"},
		{"application/taxii+json"},
		{"application/taxii+json; version=2.1"},
		{`application/taxii+json; version="2.1"`},
		{"Application/TAXII+JSON;version=2.1"},
		{"text/html, application/taxii+json;version=2.1;q=0.5"},
		{"application/json", "application/taxii+json"},
	}
	bad := [][]string{
		{},
		{""},
		{"application/json"},
		{"*/*"},
		{"application/*"},
		{"application/taxii+json;version=2.0"},
		{"application/taxii+json;version=2.1;q=0"},
		{"application/stix+json;version=2.1"},
		{strings.Repeat("text/html,", 40) + "application/taxii+json"},
	}
	for _, a := range ok {
		if r := get(t, h, "/taxii2/", a...); r.status != http.StatusOK {
			t.Errorf("Accept %q: %d", a, r.status)
		}
	}
	for _, a := range bad {
		hdr := a
		if len(hdr) == 0 {
			hdr = []string{}
		}
		req := httptest.NewRequest(http.MethodGet, colPath(watchlistCol, "objects/"), nil)
		for _, v := range hdr {
			req.Header.Add("Accept", v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotAcceptable || rec.Header().Get("Content-Type") != TAXIIMediaType {
			t.Errorf("Accept %q: %d %s", a, rec.Code, rec.Header().Get("Content-Type"))
		}
		validate(t, "taxii/error.json", rec.Body.Bytes())
	}
}

func TestTAXIIErrors(t *testing.T) {
	src, _ := fixtureSource(t)
	var logged []error
	h := NewTAXII(src, Options{OnError: func(_ *http.Request, err error) { logged = append(logged, err) }}).Handler()
	cases := []struct {
		path   string
		status int
	}{
		{"/", http.StatusNotFound},
		{"/taxii2/nope/", http.StatusNotFound},
		{"/taxii2/entente/stuff/", http.StatusNotFound},
		{"/taxii2/entente/collections/" + CollectionID("nope") + "/", http.StatusNotFound},
		{"/taxii2/entente/collections/" + CollectionID("nope") + "/objects/", http.StatusNotFound},
		{colPath(watchlistCol, "status/"), http.StatusNotFound},
		{colPath(watchlistCol, "objects/a/b/c/"), http.StatusNotFound},
		{"/taxii2//entente/", http.StatusNotFound},
		{"/taxii2/entente", http.StatusOK},
		{"/taxii2", http.StatusOK},
		{colPath(watchlistCol, "objects/?limit=0"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?limit=-1"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?limit=ten"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?limit=%2B5"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?limit=1.5"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?limit=1&limit=2"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?added_after=yesterday"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?next=garbage!"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?next=AAAA"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?match[version]=latest"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?match[type]="), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?match[id]="+manyIDs(maxMatchValues+1)), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?match[id]="+manyIDs(maxMatchValues)), http.StatusOK},
		{colPath(watchlistCol, "objects/?%zz"), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?x="+strings.Repeat("a", maxQueryBytes)), http.StatusBadRequest},
		{colPath(watchlistCol, "objects/?unknown=1"), http.StatusOK},
	}
	for _, c := range cases {
		r := get(t, h, c.path)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.path, r.status, c.status, r.body)
			continue
		}
		if c.status != http.StatusOK {
			validate(t, "taxii/error.json", r.body)
		}
	}
	req := httptest.NewRequest(http.MethodPost, colPath(watchlistCol, "objects/"), strings.NewReader(`{}`))
	req.Header.Set("Accept", TAXIIMediaType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	req = httptest.NewRequest(http.MethodHead, colPath(watchlistCol, "objects/"), nil)
	req.Header.Set("Accept", TAXIIMediaType)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("X-TAXII-Date-Added-First") == "" {
		t.Errorf("HEAD: %d", rec.Code)
	}

	src.err = errors.New("bbolt: database not open (internal detail)")
	r := get(t, h, colPath(watchlistCol, "objects/"))
	if r.status != http.StatusInternalServerError || strings.Contains(string(r.body), "bbolt") || len(logged) != 1 {
		t.Errorf("source failure: %d %s, logged %v", r.status, r.body, logged)
	}
	validate(t, "taxii/error.json", r.body)
	src.err = nil
	src.objs[watchlistCol] = append(src.objs[watchlistCol], Object{})
	if r := get(t, h, colPath(watchlistCol, "objects/")); r.status != http.StatusInternalServerError {
		t.Errorf("zero Object: %d", r.status)
	}
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("a", i)
	}
	return strings.Join(ids, ",")
}

func TestTAXIILimits(t *testing.T) {
	src, _ := fixtureSource(t)
	h := NewTAXII(src, Options{DefaultLimit: 2, MaxLimit: 5}).Handler()
	count := func(q string) (int, bool) {
		var p page
		_ = json.Unmarshal(get(t, h, colPath(watchlistCol, "objects/?"+q)).body, &p)
		return len(p.Objects), p.More
	}
	if n, more := count(""); n != 2 || !more {
		t.Errorf("default limit: %d, more %v", n, more)
	}
	if n, _ := count("limit=999999999"); n != 5 {
		t.Errorf("limit above the maximum: %d", n)
	}
	if n, _ := count("limit=99999999999999999999999"); n != 5 {
		t.Errorf("limit too large for an integer: %d objects", n)
	}
	// Out-of-range options fall back to defaults, and never exceed the hard maximum.
	tx := NewTAXII(src, Options{DefaultLimit: -1, MaxLimit: 1 << 30, APIRoot: "Bad Root"})
	if tx.opts.MaxLimit > hardMaxLimit || tx.opts.DefaultLimit != defaultLimit || tx.opts.APIRoot != defaultAPIRoot {
		t.Errorf("options: %+v", tx.opts)
	}
}

// TestTAXIIConcurrent serves many requests at once while objects are added, for the race
// detector.
func TestTAXIIConcurrent(t *testing.T) {
	src, _ := fixtureSource(t)
	h := NewTAXII(src, Options{}).Handler()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if i == 0 {
					src.add(t, watchlistCol, json.RawMessage(`{"type":"identity","spec_version":"2.1","id":"identity--`+uuid5(fmt.Sprint(j))+`","created":"2026-06-01T00:00:00.000Z","modified":"2026-06-01T00:00:00.000Z","name":"n"}`), addedBase.Add(time.Duration(100+j)*time.Hour))
				}
				if r := get(t, h, colPath(watchlistCol, "objects/?limit=3")); r.status != http.StatusOK {
					t.Errorf("status %d", r.status)
				}
			}
		}()
	}
	wg.Wait()
}

func TestNewObject(t *testing.T) {
	bad := []string{
		`not json`,
		`{"type":"identity","id":"indicator--6ba7b811-9dad-51d1-80b4-00c04fd430c8"}`,
		`{"type":"identity","id":"identity--x"}`,
		`{"type":"identity","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8","modified":"yesterday"}`,
	}
	for _, b := range bad {
		if _, err := NewObject(json.RawMessage(b), addedBase); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	if _, err := NewObject(json.RawMessage(`{"type":"identity","id":"identity--6ba7b811-9dad-51d1-80b4-00c04fd430c8"}`), time.Time{}); err == nil {
		t.Error("accepted an object without a date added")
	}
	o, err := NewObject(json.RawMessage(`{"type":"ipv4-addr","id":"ipv4-addr--6ba7b811-9dad-51d1-80b4-00c04fd430c8","value":"192.0.2.1"}`), addedBase.Add(1234*time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	if o.versionText != "2026-04-01T12:00:00.000001Z" || o.specVersion != "2.0" || o.ID() == "" {
		t.Errorf("object without created or modified: %+v", o)
	}
}
