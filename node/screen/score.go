package screen

import (
	"math"
	"math/bits"
	"slices"
)

// Scoring. A name score is a weighted coverage: how much of the query name is matched
// by the entity name and how much of the entity name by the query, each token weighted
// by its rarity in the index (IDF), each matched pair by its similarity. So a missing
// rare surname costs a lot and a missing "Mohammad" or "Trading" little; an exact
// normalised name scores 1 and anything less than exact scores below 1. Country, date of
// birth and type then nudge the score, and an exact identifier sets it to 1.

const (
	queryShare = 0.6 // weight of query coverage against entity coverage
	// orderPenalty is taken off a name whose tokens match in another order: "MADURO MOROS,
	// Nicolas" is the same name as "Nicolas Maduro Moros", but the published order is
	// a little more likely to be the same party.
	orderPenalty     = 0.02
	orderPenaltyStep = 0.005
	orderPenaltyMax  = 0.04
	// maxNameTokens bounds the entity tokens considered in one name.
	maxNameTokens = 64
)

// pair is a match of query token i with entity token j; i2 or j2 is the second word of
// a compound match, -1 otherwise.
type pair struct {
	i, j, i2, j2 int
	sim          float32
	m            methodCode
}

// nameMatch is the detail of one name comparison, kept only for the hits reported.
type nameMatch struct {
	pairs      []pair
	wq, we     []float64
	inversions int
	score      float64
	base       float64
}

// scoreName scores a query name against index name n. With detail it also returns the
// matched pairs and weights for the explanation.
func (ix *Index) scoreName(p *preparedName, n int32, s *scratch, detail bool) (float64, *nameMatch) {
	terms := ix.nameTermsOf(n)
	if len(terms) > maxNameTokens {
		terms = terms[:maxNameTokens]
	}
	nq, ne := len(p.q), len(terms)
	pairs := s.pairs[:0]
	for j, t := range terms {
		row, ok := p.cell[t]
		// Initials need the letters; read them only when an initial is involved.
		et := ""
		if p.initials || ix.termMeta[t]&termLenMask == 1 {
			et = ix.termInfo[t].text
		}
		for i := range p.q {
			var c cellSim
			if ok {
				c = p.sims[int(row)*nq+i]
			}
			if c.sim == 0 && et != "" {
				qtext := p.q[i].info.text
				if (p.q[i].initial && initialOf(qtext, et)) || (len(et) == 1 && initialOf(et, qtext)) {
					c = cellSim{initialSim, mInitial}
				}
			}
			if c.sim > 0 {
				pairs = append(pairs, pair{i: i, j: j, i2: -1, j2: -1, sim: c.sim, m: c.m})
			}
		}
	}
	// Compounds only matter when some word found no good match of its own.
	var good uint64
	var goodE [maxNameTokens / 64]uint64
	for _, pr := range pairs {
		if pr.sim >= 0.95 {
			good |= 1 << uint(pr.i)
			goodE[pr.j/64] |= 1 << uint(pr.j%64)
		}
	}
	needCompound := bits.OnesCount64(good) < nq
	for j := 0; j < ne && !needCompound; j++ {
		needCompound = goodE[j/64]&(1<<uint(j%64)) == 0
	}
	if needCompound {
		pairs = ix.compoundPairs(p, terms, pairs, s)
	}
	// Greedy assignment, best pairs first; among equals prefer the pair in published
	// order so that a repeated word pairs with its own position.
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		da, db := abs(a.i-a.j), abs(b.i-b.j)
		if da != db {
			return da - db
		}
		if a.i != b.i {
			return a.i - b.i
		}
		if a.j != b.j {
			return a.j - b.j
		}
		return a.i2 + a.j2 - b.i2 - b.j2
	})
	var usedQ uint64
	var usedE [maxNameTokens / 64]uint64
	freeQ := func(i int) bool { return i < 0 || usedQ&(1<<uint(i)) == 0 }
	freeE := func(j int) bool { return j < 0 || usedE[j/64]&(1<<uint(j%64)) == 0 }
	matched := pairs[:0]
	for _, pr := range pairs {
		if !freeQ(pr.i) || !freeQ(pr.i2) || !freeE(pr.j) || !freeE(pr.j2) {
			continue
		}
		for _, i := range [2]int{pr.i, pr.i2} {
			if i >= 0 {
				usedQ |= 1 << uint(i)
			}
		}
		for _, j := range [2]int{pr.j, pr.j2} {
			if j >= 0 {
				usedE[j/64] |= 1 << uint(j%64)
			}
		}
		matched = append(matched, pr)
	}
	s.pairs = pairs

	var wqBuf [maxQueryTokens]float64
	var weBuf [maxNameTokens]float64
	wq, we := wqBuf[:nq], weBuf[:ne]
	for i := range p.q {
		wq[i] = float64(p.q[i].unmatched)
	}
	for j, t := range terms {
		we[j] = float64(ix.termIDF[t])
	}
	var covQ, covE float64
	for _, pr := range matched {
		// A matched query token weighs what the entity token it matched weighs, so a
		// misspelt common name is not taken for a rare one.
		w := we[pr.j]
		if pr.j2 >= 0 {
			w += we[pr.j2]
		}
		if pr.i2 >= 0 {
			wq[pr.i], wq[pr.i2] = w/2, w/2
		} else {
			wq[pr.i] = w
		}
		covQ += float64(pr.sim) * w
		covE += float64(pr.sim) * w
	}
	var sumQ, sumE float64
	for _, w := range wq {
		sumQ += w
	}
	for _, w := range we {
		sumE += w
	}
	base := queryShare*covQ/sumQ + (1-queryShare)*covE/sumE
	// Inversions: matched pairs whose entity positions run against query order.
	slices.SortFunc(matched, func(a, b pair) int { return a.i - b.i })
	inv := 0
	for x := range matched {
		for y := x + 1; y < len(matched); y++ {
			if matched[x].j > matched[y].j {
				inv++
			}
		}
	}
	score := min(base*orderFactor(inv), 1)
	if !detail {
		return score, nil
	}
	return score, &nameMatch{
		pairs:      slices.Clone(matched),
		wq:         slices.Clone(wq),
		we:         slices.Clone(we),
		inversions: inv,
		score:      score,
		base:       base,
	}
}

