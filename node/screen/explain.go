package screen

import (
	"math"
	"slices"
)

// Explanation says how a hit's score came about. Token contributions plus WordOrder sum
// to NameScore; Components sum to the hit's Score.
type Explanation struct {
	NameScore  float64          `json:"name_score"`
	WordOrder  float64          `json:"word_order"` // ≤ 0: the penalty for matching out of order
	Tokens     []TokenMatch     `json:"tokens,omitempty"`
	Identifier *IdentifierMatch `json:"identifier,omitempty"`
	Components []Component      `json:"components"`
}

// TokenMatch is one query token and the entity token it was matched with, or one of the
// two alone when unmatched or ignored.
type TokenMatch struct {
	QueryToken string `json:"query_token,omitempty"`
	// QueryOriginal is the token as written in the query when it was transliterated.
	QueryOriginal string `json:"query_original,omitempty"`
	EntityToken   string `json:"entity_token,omitempty"`
	// EntityOriginal is the token as published when it was transliterated.
	EntityOriginal string  `json:"entity_original,omitempty"`
	Method         string  `json:"method"`
	Similarity     float64 `json:"similarity"`
	// Weight is the token's rarity weight (IDF) in the index; ignored tokens weigh 0.
	Weight       float64 `json:"weight"`
	Contribution float64 `json:"contribution"`
}

// IdentifierMatch is the query identifier that matched an entity identifier exactly.
type IdentifierMatch struct {
	Scheme     string `json:"scheme,omitempty"`
	Value      string `json:"value"`
	Normalised string `json:"normalised"`
}

// Component is one part of the final score: "name", "identifier", "country",
// "birth-date" or "type".
type Component struct {
	Name         string  `json:"name"`
	Detail       string  `json:"detail,omitempty"`
	Contribution float64 `json:"contribution"`
}

// makeHit builds the reported hit with its explanation.
func (ix *Index) makeHit(h *entityHit, q *Query, prepared []*preparedName, s *scratch) Hit {
	e := &ix.entities[h.entity]
	hit := Hit{Entity: e, Score: h.score}
	hit.Explanation.Components = slices.Clone(h.comps)
	hit.Explanation.Identifier = h.ident
	if h.name < 0 {
		if len(e.Names) > 0 {
			hit.MatchedName = e.Names[0]
		}
		return hit
	}
	p := prepared[h.queryName]
	hit.QueryName = q.Names[h.queryName]
	alias := ix.nameAlias[h.name]
	hit.MatchedName = e.Names[alias]
	_, m := ix.scoreName(p, h.name, s, true)
	hit.Explanation.NameScore = m.score
	hit.Explanation.Tokens, hit.Explanation.WordOrder = explainTokens(p, analyze(hit.MatchedName), m)
	return hit
}

// explainTokens lists every query and entity token with its part in the name score.
func explainTokens(p *preparedName, etoks []token, m *nameMatch) ([]TokenMatch, float64) {
	// Entity scoring tokens in order, as indexed.
	var epos []int
	for k, t := range etoks {
		if t.kind == kindWord {
			epos = append(epos, k)
		}
	}
	if len(epos) > maxNameTokens {
		epos = epos[:maxNameTokens]
	}
	var sumQ, sumE float64
	for _, w := range m.wq {
		sumQ += w
	}
	for _, w := range m.we {
		sumE += w
	}
	byQ := make(map[int]pair, len(m.pairs))
	usedE := make(map[int]bool, len(m.pairs))
	for _, pr := range m.pairs {
		byQ[pr.i] = pr
		usedE[pr.j] = true
		if pr.j2 >= 0 {
			usedE[pr.j2] = true
		}
	}
	qtok := func(i int) (string, string) {
		t := p.toks[p.pos[i]]
		return t.text, t.orig
	}
	etok := func(j int) (string, string) {
		if j < len(epos) {
			t := etoks[epos[j]]
			return t.text, t.orig
		}
		return "", ""
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		if b == "" {
			return a
		}
		return a + " " + b
	}
	var out []TokenMatch
	var total float64
	for i := range p.q {
		if _, ok := byQ[i-1]; ok && byQ[i-1].i2 == i {
			continue // the second word of a query compound, reported with the first
		}
		qt, qo := qtok(i)
		pr, ok := byQ[i]
		if !ok {
			out = append(out, TokenMatch{QueryToken: qt, QueryOriginal: qo, Method: MethodUnmatched, Weight: round4(m.wq[i])})
			continue
		}
		et, eo := etok(pr.j)
		w := m.we[pr.j]
		wq := m.wq[i]
		if pr.j2 >= 0 {
			et2, eo2 := etok(pr.j2)
			et, eo = join(et, et2), join(eo, eo2)
			w += m.we[pr.j2]
		}
		if pr.i2 >= 0 {
			qt2, qo2 := qtok(pr.i2)
			qt, qo = join(qt, qt2), join(qo, qo2)
			wq += m.wq[pr.i2]
		}
		c := float64(pr.sim) * (queryShare*wq/sumQ + (1-queryShare)*w/sumE)
		total += c
		out = append(out, TokenMatch{QueryToken: qt, QueryOriginal: qo, EntityToken: et, EntityOriginal: eo,
			Method: pr.m.String(), Similarity: round4(float64(pr.sim)), Weight: round4(w), Contribution: c})
	}
	for j := range m.we {
		if usedE[j] {
			continue
		}
		et, eo := etok(j)
		out = append(out, TokenMatch{EntityToken: et, EntityOriginal: eo, Method: MethodUnmatched, Weight: round4(m.we[j])})
	}
	ignored := func(t token, query bool) {
		method := MethodStopword
		if t.kind == kindLegal {
			method = MethodLegalForm
		}
		tm := TokenMatch{Method: method}
		if query {
			tm.QueryToken, tm.QueryOriginal = t.text, t.orig
		} else {
			tm.EntityToken, tm.EntityOriginal = t.text, t.orig
		}
		out = append(out, tm)
	}
	for _, t := range p.toks {
		if t.kind != kindWord {
			ignored(t, true)
		}
	}
	for _, t := range etoks {
		if t.kind != kindWord {
			ignored(t, false)
		}
	}
	// The order penalty is reported on its own: what the factor took off the tokens' sum.
	order := m.score - total
	if math.Abs(order) < 1e-12 {
		order = 0
	}
	return out, order
}
