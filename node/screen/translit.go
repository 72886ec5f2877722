package screen

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// transliterateWord appends the tokens of one word, transliterated to Latin where the
// script has a transliteration. Lists publish most names in Latin, so a Latin form is
// what lets a query in the original script meet them (and the reverse, for original-
// script aliases). hangulSeen marks that a Korean surname has already been read.
func transliterateWord(dst []token, w rawWord, hangulSeen *bool) []token {
	switch w.script {
	case scriptLatin:
		if t := foldLatin(w.text); t != "" {
			dst = append(dst, token{text: t, script: scriptLatin})
		}
	case scriptCyrillic:
		if t := cyrillicToLatin(w.text); t != "" {
			dst = append(dst, token{text: t, orig: w.text, script: scriptCyrillic})
		}
	case scriptGreek:
		if t := greekToLatin(w.text); t != "" {
			dst = append(dst, token{text: t, orig: w.text, script: scriptGreek})
		}
	case scriptArabic:
		dst = arabicTokens(dst, w.text)
	case scriptHebrew:
		if t := hebrewToLatin(w.text); t != "" {
			dst = append(dst, token{text: t, orig: w.text, script: scriptHebrew})
		}
	case scriptHan:
		dst = hanTokens(dst, w.text)
	case scriptHangul:
		dst = hangulTokens(dst, w.text, hangulSeen)
	case scriptKana:
		if t := kanaToLatin(w.text); t != "" {
			dst = append(dst, token{text: t, orig: w.text, script: scriptKana})
		}
	default:
		// No transliteration: keep the word so that it still matches itself exactly.
		if t := strings.ToLower(w.text); t != "" {
			dst = append(dst, token{text: t, script: scriptOther})
		}
	}
	return dst
}

// latinFold maps the Latin letters of Latin-1, Latin Extended-A/B and Latin Extended
// Additional to lower-case ASCII. It is built once from the Unicode decompositions plus
// the letters that have none (ß, ø, ł, æ ...).
var latinFold = buildLatinFold()

var latinSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o",
	'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'Ð': "d", 'þ': "th", 'Þ': "th",
	'ı': "i", 'ħ': "h", 'Ħ': "h", 'ŋ': "ng", 'Ŋ': "ng", 'ĸ': "k", 'ſ': "s", 'ƒ': "f",
	'ɨ': "i", 'ʉ': "u", 'ɛ': "e", 'Ɛ': "e", 'ɔ': "o", 'Ɔ': "o", 'ə': "e", 'Ə': "e",
	'ɓ': "b", 'ɗ': "d", 'ƙ': "k", 'ƴ': "y", 'ŧ': "t", 'Ŧ': "t", 'ĳ': "ij", 'Ĳ': "ij",
}

func buildLatinFold() map[rune]string {
	m := make(map[rune]string, 1024)
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			if s, ok := latinSpecial[r]; ok {
				m[r] = s
				continue
			}
			var b strings.Builder
			for _, d := range norm.NFD.String(string(r)) {
				if unicode.Is(unicode.Mn, d) {
					continue
				}
				d = unicode.ToLower(d)
				if d < 0x80 && (d >= 'a' && d <= 'z' || d >= '0' && d <= '9') {
					b.WriteRune(d)
				}
			}
			if b.Len() > 0 {
				m[r] = b.String()
			}
		}
	}
	add(0xC0, 0x24F)
	add(0x1E00, 0x1EFF)
	for r, s := range latinSpecial {
		m[r] = s
	}
	return m
}

