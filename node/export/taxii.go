package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TAXII 2.1 constants.
const (
	// TAXIIMediaType is the media type of every TAXII 2.1 response, and the one a client
	// must accept.
	TAXIIMediaType = "application/taxii+json;version=2.1"
	// TAXIIPrefix is where Handler serves: discovery at /taxii2/, the API root below it.
	TAXIIPrefix = "/taxii2/"

	defaultTitle        = "Entente TAXII 2.1 server"
	defaultAPIRoot      = "entente"
	defaultLimit        = 100
	defaultMaxLimit     = 1000
	hardMaxLimit        = 10000 // whatever Options says, no page is larger
	maxQueryBytes       = 8 << 10
	maxPathBytes        = 1 << 10
	maxAcceptParts      = 32
	maxMatchValues      = 100 // per match[...] parameter, after splitting on commas
	maxMatchValueBytes  = 256
	maxSourceObjects    = 4 * MaxEntries
	taxiiTimestampMicro = "2006-01-02T15:04:05.000000Z"
)

// Source is what the TAXII server serves. Both methods get the request's context, which
// carries whatever the caller's authentication put there: the Source decides which
// collections and objects each principal may see, and this package never looks at
// credentials.
type Source interface {
	// Collections lists the collections the caller may read, in the order to list them.
	Collections(ctx context.Context) ([]Collection, error)
	// Objects returns every object version in a collection, made with NewObject. The
	// order does not matter. Pagination is gapless only if DateAdded never decreases
	// from one object to the next one added: give a new object, or a new version, a
	// date_added no earlier than any already served (for example the commit time of the
	// log entry that produced it), never a time taken from its content.
	Objects(ctx context.Context, collectionID string) ([]Object, error)
}

// Collection describes a TAXII collection. Every collection is read-only.
type Collection struct {
	// ID is the collection's id, a UUID (see CollectionID).
	ID          string
	Title       string
	Description string
	Alias       string
}

// Object is one version of a STIX object in a collection, with the time it was added.
// Make it with NewObject, which reads the metadata TAXII filters on out of the object
// once, rather than on every request.
type Object struct {
	raw         json.RawMessage
	id, typ     string
	specVersion string
	version     time.Time
	versionText string
	dateAdded   time.Time
}

// ID returns the STIX id of the object.
func (o Object) ID() string { return o.id }

// DateAdded returns when the object was added to its collection, to the microsecond.
func (o Object) DateAdded() time.Time { return o.dateAdded }

var stixIDRE = regexp.MustCompile(`^([a-z][a-z0-9-]{0,248}[a-z0-9])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// NewObject reads a STIX object's id, type, spec_version and version (modified, else
// created, else the date added, as TAXII 2.1 defines an object's version). dateAdded is
// kept to the microsecond, the precision TAXII servers commonly give date_added.
func NewObject(raw json.RawMessage, dateAdded time.Time) (Object, error) {
	var meta struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		SpecVersion string `json:"spec_version"`
		Modified    string `json:"modified"`
		Created     string `json:"created"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Object{}, fmt.Errorf("STIX object: %w", err)
	}
	m := stixIDRE.FindStringSubmatch(meta.ID)
	if m == nil || m[1] != meta.Type {
		return Object{}, fmt.Errorf("STIX object: id %q is not an identifier of type %q", clip(meta.ID), clip(meta.Type))
	}
	if dateAdded.IsZero() {
		return Object{}, fmt.Errorf("STIX object %s: no date added", meta.ID)
	}
	o := Object{raw: slices.Clone(raw), id: meta.ID, typ: meta.Type, specVersion: meta.SpecVersion,
		dateAdded: dateAdded.UTC().Truncate(time.Microsecond)}
	if o.specVersion == "" {
		o.specVersion = "2.0" // TAXII 2.1: an object without spec_version is STIX 2.0
	}
	v := meta.Modified
	if v == "" {
		v = meta.Created
	}
	if v == "" {
		o.version, o.versionText = o.dateAdded, o.dateAdded.Format(taxiiTimestampMicro)
	} else {
		t, err := parseTimestamp(v)
		if err != nil {
			return Object{}, fmt.Errorf("STIX object %s: version %q: %w", meta.ID, clip(v), err)
		}
		o.version, o.versionText = t, v
	}
	return o, nil
}

// Options configure a TAXII server. The zero value serves one API root, "entente".
type Options struct {
	Title       string // discovery and API root title
	Description string
	Contact     string
	// APIRoot is the API root's path segment: lower-case letters, digits and hyphens.
	APIRoot string
	// DefaultLimit is the page size when the client gives no limit (default 100);
	// MaxLimit is the largest page (default 1000, never more than 10000). A larger limit
	// is lowered to MaxLimit, as TAXII allows.
	DefaultLimit, MaxLimit int
	// OnError, if set, is told why a request failed with 500 (the Source failed or
	// returned something unusable); the client is only told to try again.
	OnError func(*http.Request, error)
}

// TAXII is a read-only TAXII 2.1 server over a Source.
type TAXII struct {
	src  Source
	opts Options
}

var apiRootRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// NewTAXII returns a TAXII server for src. Options out of range are replaced by their
// defaults rather than refused, since they only shape pages and titles.
func NewTAXII(src Source, opts Options) *TAXII {
	if opts.Title == "" {
		opts.Title = defaultTitle
	}
	if !apiRootRE.MatchString(opts.APIRoot) {
		opts.APIRoot = defaultAPIRoot
	}
	if opts.MaxLimit <= 0 || opts.MaxLimit > hardMaxLimit {
		opts.MaxLimit = min(defaultMaxLimit, hardMaxLimit)
	}
	if opts.DefaultLimit <= 0 || opts.DefaultLimit > opts.MaxLimit {
		opts.DefaultLimit = min(defaultLimit, opts.MaxLimit)
	}
	return &TAXII{src: src, opts: opts}
}

// Handler serves the TAXII 2.1 endpoints under /taxii2/:
//
//	GET /taxii2/                                                  discovery
//	GET /taxii2/{root}/                                           API root
//	GET /taxii2/{root}/collections/                               collections
//	GET /taxii2/{root}/collections/{id}/                          one collection
//	GET /taxii2/{root}/collections/{id}/objects/                  objects (envelope)
//	GET /taxii2/{root}/collections/{id}/objects/{object-id}/      one object's versions
//	GET /taxii2/{root}/collections/{id}/objects/{object-id}/versions/
//	GET /taxii2/{root}/collections/{id}/manifest/
//
// Every response, errors included, is application/taxii+json;version=2.1, and a
// request whose Accept header does not admit it gets 406. Writes (POST objects,
// DELETE object, status) are not served: this server is read-only, and answers 405.
// Authentication is the caller's: wrap the handler.
func (t *TAXII) Handler() http.Handler { return http.HandlerFunc(t.serve) }

func (t *TAXII) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store") // responses depend on who asks
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept, Authorization")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "this TAXII server is read-only: use GET")
		return
	}
	if !acceptsTAXII(r.Header.Values("Accept")) {
		writeError(w, http.StatusNotAcceptable, "Not acceptable", "send Accept: "+TAXIIMediaType)
		return
	}
	if len(r.URL.Path) > maxPathBytes {
		writeError(w, http.StatusNotFound, "Not found", "no such TAXII resource")
		return
	}
	if len(r.URL.RawQuery) > maxQueryBytes {
		writeError(w, http.StatusBadRequest, "Query too long", fmt.Sprintf("the query string is limited to %d bytes", maxQueryBytes))
		return
	}
	segs, ok := taxiiPath(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "Not found", "no such TAXII resource")
		return
	}
	if len(segs) == 0 {
		t.discovery(w)
		return
	}
	if segs[0] != t.opts.APIRoot {
		writeError(w, http.StatusNotFound, "API root not found", "this server has one API root: "+TAXIIPrefix+t.opts.APIRoot+"/")
		return
	}
	if len(segs) == 1 {
		writeJSON(w, http.StatusOK, apiRootResource{Title: t.opts.Title, Description: t.opts.Description,
			Versions: []string{TAXIIMediaType}, MaxContentLength: 0})
		return
	}
	if segs[1] != "collections" {
		writeError(w, http.StatusNotFound, "Not found", "no such TAXII resource")
		return
	}
	ctx := r.Context()
	cols, err := t.src.Collections(ctx)
	if err != nil {
		t.sourceError(w, r, err)
		return
	}
	if len(segs) == 2 {
		out := collectionsResource{}
		for _, c := range cols {
			out.Collections = append(out.Collections, collectionResourceOf(c))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	var col *Collection
	for i := range cols {
		if cols[i].ID == segs[2] {
			col = &cols[i]
			break
		}
	}
	if col == nil {
		writeError(w, http.StatusNotFound, "Collection not found", "no collection with that id is visible to you")
		return
	}
	if len(segs) == 3 {
		writeJSON(w, http.StatusOK, collectionResourceOf(*col))
		return
	}
	var kind resourceKind
	var objectID string
	switch {
	case len(segs) == 4 && segs[3] == "objects":
		kind = kindObjects
	case len(segs) == 4 && segs[3] == "manifest":
		kind = kindManifest
	case len(segs) == 5 && segs[3] == "objects":
		kind, objectID = kindObject, segs[4]
	case len(segs) == 6 && segs[3] == "objects" && segs[5] == "versions":
		kind, objectID = kindVersions, segs[4]
	default:
		writeError(w, http.StatusNotFound, "Not found", "no such TAXII resource")
		return
	}
	q, err := parseQuery(r.URL.RawQuery, kind, t.opts)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	if objectID != "" {
		q.ids = map[string]bool{objectID: true}
	}
	objs, err := t.src.Objects(ctx, col.ID)
	if err != nil {
		t.sourceError(w, r, err)
		return
	}
	if len(objs) > maxSourceObjects {
		t.sourceError(w, r, fmt.Errorf("collection has %d objects, more than %d", len(objs), maxSourceObjects))
		return
	}
	for _, o := range objs {
		if o.id == "" {
			t.sourceError(w, r, errors.New("an object was not made with NewObject"))
			return
		}
	}
	if objectID != "" && !containsID(objs, objectID) {
		writeError(w, http.StatusNotFound, "Object not found", "no object with that id in this collection is visible to you")
		return
	}
	page, more := q.page(objs)
	if len(page) > 0 {
		h.Set("X-TAXII-Date-Added-First", page[0].dateAdded.Format(taxiiTimestampMicro))
		h.Set("X-TAXII-Date-Added-Last", page[len(page)-1].dateAdded.Format(taxiiTimestampMicro))
	}
	next := ""
	if more {
		next = encodeCursor(page[len(page)-1].key())
	}
	switch kind {
	case kindObjects, kindObject:
		env := envelope{More: more, Next: next}
		for _, o := range page {
			env.Objects = append(env.Objects, o.raw)
		}
		writeJSON(w, http.StatusOK, env)
	case kindManifest:
		man := manifestResource{More: more, Next: next}
		for _, o := range page {
			man.Objects = append(man.Objects, manifestRecord{ID: o.id, DateAdded: o.dateAdded.Format(taxiiTimestampMicro),
				Version: o.versionText, MediaType: "application/stix+json;version=" + o.specVersion})
		}
		writeJSON(w, http.StatusOK, man)
	case kindVersions:
		vs := versionsResource{More: more, Next: next}
		for _, o := range page {
			vs.Versions = append(vs.Versions, o.versionText)
		}
		writeJSON(w, http.StatusOK, vs)
	}
}

// taxiiPath splits a request path below /taxii2/ into its segments. TAXII URLs end in a
// slash; a missing final slash is tolerated, an empty segment is not.
func taxiiPath(p string) ([]string, bool) {
	if p == "/taxii2" || p == TAXIIPrefix {
		return nil, true
	}
	rest, ok := strings.CutPrefix(p, TAXIIPrefix)
	if !ok {
		return nil, false
	}
	rest = strings.TrimSuffix(rest, "/")
	segs := strings.Split(rest, "/")
	if len(segs) > 6 {
		return nil, false
	}
	for _, s := range segs {
		if s == "" {
			return nil, false
		}
	}
	return segs, true
}

func containsID(objs []Object, id string) bool {
	for _, o := range objs {
		if o.id == id {
			return true
		}
	}
	return false
}

// acceptsTAXII reports whether an Accept header admits TAXII 2.1: a media range
// application/taxii+json with version 2.1 or no version (which TAXII reads as the
// latest), and a q that is not zero. Wildcards do not count: TAXII clients must ask for
// TAXII by name, and a browser's */* should not be served a feed it cannot handle.
func acceptsTAXII(values []string) bool {
	parts := 0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if parts++; parts > maxAcceptParts {
				return false
			}
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "application/taxii+json" {
				continue
			}
			if q, ok := params["q"]; ok {
				f, err := strconv.ParseFloat(q, 64)
				if err != nil || !(f > 0) {
					continue
				}
			}
			if ver, ok := params["version"]; ok && ver != "2.1" {
				continue
			}
			return true
		}
	}
	return false
}

