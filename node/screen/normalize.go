package screen

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// script is the writing system a token was published in. Matching needs it because a
// token transliterated from an abjad (Arabic, Hebrew) lacks the short vowels a Latin
// spelling has, so it must be compared by consonant skeleton rather than letter by letter.
type script uint8

const (
	scriptLatin script = iota
	scriptCyrillic
	scriptGreek
	scriptArabic
	scriptHebrew
	scriptHan
	scriptHangul
	scriptKana
	scriptOther
)

// abjad reports whether the script omits short vowels, so its transliteration is a
// consonant skeleton with only the long vowels written.
func (s script) abjad() bool { return s == scriptArabic || s == scriptHebrew }

// tokenKind says whether a token carries score. Legal forms and particles are kept in
// the token list so that explanations can show them, but they never score.
type tokenKind uint8

const (
	kindWord tokenKind = iota
	kindStop
	kindLegal
)

// token is one word of a name after folding and transliteration.
type token struct {
	text   string // folded, Latin where a transliteration exists
	orig   string // as written in the name, for explanations of transliterated tokens
	script script
	kind   tokenKind
}

// maxNameRunes bounds the work one name can cause; queries over it are rejected and
// listed names are truncated, since no real name is that long.
const maxNameRunes = 500

// Normalize folds a name to the form screening compares: compatibility forms folded
// (NFKC: ligatures, full-width letters, Arabic presentation forms), accents stripped by
// canonical decomposition, lower case, punctuation as spaces, transliterated to Latin
// where a transliteration is known (Cyrillic, Greek, Arabic, Persian, Hebrew, Hangul,
// kana and the most frequent Chinese characters), dotted abbreviations of legal forms
// joined (S.A. as sa) and the particles of Arabic compound names written one way
// (Abdel-Rahman as abdul rahman, Noureddine as nouruddin). Words are separated by one
// space. Legal forms and particles are kept here; they are left out only of scoring.
// Normalize is idempotent.
func Normalize(name string) string {
	out := render(analyze(name))
	// analyze cuts its input to maxNameRunes, but transliteration and the spaces put
	// between scripts can lengthen what is left past that bound, and normalizing such a
	// result would cut it again. Cutting the result and normalizing it once more gives a
	// form that normalizes to itself.
	for i := 0; i < 3 && utf8.RuneCountInString(out) > maxNameRunes; i++ {
		out = render(analyze(truncateRunes(out, maxNameRunes)))
	}
	return out
}

// render joins tokens' text with single spaces.
func render(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// rawWord is a maximal run of letters of one script, before transliteration.
type rawWord struct {
	text   string
	script script
	dotted bool // joined to the previous word by a single '.' or '/', as in S.A. or A/S
}

// analyze turns a name into tokens: words split at punctuation and script changes,
// transliterated, with legal forms, particles and Arabic compounds recognised.
func analyze(name string) []token {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, " ")
	}
	if n := utf8.RuneCountInString(name); n > maxNameRunes {
		name = truncateRunes(name, maxNameRunes)
	}
	name = norm.NFKC.String(name)
	words := splitWords(name)
	words = joinDottedLegal(words)
	toks := make([]token, 0, len(words)+2)
	hangulSeen := false
	for _, w := range words {
		toks = transliterateWord(toks, w, &hangulSeen)
	}
	toks = canonArabicCompounds(toks)
	markParticles(toks)
	markLegalForms(toks)
	return toks
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// apostrophe reports runes that join the letters around them (O'Brien, Qa'ida) rather
// than separate words: lists write the same name with and without them.
func apostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', '`', '´', 'ʼ', 'ʻ', 'ʾ', 'ʿ', 'ˈ', '′':
		return true
	case '\u200c', '\u200d', '\u00ad', '\u200b', '\ufeff': // zero-width joiners, soft hyphen
		return true
	}
	return false
}

func runeScript(r rune) script {
	switch {
	case r < 0x80:
		return scriptLatin
	case unicode.Is(unicode.Latin, r):
		return scriptLatin
	case unicode.Is(unicode.Cyrillic, r):
		return scriptCyrillic
	case unicode.Is(unicode.Greek, r):
		return scriptGreek
	case unicode.Is(unicode.Arabic, r):
		return scriptArabic
	case unicode.Is(unicode.Hebrew, r):
		return scriptHebrew
	case unicode.Is(unicode.Han, r):
		return scriptHan
	case unicode.Is(unicode.Hangul, r):
		return scriptHangul
	case unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r), r == 'ー':
		return scriptKana
	}
	return scriptOther
}

// asciiDigit maps the decimal digits of the scripts lists use to ASCII, so identifiers and
// numbered names compare across scripts.
func asciiDigit(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= 0x660 && r <= 0x669:
		return byte('0' + r - 0x660), true
	case r >= 0x6f0 && r <= 0x6f9:
		return byte('0' + r - 0x6f0), true
	case r >= 0x966 && r <= 0x96f:
		return byte('0' + r - 0x966), true
	}
	return 0, false
}

// splitWords splits at everything that is not a letter, mark or digit, and where the
// script changes, so a name mixing scripts is transliterated word by word.
func splitWords(s string) []rawWord {
	var words []rawWord
	var cur strings.Builder
	curScript, curDotted, inWord := scriptLatin, false, false
	sepRunes, sepDot := 0, false
	emit := func() {
		if inWord && cur.Len() > 0 {
			words = append(words, rawWord{text: cur.String(), script: curScript, dotted: curDotted})
		}
		cur.Reset()
		inWord = false
	}
	begin := func(sc script) {
		curScript = sc
		curDotted = sepDot && sepRunes == 1 && len(words) > 0
		inWord = true
		sepRunes, sepDot = 0, false
	}
	for _, r := range s {
		if apostrophe(r) {
			continue
		}
		if d, ok := asciiDigit(r); ok {
			if !inWord {
				begin(scriptLatin)
			}
			cur.WriteByte(d)
			continue
		}
		if unicode.IsLetter(r) {
			sc := runeScript(r)
			if inWord && sc != curScript {
				emit()
			}
			if !inWord {
				begin(sc)
			}
			cur.WriteRune(r)
			continue
		}
		if unicode.In(r, unicode.Mn, unicode.Mc) {
			// A mark outside a word (after punctuation) has nothing to modify.
			if inWord {
				cur.WriteRune(r)
			}
			continue
		}
		if inWord {
			emit()
			sepRunes, sepDot = 0, false
		}
		sepRunes++
		sepDot = sepRunes == 1 && (r == '.' || r == '/')
	}
	emit()
	return words
}
