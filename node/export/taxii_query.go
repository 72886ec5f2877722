package export

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// resourceKind is which paged endpoint a query is for; they accept different filters.
type resourceKind int

const (
	kindObjects resourceKind = iota + 1
	kindObject
	kindVersions
	kindManifest
)

// query is a parsed set of TAXII URL parameters (TAXII 2.1, "Filtering" and
// "Pagination"). A nil map means "no filter".
type query struct {
	addedAfter *time.Time
	limit      int
	next       *objectKey
	ids        map[string]bool
	types      map[string]bool
	specs      map[string]bool
	versions   versionFilter
}

// versionFilter is match[version]: any of first, last, all and explicit versions.
type versionFilter struct {
	first, last, all bool
	at               []time.Time
}

// parseQuery parses and bounds the URL parameters of a paged endpoint. Unknown
// parameters are ignored, as HTTP APIs usually do; a known parameter that is malformed,
// repeated where it must be single, or too long is a 400, never a guess.
func parseQuery(raw string, kind resourceKind, opts Options) (query, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, errors.New("the query string is not valid URL encoding")
	}
	q := query{limit: opts.DefaultLimit}
	single := func(name string) (string, bool, error) {
		vs, ok := vals[name]
		switch {
		case !ok:
			return "", false, nil
		case len(vs) != 1:
			return "", false, fmt.Errorf("%s may be given only once", name)
		case len(vs[0]) > maxMatchValueBytes:
			return "", false, fmt.Errorf("%s is longer than %d bytes", name, maxMatchValueBytes)
		}
		return vs[0], true, nil
	}
	if s, ok, err := single("added_after"); err != nil {
		return query{}, err
	} else if ok {
		t, err := parseTimestamp(s)
		if err != nil {
			return query{}, fmt.Errorf("added_after: %v", err)
		}
		q.addedAfter = &t
	}
	if s, ok, err := single("limit"); err != nil {
		return query{}, err
	} else if ok {
		// A limit above the server's maximum is lowered to it, as TAXII allows, even
		// one too large for an integer; only something that is not a positive integer
		// is refused.
		n, err := strconv.ParseUint(s, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange):
			q.limit = opts.MaxLimit
		case err != nil || n < 1:
			return query{}, errors.New("limit: want a positive integer")
		default:
			q.limit = int(min(n, uint64(opts.MaxLimit)))
		}
	}
	if s, ok, err := single("next"); err != nil {
		return query{}, err
	} else if ok {
		k, err := decodeCursor(s)
		if err != nil {
			return query{}, errors.New("next: not a value this server returned")
		}
		q.next = &k
	}
	list := func(name string) (map[string]bool, error) {
		vs, ok := vals[name]
		if !ok {
			return nil, nil
		}
		set := map[string]bool{}
		for _, v := range vs {
			for _, item := range strings.Split(v, ",") {
				item = strings.TrimSpace(item)
				switch {
				case item == "":
					return nil, fmt.Errorf("%s: empty value", name)
				case len(item) > maxMatchValueBytes:
					return nil, fmt.Errorf("%s: a value is longer than %d bytes", name, maxMatchValueBytes)
				}
				set[item] = true
				if len(set) > maxMatchValues {
					return nil, fmt.Errorf("%s: at most %d values", name, maxMatchValues)
				}
			}
		}
		return set, nil
	}
	if q.specs, err = list("match[spec_version]"); err != nil {
		return query{}, err
	}
	if kind == kindObjects || kind == kindManifest {
		if q.ids, err = list("match[id]"); err != nil {
			return query{}, err
		}
		if q.types, err = list("match[type]"); err != nil {
			return query{}, err
		}
	}
	switch kind {
	case kindVersions:
		q.versions.all = true // the versions endpoint lists every version
	default:
		vs, err := list("match[version]")
		if err != nil {
			return query{}, err
		}
		if vs == nil {
			q.versions.last = true // TAXII's default: the latest version of each object
		}
		for v := range vs {
			switch v {
			case "first":
				q.versions.first = true
			case "last":
				q.versions.last = true
			case "all":
				q.versions.all = true
			default:
				t, err := parseTimestamp(v)
				if err != nil {
					return query{}, fmt.Errorf("match[version]: %q is not first, last, all or a timestamp", clip(v))
				}
				q.versions.at = append(q.versions.at, t)
			}
		}
	}
	return q, nil
}

