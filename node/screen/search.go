package screen

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Query is what an officer screens: one or more names of a party plus whatever else is
// known about it. Names drive the search; the other fields confirm or contradict a hit.
type Query struct {
	Names       []string     `json:"names,omitempty"`       // in any script
	Type        string       `json:"type,omitempty"`        // person|organisation|vessel|aircraft, optional
	Countries   []string     `json:"countries,omitempty"`   // ISO 3166-1 alpha-3
	Addresses   []string     `json:"addresses,omitempty"`   // accepted for the record; not scored
	Identifiers []Identifier `json:"identifiers,omitempty"` // an exact match is a hit on its own
	BirthDate   string       `json:"birth_date,omitempty"`  // YYYY, YYYY-MM or YYYY-MM-DD
	Threshold   float64      `json:"threshold,omitempty"`   // 0 means DefaultThreshold
	Limit       int          `json:"limit,omitempty"`       // 0 means DefaultLimit; capped at MaxLimit
}

const (
	// DefaultThreshold is the lowest score reported by default. It was chosen on the real
	// UN and OFAC lists (eval_test.go, Evaluate): from 0.74 to 0.80 recall@5 on generated
	// variants stays above 0.98 and the false-positive rate on ordinary names not on the
	// lists at or under 0.3%; below 0.72 false positives climb fast (1.2% at 0.72, 8% at
	// 0.65 on OFAC), above 0.80 dropped middle names and initials start to be missed.
	// 0.78 sits inside that plateau with room on both sides.
	DefaultThreshold = 0.78
	// DefaultLimit is the number of hits returned when the query does not say.
	DefaultLimit = 10
	// MaxLimit bounds the hits of one query: beyond it an officer is not screening but
	// browsing the list.
	MaxLimit = 100
	// MaxQueryNames bounds the names in one query.
	MaxQueryNames = 50
	// maxQueryTokens bounds the scoring tokens taken from one query name.
	maxQueryTokens = 32
)

// Hit is one listed entity matching a query.
type Hit struct {
	Entity      *Entity     `json:"entity"`       // points into the index; callers must not modify it
	Score       float64     `json:"score"`        // in [0,1]; 1 only for an exact identifier or exact name
	MatchedName string      `json:"matched_name"` // the entity's name or alias that matched best, as published
	QueryName   string      `json:"query_name"`   // the query name that produced the hit
	Explanation Explanation `json:"explanation"`
}

// QueryError reports an invalid query and the field at fault, so that an API can
// return it to the caller as is.
type QueryError struct {
	Field  string
	Reason string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("screen: invalid query: %s: %s", e.Field, e.Reason)
}

var validTypes = map[string]bool{"": true, "person": true, "organisation": true, "vessel": true, "aircraft": true}

// normType accepts the common spellings of the entity types; lists differ on them.
func normType(t string) string {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "person", "individual", "people":
		return "person"
	case "organisation", "organization", "entity", "company":
		return "organisation"
	case "vessel", "ship":
		return "vessel"
	case "aircraft":
		return "aircraft"
	case "":
		return ""
	}
	return strings.ToLower(strings.TrimSpace(t))
}

func validate(q *Query) error {
	if len(q.Names) == 0 && len(q.Identifiers) == 0 {
		return &QueryError{"names", "a query needs at least one name or identifier"}
	}
	if len(q.Names) > MaxQueryNames {
		return &QueryError{"names", fmt.Sprintf("%d names, at most %d", len(q.Names), MaxQueryNames)}
	}
	for i, n := range q.Names {
		if !utf8.ValidString(n) {
			return &QueryError{fmt.Sprintf("names[%d]", i), "not valid UTF-8"}
		}
		if c := utf8.RuneCountInString(n); c > maxNameRunes {
			return &QueryError{fmt.Sprintf("names[%d]", i), fmt.Sprintf("%d characters, at most %d", c, maxNameRunes)}
		}
	}
	if !validTypes[normType(q.Type)] {
		return &QueryError{"type", fmt.Sprintf("%q is not person, organisation, vessel or aircraft", q.Type)}
	}
	for i, c := range q.Countries {
		if len(strings.TrimSpace(c)) != 3 {
			return &QueryError{fmt.Sprintf("countries[%d]", i), fmt.Sprintf("%q is not an ISO 3166-1 alpha-3 code", c)}
		}
	}
	for i, id := range q.Identifiers {
		if normIdentifier(id.Value) == "" {
			return &QueryError{fmt.Sprintf("identifiers[%d]", i), "empty value"}
		}
	}
	if q.BirthDate != "" {
		if _, ok := parseDate(q.BirthDate); !ok {
			return &QueryError{"birth_date", fmt.Sprintf("%q is not YYYY, YYYY-MM or YYYY-MM-DD", q.BirthDate)}
		}
	}
	if q.Threshold < 0 || q.Threshold > 1 || math.IsNaN(q.Threshold) {
		return &QueryError{"threshold", "must be in [0,1]"}
	}
	if q.Limit < 0 {
		return &QueryError{"limit", "must not be negative"}
	}
	return nil
}

