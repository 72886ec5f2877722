package screen_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entente/entente/node/lists"
	"github.com/entente/entente/node/screen"
)

// dataDir holds the real public lists (see /work/shared/data/SOURCES.md).
const dataDir = "../../../shared/data"

// realLists are the lists in dataDir, with the format the lists package reads them as.
var realLists = []struct{ format, rel string }{
	{"un-xml", "un/UN_consolidated.xml"},
	{"ofac-sdn", "ofac_sdn_2021"},
	{"ofac-cons", "ofac_nonsdn"},
	{"bis-dpl", "bis/dpl_2022.txt"},
	{"csl", "csl/csl_2019_subset.csv"},
}

func readList(tb testing.TB, format, rel string) []screen.Entity {
	tb.Helper()
	path := filepath.Join(dataDir, rel)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("real list data not available at %s (%v); skipping", path, err)
	}
	es, err := lists.Read(format, path)
	if err != nil {
		tb.Fatalf("reading %s: %v", path, err)
	}
	return es
}

func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func buildIndex(es []screen.Entity) *screen.Index {
	b := screen.NewBuilder()
	for _, e := range es {
		b.Add(e)
	}
	return b.Build()
}

// hardCases reads the hand-written cases for one list.
func hardCases(t *testing.T, list string) []screen.Case {
	var out []screen.Case
	for _, l := range readLines(t, "testdata/hard_cases.tsv") {
		f := strings.Split(l, "\t")
		if len(f) < 3 {
			t.Fatalf("hard_cases.tsv: bad line %q", l)
		}
		if f[0] == list {
			out = append(out, screen.Case{Kind: screen.KindHard, List: f[0], ID: f[1], Query: f[2]})
		}
	}
	return out
}

func runEval(t *testing.T, es []screen.Entity, perKind int) screen.Report {
	cases := screen.GenerateCases(es, 1, perKind)
	if len(es) > 0 {
		cases = append(cases, hardCases(t, es[0].List)...)
	}
	ix := buildIndex(screen.StripNonLatin(es))
	neg := readLines(t, "testdata/negatives.txt")
	r := screen.Evaluate(ix, cases, neg, screen.DefaultThreshold)
	t.Logf("\n%s", r)
	for _, m := range r.Misses {
		t.Logf("miss %-11s %q (%s %s, from %q)", m.Kind, m.Query, m.List, m.ID, m.Source)
	}
	for _, f := range r.FalseHits {
		t.Logf("false hit: %s", f)
	}
	return r
}

func TestEvalUN(t *testing.T) {
	es := readList(t, "un-xml", "un/UN_consolidated.xml")
	r := runEval(t, es, 0)
	if r.Recall5 < 0.98 {
		t.Errorf("recall@5 = %.4f, want >= 0.98", r.Recall5)
	}
	if r.FalsePositiveRate > 0.01 {
		t.Errorf("false-positive rate = %.4f, want <= 0.01", r.FalsePositiveRate)
	}
}

// TestEvalNegativesAllLists screens the negatives against every list in the shared
// data at once, original scripts included: the false-positive rate an officer would see.
func TestEvalNegativesAllLists(t *testing.T) {
	es := realEntities(t)
	r := screen.Evaluate(buildIndex(es), nil, readLines(t, "testdata/negatives.txt"), screen.DefaultThreshold)
	t.Logf("%d entities: false positives %d/%d = %.4f", len(es), r.FalsePositives, r.Negatives, r.FalsePositiveRate)
	for _, f := range r.FalseHits {
		t.Logf("false hit: %s", f)
	}
	if r.FalsePositiveRate > 0.01 {
		t.Errorf("false-positive rate = %.4f, want <= 0.01", r.FalsePositiveRate)
	}
}

func TestEvalOFAC(t *testing.T) {
	es := readList(t, "ofac-sdn", "ofac_sdn_2021")
	// All of the UN list, a deterministic sample of the larger OFAC list.
	perKind := 1500
	if testing.Short() {
		perKind = 200
	}
	r := runEval(t, es, perKind)
	if r.Recall5 < 0.98 {
		t.Errorf("recall@5 = %.4f, want >= 0.98", r.Recall5)
	}
	if r.FalsePositiveRate > 0.01 {
		t.Errorf("false-positive rate = %.4f, want <= 0.01", r.FalsePositiveRate)
	}
}
