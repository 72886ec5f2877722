package screen

import "testing"

func TestDoubleMetaphone(t *testing.T) {
	// Encodings of the published algorithm (Philips 2000), four-letter keys. Thompson is
	// TMPS: the TH before OM is T, and the P is kept (only PH and PB/PP are special).
	for _, c := range []struct{ word, primary, alternate string }{
		{"Smith", "SM0", "XMT"},
		{"Schmidt", "XMT", "SMT"},
		{"Thompson", "TMPS", "TMPS"},
		{"Thomas", "TMS", "TMS"},
		{"Jose", "HS", "HS"},
		{"Xavier", "SF", "SFR"},
		{"Knight", "NT", "NT"},
		{"Michael", "MKL", "MXL"},
		{"Katherine", "K0RN", "KTRN"},
		{"Richard", "RXRT", "RKRT"},
		{"Geoff", "JF", "KF"},
		{"Through", "0R", "TR"},
		{"Schwein", "XN", "XFN"},
		{"Steven", "STFN", "STFN"},
		{"Bryce", "PRS", "PRS"},
		{"Maurice", "MRS", "MRS"},
		{"Aubrey", "APR", "APR"},
		{"Campbell", "KMPL", "KMPL"},
		{"Filipowicz", "FLPT", "FLPF"},
		{"Wasserman", "ASRM", "FSRM"},
		{"Caesar", "SSR", "SSR"},
		{"Chianti", "KNT", "KNT"},
		{"Edge", "AJ", "AJ"},
		{"Mohammed", "MHMT", "MHMT"},
		{"Muhammad", "MHMT", "MHMT"},
		{"Zhao", "J", "J"},
		{"", "", ""},
		{"123", "", ""},
	} {
		p, a := DoubleMetaphone(c.word)
		if p != c.primary || a != c.alternate {
			t.Errorf("DoubleMetaphone(%q) = %q, %q; want %q, %q", c.word, p, a, c.primary, c.alternate)
		}
	}
}

func TestDoubleMetaphoneAlike(t *testing.T) {
	// Spellings that should meet on a key.
	for _, c := range [][2]string{
		{"Smith", "Smyth"}, {"Schmidt", "Smith"}, {"Jeong", "Jong"}, {"Alexander", "Aleksandr"},
		{"Mohammed", "Mohamed"}, {"Catherine", "Katherine"}, {"Stephen", "Steven"},
	} {
		a, b := newTokenInfo(Normalize(c[0]), false), newTokenInfo(Normalize(c[1]), false)
		if !phoneticMatch(&a, &b) {
			t.Errorf("%s and %s share no key", c[0], c[1])
		}
	}
}
