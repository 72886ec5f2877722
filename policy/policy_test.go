package policy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy does not validate: %v", err)
	}
	if len(p.Groups) != 0 || p.Groups == nil {
		t.Errorf("Groups = %v, want an empty non-nil map (STEERING is built in)", p.Groups)
	}
	if time.Duration(p.KeyEpoch) != 7*Day {
		t.Errorf("KeyEpoch = %v, want 7d", p.KeyEpoch)
	}
	if len(p.Retention) != 10 {
		t.Errorf("Retention has %d kinds, want 10", len(p.Retention))
	}
	// Changing one result must not change the next.
	p.Retention["audit"] = 1
	p.FieldDefaults["consignment"]["destination"] = "PUBLIC"
	q := DefaultPolicy()
	if q.Retention["audit"] != Duration(20*Year) || q.FieldDefaults["consignment"]["destination"] != "REL TO FEDERATION" {
		t.Error("DefaultPolicy shares maps between calls")
	}
}

func TestDefaultMarking(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		kind, field, want string
	}{
		{"end-use-check", "outcome", "REL TO FEDERATION"},
		{"consignment", "destination", "REL TO FEDERATION"},
		{"licence-decision", "decision", "REL TO FEDERATION"},
		{"licence-application", "destination", "REL TO FEDERATION"},
		{"licence-application", "applicant", "NATIONAL"},
		{"consignment", "value", "NATIONAL"},
		{"end-use-check", "notes", "NATIONAL"},
		{"unknown-kind", "destination", "NATIONAL"},
		{"", "", "NATIONAL"},
	}
	for _, tt := range tests {
		if got := p.DefaultMarking(tt.kind, tt.field).String(); got != tt.want {
			t.Errorf("DefaultMarking(%s, %s) = %s, want %s", tt.kind, tt.field, got, tt.want)
		}
	}
	p.FieldDefaults["consignment"]["value"] = "rel to everyone"
	if got := p.DefaultMarking("consignment", "value"); got.Kind != National {
		t.Errorf("unparseable default gave %v, want NATIONAL", got)
	}
	if got := (Policy{}).DefaultMarking("consignment", "destination"); got.Kind != National {
		t.Errorf("zero policy gave %v, want NATIONAL", got)
	}
}

