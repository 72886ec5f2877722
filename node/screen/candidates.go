package screen

import (
	"slices"
)

// Candidate generation: each query token is expanded to the index terms near it, the
// postings of those terms credit the names containing them, rarest tokens first, and
// only the best-credited names are scored precisely.

const (
	// maxPostings bounds the posting entries one query name visits. Tokens are visited
	// rarest first; a common token past the budget still scores on the candidates the
	// rarer ones found, it just does not bring in new ones.
	maxPostings = 120000
	// candidateSlack is how far below the coverage a name needs (by the estimate from
	// the postings) a name may be and still be scored: the estimate weighs query tokens
	// by their own rarity, the score by the rarity of the words they matched.
	candidateSlack = 0.15
	// maxCandidates bounds the names scored precisely per query name.
	maxCandidates = 300
)

// qToken is one scoring token of a query name with the index terms near it.
type qToken struct {
	tok       token
	info      tokenInfo
	alt       *tokenInfo // a looser spelling to try as well (Cyrillic kh as h)
	initial   bool
	cands     []termCand // sorted by similarity, best first
	accOnly   []termCand // terms that only bring in candidates: parts of compounds
	cost      int        // postings of all candidates
	unmatched float32    // weight when it matches nothing in a name
}

type termCand struct {
	term int32
	sim  float32
	m    methodCode
}

type cellSim struct {
	sim float32
	m   methodCode
}

// preparedName is a query name ready to be scored against any entity name.
type preparedName struct {
	toks []token  // all tokens, for explanations
	pos  []int    // pos[i] is the index in toks of scoring token i
	q    []qToken // scoring tokens
	cell map[int32]int32
	sims []cellSim // len(cell) rows of len(q)
	// initials is set when a query token is an initial.
	initials bool
}

// scratch is per-search working memory, pooled: the accumulator is as long as the
// index has names, too big to allocate per query.
type scratch struct {
	acc     []accCell
	touched []int32
	seen    map[int32]bool
	pairs   []pair
	buf     []byte
	cands   []nameCandidate
}

// accCell accumulates one name's evidence during candidate generation: the credit so far
// and which query tokens gave it, in four bytes, so that the accumulator of a million
// names is small enough to stay in cache while postings are visited at random.
type accCell struct {
	acc  uint16 // credit in units of 1/accScale, saturating
	mask uint16 // query tokens that gave credit; tokens past the 15th share the last bit
}

// accScale is the resolution of the credit: finer than any difference between weights
// that matters for picking candidates.
const accScale = 64

func accBit(i int) uint16 { return 1 << uint(min(i, 15)) }

func newScratch(names int) *scratch {
	return &scratch{
		acc:  make([]accCell, names),
		seen: make(map[int32]bool),
		buf:  make([]byte, 0, 64),
	}
}

// prepareName analyses a query name and finds, for each token, the index terms near it.
func (ix *Index) prepareName(name string, s *scratch) *preparedName {
	toks := analyze(name)
	p := &preparedName{toks: toks, cell: make(map[int32]int32)}
	for k, t := range toks {
		if t.kind != kindWord {
			continue
		}
		if len(p.q) == maxQueryTokens {
			break
		}
		qt := qToken{tok: t, info: newTokenInfo(t.text, t.script.abjad())}
		qt.initial = len(t.text) == 1 && (t.script == scriptLatin || t.script == scriptCyrillic || t.script == scriptGreek)
		if t.script == scriptCyrillic {
			if loose := cyrillicLoose(t.text); loose != t.text {
				alt := newTokenInfo(loose, false)
				qt.alt = &alt
			}
		}
		ix.expand(&qt, s)
		p.initials = p.initials || qt.initial
		p.q = append(p.q, qt)
		p.pos = append(p.pos, k)
	}
	if len(p.q) == 0 {
		return nil
	}
	ix.expandCompounds(p, s)
	nq := len(p.q)
	for i := range p.q {
		for _, c := range p.q[i].cands {
			row, ok := p.cell[c.term]
			if !ok {
				row = int32(len(p.cell))
				p.cell[c.term] = row
				p.sims = append(p.sims, make([]cellSim, nq)...)
			}
			p.sims[int(row)*nq+i] = cellSim{c.sim, c.m}
		}
	}
	return p
}

// maxPartDF bounds the names a two-letter part of a compound may bring in.
const maxPartDF = 2000

// maxKeyTerms bounds the terms taken from one key: a common phonetic key of a short name
// lists thousands of words in a large index, most of them rare and not similar. The
// table lists the frequent ones first.
const maxKeyTerms = 1500

