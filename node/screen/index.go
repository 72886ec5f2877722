package screen

import (
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Builder collects entities for an Index. It is not safe for concurrent use; the node
// builds a new Index off to the side and swaps it in when a list changes.
type Builder struct {
	entities []Entity
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{} }

// Add adds an entity. The Index keeps e as given, slices included, so the caller must not
// modify them afterwards; copying every alias of a million-name list would double the
// memory for nothing.
func (b *Builder) Add(e Entity) { b.entities = append(b.entities, e) }

// Index is an immutable screening index over a set of entities. Search is safe for
// concurrent use.
//
// Names are stored as sequences of interned term ids in flat slices, numbered so that
// names sharing their most frequent word are adjacent; each term has a posting list of
// the names containing it. Candidates for a query come from the postings of terms near
// each query token (same word, one edit away, same Double Metaphone key, same consonant
// skeleton, listed romanisation variant, parts of a compound), found through a hashed key
// table and visited rarest first; only a bounded set of candidates is scored precisely.
type Index struct {
	entities []Entity

	// Names: name i belongs to entity nameEnt[i], is Entity.Names[nameAlias[i]], and its
	// scoring tokens are nameTerms[nameOff[i]:nameOff[i+1]].
	nameEnt   []int32
	nameAlias []uint16
	nameOff   []uint32
	nameTerms []int32

	// Terms.
	termInfo   []tokenInfo
	termMeta   []uint8 // length (capped) and abjad flag, for filtering without termInfo
	termFirst  []byte  // first byte, likewise
	termByText map[string]int32
	termIDF    []float32
	termDF     []int32
	postOff    []uint32
	post       []int32
	unknownIDF float32 // weight of a query token the index has never seen

	keys keyIndex

	idents map[string][]identRef

	stats IndexStats
	pool  sync.Pool // *scratch
}

// IndexStats describes an Index, for monitoring and benchmarks.
type IndexStats struct {
	Entities  int           `json:"entities"`
	Names     int           `json:"names"`
	Terms     int           `json:"terms"`
	Postings  int           `json:"postings"`
	Keys      int           `json:"keys"`
	BuildTime time.Duration `json:"build_time"`
}

type identRef struct {
	entity int32
	scheme string
}

// Len returns the number of entities in the index.
func (ix *Index) Len() int { return len(ix.entities) }

// Stats returns the size of the index and how long it took to build.
func (ix *Index) Stats() IndexStats { return ix.stats }

// Key namespaces in the shared key table.
const (
	keyDelete    = 'd' // a term and its one-letter deletions
	keyPhonetic  = 'p' // Double Metaphone keys
	keySkelAbjad = 's' // coarse skeletons of terms transliterated from an abjad
	keySkelOther = 'S' // coarse skeletons of all other terms
)

const (
	termLenMask  = 0x7f
	termAbjadBit = 0x80
)

// maxDeleteLen bounds the deletion keys per term; longer words are run-together names
// whose typos the phonetic and skeleton keys still catch.
const maxDeleteLen = 24

type analyzedName struct {
	alias uint16
	toks  []token
}

// Build builds the index. The Builder may be reused afterwards only for a new index.
func (b *Builder) Build() *Index {
	start := time.Now()
	ix := &Index{entities: b.entities, termByText: make(map[string]int32)}
	b.entities = nil

	analyzed := analyzeAll(ix.entities)

	// Intern terms and lay names out flat.
	var termText []string
	// A term is compared as an abjad transliteration only if it never occurs in a name
	// written otherwise: "aman" from امان is a skeleton, "Aman" in Latin is a spelling.
	var termAbjad, termOther []bool
	seq := make([]int32, 0, 16)
	for ei := range analyzed {
		var seen []string // normalised forms already added for this entity
		for _, an := range analyzed[ei] {
			seq = seq[:0]
			for _, t := range an.toks {
				if t.kind != kindWord {
					continue
				}
				id, ok := ix.termByText[t.text]
				if !ok {
					id = int32(len(termText))
					ix.termByText[t.text] = id
					termText = append(termText, t.text)
					termAbjad = append(termAbjad, false)
					termOther = append(termOther, false)
				}
				if t.script.abjad() {
					termAbjad[id] = true
				} else {
					termOther[id] = true
				}
				seq = append(seq, id)
			}
			if len(seq) == 0 {
				continue
			}
			key := seqKey(seq)
			if slices.Contains(seen, key) {
				continue // an alias that normalises to a name already indexed
			}
			seen = append(seen, key)
			ix.nameEnt = append(ix.nameEnt, int32(ei))
			ix.nameAlias = append(ix.nameAlias, an.alias)
			ix.nameOff = append(ix.nameOff, uint32(len(ix.nameTerms)))
			ix.nameTerms = append(ix.nameTerms, seq...)
		}
		analyzed[ei] = nil
	}
	ix.nameOff = append(ix.nameOff, uint32(len(ix.nameTerms)))
	nNames := len(ix.nameEnt)
	nTerms := len(termText)

	// Postings: names are visited in order, so every list comes out sorted.
	ix.termDF = make([]int32, nTerms)
	for n := range nNames {
		terms := ix.nameTerms[ix.nameOff[n]:ix.nameOff[n+1]]
		for k, t := range terms {
			if !slices.Contains(terms[:k], t) {
				ix.termDF[t]++
			}
		}
	}
	ix.clusterNames()
	ix.postOff = make([]uint32, nTerms+1)
	for t, df := range ix.termDF {
		ix.postOff[t+1] = ix.postOff[t] + uint32(df)
	}
	ix.post = make([]int32, ix.postOff[nTerms])
	fill := slices.Clone(ix.postOff[:nTerms])
	for n := range nNames {
		terms := ix.nameTerms[ix.nameOff[n]:ix.nameOff[n+1]]
		for k, t := range terms {
			if !slices.Contains(terms[:k], t) {
				ix.post[fill[t]] = int32(n)
				fill[t]++
			}
		}
	}

	// Weights: rarer terms identify more. Smoothed so that a term in every name still
	// weighs something and a unique term is not unboundedly heavier than a rare one.
	ix.termIDF = make([]float32, nTerms)
	for t, df := range ix.termDF {
		ix.termIDF[t] = idf(nNames, int(df))
	}
	ix.unknownIDF = idf(nNames, 1)

	for t := range termAbjad {
		termAbjad[t] = termAbjad[t] && !termOther[t]
	}
	ix.termInfo = make([]tokenInfo, nTerms)
	parallel(nTerms, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			ix.termInfo[t] = newTokenInfo(termText[t], termAbjad[t])
		}
	})
	ix.termMeta = make([]uint8, nTerms)
	ix.termFirst = make([]byte, nTerms)
	for t, text := range termText {
		ix.termFirst[t] = text[0]
		m := uint8(min(len(text), termLenMask))
		if termAbjad[t] {
			m |= termAbjadBit
		}
		ix.termMeta[t] = m
	}
	ix.keys = buildKeys(ix.termInfo, ix.termDF)

	ix.idents = make(map[string][]identRef)
	for ei := range ix.entities {
		for _, id := range ix.entities[ei].Identifiers {
			v := normIdentifier(id.Value)
			if v == "" {
				continue
			}
			ix.idents[v] = append(ix.idents[v], identRef{entity: int32(ei), scheme: normScheme(id.Scheme)})
		}
	}

	ix.stats = IndexStats{
		Entities: len(ix.entities),
		Names:    nNames,
		Terms:    nTerms,
		Postings: len(ix.post),
		Keys:     len(ix.keys.hashes),
	}
	ix.pool.New = func() any { return newScratch(nNames) }
	ix.stats.BuildTime = time.Since(start)
	return ix
}

