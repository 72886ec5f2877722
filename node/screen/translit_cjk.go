package screen

import (
	"strings"
	"unicode"
)

// Hangul: Revised Romanisation syllable by syllable. Korean names are published one
// syllable per word (KIM Jong Un), so each syllable is a token. The first syllable of a
// name is usually the surname, for which lists use the traditional spellings.
var (
	hangulInitials = [...]string{"g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"}
	hangulVowels   = [...]string{"a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i"}
	hangulFinals   = [...]string{"", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t"}
	koreanSurnames = map[rune]string{
		'김': "kim", '이': "ri", '리': "ri", '박': "pak", '최': "choe", '정': "jong", '조': "jo",
		'강': "kang", '장': "jang", '윤': "yun", '임': "rim", '림': "rim", '신': "sin", '오': "o",
		'현': "hyon", '황': "hwang", '안': "an", '송': "song", '류': "ryu", '유': "yu", '전': "jon",
		'홍': "hong", '고': "ko", '문': "mun", '손': "son", '양': "yang", '배': "pae", '백': "paek",
		'허': "ho", '남': "nam", '노': "ro", '로': "ro", '권': "kwon", '주': "ju", '방': "pang",
		'곽': "kwak", '차': "cha", '채': "chae", '구': "ku", '계': "kye", '변': "pyon",
		'명': "myong", '석': "sok", '서': "so", '한': "han", '심': "sim", '태': "thae",
	}
	koreanLegal = map[string]string{"주식회사": "jusikhoesa", "유한회사": "yuhanhoesa"}
)

func hangulSyllable(r rune) string {
	idx := int(r - 0xAC00)
	if idx < 0 || idx >= 11172 {
		return ""
	}
	return hangulInitials[idx/588] + hangulVowels[(idx%588)/28] + hangulFinals[idx%28]
}

func hangulTokens(dst []token, word string, seen *bool) []token {
	if l, ok := koreanLegal[word]; ok {
		return append(dst, token{text: l, orig: word, script: scriptHangul, kind: kindLegal})
	}
	first := !*seen
	*seen = true
	i := 0
	for _, r := range word {
		if unicode.In(r, unicode.Mn, unicode.Mc) {
			continue
		}
		s := hangulSyllable(r)
		if i == 0 && first {
			if sn, ok := koreanSurnames[r]; ok {
				s = sn
			}
		}
		if s == "" {
			// A lone jamo or an archaic syllable: keep it so it still matches itself.
			s = string(r)
		}
		i++
		dst = append(dst, token{text: s, orig: string(r), script: scriptHangul})
	}
	return dst
}

// Kana: modified Hepburn. Katakana is mapped onto hiragana first.
var kanaTable = map[rune]string{
	'あ': "a", 'い': "i", 'う': "u", 'え': "e", 'お': "o",
	'か': "ka", 'き': "ki", 'く': "ku", 'け': "ke", 'こ': "ko",
	'が': "ga", 'ぎ': "gi", 'ぐ': "gu", 'げ': "ge", 'ご': "go",
	'さ': "sa", 'し': "shi", 'す': "su", 'せ': "se", 'そ': "so",
	'ざ': "za", 'じ': "ji", 'ず': "zu", 'ぜ': "ze", 'ぞ': "zo",
	'た': "ta", 'ち': "chi", 'つ': "tsu", 'て': "te", 'と': "to",
	'だ': "da", 'ぢ': "ji", 'づ': "zu", 'で': "de", 'ど': "do",
	'な': "na", 'に': "ni", 'ぬ': "nu", 'ね': "ne", 'の': "no",
	'は': "ha", 'ひ': "hi", 'ふ': "fu", 'へ': "he", 'ほ': "ho",
	'ば': "ba", 'び': "bi", 'ぶ': "bu", 'べ': "be", 'ぼ': "bo",
	'ぱ': "pa", 'ぴ': "pi", 'ぷ': "pu", 'ぺ': "pe", 'ぽ': "po",
	'ま': "ma", 'み': "mi", 'む': "mu", 'め': "me", 'も': "mo",
	'や': "ya", 'ゆ': "yu", 'よ': "yo",
	'ら': "ra", 'り': "ri", 'る': "ru", 'れ': "re", 'ろ': "ro",
	'わ': "wa", 'ゐ': "i", 'ゑ': "e", 'を': "o", 'ん': "n", 'ゔ': "vu",
	'ぁ': "a", 'ぃ': "i", 'ぅ': "u", 'ぇ': "e", 'ぉ': "o", 'ゎ': "wa", 'ゕ': "ka", 'ゖ': "ke",
}

func kanaToLatin(s string) string {
	var b []byte
	geminate := false
	for _, r := range s {
		if r >= 0x30A1 && r <= 0x30F6 {
			r -= 0x60 // katakana to hiragana
		}
		switch r {
		case 'っ':
			geminate = true
			continue
		case 'ー', '・':
			continue // long vowel mark: lists drop the length
		case 'ゃ', 'ゅ', 'ょ':
			y := map[rune]string{'ゃ': "a", 'ゅ': "u", 'ょ': "o"}[r]
			n := len(b)
			if n >= 2 && b[n-1] == 'i' {
				if n >= 3 && (string(b[n-3:]) == "shi" || string(b[n-3:]) == "chi") || b[n-2] == 'j' {
					b = append(b[:n-1], y...)
				} else {
					b = append(append(b[:n-1], 'y'), y...)
				}
				continue
			}
			b = append(b, 'y')
			b = append(b, y...)
			continue
		case 'ぁ', 'ぃ', 'ぅ', 'ぇ', 'ぉ':
			// Small vowels after a syllable replace its vowel (ファ fa, ティ ti).
			v := kanaTable[r]
			if n := len(b); n >= 2 && strings.IndexByte("aeiou", b[n-1]) >= 0 {
				b = append(b[:n-1], v...)
				continue
			}
			b = append(b, v...)
			continue
		}
		t, ok := kanaTable[r]
		if !ok {
			continue
		}
		if geminate && t != "" {
			if strings.HasPrefix(t, "ch") {
				b = append(b, 't')
			} else {
				b = append(b, t[0])
			}
		}
		geminate = false
		b = append(b, t...)
	}
	out := string(b)
	// Lists write Tokyo, not Toukyou.
	for _, p := range [][2]string{{"ou", "o"}, {"oo", "o"}, {"uu", "u"}} {
		out = strings.ReplaceAll(out, p[0], p[1])
	}
	return out
}

// Han: pinyin for the characters in hanPinyin (pinyin.go). A run of two or three
// characters starting with a surname is a personal name, published as surname plus one
// given-name word (XI Jinping); otherwise each character is its own token. Characters
// without a reading stay as they are, so they still match the same characters exactly.
var hanLegalSuffixes = []struct{ han, latin string }{
	{"股份有限公司", "gufenyouxiangongsi"},
	{"有限责任公司", "youxianzerengongsi"},
	{"有限責任公司", "youxianzerengongsi"},
	{"有限公司", "youxiangongsi"},
	{"股份公司", "gufengongsi"},
	{"株式会社", "kabushikikaisha"},
	{"有限会社", "yugenkaisha"},
	{"合同会社", "godokaisha"},
	{"公司", "gongsi"},
}

func hanTokens(dst []token, word string) []token {
	var legal []token
	var lead []token
	for _, l := range hanLegalSuffixes {
		if word == l.han {
			return append(dst, token{text: l.latin, orig: l.han, script: scriptHan, kind: kindLegal})
		}
	}
	for changed := true; changed; {
		changed = false
		for _, l := range hanLegalSuffixes {
			if len(word) > len(l.han) && strings.HasSuffix(word, l.han) {
				word = strings.TrimSuffix(word, l.han)
				legal = append([]token{{text: l.latin, orig: l.han, script: scriptHan, kind: kindLegal}}, legal...)
				changed = true
				break
			}
			if len(word) > len(l.han) && l.han == "株式会社" && strings.HasPrefix(word, l.han) {
				word = strings.TrimPrefix(word, l.han)
				lead = append(lead, token{text: l.latin, orig: l.han, script: scriptHan, kind: kindLegal})
				changed = true
				break
			}
		}
	}
	dst = append(dst, lead...)
	var rs []rune
	for _, r := range word {
		if !unicode.In(r, unicode.Mn, unicode.Mc) {
			rs = append(rs, r)
		}
	}
	readings := make([]string, len(rs))
	known := true
	for i, r := range rs {
		p, ok := hanPinyin[r]
		if !ok {
			known = false
			p = string(r)
		}
		readings[i] = p
	}
	surnameLen := 0
	if len(rs) >= 3 {
		if _, ok := hanCompoundSurnames[string(rs[:2])]; ok {
			surnameLen = 2
		}
	}
	if surnameLen == 0 && len(rs) >= 2 && hanSurnames[rs[0]] {
		surnameLen = 1
	}
	if known && surnameLen > 0 && len(rs)-surnameLen >= 1 && len(rs)-surnameLen <= 2 {
		sur := strings.Join(readings[:surnameLen], "")
		dst = append(dst, token{text: sur, orig: string(rs[:surnameLen]), script: scriptHan})
		dst = append(dst, token{text: strings.Join(readings[surnameLen:], ""), orig: string(rs[surnameLen:]), script: scriptHan})
	} else {
		for i, r := range rs {
			dst = append(dst, token{text: readings[i], orig: string(r), script: scriptHan})
		}
	}
	return append(dst, legal...)
}
