package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseMarkingValid(t *testing.T) {
	tests := []struct {
		in        string
		kind      MarkingKind
		to        []string
		canonical string
	}{
		{"NATIONAL", National, nil, "NATIONAL"},
		{"PUBLIC", Public, nil, "PUBLIC"},
		{"REL TO FEDERATION", Federation, nil, "REL TO FEDERATION"},
		{"  REL TO FEDERATION  ", Federation, nil, "REL TO FEDERATION"},
		{"REL TO FEDERATION,FEDERATION", Federation, nil, "REL TO FEDERATION"},
		{"REL TO FRA", RelTo, []string{"FRA"}, "REL TO FRA"},
		{"REL TO DEU,FRA", RelTo, []string{"DEU", "FRA"}, "REL TO DEU,FRA"},
		{"REL TO FRA,DEU", RelTo, []string{"DEU", "FRA"}, "REL TO DEU,FRA"},
		{"REL TO FRA, DEU", RelTo, []string{"DEU", "FRA"}, "REL TO DEU,FRA"},
		{"REL TO FRA , DEU ,GBR", RelTo, []string{"DEU", "FRA", "GBR"}, "REL TO DEU,FRA,GBR"},
		{"REL TO FRA,FRA,DEU,FRA", RelTo, []string{"DEU", "FRA"}, "REL TO DEU,FRA"},
		{" NATIONAL ", National, nil, "NATIONAL"},
		{"\tPUBLIC\t", Public, nil, "PUBLIC"},
		{"REL TO STEERING", RelTo, []string{"STEERING"}, "REL TO STEERING"},
		{"REL TO NORDIC,FRA", RelTo, []string{"FRA", "NORDIC"}, "REL TO FRA,NORDIC"},
		{"REL TO FIVE_EYES", RelTo, []string{"FIVE_EYES"}, "REL TO FIVE_EYES"},
		{"REL TO G7-PLUS", RelTo, []string{"G7-PLUS"}, "REL TO G7-PLUS"},
		{"REL TO EU", RelTo, []string{"EU"}, "REL TO EU"},
		{"REL TO G7", RelTo, []string{"G7"}, "REL TO G7"},
		{"REL TO A1B", RelTo, []string{"A1B"}, "REL TO A1B"}, // three characters but not three letters
		{"REL TO " + "A" + strings.Repeat("B", 31), RelTo, []string{"A" + strings.Repeat("B", 31)}, "REL TO A" + strings.Repeat("B", 31)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMarking(tt.in)
			if err != nil {
				t.Fatalf("ParseMarking(%q): %v", tt.in, err)
			}
			if m.Kind != tt.kind || !slices.Equal(m.To, tt.to) {
				t.Errorf("ParseMarking(%q) = %+v, want kind %d to %v", tt.in, m, tt.kind, tt.to)
			}
			if got := m.String(); got != tt.canonical {
				t.Errorf("String() = %q, want %q", got, tt.canonical)
			}
			again, err := ParseMarking(m.String())
			if err != nil || !again.Equal(m) {
				t.Errorf("canonical form %q does not re-parse to the same marking: %+v, %v", m.String(), again, err)
			}
		})
	}
}

func TestParseMarkingInvalid(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "empty"},
		{"only spaces", "   ", "empty"},
		{"lower case", "national", "upper case"},
		{"mixed case", "Rel To FRA", "upper case"},
		{"lower state", "REL TO fra", "upper case"},
		{"rel to alone", "REL TO", "names no states or groups"},
		{"rel to trailing space", "REL TO  ", "names no states or groups"},
		{"federation mixed", "REL TO FEDERATION,FRA", "cannot be combined"},
		{"federation mixed group", "REL TO NORDIC, FEDERATION", "cannot be combined"},
		{"unknown state", "REL TO FRN", `"FRN" is not an ISO 3166-1 alpha-3 state code`},
		{"two-letter code", "REL TO FR", ""}, // a valid group-name shape; must not error
		{"empty element", "REL TO FRA,,DEU", "empty entry"},
		{"trailing comma", "REL TO FRA,", "empty entry"},
		{"leading comma", "REL TO ,FRA", "empty entry"},
		{"national inside", "REL TO NATIONAL", "marking of its own"},
		{"public inside", "REL TO FRA,PUBLIC", "marking of its own"},
		{"no space", "RELTO FRA", "want NATIONAL"},
		{"double space", "REL  TO FRA", "want NATIONAL"},
		{"other word", "SECRET", "want NATIONAL"},
		{"national suffix", "NATIONAL FRA", "want NATIONAL"},
		{"semicolon", "REL TO FRA;DEU", "neither"},
		{"space inside list", "REL TO FRA DEU", "neither"},
		{"group starts with digit", "REL TO 7G", "neither"},
		{"group one char", "REL TO X", "neither"},
		{"group too long", "REL TO A" + strings.Repeat("B", 32), "neither"},
		{"unicode", "REL TO FRÅ", "neither"},
		{"cyrillic lookalike", "REL TO FRА", "neither"}, // Cyrillic A
		{"nul byte", "REL TO FRA\x00", "neither"},
		{"newline", "REL TO FRA\nDEU", "neither"},
		{"invalid utf8", "REL TO \xff\xfe", "neither"},
		{"too long", "REL TO " + strings.Repeat("FRA,", 200), "at most 512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMarking(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMarking(%q): unexpected error %v", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseMarking(%q) = %+v, want error containing %q", tt.in, m, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMarking(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes long; hostile input must not be echoed in full", len(err.Error()))
			}
		})
	}
}

