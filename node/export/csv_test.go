package export

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func writeFixtureCSV(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, fixtureEntries(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readCSV parses out strictly (RFC 4180 quoting, a fixed number of fields) and returns
// rows keyed by column name.
func readCSV(t *testing.T, out []byte) []map[string]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = len(CSVHeader)
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not RFC 4180 CSV: %v\n%s", err, out)
	}
	if !slices.Equal(recs[0], CSVHeader) {
		t.Fatalf("header %v", recs[0])
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range CSVHeader {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestCSVRows(t *testing.T) {
	out := writeFixtureCSV(t)
	if !bytes.HasSuffix(out, []byte("\r\n")) || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
		t.Error("RFC 4180 wants CRLF line ends")
	}
	if !utf8.Valid(out) {
		t.Error("not UTF-8")
	}
	rows := readCSV(t, out)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r["id"])
	}
	// Every entry in force, in id order; a sealed party still gets its row.
	if want := []string{"2026-0001", "2026-0002", "2026-0003", "2026-0004", "2026-0007", "x_weird:id.1"}; !slices.Equal(ids, want) {
		t.Fatalf("rows %v, want %v", ids, want)
	}
	get := func(id, col string) string {
		for _, r := range rows {
			if r["id"] == id {
				return r[col]
			}
		}
		t.Fatalf("no row %s", id)
		return ""
	}
	cases := []struct{ id, col, want string }{
		{"2026-0001", "name", "Ivan Petrov"},
		{"2026-0001", "aliases", "I. Petrov; Иван Петров; Ivan Petrov"},
		{"2026-0001", "countries", "RUS; ARE"},
		{"2026-0001", "identifiers", "passport:753123456 (RUS); national-id:RU-99"},
		{"2026-0001", "addresses", "1 Sheikh Zayed Rd, Dubai, United Arab Emirates"},
		{"2026-0001", "listed", "2026-03-03T09:30:00Z"},
		{"2026-0001", "party_marking", federation},
		{"2026-0001", "rationale_marking", relDEUFRA},
		{"2026-0001", "control_codes", "9A012; 1C350"},
		{"2026-0001", "sealed", ""},
		{"2026-0002", "name", `'=HYPERLINK("http://evil","click")`},
		{"2026-0002", "aliases", "'+Acme Trading; -Acme; @Acme; \tAcme; Acme; Acme; Ltd"},
		{"2026-0002", "rationale", "'-2+3 diverted dual-use items"},
		{"2026-0003", "rationale", ""},
		{"2026-0003", "rationale_marking", ""},
		{"2026-0003", "sealed", "rationale"},
		{"2026-0004", "name", ""},
		{"2026-0004", "party_marking", ""},
		{"2026-0004", "sealed", "party"},
		{"2026-0004", "regime", "EU 2021/821"},
		{"2026-0007", "sealed", "basis; rationale"},
		{"2026-0007", "regime", ""},
		{"x_weird:id.1", "name", `O'Brien \ "Quote" <b>`},
		{"x_weird:id.1", "sealed", "rationale"},
	}
	for _, c := range cases {
		if got := get(c.id, c.col); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.id, c.col, got, c.want)
		}
	}
}

// TestCSVNoFormulaCells checks every cell of the export, not just the fixtures meant to
// trip it: no cell may start with a character that makes a spreadsheet evaluate it.
func TestCSVNoFormulaCells(t *testing.T) {
	for _, r := range readCSV(t, writeFixtureCSV(t)) {
		for col, v := range r {
			if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
				t.Errorf("%s %s = %q starts a formula", r["id"], col, v)
			}
		}
	}
}

func TestCSVCell(t *testing.T) {
	cases := map[string]string{
		"":                "",
		"plain":           "plain",
		"=1+1":            "'=1+1",
		"+1":              "'+1",
		"-1":              "'-1",
		"@SUM(A1)":        "'@SUM(A1)",
		"\tx":             "'\tx",
		"\rx":             "'\rx",
		"a=b":             "a=b",
		"'already":        "'already",
		" =1":             " =1", // a leading space makes it text to every spreadsheet
		"=cmd|' /C calc'": "'=cmd|' /C calc'",
	}
	for in, want := range cases {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVWithheldNeverExported(t *testing.T) {
	out := writeFixtureCSV(t)
	checkNoSecrets(t, "CSV", out)
	if bytes.Contains(out, []byte("NATIONAL")) {
		t.Error("CSV mentions NATIONAL")
	}
}

func TestCSVDeterministic(t *testing.T) {
	a := writeFixtureCSV(t)
	for i := range 5 {
		es := fixtureEntries(t)
		rand.New(rand.NewPCG(uint64(i), 3)).Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		var b bytes.Buffer
		if err := WriteCSV(&b, es); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b.Bytes()) {
			t.Fatal("shuffled input gave different output")
		}
	}
}

func TestCSVRefusesDuplicates(t *testing.T) {
	es := fixtureEntries(t)
	if err := WriteCSV(&bytes.Buffer{}, append(es, es[0])); err == nil {
		t.Error("duplicate entry accepted")
	}
}