// clusterNames renumbers the names so that names sharing their most frequent word are
// adjacent. The posting list of a frequent word (Mohammed, Wang, Trading), the longest
// a query visits, then covers a contiguous block of the accumulator rather than the
// whole of it, which is what bounds search time in a large index: each posting is a
// memory access.
func (ix *Index) clusterNames() {
	n := len(ix.nameEnt)
	key := make([]int32, n)
	for i := range n {
		best := int32(-1)
		for _, t := range ix.nameTerms[ix.nameOff[i]:ix.nameOff[i+1]] {
			if best < 0 || ix.termDF[t] > ix.termDF[best] || (ix.termDF[t] == ix.termDF[best] && t < best) {
				best = t
			}
		}
		key[i] = best
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int { return int(key[a] - key[b]) })
	ent := make([]int32, n)
	alias := make([]uint16, n)
	off := make([]uint32, 0, n+1)
	terms := make([]int32, 0, len(ix.nameTerms))
	for i, old := range perm {
		ent[i] = ix.nameEnt[old]
		alias[i] = ix.nameAlias[old]
		off = append(off, uint32(len(terms)))
		terms = append(terms, ix.nameTerms[ix.nameOff[old]:ix.nameOff[old+1]]...)
	}
	off = append(off, uint32(len(terms)))
	ix.nameEnt, ix.nameAlias, ix.nameOff, ix.nameTerms = ent, alias, off, terms
}