// objectKey orders the objects of a collection for paging: by date added, then id, then
// version. (id, version) is unique after page removes duplicates, so the order is total
// and a cursor (the key of the last object served) resumes exactly after it, however
// many objects share a date_added.
type objectKey struct {
	added   int64 // microseconds since the Unix epoch
	id      string
	version string
}

func (o Object) key() objectKey {
	return objectKey{added: o.dateAdded.UnixMicro(), id: o.id, version: o.versionText}
}

func compareKeys(a, b objectKey) int {
	return cmp.Or(cmp.Compare(a.added, b.added), strings.Compare(a.id, b.id), strings.Compare(a.version, b.version))
}

// page selects, orders and cuts one page of objs for q, and reports whether more
// objects follow it. Filters apply in this order: spec_version, id and type; then the
// version filter, per object id among the versions left; then added_after; then the
// cursor. Every step is a pure function of objs and q, so a client that pages through
// an unchanged collection with next sees each selected object exactly once.
func (q query) page(objs []Object) ([]Object, bool) {
	sel := make([]Object, 0, len(objs))
	for _, o := range objs {
		if (q.specs == nil || q.specs[o.specVersion]) && (q.ids == nil || q.ids[o.id]) && (q.types == nil || q.types[o.typ]) {
			sel = append(sel, o)
		}
	}
	// Order by id and version, earliest date_added first, so that duplicates of one
	// version are adjacent and the first one seen is the one first added.
	slices.SortFunc(sel, func(a, b Object) int {
		return cmp.Or(strings.Compare(a.id, b.id), a.version.Compare(b.version), strings.Compare(a.versionText, b.versionText),
			cmp.Compare(a.dateAdded.UnixMicro(), b.dateAdded.UnixMicro()))
	})
	sel = slices.CompactFunc(sel, func(a, b Object) bool { return a.id == b.id && a.version.Equal(b.version) })
	kept := sel[:0]
	for i := 0; i < len(sel); {
		j := i
		for j < len(sel) && sel[j].id == sel[i].id {
			j++
		}
		group := sel[i:j] // one object's versions, oldest first
		for k, o := range group {
			if q.versions.all || (q.versions.first && k == 0) || (q.versions.last && k == len(group)-1) ||
				slices.ContainsFunc(q.versions.at, o.version.Equal) {
				kept = append(kept, o)
			}
		}
		i = j
	}
	sel = kept
	if q.addedAfter != nil || q.next != nil {
		kept = sel[:0]
		for _, o := range sel {
			if q.addedAfter != nil && !o.dateAdded.After(*q.addedAfter) {
				continue
			}
			if q.next != nil && compareKeys(o.key(), *q.next) <= 0 {
				continue
			}
			kept = append(kept, o)
		}
		sel = kept
	}
	slices.SortFunc(sel, func(a, b Object) int { return compareKeys(a.key(), b.key()) })
	if len(sel) > q.limit {
		return sel[:q.limit], true
	}
	return sel, false
}

// cursorVersion tags the cursor encoding, so that a later format can refuse old ones.
const cursorVersion = 1

// encodeCursor makes the opaque next value: the key of the last object served.
func encodeCursor(k objectKey) string {
	b := make([]byte, 0, 1+8+2+len(k.id)+len(k.version))
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(k.added))
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.id)))
	b = append(b, k.id...)
	b = append(b, k.version...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (objectKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 11 || b[0] != cursorVersion {
		return objectKey{}, errors.New("malformed cursor")
	}
	k := objectKey{added: int64(binary.BigEndian.Uint64(b[1:9]))}
	n := int(binary.BigEndian.Uint16(b[9:11]))
	if len(b) < 11+n {
		return objectKey{}, errors.New("malformed cursor")
	}
	k.id, k.version = string(b[11:11+n]), string(b[11+n:])
	return k, nil
}

// parseTimestamp reads an RFC 3339 timestamp, as TAXII and STIX write them, in UTC.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp such as 2026-01-02T15:04:05.000Z", clip(s))
	}
	return t.UTC(), nil
}
