package screen

import "strings"

// Legal forms say what kind of company an entity is, not which one: "Acme LLC" and
// "Acme Ltd" are the same party for screening, and "Delta Trading Co" must not match
// "Gamma Trading Co" on the strength of "Co". They are recognised after transliteration
// (so ООО reads as ooo) and excluded from scoring.

// legalAnywhere are forms that are never part of a name, wherever they stand.
var legalAnywhere = toSet(`llc ltd inc corp gmbh jsc ojsc cjsc pjsc ooo oao zao pao plc llp
	sarl fze fzco fzc fzllc pvt pte bhd sdn limited corporation incorporated ltda mbh
	youxiangongsi gufenyouxiangongsi youxianzerengongsi gufengongsi kabushikikaisha
	yugenkaisha godokaisha jusikhoesa yuhanhoesa spzoo sro tov fgup`)

// legalEdge are forms that can also be ordinary words or initials (Co, AG, SA, AO), so
// they count as legal forms only at the start or end of a name, where forms stand.
var legalEdge = toSet(`co company cos sa ag ab as asa ao pt cv tbk lp kg nv bv ad dd doo srl
	sas sl spa sae sal wll kk oy oyj aps kft zrt nyrt tov ip too gup sac saa eirl ehf hf se
	pty sharika gongsi sdn bhd sro spol sp ltee cie sca scs snc sccl coop kgaa ug ek gbr
	ohg eg sprl bvba scrl pllc pc lllp ccl nl sapa sad ae oe ee ike epe`)

// legalLong are the legal-form words long enough to be recognised with a typo
// (COMPNAY, LIMTED): a misspelt form must not become a rare, heavy name word.
var legalLong = strings.Fields(`company corporation limited incorporated corp gmbh sharika`)

// isLegalWord reports a legal form, allowing one edit in the long ones.
func isLegalWord(s string, edge bool) bool {
	if legalAnywhere[s] || (edge && legalEdge[s]) {
		return true
	}
	if len(s) < 4 {
		return false
	}
	for _, l := range legalLong {
		// Typists rarely miss the first letter; checking it first keeps this cheap for
		// the million names of a large index.
		if s[0] == l[0] && abs(len(l)-len(s)) <= 1 && osaDistance(s, l) <= 1 {
			return true
		}
	}
	return false
}

// legalSequences are multi-word forms, matched at the start or end, longest first.
var legalSequences = [][]string{
	{"open", "joint", "stock", "company"},
	{"closed", "joint", "stock", "company"},
	{"public", "joint", "stock", "company"},
	{"limited", "liability", "company"},
	{"limited", "liability", "partnership"},
	{"public", "limited", "company"},
	{"joint", "stock", "company"},
	{"s", "de", "rl", "de", "cv"},
	{"sa", "de", "cv"},
	{"gmbh", "co", "kg"},
	{"company", "limited"},
	{"private", "limited"},
	{"co", "ltd"},
	{"co", "kg"},
	{"pte", "ltd"},
	{"pvt", "ltd"},
	{"pty", "ltd"},
	{"sdn", "bhd"},
	{"sp", "z", "o", "o"},
	{"de", "cv"},
}

// dottedLegal are forms usually written as dotted letters (S.A., L.L.C., S.p.A.), which
// tokenising at punctuation would otherwise leave as initials.
var dottedLegal = toSet(`sa spa sas sarl srl llc bv nv ag plc kg ab as oy sl pt cv doo dd ad
	ooo zao oao pao ao jsc pjsc llp lp sc scs snc sca sal sae spc wll fze kk se sro aps
	ltd inc co bhd gmbh oe ae ee epe ike`)

// stopwords carry no identity in a name. Arabic particles are handled separately.
var stopwords = toSet(`of the and und et bin ibn bint binti`)

