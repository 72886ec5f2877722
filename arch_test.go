// Package entente_test checks the repository's architecture: imports flow one way
// (crypto, policy <- federation <- node <- cmd, examples), testnet is for tests and the
// testnet command only, and every package says what it is for.
package entente_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/entente/entente"

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Name       string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// layer returns a package's top-level area: crypto, policy, federation, node, cmd,
// testnet, examples.
func layer(path string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	area, _, _ := strings.Cut(rest, "/")
	return area
}

// allowed lists the project areas each area may import.
var allowed = map[string][]string{
	"crypto":     {"crypto"},
	"policy":     {"policy"},
	"federation": {"crypto", "policy", "federation"},
	"node":       {"crypto", "policy", "federation", "node"},
	"cmd":        {"crypto", "policy", "federation", "node", "cmd", "testnet"},
	"testnet":    {"crypto", "policy", "federation", "node", "testnet"},
	// examples are integrators' programs: they use the node's client and nothing inside.
	"examples": {"crypto", "node"},
}

func TestImportsFlowOneWay(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath == module {
			continue // this test-only package
		}
		from := layer(p.ImportPath)
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level directory %q is not in the architecture (crypto, policy, federation, node, cmd, testnet, examples)", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := layer(imp)
			permitted := false
			for _, a := range ok {
				permitted = permitted || a == to
			}
			if !permitted {
				t.Errorf("%s imports %s: %s may import only %v", p.ImportPath, imp, from, ok)
			}
			// Only tests and `entente testnet` may use the test network.
			if to == "testnet" && from != "testnet" && p.ImportPath != module+"/cmd/entente" {
				t.Errorf("%s imports %s: testnet is for tests and the testnet command only", p.ImportPath, imp)
			}
		}
	}
}

// TestDepsFlowOneWay checks the transitive closure too, with go list -deps, so that an
// indirect path cannot break the layering.
func TestDepsFlowOneWay(t *testing.T) {
	for _, leaf := range []string{"./crypto/...", "./policy/..."} {
		out, err := exec.Command("go", "list", "-deps", leaf).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", leaf, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, module+"/") {
				continue
			}
			if l := layer(dep); l != strings.TrimSuffix(strings.TrimPrefix(leaf, "./"), "/...") {
				t.Errorf("%s depends on %s", leaf, dep)
			}
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath == module {
			continue // this test-only package; go list reports no doc for test files
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}