// expand finds the index terms similar to a query token.
func (ix *Index) expand(qt *qToken, s *scratch) {
	clear(s.seen)
	forms := []*tokenInfo{&qt.info}
	if qt.alt != nil {
		forms = append(forms, qt.alt)
	}
	nonLatin := qt.tok.script != scriptLatin
	qlen := len(qt.info.text)
	consider := func(t int32) {
		// Words of very different length are not spellings of one another (abjad
		// transliterations lack vowels, so the test is for Latin pairs only).
		if meta := ix.termMeta[t]; meta&termAbjadBit == 0 && !qt.info.abjad && abs(int(meta&termLenMask)-qlen) > 3 {
			return
		}
		if s.seen[t] {
			return
		}
		s.seen[t] = true
		ti := &ix.termInfo[t]
		var sim float64
		m := mNone
		for _, f := range forms {
			if fs, fm := tokenSim(f, ti); fm != mNone && fs > sim {
				sim, m = fs, fm
			}
		}
		if m == mNone {
			return
		}
		if nonLatin && (m == mExact || f32eq(sim, 1)) {
			m = mTranslit
		}
		qt.cands = append(qt.cands, termCand{term: t, sim: float32(sim), m: m})
	}
	lookup := func(h uint64) {
		ts := ix.keys.lookup(h)
		if len(ts) > maxKeyTerms {
			ts = ts[:maxKeyTerms]
		}
		for _, t := range ts {
			consider(t)
		}
	}
	for _, q := range forms {
		if id, ok := ix.termByText[q.text]; ok {
			consider(id)
		}
		for _, v := range variantWords(q.text) {
			if id, ok := ix.termByText[v]; ok {
				consider(id)
			}
		}
		if qt.initial {
			continue
		}
		text := q.text
		if len(text) >= 3 && len(text) <= maxDeleteLen && isASCII(text) {
			lookup(hashKey(keyDelete, text, -1))
			for p := range len(text) {
				if p > 0 && text[p] == text[p-1] {
					continue
				}
				lookup(hashKey(keyDelete, text, p))
			}
		}
		if q.abjad {
			if q.skel != "" {
				lookup(hashKey(keySkelOther, q.coarse, -1))
				lookup(hashKey(keySkelAbjad, q.coarse, -1))
			}
			continue
		}
		if q.dm1.usable() {
			lookup(hashKey(keyPhonetic, q.dm1.bytes(), -1))
		}
		if q.dm2.usable() && q.dm2 != q.dm1 {
			lookup(hashKey(keyPhonetic, q.dm2.bytes(), -1))
		}
		if q.skel != "" {
			lookup(hashKey(keySkelAbjad, q.coarse, -1))
		}
	}
	slices.SortFunc(qt.cands, func(a, b termCand) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		return int(a.term - b.term)
	})
	var best float32
	for _, c := range qt.cands {
		qt.cost += len(ix.postings(c.term))
		best = max(best, ix.termIDF[c.term])
	}
	switch {
	case qt.initial:
		qt.unmatched = 1 // an unmatched initial says little either way
	case len(qt.cands) > 0 && qt.cands[0].m == mExact:
		qt.unmatched = ix.termIDF[qt.cands[0].term]
	case best > 0:
		qt.unmatched = best
	default:
		qt.unmatched = ix.unknownIDF
	}
}

// expandCompounds finds the index terms that a query word or a pair of adjacent query
// words may be a compound of, so that names written the other way become candidates.
func (ix *Index) expandCompounds(p *preparedName, s *scratch) {
	for i := range p.q {
		qt := &p.q[i]
		if qt.initial {
			continue
		}
		// One query word, two index words: look both halves up.
		if w := qt.info.text; len(w) >= 5 && isASCII(w) {
			for k := 2; k <= len(w)-2; k++ {
				for _, part := range [2]string{w[:k], w[k:]} {
					// A common short part (Un, Jo) would bring in half the index for
					// nothing: the other part finds the compound.
					if t, ok := ix.termByText[part]; ok && (len(part) >= 3 || ix.termDF[t] <= maxPartDF) {
						qt.accOnly = append(qt.accOnly, termCand{term: t, sim: 0.5, m: mCompound})
					}
				}
			}
		}
		if i+1 >= len(p.q) || p.q[i+1].initial {
			continue
		}
		// Two query words, one index word: the joined word, allowing one edit.
		a, b := qt.info.text, p.q[i+1].info.text
		joined := a + b
		pairAbjad := qt.info.abjad || p.q[i+1].info.abjad
		clear(s.seen)
		consider := func(t int32) {
			if s.seen[t] {
				return
			}
			s.seen[t] = true
			ti := &ix.termInfo[t]
			if sim := compoundMatch(ti, a, b, pairAbjad || ti.abjad, s.buf[:0]); sim > 0 {
				// The joined word stands for both query words.
				c := termCand{term: t, sim: float32(sim), m: mCompound}
				qt.accOnly = append(qt.accOnly, c)
				p.q[i+1].accOnly = append(p.q[i+1].accOnly, c)
			}
		}
		if pairAbjad {
			ji := newTokenInfo(joined, true)
			for _, t := range ix.keys.lookup(hashKey(keySkelOther, ji.coarse, -1)) {
				consider(t)
			}
			continue
		}
		if t, ok := ix.termByText[joined]; ok {
			consider(t)
		}
		if len(joined) <= maxDeleteLen && isASCII(joined) {
			for _, t := range ix.keys.lookup(hashKey(keyDelete, joined, -1)) {
				consider(t)
			}
			for pos := range len(joined) {
				for _, t := range ix.keys.lookup(hashKey(keyDelete, joined, pos)) {
					consider(t)
				}
			}
		}
	}
}