func toSet(s string) map[string]bool {
	m := make(map[string]bool)
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// joinDottedLegal joins runs of one- and two-letter words separated by single dots or
// slashes when the result is a legal form, so S.A. and A/S become sa and as while V.V.
// stays two initials.
func joinDottedLegal(words []rawWord) []rawWord {
	short := func(w rawWord) bool {
		return w.script == scriptLatin && len(w.text) <= 3
	}
	out := words[:0:0]
	for i := 0; i < len(words); {
		j := i + 1
		if short(words[i]) {
			for j < len(words) && words[j].dotted && short(words[j]) {
				j++
			}
		}
		if j-i >= 2 {
			var b strings.Builder
			for _, w := range words[i:j] {
				b.WriteString(w.text)
			}
			if joined := foldLatin(b.String()); dottedLegal[joined] {
				out = append(out, rawWord{text: joined, script: scriptLatin, dotted: words[i].dotted})
				i = j
				continue
			}
		}
		out = append(out, words[i:j]...)
		i = j
	}
	return out
}

// markLegalForms flags legal forms: the unambiguous ones anywhere, the others only at the
// start or end of the name. A name made of nothing but legal forms keeps them as words.
func markLegalForms(toks []token) {
	words := make([]int, 0, len(toks))
	for i, t := range toks {
		if t.kind != kindStop {
			words = append(words, i)
		}
	}
	if len(words) == 0 {
		return
	}
	matchAt := func(pos []int, seq []string) bool {
		if len(pos) < len(seq) {
			return false
		}
		for k, s := range seq {
			if toks[pos[k]].text != s {
				return false
			}
		}
		return true
	}
	var legal []int
	// From the end.
	end := len(words)
	for end > 0 {
		matched := 0
		for _, seq := range legalSequences {
			if end >= len(seq) && matchAt(words[end-len(seq):end], seq) {
				matched = len(seq)
				break
			}
		}
		if matched == 0 {
			t := toks[words[end-1]]
			if t.kind == kindLegal || isLegalWord(t.text, true) {
				matched = 1
			}
		}
		if matched == 0 {
			break
		}
		legal = append(legal, words[end-matched:end]...)
		end -= matched
	}
	// From the start.
	start := 0
	for start < end {
		matched := 0
		for _, seq := range legalSequences {
			if matchAt(words[start:end], seq) {
				matched = len(seq)
				break
			}
		}
		if matched == 0 {
			t := toks[words[start]]
			if t.kind == kindLegal || isLegalWord(t.text, true) {
				matched = 1
			}
		}
		if matched == 0 {
			break
		}
		legal = append(legal, words[start:start+matched]...)
		start += matched
	}
	for _, i := range words[start:end] {
		if legalAnywhere[toks[i].text] || toks[i].kind == kindLegal {
			legal = append(legal, i)
		}
	}
	if len(legal) >= len(words) {
		// Nothing but legal forms: "Limited" or "AO" alone is then the name itself.
		for _, i := range words {
			toks[i].kind = kindWord
		}
		return
	}
	for _, i := range legal {
		toks[i].kind = kindLegal
	}
}

// markParticles flags stopwords and Arabic articles. The article is a separate particle
// in most Latin spellings (al-Tikriti, as-Sayyid, ad-Din), assimilated to the next
// consonant for the sun letters; lists drop or keep it at random.
func markParticles(toks []token) {
	words := 0
	for i := range toks {
		t := &toks[i]
		if t.kind != kindWord {
			continue
		}
		switch {
		case stopwords[t.text], t.text == "al", t.text == "el":
			t.kind = kindStop
		case t.text == "ben" && i > 0 && i+1 < len(toks):
			// Maghrebi "ben" between names is bin; first, it is the name Ben.
			t.kind = kindStop
		case i+1 < len(toks) && sunParticle(t.text, toks[i+1].text):
			t.kind = kindStop
		default:
			words++
		}
	}
	if words == 0 {
		for i := range toks {
			if toks[i].kind == kindStop {
				toks[i].kind = kindWord
			}
		}
	}
}

// sunParticle reports an assimilated Arabic article: as-Sayyid, ar-Rahman, ash-Sham.
func sunParticle(p, next string) bool {
	if len(p) < 2 || len(p) > 3 || (p[0] != 'a' && p[0] != 'u' && p[0] != 'e') {
		return false
	}
	cons := p[1:]
	switch cons {
	case "t", "th", "d", "dh", "r", "z", "s", "sh", "n":
		return strings.HasPrefix(next, cons) && len(next) > len(cons)+1
	}
	return false
}

var abdPrefixes = toSet(`abd abdul abdel abdal abdol abdil abdoul abdur abdus abdou`)

var arabicArticles = toSet(`al el ul ol il ar ur as us an ad ud at ut az uz ash ush ed er es`)

var allahWords = toSet(`allah ullah ollah ulla illah`)

var dinWords = toSet(`din deen dine diin uddin eddine eddin`)

// Arabic compound names are written as one word or several, with or without the
// article, and with its vowel assimilated: Abd al-Rahman, Abdul Rahman, Abdelrahman,
// Abdurrahman; Nur al-Din, Nuruddin, Noureddine; Hidayat Allah, Hidayatullah.
// canonArabicCompounds writes the particles one way (abdul, ullah, uddin) and makes the
// article between them a particle, but leaves words joined or separate as published: matching
// compares a word with two adjacent words (see compoundPairs), which also copes with a
// typo inside a compound. Abdullah is a name of its own and stays one word.
func canonArabicCompounds(toks []token) []token {
	out := make([]token, 0, len(toks))
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != kindWord {
			out = append(out, t)
			continue
		}
		// Abd [al] X
		if abdPrefixes[t.text] && i+1 < len(toks) {
			j := i + 1
			if arabicArticles[toks[j].text] && j+1 < len(toks) {
				j++
			}
			if allahWords[toks[j].text] {
				t.text = "abdullah"
				t.orig = joinOrig(toks[i : j+1])
				out = append(out, t)
				i = j
				continue
			}
			if toks[j].kind == kindWord && !abdPrefixes[toks[j].text] && !arabicArticles[toks[j].text] {
				t.text = "abdul"
				out = append(out, t)
				if j > i+1 {
					// Keep the article, as a particle: dropping it would change what a
					// second normalisation sees.
					a := toks[i+1]
					a.kind = kindStop
					out = append(out, a)
				}
				i = j - 1 // X comes next
				continue
			}
		}
		// X al-Din, X al-Allah: the particle is written one way, the article is a particle.
		if i+2 < len(toks) && arabicArticles[toks[i+1].text] &&
			(dinWords[toks[i+2].text] || allahWords[toks[i+2].text]) {
			t.text = canonWord(t.text)
			a := toks[i+1]
			a.kind = kindStop
			p := toks[i+2]
			if dinWords[p.text] {
				p.text = "uddin"
			} else {
				p.text = "ullah"
			}
			out = append(out, t, a, p)
			i += 2
			continue
		}
		t.text = canonWord(t.text)
		out = append(out, t)
	}
	return out
}

