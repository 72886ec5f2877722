package screening

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screen"
)

// Bounds on one screening request beyond those of screen.Query (names): a party has a
// handful of countries, addresses and identifiers, never hundreds.
const (
	maxQueryCountries   = 32
	maxQueryAddresses   = 32
	maxQueryIdentifiers = 32
	maxQueryLists       = 64
)

// Request is what an officer screens: POST /v1/screen, and each line of a batch.
// Countries may be ISO 3166-1 alpha-2 or alpha-3 codes (or the English names the lists
// use); they are converted to alpha-3. Lists, when given, restricts the search to those
// lists.
type Request struct {
	Names       []string            `json:"names"`
	Type        string              `json:"type,omitempty"`
	Countries   []string            `json:"countries,omitempty"`
	Addresses   []string            `json:"addresses,omitempty"`
	Identifiers []screen.Identifier `json:"identifiers,omitempty"`
	DateOfBirth string              `json:"date_of_birth,omitempty"`
	Threshold   float64             `json:"threshold,omitempty"`
	Limit       int                 `json:"limit,omitempty"`
	Lists       []string            `json:"lists,omitempty"`
}

// Query checks r and converts it to the engine's query. The error is a *FieldError
// naming the request field.
func (r Request) Query() (screen.Query, error) {
	q := screen.Query{Type: r.Type, Threshold: r.Threshold, Limit: r.Limit}
	if len(r.Names) == 0 && len(r.Identifiers) == 0 {
		return q, &FieldError{"names", "required: at least one name of the party (or an identifier)"}
	}
	if len(r.Names) > screen.MaxQueryNames {
		return q, &FieldError{"names", fmt.Sprintf("%d names; at most %d", len(r.Names), screen.MaxQueryNames)}
	}
	for i, n := range r.Names {
		if strings.TrimSpace(n) == "" {
			return q, &FieldError{fmt.Sprintf("names[%d]", i), "empty: give the party's name, or leave the entry out"}
		}
		if len(n) > maxNameBytes {
			return q, &FieldError{fmt.Sprintf("names[%d]", i), fmt.Sprintf("%d bytes; at most %d", len(n), maxNameBytes)}
		}
	}
	q.Names = r.Names
	if len(r.Countries) > maxQueryCountries {
		return q, &FieldError{"countries", fmt.Sprintf("%d countries; at most %d", len(r.Countries), maxQueryCountries)}
	}
	for i, c := range r.Countries {
		a3, ok := lists.CountryCode(c)
		if !ok {
			return q, &FieldError{fmt.Sprintf("countries[%d]", i), fmt.Sprintf("%q is not a country: use an ISO 3166-1 alpha-2 or alpha-3 code such as IR or IRN", clip(c))}
		}
		if !slices.Contains(q.Countries, a3) {
			q.Countries = append(q.Countries, a3)
		}
	}
	if len(r.Addresses) > maxQueryAddresses {
		return q, &FieldError{"addresses", fmt.Sprintf("%d addresses; at most %d", len(r.Addresses), maxQueryAddresses)}
	}
	for i, a := range r.Addresses {
		if len(a) > maxAddressBytes {
			return q, &FieldError{fmt.Sprintf("addresses[%d]", i), fmt.Sprintf("%d bytes; at most %d", len(a), maxAddressBytes)}
		}
	}
	q.Addresses = r.Addresses
	if len(r.Identifiers) > maxQueryIdentifiers {
		return q, &FieldError{"identifiers", fmt.Sprintf("%d identifiers; at most %d", len(r.Identifiers), maxQueryIdentifiers)}
	}
	for i, id := range r.Identifiers {
		p := fmt.Sprintf("identifiers[%d]", i)
		if id.Scheme != "" && !slices.Contains(identifierSchemes, id.Scheme) {
			return q, &FieldError{p + ".scheme", fmt.Sprintf("%q is not one of %s (or leave it empty)", clip(id.Scheme), strings.Join(identifierSchemes, ", "))}
		}
		if strings.TrimSpace(id.Value) == "" || len(id.Value) > maxIDValueBytes {
			return q, &FieldError{p + ".value", fmt.Sprintf("required, at most %d bytes", maxIDValueBytes)}
		}
		if id.Country != "" {
			a3, ok := lists.CountryCode(id.Country)
			if !ok {
				return q, &FieldError{p + ".country", fmt.Sprintf("%q is not a country: use an ISO 3166-1 alpha-2 or alpha-3 code", clip(id.Country))}
			}
			id.Country = a3
		}
		q.Identifiers = append(q.Identifiers, id)
	}
	if r.DateOfBirth != "" {
		if !validDate(r.DateOfBirth) {
			return q, &FieldError{"date_of_birth", fmt.Sprintf("%q is not YYYY, YYYY-MM or YYYY-MM-DD", clip(r.DateOfBirth))}
		}
		q.BirthDate = r.DateOfBirth
	}
	if r.Threshold < 0 || r.Threshold > 1 {
		return q, &FieldError{"threshold", fmt.Sprintf("%v is not a score in (0,1]; leave it out for the default %.2f", r.Threshold, screen.DefaultThreshold)}
	}
	if r.Limit < 0 || r.Limit > screen.MaxLimit {
		return q, &FieldError{"limit", fmt.Sprintf("%d is not 1 to %d; leave it out for %d", r.Limit, screen.MaxLimit, screen.DefaultLimit)}
	}
	if len(r.Lists) > maxQueryLists {
		return q, &FieldError{"lists", fmt.Sprintf("%d lists; at most %d", len(r.Lists), maxQueryLists)}
	}
	return q, nil
}

