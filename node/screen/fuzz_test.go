package screen

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "Vladimir Vladimirovich PUTIN", "MADURO MOROS, Nicolás", "Шойгу Сергей Кужугетович",
	"Зеленський Володимир", "صدام حسين التكريتي", "عبدالرحمن", "هدايت الله", "ﻤﺤﻤﺪ ﻛﺮﻴﻡ",
	"習近平", "华为技术有限公司", "김정은", "とうきょう", "トヨタ", "Αλέξης Τσίπρας", "בנימין נתניהו",
	"ACME TRADING CO., LTD.", "Société Générale S.A.", "OOO «Ромашка»", "S.p.A.", "A/S", "V.V.",
	"Abd al-Rahman", "Abdurrahman", "Nur al-Din", "saif ad-din", "as-Sayyid", "O'Brien",
	"Müller GmbH & Co. KG", "abd", "al", "ullah", "din al din", "abd al allah", "x\u0301\u0301",
	"ABDULLAH", "abdulla", "Ёнг", "ق", "\xff\xfe", "ꙮ", "𝔄𝔟𝔠", "ﬁﬂ", "Ⅻ", "١٢٣", "ab.cd.ef",
	"bin ben ibn", "al al al", "Co", "LLC", "Ltd Ltd", "the of and", "Ä.Ö.Ü.",
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q is not valid UTF-8", s, n)
		}
		if again := Normalize(n); again != n {
			t.Fatalf("not idempotent: Normalize(%q) = %q, Normalize of that = %q", s, n, again)
		}
		// Transliteration lengthens (щ is shch, a Hangul syllable up to five letters),
		// but boundedly.
		if limit := 8*min(utf8.RuneCountInString(s), maxNameRunes) + 16; len(n) > limit {
			t.Fatalf("Normalize(%q) is %d bytes, more than %d", s, len(n), limit)
		}
		if strings.Contains(n, "  ") || strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") {
			t.Fatalf("Normalize(%q) = %q: spacing", s, n)
		}
	})
}

func fuzzIndex() *Index {
	b := NewBuilder()
	for i, s := range fuzzSeeds {
		b.Add(Entity{List: "fuzz", ID: string(rune('a'+i%26)) + s, Names: []string{s, s + " Trading"}, Type: "person",
			Identifiers: []Identifier{{Scheme: "passport", Value: s}}})
	}
	return b.Build()
}

func FuzzSearch(f *testing.F) {
	ix := fuzzIndex()
	for _, s := range fuzzSeeds {
		f.Add(s, 0.0)
	}
	f.Add("Putin Vladimir", 0.3)
	f.Fuzz(func(t *testing.T, s string, threshold float64) {
		hits, err := ix.Search(Query{Names: []string{s, s + " x"}, Threshold: threshold,
			Identifiers: []Identifier{{Value: s}}, BirthDate: "1952", Countries: []string{"RUS"}})
		if err != nil {
			return
		}
		for _, h := range hits {
			if math.IsNaN(h.Score) || h.Score < 0 || h.Score > 1 {
				t.Fatalf("score %v out of [0,1] for %q", h.Score, s)
			}
		}
	})
}
