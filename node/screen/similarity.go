package screen

// Token similarity. Each comparison yields a similarity in [0,1] and the method that
// produced it, so an explanation can say why two tokens were considered the same.

// Methods name, in an Explanation, how a query token and an entity token were matched,
// or why a token did not count.
const (
	MethodExact     = "exact"              // the same word
	MethodTranslit  = "translit"           // the same after transliteration, or a listed romanisation variant
	MethodPhonetic  = "phonetic"           // sounds alike (Double Metaphone) and looks alike
	MethodFuzzy     = "fuzzy"              // a spelling difference (Jaro-Winkler)
	MethodInitial   = "initial"            // an initial against a name
	MethodCompound  = "compound"           // one word against two written apart (Abdulrahman, Abdul Rahman)
	MethodLegalForm = "ignored-legal-form" // a legal form, which never scores
	MethodStopword  = "ignored-stopword"   // a particle or stopword (bin, al, of), which never scores
	MethodUnmatched = "unmatched"          // nothing on the other side matched it
)

// Similarities. The values order the kinds of agreement: the same word is 1, the same
// letters split differently just below, then transliteration and sound, then spelling.
const (
	initialSim       = 0.75 // an initial agrees with a name but says less than the name
	compoundSim      = 0.97 // the same letters written as one word or two
	compoundMinSim   = 0.8
	minTokenSim      = 0.75 // below this two tokens are different words
	fuzzyFactor      = 0.92 // a spelling difference never scores like the same word
	phoneticFloor    = 0.85 // sounding alike is worth at least this
	phoneticCeiling  = 0.93
	phoneticMinJW    = 0.75 // and counts only for words that also look alike
	skeletonSim      = 0.9  // abjad skeleton equal, three or more consonants
	skeletonShortSim = 0.85 // two consonants
	skeletonOneSim   = 0.78 // one consonant, short words only
	variantSim       = 0.9  // listed romanisation variants (Lee, Ri, Yi)
	shortTokenMaxSim = 0.8  // a one-letter difference in a three-letter word is a third of it
)

// methodCode is the compact form of a method, stored per candidate term.
type methodCode uint8

const (
	mNone methodCode = iota
	mExact
	mTranslit
	mPhonetic
	mFuzzy
	mInitial
	mCompound
)

func (m methodCode) String() string {
	switch m {
	case mExact:
		return MethodExact
	case mTranslit:
		return MethodTranslit
	case mPhonetic:
		return MethodPhonetic
	case mFuzzy:
		return MethodFuzzy
	case mInitial:
		return MethodInitial
	case mCompound:
		return MethodCompound
	}
	return MethodUnmatched
}

