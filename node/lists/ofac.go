package lists

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/entente/entente/node/screen"
)

// ofacLayout names the four files of a legacy OFAC CSV publication. The SDN list and the
// consolidated non-SDN list share the layout and differ only in file names.
type ofacLayout struct {
	list                     string
	prim, add, alt, comments string
}

var (
	ofacSDN  = ofacLayout{"ofac-sdn", "sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv"}
	ofacCons = ofacLayout{"ofac-cons", "cons_prim.csv", "cons_add.csv", "cons_alt.csv", "cons_comments.csv"}
)

// Column names of the legacy files, used in error messages so that an officer can match
// them with OFAC's file specification.
var (
	ofacPrimColumns     = []string{"ent_num", "SDN_Name", "SDN_Type", "Program", "Title", "Call_Sign", "Vess_type", "Tonnage", "GRT", "Vess_flag", "Vess_owner", "Remarks"}
	ofacAddColumns      = []string{"ent_num", "add_num", "address", "city/state/postal", "country", "add_remarks"}
	ofacAltColumns      = []string{"ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks"}
	ofacCommentsColumns = []string{"ent_num", "remarks"}
)

// ofacTypes maps SDN_Type to screen types; OFAC leaves the type null for organisations.
var ofacTypes = map[string]string{"individual": "person", "vessel": "vessel", "aircraft": "aircraft", "": "organisation"}

// ofacEntry is an entity being assembled from the four files.
type ofacEntry struct {
	e       screen.Entity
	line    int
	remarks string // Remarks column plus any overflow from the comments file
	extra   string // Title, call sign and vessel details, shown after the remarks
}

// ofacSet holds the entries of one publication by ent_num, in file order.
type ofacSet struct {
	byNum   map[string]*ofacEntry
	order   []*ofacEntry
	skipped int
}

// parseOFAC reads a directory holding a legacy OFAC CSV publication. Only the primary
// file is required; addresses, aliases and remark overflow are optional because OFAC
// tooling and mirrors do not always ship them.
func parseOFAC(l ofacLayout, dir string, m *meter, c *collector) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return &ParseError{File: filepath.Base(dir), Reason: err.Error(), err: err}
	}
	if !fi.IsDir() {
		return errorf(filepath.Base(dir), 0, "%s expects a directory holding %s, %s, %s and %s", l.list, l.prim, l.add, l.alt, l.comments)
	}
	var total int64
	present := map[string]bool{}
	for i, name := range []string{l.prim, l.comments, l.add, l.alt} {
		size, ok, err := statInput(filepath.Join(dir, name), i > 0)
		if err != nil {
			return err
		}
		present[name] = ok
		if size < 0 || total < 0 {
			total = -1
		} else {
			total += size
		}
	}
	m.start(total)

	set := &ofacSet{byNum: map[string]*ofacEntry{}}
	steps := []struct {
		name string
		read func(*ofacSet, *source) error
	}{
		{l.prim, (*ofacSet).readPrim},
		{l.comments, (*ofacSet).readComments},
		{l.add, (*ofacSet).readAddresses},
		{l.alt, (*ofacSet).readAliases},
	}
	for _, s := range steps {
		if !present[s.name] {
			continue
		}
		if err := openInput(filepath.Join(dir, s.name), m, func(src *source) error { return s.read(set, src) }); err != nil {
			return err
		}
	}
	set.finish(c)
	return nil
}

// ofacRecords iterates over the records of one legacy file, checking the column count and
// the ent_num, and skipping the DOS end-of-file mark (Ctrl-Z) OFAC still appends.
func ofacRecords(src *source, columns []string, fn func(rec []string, line int) error) error {
	r := newCSV(src, ',')
	for {
		rec, line, err := r.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec) == 1 && strings.Trim(rec[0], "\x1a \r\n") == "" {
			continue
		}
		if len(rec) != len(columns) {
			return errorf(src.name, line, "want %d fields (%s), got %d", len(columns), strings.Join(columns, ", "), len(rec))
		}
		for i := range rec {
			rec[i] = ofacValue(rec[i], columns[i] == "Remarks" || columns[i] == "remarks")
		}
		if !isDigits(rec[0]) {
			return errorf(src.name, line, "field 1 (ent_num): %q is not a number", rec[0])
		}
		src.lim.m.record()
		if err := fn(rec, line); err != nil {
			return err
		}
	}
}