// queryFieldError maps the engine's error to the request's field names.
func queryFieldError(err error) error {
	var qe *screen.QueryError
	if !errors.As(err, &qe) {
		return err
	}
	f := qe.Field
	if f == "birth_date" {
		f = "date_of_birth"
	}
	return &FieldError{Field: f, Reason: qe.Reason}
}

// ListRef names a list and the version a search used.
type ListRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// HitView is one hit as the API shows it.
type HitView struct {
	Score       float64            `json:"score"`
	List        string             `json:"list"`
	EntityID    string             `json:"entity_id"`
	MatchedName string             `json:"matched_name"`
	QueryName   string             `json:"query_name"`
	Entity      *screen.Entity     `json:"entity,omitempty"`
	Explanation screen.Explanation `json:"explanation"`
}

// Result is the answer to one screening: the ranked hits across the lists searched, and
// those lists with their versions.
type Result struct {
	Hits  []HitView `json:"hits"`
	Lists []ListRef `json:"lists"`
}

// Select returns the lists named (all when names is empty). An unknown name is a
// *FieldError for lists[i]; no list at all is ErrNoLists.
func (s *Snapshot) Select(names []string) ([]*List, error) {
	if len(s.lists) == 0 {
		return nil, ErrNoLists
	}
	if len(names) == 0 {
		return s.lists, nil
	}
	var out []*List
	for i, n := range names {
		l, ok := s.Get(n)
		if !ok {
			have := make([]string, len(s.lists))
			for j, x := range s.lists {
				have[j] = x.Name
			}
			return nil, &FieldError{fmt.Sprintf("lists[%d]", i), fmt.Sprintf("no list %q on this node (it has %s)", clip(n), strings.Join(have, ", "))}
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// Search screens q against ls and merges the hits into one ranking.
func Search(ls []*List, q screen.Query) ([]screen.Hit, error) {
	results := make([][]screen.Hit, 0, len(ls))
	for _, l := range ls {
		hits, err := l.Index.Search(q)
		if err != nil {
			return nil, queryFieldError(err)
		}
		results = append(results, hits)
	}
	return screen.Merge(q.Limit, results...), nil
}

// Refs names the lists and their versions.
func Refs(ls []*List) []ListRef {
	out := make([]ListRef, len(ls))
	for i, l := range ls {
		out[i] = ListRef{Name: l.Name, Version: l.Version}
	}
	return out
}

// Screen checks r and screens it against the lists it names (all by default).
func (s *Snapshot) Screen(r Request) (*Result, error) {
	q, err := r.Query()
	if err != nil {
		return nil, err
	}
	ls, err := s.Select(r.Lists)
	if err != nil {
		return nil, err
	}
	hits, err := Search(ls, q)
	if err != nil {
		return nil, err
	}
	return &Result{Hits: Views(hits, true), Lists: Refs(ls)}, nil
}

// Views converts hits for the API; withEntity includes each listed entity.
func Views(hits []screen.Hit, withEntity bool) []HitView {
	out := make([]HitView, len(hits))
	for i, h := range hits {
		out[i] = HitView{Score: h.Score, List: h.Entity.List, EntityID: h.Entity.ID, MatchedName: h.MatchedName,
			QueryName: h.QueryName, Explanation: h.Explanation}
		if withEntity {
			out[i].Entity = h.Entity
		}
	}
	return out
}