// entityHit is the best evidence found for one entity while searching.
type entityHit struct {
	entity    int32
	nameScore float64
	name      int32 // best matching index name, -1 for an identifier-only hit
	queryName int
	ident     *IdentifierMatch
	score     float64
	comps     []Component
}

// Search screens q against the index. Hits are ordered by score, then list and ID, and
// include only those at or above the threshold. The error, a *QueryError, names the
// offending field of an invalid query.
func (ix *Index) Search(q Query) ([]Hit, error) {
	if err := validate(&q); err != nil {
		return nil, err
	}
	threshold := q.Threshold
	if threshold == 0 {
		threshold = DefaultThreshold
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	ctx := newQueryContext(&q)

	s := ix.pool.Get().(*scratch)
	defer ix.pool.Put(s)

	best := make(map[int32]*entityHit)
	order := []int32{} // first-seen order, for deterministic iteration
	get := func(e int32) *entityHit {
		h, ok := best[e]
		if !ok {
			h = &entityHit{entity: e, name: -1, queryName: -1}
			best[e] = h
			order = append(order, e)
		}
		return h
	}

	// Identifiers: an exact match is a hit whatever the names say.
	for _, qid := range q.Identifiers {
		v := normIdentifier(qid.Value)
		scheme := normScheme(qid.Scheme)
		for _, ref := range ix.idents[v] {
			if !schemesCompatible(scheme, ref.scheme) {
				continue
			}
			h := get(ref.entity)
			if h.ident == nil {
				h.ident = &IdentifierMatch{Scheme: qid.Scheme, Value: qid.Value, Normalised: v}
			}
		}
	}

	// Names. The adjustments can lift a name score by a little, so candidates are kept
	// from somewhat below the threshold.
	floor := threshold
	if ctx.lifts() {
		floor = max(0, threshold-maxAgreementLift)
	}
	prepared := make([]*preparedName, len(q.Names))
	for qi, name := range q.Names {
		p := ix.prepareName(name, s)
		if p == nil {
			continue
		}
		prepared[qi] = p
		for _, m := range ix.searchName(p, s, floor) {
			h := get(m.entity)
			if h.name < 0 || m.score > h.nameScore {
				h.name = m.name
				h.nameScore = m.score
				h.queryName = qi
			}
		}
	}

	hits := make([]*entityHit, 0, len(order))
	for _, e := range order {
		h := best[e]
		ix.finalScore(h, ctx)
		if h.score >= threshold {
			hits = append(hits, h)
		}
	}
	slices.SortFunc(hits, func(a, b *entityHit) int {
		return compareHits(a.score, &ix.entities[a.entity], b.score, &ix.entities[b.entity], a.entity, b.entity)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = ix.makeHit(h, &q, prepared, s)
	}
	return out, nil
}

func compareHits(sa float64, ea *Entity, sb float64, eb *Entity, ia, ib int32) int {
	if sa != sb {
		return cmp.Compare(sb, sa)
	}
	if c := cmp.Compare(ea.List, eb.List); c != 0 {
		return c
	}
	if c := cmp.Compare(ea.ID, eb.ID); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}

// Merge merges the hits of several indexes (one per list) into one ranking: score
// descending, ties by List then ID. An entity present in several results (same List
// and ID) is kept once, with its best hit. limit 0 means DefaultLimit; it is capped at
// MaxLimit.
func Merge(limit int, results ...[]Hit) []Hit {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	type key struct{ list, id string }
	best := make(map[key]int)
	var all []Hit
	for _, r := range results {
		for _, h := range r {
			if h.Entity == nil {
				continue
			}
			k := key{h.Entity.List, h.Entity.ID}
			if i, ok := best[k]; ok {
				if h.Score > all[i].Score {
					all[i] = h
				}
				continue
			}
			best[k] = len(all)
			all = append(all, h)
		}
	}
	slices.SortStableFunc(all, func(a, b Hit) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		if c := cmp.Compare(a.Entity.List, b.Entity.List); c != 0 {
			return c
		}
		return cmp.Compare(a.Entity.ID, b.Entity.ID)
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}