// ofacValue trims a field and maps OFAC's null marker "-0-" to "". Remarks are not
// trimmed: OFAC cuts long remarks at a fixed length and continues them in the comments
// file, and the cut may fall just after or before a space that must survive the join.
func ofacValue(s string, remark bool) string {
	t := strings.TrimSpace(s)
	if t == "-0-" || remark && t == "" {
		return ""
	}
	if remark {
		return s
	}
	return t
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (s *ofacSet) readPrim(src *source) error {
	return ofacRecords(src, ofacPrimColumns, func(rec []string, line int) error {
		typ, ok := ofacTypes[strings.ToLower(rec[2])]
		if !ok {
			return errorf(src.name, line, "field 3 (SDN_Type): %q is not individual, vessel, aircraft or -0-", rec[2])
		}
		if rec[1] == "" {
			return errorf(src.name, line, "field 2 (SDN_Name) is empty")
		}
		if prev, dup := s.byNum[rec[0]]; dup {
			return errorf(src.name, line, "duplicate ent_num %s (first on line %d)", rec[0], prev.line)
		}
		en := &ofacEntry{line: line, remarks: rec[11]}
		en.e = screen.Entity{ID: rec[0], Type: typ, Names: []string{rec[1]}, Programs: ofacPrograms(rec[3])}
		if typ == "aircraft" && !strings.Contains(rec[1], " ") {
			// OFAC names aircraft by their registration mark ("EP-GOM"); matching it
			// exactly as an identifier catches the mark written into a transaction.
			en.e.Identifiers = append(en.e.Identifiers, screen.Identifier{Scheme: "aircraft", Value: rec[1]})
		}
		if c, ok := countryName(rec[9]); ok {
			en.e.Countries = append(en.e.Countries, c)
		}
		for i, label := range []string{4: "Title", 5: "Call sign", 6: "Vessel type", 7: "Tonnage", 8: "GRT", 9: "Flag", 10: "Vessel owner"} {
			if label != "" && rec[i] != "" {
				remark(&en.extra, label+": "+rec[i])
			}
		}
		s.byNum[rec[0]] = en
		s.order = append(s.order, en)
		return nil
	})
}

// ofacPrograms splits "SDGT] [IRGC" (the brackets of "[SDGT] [IRGC]" minus the outer
// pair, as OFAC writes it) into programmes.
func ofacPrograms(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "] [") {
		if p = strings.Trim(p, "[] "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readComments appends remark overflow: OFAC cuts Remarks at a fixed length and
// continues it in the comments file mid-word, so the parts are joined without a space.
func (s *ofacSet) readComments(src *source) error {
	return ofacRecords(src, ofacCommentsColumns, func(rec []string, _ int) error {
		en, ok := s.byNum[rec[0]]
		if !ok {
			s.skipped++
			return nil
		}
		en.remarks += rec[1]
		return nil
	})
}

func (s *ofacSet) readAddresses(src *source) error {
	return ofacRecords(src, ofacAddColumns, func(rec []string, _ int) error {
		en, ok := s.byNum[rec[0]]
		if !ok {
			s.skipped++
			return nil
		}
		if a := joinNonEmpty(", ", rec[2], rec[3], rec[4]); a != "" {
			en.e.Addresses = append(en.e.Addresses, a)
		}
		if c, ok := countryName(rec[4]); ok {
			en.e.Countries = append(en.e.Countries, c)
		}
		return nil
	})
}

func (s *ofacSet) readAliases(src *source) error {
	return ofacRecords(src, ofacAltColumns, func(rec []string, _ int) error {
		en, ok := s.byNum[rec[0]]
		if !ok || rec[3] == "" {
			s.skipped++
			return nil
		}
		en.e.Names = append(en.e.Names, rec[3])
		return nil
	})
}

// finish parses the complete remarks of each entry and hands the entries over.
func (s *ofacSet) finish(c *collector) {
	c.skipped += s.skipped
	for _, en := range s.order {
		f := parseRemarks(en.remarks)
		en.e.BirthDates = f.birthDates
		en.e.Countries = append(en.e.Countries, f.countries...)
		en.e.Identifiers = append(en.e.Identifiers, f.identifiers...)
		en.e.Remarks = en.remarks
		remark(&en.e.Remarks, en.extra)
		c.add(en.e, f.weak)
	}
}
