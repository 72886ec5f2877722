package lists

import (
	"os"
	"path/filepath"
	"testing"
)

func benchParse(b *testing.B, format, path string, files ...string) {
	var size int64
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(path, f))
		if err != nil {
			b.Skipf("real list data not available: %v", err)
		}
		size += fi.Size()
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(format, path, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseOFACSDN parses the July 2021 SDN list: 8,976 entries in four files.
func BenchmarkParseOFACSDN(b *testing.B) {
	benchParse(b, "ofac-sdn", filepath.Join(sharedData, "ofac_sdn_2021"), "sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
}

// BenchmarkParseUN parses the UN consolidated list: 1,003 records, 2 MB of XML.
func BenchmarkParseUN(b *testing.B) {
	benchParse(b, "un-xml", filepath.Join(sharedData, "un/UN_consolidated.xml"), "")
}
