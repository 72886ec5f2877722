package screen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
)

// Evaluation: how well an index finds listed parties under the ways their names get
// mangled (recall), and how often it flags ordinary names that are not listed (false
// positives). The threshold is chosen on these figures, so they are part of the package
// rather than of its tests.

// Variant kinds produced by GenerateCases.
const (
	KindTranslit   = "translit"    // the original-script name of an entity published in Latin
	KindCyrillic   = "cyrillic"    // a Latin name written in Cyrillic
	KindTypo       = "typo"        // one edit in one word
	KindReorder    = "reorder"     // the words in another order
	KindDropMiddle = "drop-middle" // a middle name left out
	KindLegalForm  = "legal-form"  // another or no legal form
	KindInitials   = "initials"    // the first given name as an initial
	KindHard       = "hard"        // hand-written cases
)

// Case is one query and the entity it should find.
type Case struct {
	Kind   string `json:"kind"`
	Query  string `json:"query"`
	List   string `json:"list"`
	ID     string `json:"id"`
	Source string `json:"source,omitempty"` // the published name the query was derived from
}

// KindReport is the recall for one kind of variant.
type KindReport struct {
	Kind    string  `json:"kind"`
	Cases   int     `json:"cases"`
	Found1  int     `json:"found1"`
	Found5  int     `json:"found5"`
	Recall1 float64 `json:"recall1"`
	Recall5 float64 `json:"recall5"`
}

// Report summarises an evaluation.
type Report struct {
	Threshold         float64      `json:"threshold"`
	Cases             int          `json:"cases"`
	Found1            int          `json:"found1"` // expected entity ranked first
	Found5            int          `json:"found5"` // expected entity among the first five hits
	Recall1           float64      `json:"recall1"`
	Recall5           float64      `json:"recall5"`
	Negatives         int          `json:"negatives"`
	FalsePositives    int          `json:"false_positives"` // negatives with any hit
	FalsePositiveRate float64      `json:"false_positive_rate"`
	ByKind            []KindReport `json:"by_kind"`
	// Misses and FalseHits list (a bounded number of) failures, for tuning.
	Misses    []Case   `json:"misses,omitempty"`
	FalseHits []string `json:"false_hits,omitempty"`
}

const maxReported = 40

// Evaluate runs every case and negative against ix at the threshold: a case is found
// at rank k when its entity is among the first k hits, a negative is a false positive
// when it has any hit.
func Evaluate(ix *Index, cases []Case, negatives []string, threshold float64) Report {
	r := Report{Threshold: threshold, Cases: len(cases), Negatives: len(negatives)}
	kinds := map[string]*KindReport{}
	for _, c := range cases {
		k := kinds[c.Kind]
		if k == nil {
			k = &KindReport{Kind: c.Kind}
			kinds[c.Kind] = k
		}
		k.Cases++
		hits, err := ix.Search(Query{Names: []string{c.Query}, Threshold: threshold, Limit: 5})
		rank := 0
		if err == nil {
			for i, h := range hits {
				if h.Entity.List == c.List && h.Entity.ID == c.ID {
					rank = i + 1
					break
				}
			}
		}
		if rank == 1 {
			r.Found1++
			k.Found1++
		}
		if rank >= 1 && rank <= 5 {
			r.Found5++
			k.Found5++
		} else if len(r.Misses) < maxReported {
			r.Misses = append(r.Misses, c)
		}
	}
	for _, n := range negatives {
		hits, err := ix.Search(Query{Names: []string{n}, Threshold: threshold, Limit: 1})
		if err == nil && len(hits) > 0 {
			r.FalsePositives++
			if len(r.FalseHits) < maxReported {
				r.FalseHits = append(r.FalseHits, fmt.Sprintf("%s -> %s (%s %s) %.3f", n, hits[0].MatchedName, hits[0].Entity.List, hits[0].Entity.ID, hits[0].Score))
			}
		}
	}
	r.Recall1 = ratio(r.Found1, r.Cases)
	r.Recall5 = ratio(r.Found5, r.Cases)
	r.FalsePositiveRate = ratio(r.FalsePositives, r.Negatives)
	for _, k := range kinds {
		k.Recall1 = ratio(k.Found1, k.Cases)
		k.Recall5 = ratio(k.Found5, k.Cases)
		r.ByKind = append(r.ByKind, *k)
	}
	slices.SortFunc(r.ByKind, func(a, b KindReport) int { return strings.Compare(a.Kind, b.Kind) })
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// String renders the report as a table.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "threshold %.2f: recall@1 %.4f, recall@5 %.4f (%d/%d cases); false positives %d/%d = %.4f\n",
		r.Threshold, r.Recall1, r.Recall5, r.Found5, r.Cases, r.FalsePositives, r.Negatives, r.FalsePositiveRate)
	fmt.Fprintf(&b, "%-12s %6s %9s %9s\n", "kind", "cases", "recall@1", "recall@5")
	for _, k := range r.ByKind {
		fmt.Fprintf(&b, "%-12s %6d %9.4f %9.4f\n", k.Kind, k.Cases, k.Recall1, k.Recall5)
	}
	return b.String()
}