func TestParsePolicy(t *testing.T) {
	t.Run("empty document is the default", func(t *testing.T) {
		for _, doc := range []string{"", "\n", "# just a comment\n", "---\n"} {
			p, err := ParsePolicy([]byte(doc))
			if err != nil {
				t.Fatalf("ParsePolicy(%q): %v", doc, err)
			}
			if !policiesEqual(p, DefaultPolicy()) {
				t.Errorf("ParsePolicy(%q) = %+v, want the default", doc, p)
			}
		}
	})
	t.Run("full document", func(t *testing.T) {
		p, err := ParsePolicy([]byte(`
groups:
  NORDIC: [SWE, NOR, FIN, DNK, ISL]
  WEST_3: [FRA, GBR, USA]
retention:
  consignment: 3y
  indicator: 400d
  test-kind: 90s
key_epoch: 24h
field_defaults:
  consignment:
    value: REL TO NORDIC, FRA
  screening-hit:
    party: REL TO STEERING
`))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Groups["NORDIC"]; len(got) != 5 {
			t.Errorf("NORDIC = %v", got)
		}
		if p.RetentionFor("consignment") != 3*Year || p.RetentionFor("indicator") != 400*Day || p.RetentionFor("test-kind") != 90*time.Second {
			t.Errorf("retention overrides not applied: %v", p.Retention)
		}
		if p.RetentionFor("audit") != 20*Year {
			t.Errorf("audit retention = %v; a present section must keep defaults it does not name", p.RetentionFor("audit"))
		}
		if time.Duration(p.KeyEpoch) != Day {
			t.Errorf("key_epoch = %v", p.KeyEpoch)
		}
		if got := p.DefaultMarking("consignment", "value").String(); got != "REL TO FRA,NORDIC" {
			t.Errorf("consignment.value = %s", got)
		}
		if got := p.DefaultMarking("consignment", "destination").String(); got != "REL TO FEDERATION" {
			t.Errorf("consignment.destination = %s; default lost", got)
		}
		if got := p.DefaultMarking("screening-hit", "party").String(); got != "REL TO STEERING" {
			t.Errorf("screening-hit.party = %s", got)
		}
	})
	t.Run("absent sections keep defaults", func(t *testing.T) {
		p, err := ParsePolicy([]byte("groups:\n  BALTIC: [EST, LVA, LTU]\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := DefaultPolicy()
		if !maps.Equal(p.Retention, want.Retention) || p.KeyEpoch != want.KeyEpoch || len(p.FieldDefaults) != len(want.FieldDefaults) {
			t.Errorf("defaults not kept: %+v", p)
		}
	})
	t.Run("a default can be made stricter", func(t *testing.T) {
		p, err := ParsePolicy([]byte("field_defaults:\n  consignment:\n    destination: NATIONAL\n"))
		if err != nil {
			t.Fatal(err)
		}
		if p.DefaultMarking("consignment", "destination").Kind != National {
			t.Error("override to NATIONAL not applied")
		}
	})
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"unknown top-level key", "retension:\n  audit: 1y\n", "field retension not found"},
		{"unknown nested type", "key_epoch: [1d]\n", "want a duration"},
		{"bad group member", "groups:\n  NORDIC: [SWE, XX]\n", `policy: groups.NORDIC: "XX" is not an ISO 3166-1 alpha-3 state code`},
		{"group named like a state", "groups:\n  FRA: [DEU]\n", "policy: groups.FRA: FRA is a state code"},
		{"group three letters", "groups:\n  ABC: [DEU]\n", "policy: groups.ABC: ABC has three letters"},
		{"group STEERING", "groups:\n  STEERING: [DEU]\n", "policy: groups.STEERING: STEERING is built in"},
		{"group FEDERATION", "groups:\n  FEDERATION: [DEU]\n", "policy: groups.FEDERATION: FEDERATION is a marking word"},
		{"group NATIONAL", "groups:\n  NATIONAL: [DEU]\n", "policy: groups.NATIONAL: NATIONAL is a marking word"},
		{"group PUBLIC", "groups:\n  PUBLIC: [DEU]\n", "policy: groups.PUBLIC: PUBLIC is a marking word"},
		{"group lower case", "groups:\n  nordic: [SWE]\n", `policy: groups.nordic: "nordic" is not a group name`},
		{"group empty", "groups:\n  NORDIC: []\n", "policy: groups.NORDIC: a group needs at least one state"},
		{"first bad group by name", "groups:\n  ZULU: [XXX]\n  ALPHA: [YYY]\n", `groups.ALPHA: "YYY"`},
		{"zero retention", "retention:\n  audit: 0s\n", "policy: retention.audit: 0s is not a positive period"},
		{"negative retention", "retention:\n  audit: -1y\n", "policy: retention.audit: -1y is not a positive period"},
		{"retention without unit", "retention:\n  audit: 20\n", "want a Go duration"},
		{"empty retention kind", "retention:\n  \"\": 1y\n", "policy: retention: a kind name is empty"},
		{"key epoch too short", "key_epoch: 500ms\n", "policy: key_epoch: 500ms is outside"},
		{"key epoch too long", "key_epoch: 367d\n", "policy: key_epoch: 367d is outside"},
		{"key epoch 2y", "key_epoch: 2y\n", "policy: key_epoch: 2y is outside"},
		{"bad field default", "field_defaults:\n  consignment:\n    value: rel to fra\n", "policy: field_defaults.consignment.value: marking \"rel to fra\": use upper case"},
		{"field default mixes federation", "field_defaults:\n  consignment:\n    value: REL TO FEDERATION,FRA\n", "policy: field_defaults.consignment.value:"},
		{"field default undefined group", "field_defaults:\n  consignment:\n    value: REL TO NORDIC\n", "policy: field_defaults.consignment.value: group NORDIC is not defined"},
		{"empty field name", "field_defaults:\n  consignment:\n    \"\": PUBLIC\n", "a field name is empty"},
		{"duplicate key", "key_epoch: 1d\nkey_epoch: 2d\n", "already defined"},
		{"two documents", "key_epoch: 1d\n---\nkey_epoch: 2d\n", "more than one YAML document"},
		{"not a mapping", "- a\n- b\n", "policy:"},
		{"syntax error", "groups: [\n", "policy:"},
		{"too large", "#" + strings.Repeat("x", MaxPolicySize), "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParsePolicy succeeded: %+v", p)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("error %q does not start with \"policy: \"", err)
			}
		})
	}
}

func TestValidateDirect(t *testing.T) {
	p := DefaultPolicy()
	p.KeyEpoch = 0
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "key_epoch") {
		t.Errorf("zero key epoch: %v", err)
	}
	p = DefaultPolicy()
	p.KeyEpoch = Duration(MaxKeyEpoch)
	p.Groups["G7"] = []string{"CAN", "FRA", "DEU", "ITA", "JPN", "GBR", "USA"}
	p.FieldDefaults["x"] = map[string]string{"y": "REL TO G7"}
	if err := p.Validate(); err != nil {
		t.Errorf("valid policy refused: %v", err)
	}
	p.KeyEpoch = Duration(MinKeyEpoch)
	if err := p.Validate(); err != nil {
		t.Errorf("1h key epoch refused: %v", err)
	}
	if err := (Policy{}).Validate(); err == nil {
		t.Error("zero Policy validated (it has no key epoch)")
	}
}

// TestPackageIsPure enforces the package contract: no clock, randomness, I/O or project
// imports in non-test files.
func TestPackageIsPure(t *testing.T) {
	forbiddenImports := map[string]bool{
		"math/rand": true, "math/rand/v2": true, "crypto/rand": true, "os": true, "io/ioutil": true,
		"net": true, "net/http": true, "os/exec": true, "syscall": true, "log": true, "log/slog": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] || strings.HasPrefix(path, "github.com/entente/") {
				t.Errorf("%s imports %s; package policy must stay pure and a leaf", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
				t.Errorf("%s: calls time.%s; time must be passed in", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 5 {
		t.Errorf("checked only %d files", checked)
	}
	if _, err := os.Stat("contract.go"); err == nil {
		t.Error("contract.go still exists")
	}
}

func policiesEqual(a, b Policy) bool {
	if a.KeyEpoch != b.KeyEpoch || !maps.Equal(a.Retention, b.Retention) || len(a.Groups) != len(b.Groups) || len(a.FieldDefaults) != len(b.FieldDefaults) {
		return false
	}
	for k, v := range a.FieldDefaults {
		if !maps.Equal(v, b.FieldDefaults[k]) {
			return false
		}
	}
	return true
}