// compoundPairs adds the pairs of one word against two adjacent words, each way.
func (ix *Index) compoundPairs(p *preparedName, terms []int32, pairs []pair, s *scratch) []pair {
	nq, ne := len(p.q), len(terms)
	for i := range p.q {
		qt := &p.q[i]
		if qt.initial || len(qt.info.text) < 5 {
			continue
		}
		wlen, first := len(qt.info.text), qt.info.text[0]
		for j := 0; j+1 < ne; j++ {
			// Cheap tests on the compact arrays before touching the term records.
			ma, mb := ix.termMeta[terms[j]], ix.termMeta[terms[j+1]]
			if (ma|mb)&termAbjadBit == 0 && !qt.info.abjad && qt.alt == nil &&
				(ix.termFirst[terms[j]] != first || abs(wlen-int(ma&termLenMask)-int(mb&termLenMask)) > 2) {
				continue
			}
			ta, tb := &ix.termInfo[terms[j]], &ix.termInfo[terms[j+1]]
			abjad := qt.info.abjad || ta.abjad || tb.abjad
			sim := compoundMatch(&qt.info, ta.text, tb.text, abjad, s.buf[:0])
			if qt.alt != nil {
				sim = max(sim, compoundMatch(qt.alt, ta.text, tb.text, abjad, s.buf[:0]))
			}
			if sim > 0 {
				pairs = append(pairs, pair{i: i, j: j, i2: -1, j2: j + 1, sim: float32(sim), m: mCompound})
			}
		}
	}
	for i := 0; i+1 < nq; i++ {
		if p.q[i].initial || p.q[i+1].initial {
			continue
		}
		a, b := p.q[i].info.text, p.q[i+1].info.text
		pairAbjad := p.q[i].info.abjad || p.q[i+1].info.abjad
		for j, t := range terms {
			m := ix.termMeta[t]
			if int(m&termLenMask) < 5 || (!pairAbjad && m&termAbjadBit == 0 &&
				(ix.termFirst[t] != a[0] || abs(int(m&termLenMask)-len(a)-len(b)) > 2)) {
				continue
			}
			ti := &ix.termInfo[t]
			if sim := compoundMatch(ti, a, b, pairAbjad || ti.abjad, s.buf[:0]); sim > 0 {
				pairs = append(pairs, pair{i: i, j: j, i2: i + 1, j2: -1, sim: float32(sim), m: mCompound})
			}
		}
	}
	return pairs
}

func orderFactor(inversions int) float64 {
	if inversions == 0 {
		return 1
	}
	return 1 - min(orderPenalty+orderPenaltyStep*float64(inversions-1), orderPenaltyMax)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func f32eq(a float64, b float64) bool { return math.Abs(a-b) < 1e-9 }

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