// StripNonLatin returns copies of the entities without their names in other scripts.
// An index built from them measures transliteration honestly: a KindTranslit query then
// has to meet the Latin spelling, not its own original.
func StripNonLatin(entities []Entity) []Entity {
	out := make([]Entity, 0, len(entities))
	for _, e := range entities {
		var names []string
		for _, n := range e.Names {
			if latinName(n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		e.Names = names
		out = append(out, e)
	}
	return out
}

// latinName reports whether a name has no letters outside the Latin script.
func latinName(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && r >= 0x80 && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}

// GenerateCases derives test queries from entities by rule: for each entity (all of
// them, or a deterministic sample of at most perKind per kind) a typo, a reordering, a
// dropped middle name, a changed legal form, an initial, an original-script name and,
// for some persons, a Cyrillic spelling. The same entities and seed give the same cases.
func GenerateCases(entities []Entity, seed uint64, perKind int) []Case {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	order := rng.Perm(len(entities))
	var out []Case
	count := map[string]int{}
	add := func(e *Entity, kind, query, source string) {
		if query == "" || query == source || (perKind > 0 && count[kind] >= perKind) {
			return
		}
		// A variant that normalises to the source is no test.
		if Normalize(query) == Normalize(source) && kind != KindTranslit && kind != KindCyrillic {
			return
		}
		count[kind]++
		out = append(out, Case{Kind: kind, Query: query, List: e.List, ID: e.ID, Source: source})
	}
	for _, i := range order {
		e := &entities[i]
		primary := ""
		for _, n := range e.Names {
			if latinName(n) && len(nameWords(n)) > 0 {
				primary = n
				break
			}
		}
		if primary == "" {
			continue
		}
		// Only persons: the original-script name of an organisation is a translation
		// (الجهاد الاسلامي المصري is Egyptian Islamic Jihad), not a transliteration.
		for _, n := range e.Names {
			if !latinName(n) && e.Type == "person" {
				add(e, KindTranslit, n, primary)
				break
			}
		}
		words := nameWords(primary)
		person := e.Type == "person"
		add(e, KindTypo, typo(rng, primary), primary)
		if len(words) >= 2 {
			add(e, KindReorder, reorder(rng, primary), primary)
		}
		if person && len(words) >= 3 {
			add(e, KindDropMiddle, dropMiddle(rng, primary), primary)
		}
		if person && len(words) >= 2 {
			add(e, KindInitials, initialise(primary), primary)
			if rng.IntN(3) == 0 {
				add(e, KindCyrillic, toCyrillic(primary), primary)
			}
		}
		if e.Type == "organisation" {
			add(e, KindLegalForm, changeLegalForm(rng, primary), primary)
		}
	}
	return out
}

// nameWords splits a published name into its words, dropping punctuation.
func nameWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '-'
	})
}

// typo makes one edit (substitution, deletion, insertion or transposition) in a word of
// at least four letters.
func typo(rng *rand.Rand, s string) string {
	rs := []rune(s)
	var starts []int // positions inside long enough words, not at a word's first letter
	run := 0
	for i, r := range rs {
		if unicode.IsLetter(r) && r < 0x80 {
			run++
			if run >= 2 {
				starts = append(starts, i)
			}
		} else {
			if run > 0 && run < 4 {
				// Drop the positions of a short word.
				starts = starts[:len(starts)-(run-1)]
			}
			run = 0
		}
	}
	if run > 0 && run < 4 {
		starts = starts[:len(starts)-(run-1)]
	}
	if len(starts) == 0 {
		return ""
	}
	p := starts[rng.IntN(len(starts))]
	upper := unicode.IsUpper(rs[p])
	letter := rune('a' + rng.IntN(26))
	if upper {
		letter = unicode.ToUpper(letter)
	}
	switch rng.IntN(4) {
	case 0: // substitute
		if unicode.ToLower(rs[p]) == unicode.ToLower(letter) {
			letter++
			if !unicode.IsLetter(letter) {
				letter = 'b'
			}
		}
		rs[p] = letter
	case 1: // delete
		rs = append(rs[:p], rs[p+1:]...)
	case 2: // insert
		rs = append(rs[:p], append([]rune{letter}, rs[p:]...)...)
	default: // transpose with the previous letter
		if p > 0 && unicode.IsLetter(rs[p-1]) && rs[p-1] != rs[p] {
			rs[p-1], rs[p] = rs[p], rs[p-1]
		} else {
			rs = append(rs[:p], rs[p+1:]...)
		}
	}
	return string(rs)
}