// nameCandidate is an entity name worth scoring precisely.
type nameCandidate struct {
	name   int32
	entity int32
	score  float64
}

// searchName returns the entity names scoring at least floor against the query name.
func (ix *Index) searchName(p *preparedName, s *scratch, floor float64) []nameCandidate {
	nq := len(p.q)
	order := make([]int, nq)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return p.q[a].cost - p.q[b].cost })

	var totalW, unacc float32
	for i := range p.q {
		totalW += p.q[i].unmatched
	}
	// A name scores at most queryShare*coverage + (1-queryShare), so a name whose query
	// coverage cannot reach the floor is not worth scoring. The estimate is loose (query
	// weights are only known per name), hence the slack. Tokens are visited rarest first;
	// once the tokens left could not bring an untouched name to minCov on their own, they
	// only add credit to names already found, which scoring does anyway (MaxScore).
	minCov := (floor-(1-queryShare))/queryShare - candidateSlack
	minAcc := float32(max(0, minCov)) * totalW
	remaining := totalW
	spent := 0
	s.touched = s.touched[:0]
	for _, i := range order {
		qt := &p.q[i]
		if len(s.touched) > 0 && remaining < minAcc {
			unacc += qt.unmatched
			continue
		}
		remaining -= qt.unmatched
		if qt.initial {
			unacc += initialSim * qt.unmatched
			continue
		}
		if len(qt.cands) == 0 && len(qt.accOnly) == 0 {
			continue
		}
		if spent > 0 && spent+qt.cost > maxPostings {
			unacc += qt.unmatched
			continue
		}
		bit := accBit(i)
		partial := false
		for _, c := range qt.cands {
			ps := ix.postings(c.term)
			if spent > 0 && spent+len(ps) > maxPostings {
				partial = true
				break
			}
			s.credit(ps, bit, c.sim*ix.termIDF[c.term])
			spent += len(ps)
		}
		for _, c := range qt.accOnly {
			ps := ix.postings(c.term)
			if spent > 0 && spent+len(ps) > maxPostings {
				break
			}
			s.credit(ps, bit, c.sim*ix.termIDF[c.term])
			spent += len(ps)
		}
		if partial {
			unacc += qt.unmatched
		}
	}

	cands := s.selectCandidates(minAcc-unacc, maxCandidates)
	out := cands[:0]
	for _, c := range cands {
		sc, _ := ix.scoreName(p, c.name, s, false)
		if sc >= floor {
			out = append(out, nameCandidate{name: c.name, entity: ix.nameEnt[c.name], score: sc})
		}
	}
	return out
}

// credit adds w to every name in the posting list not yet credited for this token.
func (s *scratch) credit(postings []int32, bit uint16, w float32) {
	acc := s.acc
	units := uint16(min(w*accScale+0.5, 1<<11))
	for _, n := range postings {
		c := &acc[n]
		if c.mask&bit != 0 {
			continue
		}
		if c.mask == 0 {
			s.touched = append(s.touched, n)
		}
		c.mask |= bit
		c.acc = min(c.acc+units, 1<<15) // saturate rather than wrap
	}
}

// selectCandidates returns at most k touched names with credit at least min, best
// first, and clears the accumulator. A histogram of the credits finds the cut-off in two
// passes, so a query touching tens of thousands of names does not sort them all.
func (s *scratch) selectCandidates(floor float32, k int) []nameCandidate {
	// One pass over the accumulator, which is large and visited at random: copy out
	// what passes the floor and clear the rest. The selection then works on a small,
	// contiguous slice.
	cands := s.cands[:0]
	var top float64
	for _, n := range s.touched {
		a := float32(s.acc[n].acc) / accScale
		s.acc[n] = accCell{}
		if a >= floor {
			cands = append(cands, nameCandidate{name: n, score: float64(a)})
			top = max(top, float64(a))
		}
	}
	if len(cands) <= k || top == 0 {
		s.cands = cands
		return cands
	}
	const buckets = 256
	var hist [buckets]int32
	scale := float64(buckets-1) / top
	for _, c := range cands {
		hist[int(c.score*scale)]++
	}
	cut, total := 0, int32(0)
	for b := buckets - 1; b >= 0; b-- {
		total += hist[b]
		if total >= int32(k) {
			cut = b
			break
		}
	}
	// Everything above the cut-off bucket, then names from that bucket in the order the
	// postings were visited (which is deterministic) up to k: their credits are all but
	// equal, and sorting thousands of equals is what the histogram avoids.
	above := int(total - hist[cut])
	room := k - above
	kept := cands[:0]
	for _, c := range cands {
		b := int(c.score * scale)
		if b > cut || (b == cut && room > 0) {
			if b == cut {
				room--
			}
			kept = append(kept, c)
		}
	}
	s.cands = kept
	return kept
}