func TestParseMarkingThreeLetterTypoIsNeverAGroup(t *testing.T) {
	// Every three-letter string is either a state code or an error: a typo such as "FRN"
	// must never be taken for a group name and resolved against the policy.
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				code := string([]rune{a, b, c})
				m, err := ParseMarking("REL TO " + code)
				valid := ValidStateCode(code) == nil
				if valid != (err == nil) {
					t.Fatalf("REL TO %s: parse error %v, but ValidStateCode says valid=%v", code, err, valid)
				}
				if valid && (m.Kind != RelTo || !slices.Equal(m.To, []string{code})) {
					t.Fatalf("REL TO %s parsed as %+v", code, m)
				}
			}
		}
	}
}

func TestMarkingString(t *testing.T) {
	tests := []struct {
		m    Marking
		want string
	}{
		{Marking{Kind: National}, "NATIONAL"},
		{Marking{Kind: Public}, "PUBLIC"},
		{Marking{Kind: Federation}, "REL TO FEDERATION"},
		{Marking{Kind: RelTo, To: []string{"FRA", "DEU", "FRA"}}, "REL TO DEU,FRA"},
		{Marking{Kind: RelTo}, "INVALID MARKING"},
		{Marking{}, "INVALID MARKING"},
		{Marking{Kind: 99}, "INVALID MARKING"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
	// String must not reorder the caller's slice.
	to := []string{"FRA", "DEU"}
	_ = Marking{Kind: RelTo, To: to}.String()
	if !slices.Equal(to, []string{"FRA", "DEU"}) {
		t.Errorf("String modified To: %v", to)
	}
}

func TestMarkingEqual(t *testing.T) {
	tests := []struct {
		a, b Marking
		want bool
	}{
		{Marking{Kind: National}, Marking{Kind: National}, true},
		{Marking{Kind: National}, Marking{Kind: Public}, false},
		{Marking{Kind: RelTo, To: []string{"DEU", "FRA"}}, Marking{Kind: RelTo, To: []string{"FRA", "DEU"}}, true},
		{Marking{Kind: RelTo, To: []string{"DEU"}}, Marking{Kind: RelTo, To: []string{"DEU", "FRA"}}, false},
		{Marking{Kind: Federation}, Marking{Kind: RelTo, To: []string{"FEDERATION"}}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMarkingTextJSONYAML(t *testing.T) {
	type doc struct {
		M Marking `json:"m" yaml:"m"`
	}
	in := doc{M: Marking{Kind: RelTo, To: []string{"FRA", "DEU"}}}
	j, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != `{"m":"REL TO DEU,FRA"}` {
		t.Errorf("JSON = %s", j)
	}
	var out doc
	if err := json.Unmarshal(j, &out); err != nil || !out.M.Equal(in.M) {
		t.Errorf("JSON round trip: %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"m":"rel to fra"}`), &out); err == nil || !strings.Contains(err.Error(), "upper case") {
		t.Errorf("JSON lower case marking: err = %v", err)
	}
	if _, err := json.Marshal(doc{}); err == nil {
		t.Error("JSON marshal of the zero (invalid) marking succeeded")
	}

	y, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(y) != "m: REL TO DEU,FRA\n" {
		t.Errorf("YAML = %q", y)
	}
	var yout doc
	if err := yaml.Unmarshal([]byte("m: REL TO GBR, FRA\n"), &yout); err != nil {
		t.Fatal(err)
	}
	if yout.M.String() != "REL TO FRA,GBR" {
		t.Errorf("YAML unmarshal = %v", yout.M)
	}
	if err := yaml.Unmarshal([]byte("m: REL TO\n"), &yout); err == nil {
		t.Error("YAML accepted a bare REL TO")
	}

	var m Marking
	if err := m.UnmarshalText([]byte("PUBLIC")); err != nil || m.Kind != Public {
		t.Errorf("UnmarshalText(PUBLIC) = %+v, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("UnmarshalText(bogus) succeeded")
	}
	if m.Kind != Public {
		t.Errorf("failed UnmarshalText changed the marking to %+v", m)
	}
	if b, err := (Marking{Kind: National}).MarshalText(); err != nil || string(b) != "NATIONAL" {
		t.Errorf("MarshalText(NATIONAL) = %q, %v", b, err)
	}
	if _, err := (Marking{Kind: RelTo, To: []string{"fra"}}).MarshalText(); err == nil {
		t.Error("MarshalText of a hand-built invalid marking succeeded")
	}
}

func TestMayLeave(t *testing.T) {
	tests := []struct {
		m    Marking
		want bool
	}{
		{Marking{Kind: National}, false},
		{Marking{Kind: RelTo, To: []string{"FRA"}}, true},
		{Marking{Kind: RelTo}, false},
		{Marking{Kind: Federation}, true},
		{Marking{Kind: Public}, true},
		{Marking{}, false},
		{Marking{Kind: -1}, false},
	}
	for _, tt := range tests {
		if got := MayLeave(tt.m); got != tt.want {
			t.Errorf("MayLeave(%+v) = %v, want %v", tt.m, got, tt.want)
		}
	}
}
