package lists

import (
	"fmt"
	"slices"
	"strings"

	"github.com/entente/entente/node/screen"
)

// Progress is called while a list is parsed so a long import can show how far it got.
// done and total are bytes read across all input files; when the size of the input is
// not known in advance (a pipe), done counts records and total is -1. It is called at
// most every ~1% of the input (or 10,000 records) and once at the end.
type Progress func(done int64, total int64)

// Result is one parsed list with what an import reports to the officer.
type Result struct {
	// Format is the format name the list was parsed as.
	Format string
	// Entities are sorted by ID; IDs are unique.
	Entities []screen.Entity
	// Counts summarises Entities and what was skipped.
	Counts Counts
	// Version is "sha256:" and the hex digest of the canonical encoding of Entities. It
	// depends only on the imported content, so a re-import of unchanged files yields the
	// same Version and the node can tell that nothing changed.
	Version string
}

// Counts summarises an import for the officer and for sanity checks against the source.
type Counts struct {
	// Entities is len(Result.Entities); the next five split it by Type.
	Entities, Persons, Organisations, Vessels, Aircraft, Other int
	// Aliases counts names beyond each entity's primary name.
	Aliases int
	// Identifiers counts identifiers over all entities.
	Identifiers int
	// Skipped counts what the source held but the import left out: records of
	// unsupported kinds (e.g. FTM Address or Sanction entities), records without any
	// name, address or alias rows for unknown entities, and names beyond MaxNames.
	Skipped int
}

// parser parses one format from path into c, reporting bytes to m.
type parser func(path string, m *meter, c *collector) error

// parsers maps each format name to its parser and the List name its entities carry.
var parsers = map[string]struct {
	list  string
	parse parser
}{
	"bis-dpl":   {"bis-dpl", parseDPL},
	"csl":       {"csl", parseCSL},
	"ftm":       {"ftm", parseFTM},
	"ofac-cons": {"ofac-cons", func(p string, m *meter, c *collector) error { return parseOFAC(ofacCons, p, m, c) }},
	"ofac-sdn":  {"ofac-sdn", func(p string, m *meter, c *collector) error { return parseOFAC(ofacSDN, p, m, c) }},
	"un-xml":    {"un", parseUN},
}

// Formats lists the supported format names in a stable (sorted) order.
func Formats() []string {
	names := make([]string, 0, len(parsers))
	for name := range parsers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Read parses a list and returns its entities sorted by ID. path is the directory holding
// the four CSV files for "ofac-sdn" and "ofac-cons" (only the primary file is required)
// and the list file for the other formats.
func Read(format, path string) ([]screen.Entity, error) {
	res, err := Parse(format, path, nil)
	if err != nil {
		return nil, err
	}
	return res.Entities, nil
}

// Parse parses a list like Read and also reports progress (progress may be nil), counts
// and a content Version. A malformed input is refused as a whole with a *ParseError; a
// list that yields no entity at all is refused too, because swapping in an empty list
// would silently switch off screening against it.
func Parse(format string, path string, progress Progress) (*Result, error) {
	p, ok := parsers[format]
	if !ok {
		return nil, fmt.Errorf("%w %q (supported: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
	}
	m := newMeter(progress)
	c := &collector{list: p.list}
	if err := p.parse(path, m, c); err != nil {
		return nil, err
	}
	if len(c.entities) == 0 {
		return nil, errorf(c.mainFile(path), 0, "contains no entities")
	}
	m.end()
	return c.result(format), nil
}