// foldLatin lower-cases a Latin word and strips its diacritics.
func foldLatin(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c >= 'A' && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		case r < 0x80:
			b.WriteRune(r)
		case unicode.In(r, unicode.Mn, unicode.Mc):
			// Combining accents left by NFKC (no precomposed form) are dropped.
		default:
			// Fold the lower-case letter, so that a letter and its capital fold alike.
			r = unicode.ToLower(r)
			if f, ok := latinFold[r]; ok {
				b.WriteString(f)
			} else if unicode.IsLetter(r) {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// Cyrillic. The table follows the romanisation sanctions lists mostly use (close to
// BGN/PCGN, with й as i as in passports: Шойгу -> shoigu); Ukrainian letters use the
// Ukrainian national system, which is what Ukrainian passports print.
var cyrillicTable = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh",
	'з': "z", 'и': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o",
	'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu",
	'я': "ya",
	// Ukrainian, Belarusian
	'є': "ye", 'і': "i", 'ї': "yi", 'ґ': "g", 'ў': "u",
	// Serbian, Macedonian
	'ђ': "dj", 'ј': "j", 'љ': "lj", 'њ': "nj", 'ћ': "c", 'џ': "dz", 'ѓ': "gj", 'ќ': "kj",
	'ѕ': "dz",
	// Kazakh, Kyrgyz, Tajik, Uzbek, Tatar, Azerbaijani Cyrillic
	'ә': "a", 'ғ': "g", 'қ': "k", 'ң': "n", 'ө': "o", 'ұ': "u", 'ү': "u", 'һ': "h",
	'ҳ': "h", 'ҷ': "j", 'ӣ': "i", 'ӯ': "u", 'ҙ': "z", 'ҡ': "k", 'ҫ': "s", 'ӑ': "a",
	'ӗ': "e", 'ӏ': "",
}

func cyrillicToLatin(s string) string {
	s = strings.ToLower(s)
	rs := []rune(s)
	// Ukrainian has letters of its own, and writes -ський where Russian writes -ский.
	ukrainian := strings.Contains(s, "ськ") || strings.Contains(s, "цьк")
	for _, r := range rs {
		if r == 'і' || r == 'ї' || r == 'є' || r == 'ґ' {
			ukrainian = true
			break
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		if unicode.In(r, unicode.Mn, unicode.Mc) {
			continue // stress marks
		}
		last := i == len(rs)-1
		switch {
		case ukrainian && r == 'г':
			b.WriteString("h")
		case ukrainian && r == 'и':
			b.WriteString("y")
		case ukrainian && i > 0 && (r == 'є' || r == 'ї' || r == 'й' || r == 'ю' || r == 'я'):
			// The Ukrainian system writes these with y only at the start of a word.
			b.WriteString(map[rune]string{'є': "ie", 'ї': "i", 'й': "i", 'ю': "iu", 'я': "ia"}[r])
		case ukrainian && r == 'й':
			b.WriteString("y")
		case r == 'й' && i == 0:
			b.WriteString("y")
		case r == 'ё' && (i == 0 || strings.ContainsRune("аеёиоуыэюяьъ", rs[i-1])):
			b.WriteString("yo") // Ёнг is Yong; after a consonant lists write e (Gorbachev)
		case r == 'й' && last && i > 0 && rs[i-1] == 'и':
			b.WriteString("y") // -ий: Dmitriy, Yuriy
		case r == 'й' && last && i > 0 && rs[i-1] == 'ы':
			// -ый: the ы already gave y
		default:
			if t, ok := cyrillicTable[r]; ok {
				b.WriteString(t)
			} else if r < 0x80 {
				b.WriteRune(r)
			} else {
				// A letter without a transliteration: keep the word as written, so that it
				// still matches itself (a half-transliterated word would not).
				return s
			}
		}
	}
	return b.String()
}

// cyrillicLoose is a second reading of a transliterated Cyrillic word. Russian writes
// the h of foreign names as х (kh), j as дж (dzh) and w as в (v): Хассан is Hassan,
// Джамал is Jamal, Авейс is Aweys.
func cyrillicLoose(s string) string {
	s = strings.ReplaceAll(s, "dzh", "j")
	s = strings.ReplaceAll(s, "kh", "h")
	s = strings.ReplaceAll(s, "v", "w")
	if strings.HasPrefix(s, "e") {
		s = "y" + s // Евгений is Yevgeny as often as Evgeny
	}
	return s
}

// Greek, after ELOT 743 (the Greek passport romanisation), simplified.
var greekTable = map[rune]string{
	'α': "a", 'β': "v", 'γ': "g", 'δ': "d", 'ε': "e", 'ζ': "z", 'η': "i", 'θ': "th",
	'ι': "i", 'κ': "k", 'λ': "l", 'μ': "m", 'ν': "n", 'ξ': "x", 'ο': "o", 'π': "p",
	'ρ': "r", 'σ': "s", 'ς': "s", 'τ': "t", 'υ': "y", 'φ': "f", 'χ': "ch", 'ψ': "ps",
	'ω': "o", 'ϊ': "i", 'ϋ': "y",
}

func greekToLatin(s string) string {
	// Strip accents first: Greek names are published with tonos, lists drop it.
	var rs []rune
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if !unicode.In(r, unicode.Mn, unicode.Mc) {
			rs = append(rs, r)
		}
	}
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		var next rune
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case r == 'ο' && next == 'υ':
			b.WriteString("ou")
			i++
		case (r == 'α' || r == 'ε' || r == 'η') && next == 'υ':
			b.WriteString(greekTable[r])
			b.WriteString("v")
			i++
		case r == 'μ' && next == 'π' && i == 0:
			b.WriteString("b")
			i++
		case r == 'ν' && next == 'τ' && i == 0:
			b.WriteString("d")
			i++
		case r == 'γ' && (next == 'γ' || next == 'κ' || next == 'χ' || next == 'ξ'):
			b.WriteString("n")
		default:
			if t, ok := greekTable[r]; ok {
				b.WriteString(t)
			} else if r >= 0x80 {
				return string(rs) // no transliteration: keep the word, as for Cyrillic
			}
		}
	}
	return b.String()
}
