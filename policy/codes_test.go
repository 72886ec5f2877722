package policy

import (
	"slices"
	"testing"
)

func TestStateCodesData(t *testing.T) {
	codes := StateCodes()
	if len(codes) != 249 {
		t.Fatalf("%d state codes, want the 249 assigned ISO 3166-1 alpha-3 codes", len(codes))
	}
	for i, c := range codes {
		if !isStateShaped(c) {
			t.Errorf("code %q is not three upper-case letters", c)
		}
		if i > 0 && codes[i-1] >= c {
			t.Errorf("codes not strictly sorted at %q, %q: binary search would miss codes", codes[i-1], c)
		}
	}
	codes[0] = "ZZZ"
	if StateCodes()[0] != "ABW" {
		t.Error("StateCodes returned the package's own slice")
	}
}

func TestValidStateCode(t *testing.T) {
	valid := []string{"FRA", "DEU", "GBR", "USA", "ABW", "ZWE", "SSD", "BES", "ALA", "PSE", "TWN", "ATA"}
	for _, c := range valid {
		if err := ValidStateCode(c); err != nil {
			t.Errorf("ValidStateCode(%q) = %v", c, err)
		}
	}
	invalid := []string{"", "FR", "FRAN", "fra", "Fra", "XXX", "EUR", "UKRX", "GER", "UK", "XKX", "ANT", "SCG", "FRN", "123", "F\x00A"}
	for _, c := range invalid {
		err := ValidStateCode(c)
		if err == nil {
			t.Errorf("ValidStateCode(%q) = nil", c)
			continue
		}
		want := `"` + c + `" is not an ISO 3166-1 alpha-3 state code (for example FRA, DEU, GBR)`
		if c == "F\x00A" {
			want = `"F\x00A" is not an ISO 3166-1 alpha-3 state code (for example FRA, DEU, GBR)`
		}
		if err.Error() != want {
			t.Errorf("ValidStateCode(%q) = %q, want %q", c, err, want)
		}
	}
	if !slices.Contains(StateCodes(), "GBR") {
		t.Error("GBR missing")
	}
}