func idf(n, df int) float32 {
	return float32(math.Log(1 + float64(n+1)/float64(df+1)))
}

func seqKey(seq []int32) string {
	var b strings.Builder
	for _, id := range seq {
		b.WriteByte(byte(id))
		b.WriteByte(byte(id >> 8))
		b.WriteByte(byte(id >> 16))
		b.WriteByte(byte(id >> 24))
	}
	return b.String()
}

// analyzeAll normalises every name of every entity, in parallel: normalisation is most
// of the build time.
func analyzeAll(entities []Entity) [][]analyzedName {
	out := make([][]analyzedName, len(entities))
	parallel(len(entities), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			names := entities[i].Names
			if len(names) > math.MaxUint16 {
				names = names[:math.MaxUint16]
			}
			an := make([]analyzedName, 0, len(names))
			for k, name := range names {
				toks := analyze(name)
				if len(toks) > 0 {
					an = append(an, analyzedName{alias: uint16(k), toks: toks})
				}
			}
			out[i] = an
		}
	})
	return out
}

// parallel runs f over [0,n) split into contiguous chunks, one goroutine per CPU.
func parallel(n int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 1024 || workers == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// keyIndex maps hashed keys to the terms that have them: sorted unique hashes with a
// flat list of term ids, which is a third of the memory of a Go map of slices.
type keyIndex struct {
	hashes []uint64
	off    []uint32
	terms  []int32
	// dir[b] is the first position in hashes whose top dirBits bits are at least b, so a
	// lookup searches a handful of hashes rather than the whole array.
	dir     []uint32
	dirBits uint
}

type keyPair struct {
	h uint64
	t int32
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashKey hashes a namespaced key, skipping the byte at position skip (-1 for none), so
// that deletion keys need no allocation.
func hashKey(ns byte, s string, skip int) uint64 {
	h := uint64(fnvOffset)
	h ^= uint64(ns)
	h *= fnvPrime
	for i := 0; i < len(s); i++ {
		if i == skip {
			continue
		}
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// termKeys appends the keys of a term.
func termKeys(dst []keyPair, t int32, ti *tokenInfo) []keyPair {
	s := ti.text
	dst = append(dst, keyPair{hashKey(keyDelete, s, -1), t})
	if len(s) >= 3 && len(s) <= maxDeleteLen && isASCII(s) {
		for p := range len(s) {
			if p > 0 && s[p] == s[p-1] {
				continue // deleting either of a double letter gives the same key
			}
			dst = append(dst, keyPair{hashKey(keyDelete, s, p), t})
		}
	}
	if ti.abjad {
		if ti.skel != "" {
			dst = append(dst, keyPair{hashKey(keySkelAbjad, ti.coarse, -1), t})
		}
		return dst
	}
	if ti.skel != "" {
		dst = append(dst, keyPair{hashKey(keySkelOther, ti.coarse, -1), t})
	}
	if ti.dm1.usable() {
		dst = append(dst, keyPair{hashKey(keyPhonetic, ti.dm1.bytes(), -1), t})
	}
	if ti.dm2.usable() && ti.dm2 != ti.dm1 {
		dst = append(dst, keyPair{hashKey(keyPhonetic, ti.dm2.bytes(), -1), t})
	}
	return dst
}

// buildKeys builds the key table. Within a key, terms are ordered by frequency, most
// frequent first, so that a search that reads only the start of a very long list (a
// common Double Metaphone key) reads the spellings people use.
func buildKeys(terms []tokenInfo, df []int32) keyIndex {
	pairs := make([]keyPair, 0, len(terms)*8)
	for t := range terms {
		pairs = termKeys(pairs, int32(t), &terms[t])
	}
	sort.Slice(pairs, func(i, j int) bool {
		a, b := pairs[i], pairs[j]
		if a.h != b.h {
			return a.h < b.h
		}
		if df[a.t] != df[b.t] {
			return df[a.t] > df[b.t]
		}
		return a.t < b.t
	})
	pairs = slices.Compact(pairs)
	var k keyIndex
	k.terms = make([]int32, len(pairs))
	for i, p := range pairs {
		if i == 0 || p.h != pairs[i-1].h {
			k.hashes = append(k.hashes, p.h)
			k.off = append(k.off, uint32(i))
		}
		k.terms[i] = p.t
	}
	k.off = append(k.off, uint32(len(pairs)))
	k.hashes = slices.Clip(k.hashes)
	k.dirBits = 4
	for k.dirBits < 24 && 1<<k.dirBits < len(k.hashes)/2 {
		k.dirBits++
	}
	k.dir = make([]uint32, 1<<k.dirBits+1)
	pos := 0
	for b := range 1 << k.dirBits {
		for pos < len(k.hashes) && k.hashes[pos]>>(64-k.dirBits) < uint64(b) {
			pos++
		}
		k.dir[b] = uint32(pos)
	}
	k.dir[1<<k.dirBits] = uint32(len(k.hashes))
	return k
}

func (k *keyIndex) lookup(h uint64) []int32 {
	if len(k.dir) == 0 {
		return nil
	}
	b := h >> (64 - k.dirBits)
	lo, hi := k.dir[b], k.dir[b+1]
	i, ok := slices.BinarySearch(k.hashes[lo:hi], h)
	if !ok {
		return nil
	}
	i += int(lo)
	return k.terms[k.off[i]:k.off[i+1]]
}

func (ix *Index) postings(t int32) []int32 {
	return ix.post[ix.postOff[t]:ix.postOff[t+1]]
}

func (ix *Index) nameTermsOf(n int32) []int32 {
	return ix.nameTerms[ix.nameOff[n]:ix.nameOff[n+1]]
}

// normIdentifier folds an identifier to the form lists and parties disagree least on:
// upper case, without spaces, dashes, dots and slashes.
func normIdentifier(v string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(v) {
		switch r {
		case ' ', '-', '.', '/', '\t', '_', ',', ':':
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	// "IMO 9176187" and "9176187" are the same vessel.
	if strings.HasPrefix(s, "IMO") && len(s) == 10 {
		s = s[3:]
	}
	return s
}

func normScheme(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "other":
		return ""
	case "national_id", "nationalid", "national id":
		return "national-id"
	}
	return s
}

// schemesCompatible reports whether two identifier schemes can name the same number:
// equal, or one of them unknown.
func schemesCompatible(a, b string) bool {
	return a == "" || b == "" || a == b
}
