package screen

import (
	"strings"
	"unicode"
)

// Arabic script (Arabic, Persian, Urdu, Pashto). Short vowels are not written, so the
// result is a consonant skeleton with the long vowels alif, waw and ya as a, u and i;
// matching against Latin spellings goes through skeleton keys (see similarity.go).
var arabicTable = map[rune]string{
	'ا': "a", 'أ': "a", 'إ': "i", 'آ': "a", 'ٱ': "a", 'ء': "", 'ؤ': "u", 'ئ': "i",
	'ب': "b", 'ت': "t", 'ث': "th", 'ج': "j", 'ح': "h", 'خ': "kh", 'د': "d", 'ذ': "dh",
	'ر': "r", 'ز': "z", 'س': "s", 'ش': "sh", 'ص': "s", 'ض': "d", 'ط': "t", 'ظ': "z",
	'غ': "gh", 'ف': "f", 'ق': "q", 'ك': "k", 'ل': "l", 'م': "m", 'ن': "n", 'ه': "h",
	'ى': "a", 'ة': "a",
	// Persian, Urdu, Pashto, Maghrebi
	'پ': "p", 'چ': "ch", 'ژ': "zh", 'گ': "g", 'ک': "k", 'ہ': "h", 'ھ': "h", 'ۃ': "a",
	'ے': "e", 'ڑ': "r", 'ٹ': "t", 'ڈ': "d", 'ں': "n", 'ۀ': "a", 'ڤ': "v", 'ڨ': "g",
	'ە': "a", 'ښ': "sh", 'ځ': "dz", 'څ': "ts", 'ډ': "d", 'ړ': "r", 'ږ': "zh", 'ګ': "g",
	'ڼ': "n", 'ۍ': "i", 'ې': "e",
}

func arabicIsVowelLetter(r rune) bool {
	switch r {
	case 'ا', 'أ', 'إ', 'آ', 'ٱ', 'و', 'ي', 'ی', 'ى':
		return true
	}
	return false
}

// arabicLetters returns the letters of an Arabic-script word without harakat, shadda and
// tatweel, which lists do not carry into their Latin forms.
func arabicLetters(s string) []rune {
	rs := make([]rune, 0, len(s)/2)
	for _, r := range s {
		if r == 'ـ' || unicode.In(r, unicode.Mn, unicode.Mc) {
			continue
		}
		// Persian and Urdu write ya and kaf with their own letters; the words are the same.
		switch r {
		case 'ی', 'ے':
			r = 'ي'
		case 'ک':
			r = 'ك'
		case 'ہ', 'ھ':
			r = 'ه'
		}
		rs = append(rs, r)
	}
	return rs
}

func arabicToLatin(rs []rune) string {
	var b strings.Builder
	for i, r := range rs {
		var prev, next rune
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch r {
		case 'ع':
			if i == 0 {
				b.WriteString("a")
			}
		case 'و':
			// Consonant w at the start, after a long vowel or before one; long u otherwise.
			if i == 0 || arabicIsVowelLetter(prev) || (next != 0 && arabicIsVowelLetter(next)) {
				b.WriteString("w")
			} else {
				b.WriteString("u")
			}
		case 'ي', 'ی':
			if i == 0 || arabicIsVowelLetter(prev) || (next != 0 && (next == 'ا' || next == 'و')) {
				b.WriteString("y")
			} else {
				b.WriteString("i")
			}
		default:
			if t, ok := arabicTable[r]; ok {
				b.WriteString(t)
			} else if d, ok := asciiDigit(r); ok {
				b.WriteByte(d)
			}
		}
	}
	return b.String()
}

func arabicTokens(dst []token, word string) []token {
	rs := arabicLetters(word)
	if len(rs) == 0 {
		return dst
	}
	add := func(text string, kind tokenKind) {
		if text != "" {
			dst = append(dst, token{text: text, orig: word, script: scriptArabic, kind: kind})
		}
	}
	s := string(rs)
	switch s {
	case "الله":
		add("allah", kindWord)
		return dst
	case "شركة", "شركت":
		add("sharika", kindLegal)
		return dst
	case "بن":
		add("bin", kindStop)
		return dst
	case "ابن", "إبن":
		add("ibn", kindStop)
		return dst
	case "بنت":
		add("bint", kindStop)
		return dst
	}
	// Compounds written as one word (عبدالرحمن, نورالدين, عبيدالله) get the particles
	// canonArabicCompounds gives their Latin spellings.
	if len(rs) > 5 && strings.HasPrefix(s, "عبدال") {
		if string(rs[3:]) == "الله" {
			add("abdullah", kindWord)
			return dst
		}
		add("abdul"+arabicToLatin(rs[5:]), kindWord)
		return dst
	}
	if len(rs) > 4 && strings.HasSuffix(s, "الله") {
		add(arabicToLatin(rs[:len(rs)-4])+"ullah", kindWord)
		return dst
	}
	if len(rs) > 5 && strings.HasSuffix(s, "الدين") {
		add(arabicToLatin(rs[:len(rs)-5])+"uddin", kindWord)
		return dst
	}
	// The article: التكريتي is al + Tikriti, and lists write it as a separate particle.
	if len(rs) >= 4 && rs[0] == 'ا' && rs[1] == 'ل' {
		add("al", kindStop)
		add(arabicToLatin(rs[2:]), kindWord)
		return dst
	}
	add(arabicToLatin(rs), kindWord)
	return dst
}

// Hebrew, also an abjad.
var hebrewTable = map[rune]string{
	'ב': "b", 'ג': "g", 'ד': "d", 'ה': "h", 'ז': "z", 'ח': "kh", 'ט': "t", 'כ': "k",
	'ך': "kh", 'ל': "l", 'מ': "m", 'ם': "m", 'נ': "n", 'ן': "n", 'ס': "s", 'פ': "p",
	'ף': "f", 'צ': "ts", 'ץ': "ts", 'ק': "k", 'ר': "r", 'ש': "sh", 'ת': "t",
}

func hebrewToLatin(s string) string {
	var rs []rune
	for _, r := range s {
		if !unicode.In(r, unicode.Mn, unicode.Mc) {
			rs = append(rs, r)
		}
	}
	var b strings.Builder
	for i, r := range rs {
		switch r {
		case 'א', 'ע':
			if i == 0 {
				b.WriteString("a")
			}
		case 'ו':
			if i == 0 {
				b.WriteString("v")
			} else {
				b.WriteString("o")
			}
		case 'י':
			if i == 0 {
				b.WriteString("y")
			} else {
				b.WriteString("i")
			}
		default:
			if t, ok := hebrewTable[r]; ok {
				b.WriteString(t)
			}
		}
	}
	return b.String()
}