// TAXII resources (TAXII 2.1, "Server Information" and "Collections").
type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int      `json:"max_content_length"`
}

type collectionsResource struct {
	Collections []collectionResource `json:"collections,omitempty"`
}

type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// manifestResource and versionsResource carry next as the envelope does: TAXII 2.1
// defines the next URL parameter for these endpoints, so the client needs the value.
type manifestResource struct {
	More    bool             `json:"more"`
	Next    string           `json:"next,omitempty"`
	Objects []manifestRecord `json:"objects,omitempty"`
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

type versionsResource struct {
	More     bool     `json:"more"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

func (t *TAXII) discovery(w http.ResponseWriter) {
	root := TAXIIPrefix + t.opts.APIRoot + "/"
	writeJSON(w, http.StatusOK, discoveryResource{Title: t.opts.Title, Description: t.opts.Description,
		Contact: t.opts.Contact, Default: root, APIRoots: []string{root}})
}

func collectionResourceOf(c Collection) collectionResource {
	return collectionResource{ID: c.ID, Title: c.Title, Description: c.Description, Alias: c.Alias,
		CanRead: true, CanWrite: false, MediaTypes: []string{STIXMediaType}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalCompact(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"title":"Internal error","http_status":"500"}`)
	}
	w.Header().Set("Content-Type", TAXIIMediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, title, description string) {
	writeJSON(w, status, errorResource{Title: title, Description: description, HTTPStatus: strconv.Itoa(status)})
}

// sourceError answers 500 without the error's text, which may describe the node's state
// to a client that has no business knowing it, and hands the error to Options.OnError.
func (t *TAXII) sourceError(w http.ResponseWriter, r *http.Request, err error) {
	if t.opts.OnError != nil {
		t.opts.OnError(r, err)
	}
	writeError(w, http.StatusInternalServerError, "Internal error", "the collection could not be read; try again later")
}