// jaroWinkler is the Jaro-Winkler similarity with the usual prefix scale 0.1 and a
// prefix of at most four letters. It works on bytes: tokens are ASCII after
// transliteration, and the rare untransliterated token only needs a rough measure.
func jaroWinkler[S string | []byte](a, b S) float64 {
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb {
		a, b = b, a
		la, lb = lb, la
	}
	window := lb/2 - 1
	if window < 0 {
		window = 0
	}
	var am, bm [64]bool
	if lb > 64 {
		return jaroWinklerLong(string(a), string(b))
	}
	matches := 0
	for i := 0; i < la; i++ {
		lo, hi := i-window, i+window+1
		if lo < 0 {
			lo = 0
		}
		if hi > lb {
			hi = lb
		}
		for j := lo; j < hi; j++ {
			if !bm[j] && a[i] == b[j] {
				am[i], bm[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	trans := 0
	k := 0
	for i := 0; i < la; i++ {
		if !am[i] {
			continue
		}
		for !bm[k] {
			k++
		}
		if a[i] != b[k] {
			trans++
		}
		k++
	}
	m := float64(matches)
	if matches == la && la == lb && trans == 0 {
		return 1
	}
	jaro := (m/float64(la) + m/float64(lb) + (m-float64(trans)/2)/m) / 3
	prefix := 0
	for prefix < 4 && prefix < la && a[prefix] == b[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// jaroWinklerLong handles tokens too long for the fixed match arrays; such tokens are
// rare (run-together names), so a simple edit-distance ratio is enough.
func jaroWinklerLong(a, b string) float64 {
	d := levenshtein(a, b)
	l := max(len(a), len(b))
	return 1 - float64(d)/float64(l)
}

// levenshtein is the edit distance between two byte strings.
func levenshtein(a, b string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	var prevBuf, curBuf [64]int
	var prev, cur []int
	if len(b) < len(prevBuf) {
		prev, cur = prevBuf[:len(b)+1], curBuf[:len(b)+1]
	} else {
		prev, cur = make([]int, len(b)+1), make([]int, len(b)+1)
	}
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// osaDistance is the optimal-string-alignment distance: Levenshtein with adjacent
// transpositions counting as one edit, as typists make them.
func osaDistance(a, b string) int {
	if len(b) > 63 {
		return levenshtein(a, b)
	}
	// Three rolling rows: the transposition looks two rows back.
	var r0, r1, r2 [64]int
	prev2, prev, cur := r0[:len(b)+1], r1[:len(b)+1], r2[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// skeleton is the consonant skeleton of a transliterated token: vowels and semivowels
// dropped, digraphs folded (kh, sh, ch, th, dh, gh, ph), q and c as k, doubled letters
// single, a final h dropped. Arabic and Hebrew do not write short vowels, so "حسين" (hsin) and "Hussein"
// only agree on their skeleton, h-s-n.
func skeleton(s string) string {
	var buf [48]byte
	out := buf[:0]
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		var nx byte
		if i+1 < len(s) {
			nx = s[i+1]
		}
		var k byte
		switch c {
		case 'a', 'e', 'i', 'o', 'u', 'y', 'w', 'v':
			last = 0
			continue
		case 'k':
			k = 'k'
			if nx == 'h' {
				k = 'x'
				i++
			}
		case 'g', 's', 't':
			k = c
			if nx == 'h' {
				i++
			}
		case 'c':
			k = 'k'
			if nx == 'e' || nx == 'i' || nx == 'y' {
				k = 's' // French Lounici
			} else if nx == 'h' {
				// French and Persian spellings write sh as ch (Akkacha, Chaudhry).
				k = 's'
				i++
			} else if nx == 'k' {
				i++
			}
		case 'd':
			k = 'd'
			if nx == 'h' {
				i++
			} else if nx == 'j' {
				k = 'j'
				i++
			}
		case 'p':
			k = 'p'
			if nx == 'h' {
				k = 'f'
				i++
			}
		case 'q':
			k = 'k'
		default:
			k = c
		}
		if k == last {
			continue
		}
		out = append(out, k)
		last = k
	}
	// A final h is as often a written vowel (Persian جمعه, Juma) as a consonant (Shah,
	// Taha), so it is not part of the skeleton.
	if len(out) > 1 && out[len(out)-1] == 'h' {
		out = out[:len(out)-1]
	}
	return string(out)
}

// tokenInfo is what similarity needs to know about a token.
type tokenInfo struct {
	text     string
	abjad    bool
	skel     string
	coarse   string // coarseSkeleton(skel)
	dm1, dm2 phoneticCode
	variant  bool // listed in variantGroups
}

// phoneticCode is a Double Metaphone key of at most four letters packed into an
// integer, first letter lowest, so that comparing keys costs one instruction.
type phoneticCode uint32

func packPhonetic(s string) phoneticCode {
	var c phoneticCode
	for i := 0; i < len(s) && i < 4; i++ {
		c |= phoneticCode(s[i]) << (8 * i)
	}
	return c
}

// usable reports a key of at least two letters: a one-letter key (A for every short
// vowel-initial word) is too coarse to count.
func (c phoneticCode) usable() bool { return c>>8 != 0 }

func (c phoneticCode) bytes() string {
	b := []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
	return string(b)
}

func newTokenInfo(text string, abjad bool) tokenInfo {
	ti := tokenInfo{text: text, abjad: abjad, skel: skeleton(text)}
	ti.coarse = coarseSkeleton(ti.skel)
	_, ti.variant = variantOf[text]
	p1, p2 := DoubleMetaphone(text)
	ti.dm1, ti.dm2 = packPhonetic(p1), packPhonetic(p2)
	return ti
}

// tokenSim compares two distinct tokens (equal tokens are exact and never get here).
// Abjad transliterations are compared on their skeleton, everything else by
// Jaro-Winkler with a phonetic floor when the Double Metaphone keys agree.
func tokenSim(q, e *tokenInfo) (float64, methodCode) {
	if q.text == e.text {
		return 1, mExact
	}
	if q.variant && e.variant && variants(q.text, e.text) {
		return variantSim, mTranslit
	}
	if q.abjad || e.abjad {
		return abjadSim(q, e)
	}
	jw := jaroWinkler(q.text, e.text)
	short := min(len(q.text), len(e.text))
	if short <= 2 {
		// Two letters leave nothing to compare but the sound: Un and Eun, Il and Ill.
		if phoneticMatch(q, e) && max(len(q.text), len(e.text)) <= 3 {
			return minTokenSim, mPhonetic
		}
		return 0, mNone
	}
	sim := jw * fuzzyFactor
	method := mFuzzy
	// Three-letter words (Korean syllables, Li, Ali) are too easily alike: only one edit.
	if short == 3 && levenshtein(q.text, e.text) > 1 {
		sim = 0
	}
	// Sounding alike counts only for words that also look alike: Double Metaphone keeps
	// only consonants, so Putin and Betania share a key.
	if jw >= phoneticMinJW && phoneticMatch(q, e) {
		p := min(max(sim, phoneticFloor), phoneticCeiling)
		if p >= sim {
			sim, method = p, mPhonetic
		}
	}
	if short == 3 {
		sim = min(sim, shortTokenMaxSim)
	}
	if sim < minTokenSim {
		return 0, mNone
	}
	return sim, method
}

// phoneticMatch reports agreeing Double Metaphone keys. One-letter keys (A for every
// vowel-initial short word) are too coarse to count.
func phoneticMatch(q, e *tokenInfo) bool {
	ok := func(a, b phoneticCode) bool { return a == b && a.usable() }
	return ok(q.dm1, e.dm1) || ok(q.dm1, e.dm2) || ok(q.dm2, e.dm1) || ok(q.dm2, e.dm2)
}

// abjadSim compares tokens when at least one is a transliteration from an abjad. The
// skeletons are compared with a weighted edit distance in which consonants that the
// same Arabic letter is commonly written as (th/s for ث, z/dh/d for ظ and ض, q/k/g for
// ق, j/g for ج) are near: Saqib and ثاقب, Kathim and كاظم.
func abjadSim(q, e *tokenInfo) (float64, methodCode) {
	if q.skel == "" || e.skel == "" {
		return 0, mNone
	}
	if q.skel == e.skel {
		switch {
		case len(q.skel) >= 3:
			return skeletonSim, mTranslit
		case len(q.skel) == 2:
			return skeletonShortSim, mTranslit
		}
		// One consonant (Ali, Uday, Eid): the skeleton says little; only short words.
		if len(q.text) <= 5 && len(e.text) <= 5 {
			return skeletonOneSim, mTranslit
		}
		return 0, mNone
	}
	l := max(len(q.skel), len(e.skel))
	if len(q.skel) == 1 && len(e.skel) == 1 {
		// Zia and ضیا (dya): one consonant of the same class, short words only.
		if skeletonClass(q.skel[0]) == skeletonClass(e.skel[0]) && len(q.text) <= 5 && len(e.text) <= 5 {
			return minTokenSim, mTranslit
		}
		return 0, mNone
	}
	if min(len(q.skel), len(e.skel)) < 3 {
		return 0, mNone // two consonants must agree exactly; nearly is anyone
	}
	sim := skeletonSim * (1 - skeletonDistance(q.skel, e.skel)/float64(l))
	if sim < minTokenSim {
		return 0, mNone
	}
	return sim, mTranslit
}

// skeletonClass groups the consonants that transliterations of one Arabic letter
// spread over.
func skeletonClass(c byte) byte {
	switch c {
	case 's', 'z', 't', 'd':
		return 'S'
	case 'k', 'g', 'q', 'x', 'j':
		return 'K'
	}
	return c
}

// coarseSkeleton is the skeleton with each consonant replaced by its class: the key
// under which near skeletons meet in the index.
func coarseSkeleton(sk string) string {
	var buf [48]byte
	out := buf[:0]
	var last byte
	for i := 0; i < len(sk); i++ {
		c := skeletonClass(sk[i])
		if c == last {
			continue
		}
		out = append(out, c)
		last = c
	}
	return string(out)
}

// skeletonDistance is the edit distance between skeletons with substitutions inside a
// class costing 0.3.
func skeletonDistance(a, b string) float64 {
	var prevBuf, curBuf [49]float64
	if len(b) > 48 || len(a) > 48 {
		return float64(max(len(a), len(b)))
	}
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
	for j := range prev {
		prev[j] = float64(j)
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = float64(i)
		for j := 1; j <= len(b); j++ {
			cost := 1.0
			switch {
			case a[i-1] == b[j-1]:
				cost = 0
			case skeletonClass(a[i-1]) == skeletonClass(b[j-1]):
				cost = 0.3
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// compoundMatch compares one word with two adjacent words written together, so that
// Abdulrahman meets Abdul Rahman and Jinping meets Jin Ping. buf is scratch space.
// abjad says whether either side is a transliteration from an abjad.
func compoundMatch(word *tokenInfo, a, b string, abjad bool, buf []byte) float64 {
	w := word.text
	if len(w) < 5 || len(a) < 2 || len(b) < 2 || (!abjad && abs(len(w)-len(a)-len(b)) > 2) {
		return 0
	}
	if abjad {
		sk := skeleton(a + b)
		if sk == "" || word.skel == "" || sk[0] != word.skel[0] {
			return 0
		}
		joined := tokenInfo{text: a + b, skel: sk, abjad: true}
		sim, m := abjadSim(word, &joined)
		if m == mNone {
			return 0
		}
		return min(sim, compoundSim)
	}
	if w[0] != a[0] {
		return 0
	}
	buf = append(append(buf[:0], a...), b...)
	if string(buf) == w {
		return compoundSim
	}
	// Edit distance rather than Jaro-Winkler: compounds share long prefixes (Abdul-),
	// which Jaro-Winkler rewards however different the rest is.
	sim := (1 - float64(levenshtein(w, string(buf)))/float64(max(len(w), len(buf)))) * compoundSim
	if sim < compoundMinSim {
		return 0
	}
	return sim
}

// initialOf reports whether short is an initial of long: one letter, the first of long.
func initialOf(short, long string) bool {
	return len(short) == 1 && len(long) > 1 && short[0] == long[0]
}
