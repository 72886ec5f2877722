package screen

import "strings"

// metaphoneMaxLen is the customary key length: longer keys split names that sound alike
// once their endings differ (declensions, suffixes), shorter ones merge unrelated names.
const metaphoneMaxLen = 4

// DoubleMetaphone returns the primary and alternate Double Metaphone keys of a word
// (Lawrence Philips, 2000). Screening uses them so that spellings that sound alike
// (Smith/Smyth, Mohammed/Muhammad, Jeong/Jong) meet in the index even when their
// letters differ by more than a typo. Letters outside A-Z are ignored, so callers should
// pass a folded, transliterated token. The alternate key equals the primary when the
// word has only one plausible pronunciation.
func DoubleMetaphone(word string) (primary, alternate string) {
	m := newMetaphone(word)
	if m == nil {
		return "", ""
	}
	m.run()
	return m.primary.String(), m.alternate.String()
}

type metaphone struct {
	w                  []byte // upper-case letters, padded with spaces so look-ahead never overruns
	length, last       int
	primary, alternate strings.Builder
	slavoGermanic      bool
}

const metaphonePad = 6

func newMetaphone(word string) *metaphone {
	buf := make([]byte, 0, len(word)+2*metaphonePad)
	for i := 0; i < len(word); i++ {
		c := word[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= 'A' && c <= 'Z' {
			buf = append(buf, c)
		}
	}
	if len(buf) == 0 {
		return nil
	}
	n := len(buf)
	for range metaphonePad {
		buf = append(buf, ' ')
	}
	s := string(buf[:n])
	return &metaphone{
		w:      buf,
		length: n,
		last:   n - 1,
		slavoGermanic: strings.Contains(s, "W") || strings.Contains(s, "K") ||
			strings.Contains(s, "CZ") || strings.Contains(s, "WITZ"),
	}
}

func (m *metaphone) at(i int) byte {
	if i < 0 || i >= len(m.w) {
		return ' '
	}
	return m.w[i]
}

// is reports whether the text at position start equals one of the options (all of the
// same length), treating positions before the word as non-matching.
func (m *metaphone) is(start int, options ...string) bool {
	if start < 0 {
		return false
	}
	for _, o := range options {
		if start+len(o) > len(m.w) {
			continue
		}
		if string(m.w[start:start+len(o)]) == o {
			return true
		}
	}
	return false
}

func (m *metaphone) vowel(i int) bool {
	switch m.at(i) {
	case 'A', 'E', 'I', 'O', 'U', 'Y':
		return true
	}
	return false
}

func (m *metaphone) add(p string, alt ...string) {
	m.primary.WriteString(p)
	if len(alt) > 0 {
		m.alternate.WriteString(alt[0])
	} else {
		m.alternate.WriteString(p)
	}
}

func (m *metaphone) done() bool {
	return m.primary.Len() >= metaphoneMaxLen && m.alternate.Len() >= metaphoneMaxLen
}

func (m *metaphone) run() {
	cur := 0
	if m.is(0, "GN", "KN", "PN", "WR", "PS") {
		cur++
	}
	if m.at(0) == 'X' {
		// Initial X is pronounced Z (Xavier).
		m.add("S")
		cur++
	}
	for cur < m.length && !m.done() {
		cur = m.step(cur)
	}
	trim := func(b *strings.Builder) string {
		s := b.String()
		if len(s) > metaphoneMaxLen {
			s = s[:metaphoneMaxLen]
		}
		return s
	}
	p, a := trim(&m.primary), trim(&m.alternate)
	m.primary.Reset()
	m.primary.WriteString(p)
	m.alternate.Reset()
	m.alternate.WriteString(a)
}

// step encodes the letter at cur and returns the position of the next letter to encode.
func (m *metaphone) step(cur int) int {
	c := m.at(cur)
	switch c {
	case 'A', 'E', 'I', 'O', 'U', 'Y':
		if cur == 0 {
			m.add("A")
		}
		return cur + 1
	case 'B':
		m.add("P")
		if m.at(cur+1) == 'B' {
			return cur + 2
		}
		return cur + 1
	case 'C':
		return m.stepC(cur)
	case 'D':
		if m.is(cur, "DG") {
			if m.is(cur+2, "I", "E", "Y") {
				m.add("J") // edge
				return cur + 3
			}
			m.add("TK") // Edgar
			return cur + 2
		}
		m.add("T")
		if m.is(cur, "DT", "DD") {
			return cur + 2
		}
		return cur + 1
	case 'F':
		m.add("F")
		if m.at(cur+1) == 'F' {
			return cur + 2
		}
		return cur + 1
	case 'G':
		return m.stepG(cur)
	case 'H':
		// Keep H only between vowels or at the start before a vowel.
		if (cur == 0 || m.vowel(cur-1)) && m.vowel(cur+1) {
			m.add("H")
			return cur + 2
		}
		return cur + 1
	case 'J':
		return m.stepJ(cur)
	case 'K':
		m.add("K")
		if m.at(cur+1) == 'K' {
			return cur + 2
		}
		return cur + 1
	case 'L':
		if m.at(cur+1) == 'L' {
			// Spanish -illo, -illa, -alle: the double L is a Y sound.
			if (cur == m.length-3 && m.is(cur-1, "ILLO", "ILLA", "ALLE")) ||
				((m.is(m.last-1, "AS", "OS") || m.is(m.last, "A", "O")) && m.is(cur-1, "ALLE")) {
				m.add("L", "")
				return cur + 2
			}
			m.add("L")
			return cur + 2
		}
		m.add("L")
		return cur + 1
	case 'M':
		m.add("M")
		if (m.is(cur-1, "UMB") && (cur+1 == m.last || m.is(cur+2, "ER"))) || m.at(cur+1) == 'M' {
			return cur + 2 // dumb, thumb
		}
		return cur + 1
	case 'N':
		m.add("N")
		if m.at(cur+1) == 'N' {
			return cur + 2
		}
		return cur + 1
	case 'P':
		if m.at(cur+1) == 'H' {
			m.add("F")
			return cur + 2
		}
		m.add("P")
		if m.is(cur+1, "P", "B") {
			return cur + 2 // Campbell, raspberry
		}
		return cur + 1
	case 'Q':
		m.add("K")
		if m.at(cur+1) == 'Q' {
			return cur + 2
		}
		return cur + 1
	case 'R':
		// French final -ier: the R is silent in one reading (Rogier).
		if cur == m.last && !m.slavoGermanic && m.is(cur-2, "IE") && !m.is(cur-4, "ME", "MA") {
			m.add("", "R")
		} else {
			m.add("R")
		}
		if m.at(cur+1) == 'R' {
			return cur + 2
		}
		return cur + 1
	case 'S':
		return m.stepS(cur)
	case 'T':
		return m.stepT(cur)
	case 'V':
		m.add("F")
		if m.at(cur+1) == 'V' {
			return cur + 2
		}
		return cur + 1
	case 'W':
		return m.stepW(cur)
	case 'X':
		// French final -eaux, -oux is silent.
		if !(cur == m.last && (m.is(cur-3, "IAU", "EAU") || m.is(cur-2, "AU", "OU"))) {
			m.add("KS")
		}
		if m.is(cur+1, "C", "X") {
			return cur + 2
		}
		return cur + 1
	case 'Z':
		if m.at(cur+1) == 'H' {
			m.add("J") // Chinese Zhao
			return cur + 2
		}
		if m.is(cur+1, "ZO", "ZI", "ZA") || (m.slavoGermanic && cur > 0 && m.at(cur-1) != 'T') {
			m.add("S", "TS")
		} else {
			m.add("S")
		}
		if m.at(cur+1) == 'Z' {
			return cur + 2
		}
		return cur + 1
	}
	return cur + 1
}

func (m *metaphone) stepC(cur int) int {
	// Germanic -ACH- (Bacher, Macher) is K.
	if cur > 1 && !m.vowel(cur-2) && m.is(cur-1, "ACH") &&
		m.at(cur+2) != 'I' && (m.at(cur+2) != 'E' || m.is(cur-2, "BACHER", "MACHER")) {
		m.add("K")
		return cur + 2
	}
	if cur == 0 && m.is(cur, "CAESAR") {
		m.add("S")
		return cur + 2
	}
	if m.is(cur, "CHIA") { // Italian Chianti
		m.add("K")
		return cur + 2
	}
	if m.is(cur, "CH") {
		if cur > 0 && m.is(cur, "CHAE") { // Michael
			m.add("K", "X")
			return cur + 2
		}
		// Greek roots: chemistry, chorus.
		if cur == 0 && (m.is(cur+1, "HARAC", "HARIS") || m.is(cur+1, "HOR", "HYM", "HIA", "HEM")) &&
			!m.is(0, "CHORE") {
			m.add("K")
			return cur + 2
		}
		if m.is(0, "VAN ", "VON ") || m.is(0, "SCH") ||
			m.is(cur-2, "ORCHES", "ARCHIT", "ORCHID") || m.is(cur+2, "T", "S") ||
			((m.is(cur-1, "A", "O", "U", "E") || cur == 0) &&
				m.is(cur+2, "L", "R", "N", "M", "B", "H", "F", "V", "W", " ")) {
			m.add("K")
		} else if cur > 0 {
			if m.is(0, "MC") {
				m.add("K")
			} else {
				m.add("X", "K")
			}
		} else {
			m.add("X")
		}
		return cur + 2
	}
	if m.is(cur, "CZ") && !m.is(cur-2, "WICZ") { // Czerny
		m.add("S", "X")
		return cur + 2
	}
	if m.is(cur+1, "CIA") { // Focaccia
		m.add("X")
		return cur + 3
	}
	if m.is(cur, "CC") && !(cur == 1 && m.at(0) == 'M') {
		if m.is(cur+2, "I", "E", "H") && !m.is(cur+2, "HU") {
			if (cur == 1 && m.at(cur-1) == 'A') || m.is(cur-1, "UCCEE", "UCCES") {
				m.add("KS") // accident, succeed
			} else {
				m.add("X") // bacci, bertucci
			}
			return cur + 3
		}
		m.add("K")
		return cur + 2
	}
	if m.is(cur, "CK", "CG", "CQ") {
		m.add("K")
		return cur + 2
	}
	if m.is(cur, "CI", "CE", "CY") {
		if m.is(cur, "CIO", "CIE", "CIA") {
			m.add("S", "X") // Italian
		} else {
			m.add("S")
		}
		return cur + 2
	}
	m.add("K")
	if m.is(cur+1, " C", " Q", " G") { // Mac Caffrey
		return cur + 3
	}
	if m.is(cur+1, "C", "K", "Q") && !m.is(cur+1, "CE", "CI") {
		return cur + 2
	}
	return cur + 1
}

func (m *metaphone) stepG(cur int) int {
	next := m.at(cur + 1)
	if next == 'H' {
		if cur > 0 && !m.vowel(cur-1) {
			m.add("K")
			return cur + 2
		}
		if cur == 0 {
			// Ghislane, Ghiradelli
			if m.at(cur+2) == 'I' {
				m.add("J")
			} else {
				m.add("K")
			}
			return cur + 2
		}
		// Parker's rule: hugh, bough, broughton are silent.
		if (cur > 1 && m.is(cur-2, "B", "H", "D")) || (cur > 2 && m.is(cur-3, "B", "H", "D")) ||
			(cur > 3 && m.is(cur-4, "B", "H")) {
			return cur + 2
		}
		// laugh, McLaughlin, cough, rough, tough
		if cur > 2 && m.at(cur-1) == 'U' && m.is(cur-3, "C", "G", "L", "R", "T") {
			m.add("F")
		} else if cur > 0 && m.at(cur-1) != 'I' {
			m.add("K")
		}
		return cur + 2
	}
	if next == 'N' {
		if cur == 1 && m.vowel(0) && !m.slavoGermanic {
			m.add("KN", "N")
		} else if !m.is(cur+2, "EY") && m.at(cur+1) != 'Y' && !m.slavoGermanic {
			m.add("N", "KN")
		} else {
			m.add("KN")
		}
		return cur + 2
	}
	if m.is(cur+1, "LI") && !m.slavoGermanic { // tagliaro
		m.add("KL", "L")
		return cur + 2
	}
	if cur == 0 && (next == 'Y' || m.is(cur+1, "ES", "EP", "EB", "EL", "EY", "IB", "IL", "IN", "IE", "EI", "ER")) {
		m.add("K", "J")
		return cur + 2
	}
	if (m.is(cur+1, "ER") || next == 'Y') && !m.is(0, "DANGER", "RANGER", "MANGER") &&
		!m.is(cur-1, "E", "I") && !m.is(cur-1, "RGY", "OGY") {
		m.add("K", "J")
		return cur + 2
	}
	if m.is(cur+1, "E", "I", "Y") || m.is(cur-1, "AGGI", "OGGI") {
		if m.is(0, "VAN ", "VON ") || m.is(0, "SCH") || m.is(cur+1, "ET") {
			m.add("K") // Germanic
		} else if m.is(cur+1, "IER ") {
			m.add("J")
		} else {
			m.add("J", "K")
		}
		return cur + 2
	}
	m.add("K")
	if next == 'G' {
		return cur + 2
	}
	return cur + 1
}

func (m *metaphone) stepJ(cur int) int {
	if m.is(cur, "JOSE") || m.is(0, "SAN ") { // Spanish Jose, San Jacinto
		if (cur == 0 && m.at(cur+4) == ' ') || m.is(0, "SAN ") {
			m.add("H")
		} else {
			m.add("J", "H")
		}
		return cur + 1
	}
	if cur == 0 && !m.is(cur, "JOSE") {
		m.add("J", "A") // Yankelovich, Jankelowicz
	} else if m.vowel(cur-1) && !m.slavoGermanic && (m.at(cur+1) == 'A' || m.at(cur+1) == 'O') {
		m.add("J", "H") // Spanish bajador
	} else if cur == m.last {
		m.add("J", "")
	} else if !m.is(cur+1, "L", "T", "K", "S", "N", "M", "B", "Z") && !m.is(cur-1, "S", "K", "L") {
		m.add("J")
	}
	if m.at(cur+1) == 'J' {
		return cur + 2
	}
	return cur + 1
}

func (m *metaphone) stepS(cur int) int {
	if m.is(cur-1, "ISL", "YSL") { // island, carlisle
		return cur + 1
	}
	if cur == 0 && m.is(cur, "SUGAR") {
		m.add("X", "S")
		return cur + 1
	}
	if m.is(cur, "SH") {
		if m.is(cur+1, "HEIM", "HOEK", "HOLM", "HOLZ") { // Germanic
			m.add("S")
		} else {
			m.add("X")
		}
		return cur + 2
	}
	if m.is(cur, "SIO", "SIA") || m.is(cur, "SIAN") { // Italian, Armenian
		if !m.slavoGermanic {
			m.add("S", "X")
		} else {
			m.add("S")
		}
		return cur + 3
	}
	// German and Anglicisations: Smith/Schmidt, Snider/Schneider; also -SZ- in Polish.
	if (cur == 0 && m.is(cur+1, "M", "N", "L", "W")) || m.is(cur+1, "Z") {
		m.add("S", "X")
		if m.is(cur+1, "Z") {
			return cur + 2
		}
		return cur + 1
	}
	if m.is(cur, "SC") {
		if m.at(cur+2) == 'H' {
			if m.is(cur+3, "OO", "ER", "EN", "UY", "ED", "EM") { // Dutch
				if m.is(cur+3, "ER", "EN") {
					m.add("X", "SK") // Schermerhorn, Schenker
				} else {
					m.add("SK")
				}
				return cur + 3
			}
			if cur == 0 && !m.vowel(3) && m.at(3) != 'W' {
				m.add("X", "S")
			} else {
				m.add("X")
			}
			return cur + 3
		}
		if m.is(cur+2, "I", "E", "Y") {
			m.add("S")
			return cur + 3
		}
		m.add("SK")
		return cur + 3
	}
	if cur == m.last && m.is(cur-2, "AI", "OI") { // French: resnais, artois
		m.add("", "S")
	} else {
		m.add("S")
	}
	if m.is(cur+1, "S", "Z") {
		return cur + 2
	}
	return cur + 1
}

func (m *metaphone) stepT(cur int) int {
	if m.is(cur, "TION") {
		m.add("X")
		return cur + 3
	}
	if m.is(cur, "TIA", "TCH") {
		m.add("X")
		return cur + 3
	}
	if m.is(cur, "TH") || m.is(cur, "TTH") {
		if m.is(cur+2, "OM", "AM") || m.is(0, "VAN ", "VON ") || m.is(0, "SCH") { // Thomas, Thames
			m.add("T")
		} else {
			m.add("0", "T")
		}
		return cur + 2
	}
	m.add("T")
	if m.is(cur+1, "T", "D") {
		return cur + 2
	}
	return cur + 1
}

func (m *metaphone) stepW(cur int) int {
	if m.is(cur, "WR") {
		m.add("R")
		return cur + 2
	}
	if cur == 0 && (m.vowel(cur+1) || m.is(cur, "WH")) {
		if m.vowel(cur + 1) {
			m.add("A", "F") // Wasserman/Vasserman
		} else {
			m.add("A")
		}
	}
	// Polish -ewski, Germanic final W: Arnow, Filipowicz.
	if (cur == m.last && m.vowel(cur-1)) || m.is(cur-1, "EWSKI", "EWSKY", "OWSKI", "OWSKY") || m.is(0, "SCH") {
		m.add("", "F")
		return cur + 1
	}
	if m.is(cur, "WICZ", "WITZ") {
		m.add("TS", "FX")
		return cur + 4
	}
	return cur + 1
}
