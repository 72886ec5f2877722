package risk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDocExamples keeps docs/risk.md honest: it decodes every JSON example on the page,
// assesses it, and requires the reasons table that follows it to be exactly the answer.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/risk.md")
	if err != nil {
		t.Fatal(err)
	}
	_, examples, ok := strings.Cut(string(doc), "## Worked examples")
	if !ok {
		t.Fatal("docs/risk.md has no worked examples section")
	}
	blocks := strings.Split(examples, "```json\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("docs/risk.md has %d worked examples, want at least 3", len(blocks))
	}
	for i, b := range blocks {
		js, rest, ok := strings.Cut(b, "```\n")
		if !ok {
			t.Fatalf("example %d: unterminated JSON block", i+1)
		}
		dec := json.NewDecoder(strings.NewReader(js))
		dec.DisallowUnknownFields()
		var in Input
		if err := dec.Decode(&in); err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		a := mustAssess(t, in)
		if want := markdown(a); !strings.Contains(rest, want) {
			t.Errorf("example %d: docs/risk.md does not show what Assess returns; want\n%s", i+1, want)
		}
	}
}

// markdown renders an assessment as the worked examples show it.
func markdown(a Assessment) string {
	var b bytes.Buffer
	b.WriteString("| points | factor | ref | detail |\n|---:|---|---|---|\n")
	for _, r := range a.Reasons {
		fmt.Fprintf(&b, "| %.2f | %s | %s | %s |\n", r.Points, r.Factor, r.Ref, strings.ReplaceAll(r.Detail, "|", `\|`))
	}
	fmt.Fprintf(&b, "\nScore **%.2f**, band **%s**, model `%s`.\n", a.Score, a.Band, a.Model)
	return b.String()
}