// canonWord writes the particles of one word the canonical way.
func canonWord(s string) string {
	switch {
	case abdPrefixes[s]:
		return "abdul"
	case allahWords[s]:
		return "ullah"
	case s == "deen" || s == "dine" || s == "diin":
		return "din"
	case s == "eddine" || s == "eddin":
		return "uddin"
	}
	if strings.HasPrefix(s, "abd") && len(s) >= 6 {
		rest := s[3:]
		switch {
		case strings.IndexByte("aeiou", rest[0]) >= 0 && rest[1] == 'l':
			rest = rest[2:] // abdul-, abdel-, abdal-
		case strings.HasPrefix(rest, "oul"):
			rest = rest[3:] // abdoul-
		case len(rest) >= 4 && strings.IndexByte("aeiou", rest[0]) >= 0 && rest[1] == rest[2] &&
			strings.IndexByte("aeiouy", rest[1]) < 0:
			rest = rest[2:] // abdurrahman, abdussalam: the article assimilated
		default:
			return s
		}
		switch {
		case rest == "lah" || rest == "la" || rest == "llah" || rest == "ah" || rest == "a":
			return "abdullah"
		case len(rest) >= 3:
			return "abdul" + rest
		}
		return s
	}
	for _, suf := range []string{"uddin", "uddeen", "eddine", "eddin", "addin", "iddin", "oddin", "aldin", "aldeen", "eldin", "eldine"} {
		if len(s) >= len(suf)+2 && strings.HasSuffix(s, suf) {
			return s[:len(s)-len(suf)] + "uddin"
		}
	}
	for _, suf := range []string{"ullah", "ollah", "allah", "illah", "ulla"} {
		if len(s) >= len(suf)+3 && strings.HasSuffix(s, suf) {
			return s[:len(s)-len(suf)] + "ullah"
		}
	}
	return s
}

func joinOrig(toks []token) string {
	has := false
	for _, t := range toks {
		if t.orig != "" {
			has = true
		}
	}
	if !has {
		return ""
	}
	var parts []string
	for _, t := range toks {
		o := t.orig
		if o == "" {
			o = t.text
		}
		// Tokens split from one published word (the article of التكريتي) share it.
		if len(parts) > 0 && parts[len(parts)-1] == o {
			continue
		}
		parts = append(parts, o)
	}
	return strings.Join(parts, " ")
}