// reorder returns the words in a different order. Legal forms stay at the end, where
// people put them.
func reorder(rng *rand.Rand, s string) string {
	words := strings.Fields(strings.ReplaceAll(s, ",", " "))
	tail := 0
	for tail < len(words)-1 && legalWord(words[len(words)-1-tail]) {
		tail++
	}
	body := words[:len(words)-tail]
	w := slices.Clone(body)
	for range 10 {
		rng.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
		if !slices.Equal(w, body) {
			break
		}
	}
	return strings.Join(append(w, words[len(words)-tail:]...), " ")
}

// legalWord reports a word that is a legal form on its own (Ltd., S.A., GmbH).
func legalWord(w string) bool {
	n := foldLatin(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, w))
	return legalAnywhere[n] || legalEdge[n] || dottedLegal[n]
}

// naturalOrder turns "LAST, First Middle" into its words in the order people write them.
func naturalOrder(s string) []string {
	if i := strings.Index(s, ","); i > 0 {
		return append(nameWords(s[i+1:]), nameWords(s[:i])...)
	}
	return nameWords(s)
}

// dropMiddle leaves out one word that is neither the first nor the last.
func dropMiddle(rng *rand.Rand, s string) string {
	w := naturalOrder(s)
	if len(w) < 3 {
		return ""
	}
	k := 1 + rng.IntN(len(w)-2)
	return strings.Join(append(slices.Clone(w[:k]), w[k+1:]...), " ")
}

// initialise writes the first given name as an initial: "Vladimir Putin" -> "V. Putin".
func initialise(s string) string {
	w := naturalOrder(s)
	if len(w) < 2 {
		return ""
	}
	r := []rune(w[0])
	w[0] = string(unicode.ToUpper(r[0])) + "."
	return strings.Join(w, " ")
}

var legalFormChoices = []string{"LLC", "Ltd.", "Co., Ltd.", "Inc.", "GmbH", "S.A.", "JSC", "Limited", "Corp."}

// changeLegalForm replaces the name's trailing legal form by another, or adds one.
func changeLegalForm(rng *rand.Rand, s string) string {
	toks := analyze(s)
	words := strings.Fields(s)
	legalTail := 0
	for i := len(toks) - 1; i >= 0 && toks[i].kind == kindLegal; i-- {
		legalTail++
	}
	if legalTail > 0 && legalTail < len(words) {
		// Drop as many trailing words as there were legal tokens (roughly: dotted forms
		// are one word), then add another form.
		words = words[:len(words)-min(legalTail, len(words)-1)]
	}
	return strings.Join(words, " ") + " " + legalFormChoices[rng.IntN(len(legalFormChoices))]
}

// Latin to Cyrillic, for queries typed in Cyrillic of names listed in Latin.
var cyrillicDigraphs = []struct{ lat, cyr string }{
	{"shch", "щ"}, {"sch", "ш"}, {"zh", "ж"}, {"kh", "х"}, {"ts", "ц"}, {"ch", "ч"}, {"sh", "ш"},
	{"ya", "я"}, {"yu", "ю"}, {"yo", "ё"}, {"ye", "е"}, {"ck", "к"}, {"ph", "ф"}, {"th", "т"},
	{"ee", "и"}, {"oo", "у"}, {"ou", "у"}, {"dj", "дж"}, {"gh", "г"},
}

var cyrillicLetters = map[byte]string{
	'a': "а", 'b': "б", 'c': "к", 'd': "д", 'e': "е", 'f': "ф", 'g': "г", 'h': "х", 'i': "и",
	'j': "дж", 'k': "к", 'l': "л", 'm': "м", 'n': "н", 'o': "о", 'p': "п", 'q': "к", 'r': "р",
	's': "с", 't': "т", 'u': "у", 'v': "в", 'w': "в", 'x': "кс", 'y': "й", 'z': "з",
}

func toCyrillic(s string) string {
	var out []string
	var words []string
	for _, w := range naturalOrder(s) {
		words = append(words, strings.Split(w, "-")...)
	}
	for k, w := range words {
		l := foldLatin(w)
		if (l == "al" || l == "el") && k+1 < len(words) {
			out = append(out, "аль")
			continue
		}
		var b strings.Builder
		for i := 0; i < len(l); {
			done := false
			for _, d := range cyrillicDigraphs {
				if strings.HasPrefix(l[i:], d.lat) {
					b.WriteString(d.cyr)
					i += len(d.lat)
					done = true
					break
				}
			}
			if done {
				continue
			}
			c := l[i]
			switch {
			case c == 'y' && i > 0 && i < len(l)-1 && !strings.ContainsRune("aeiou", rune(l[i-1])):
				b.WriteString("ы")
			default:
				if t, ok := cyrillicLetters[c]; ok {
					b.WriteString(t)
				} else if c != '\'' && c != '-' {
					b.WriteByte(c)
				}
			}
			i++
		}
		rs := []rune(b.String())
		if len(rs) > 0 {
			rs[0] = unicode.ToUpper(rs[0])
		}
		out = append(out, string(rs))
	}
	// аль-Тикрити: the article is joined with a hyphen in Russian.
	return strings.ReplaceAll(strings.Join(out, " "), "аль ", "аль-")
}
