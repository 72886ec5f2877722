package export

import (
	"bufio"
	"encoding/csv"
	"io"
	"strings"
	"time"

	"github.com/entente/entente/node/api"
)

// CSVHeader is the first row WriteCSV writes. Lists inside a cell are joined with "; ".
// The marking columns give the marking of each exported value, so that whoever opens
// the file in a spreadsheet still sees how it may be shared; "sealed" names every field
// that has a value this export leaves out, so an empty cell always means "none".
var CSVHeader = []string{
	"id", "kind", "status", "origin", "listed", "review_due",
	"party_type", "name", "aliases", "countries", "addresses", "identifiers", "date_of_birth",
	"regime", "control_codes", "rationale",
	"party_marking", "basis_marking", "rationale_marking", "sealed",
}

// csvListSep joins the items of a list inside one cell.
const csvListSep = "; "

// WriteCSV writes the entries in force as CSV: RFC 4180 (CRLF line ends, fields quoted
// where they must be), a header row, then one row per entry in id order. Every cell
// that a spreadsheet would read as a formula is defused (see CSVCell). Unlike FtM, an
// entry whose party is withheld still gets a row, with empty party columns and "party"
// in the sealed column, so the row count matches the watchlist.
func WriteCSV(w io.Writer, entries []api.WatchlistEntry) error {
	sorted, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, we := range sorted {
		if !InForce(we.Status) {
			continue
		}
		e, err := openEntry(we)
		if err != nil {
			return err
		}
		row := csvRow(e)
		for i := range row {
			row[i] = CSVCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// csvRow lays out one entry in the order of CSVHeader.
func csvRow(e *entry) []string {
	row := make([]string, len(CSVHeader))
	set := func(col, v string) {
		for i, h := range CSVHeader {
			if h == col {
				row[i] = v
				return
			}
		}
		panic("export: no CSV column " + col)
	}
	set("id", e.ID)
	set("kind", e.Kind)
	set("status", e.Status)
	set("origin", e.Origin)
	if at, ok := e.listedAt(); ok {
		set("listed", at.Format(time.RFC3339))
	}
	if e.ReviewDue != nil && !e.ReviewDue.IsZero() {
		set("review_due", e.ReviewDue.UTC().Format(time.RFC3339))
	}
	if p := e.party; p != nil {
		set("party_type", p.Type)
		set("name", p.Name)
		set("aliases", strings.Join(p.Aliases, csvListSep))
		set("countries", strings.Join(p.Countries, csvListSep))
		var addrs, ids []string
		for _, a := range p.Addresses {
			addrs = append(addrs, formatAddress(a))
		}
		for _, id := range p.Identifiers {
			s := id.Scheme + ":" + id.Value
			if id.Country != "" {
				s += " (" + id.Country + ")"
			}
			ids = append(ids, s)
		}
		set("addresses", strings.Join(addrs, csvListSep))
		set("identifiers", strings.Join(ids, csvListSep))
		set("date_of_birth", p.DateOfBirth)
		set("party_marking", e.partyMarking.String())
	}
	if b := e.basis; b != nil {
		set("regime", b.Regime)
		set("control_codes", strings.Join(b.ControlCodes, csvListSep))
		set("basis_marking", e.basisMarking.String())
	}
	if e.hasRationale {
		set("rationale", e.rationale)
		set("rationale_marking", e.rationaleMarking.String())
	}
	set("sealed", strings.Join(e.withheld, csvListSep))
	return row
}

// CSVCell defuses CSV injection: a cell that starts with =, +, -, @, a tab or a carriage
// return is one that Excel, LibreOffice and Google Sheets may evaluate as a formula
// (OWASP, "CSV Injection"), so it gets a leading apostrophe, which spreadsheets show as
// text and hide. Names from other states' lists are untrusted input to whoever opens
// the file; a watchlist export must not be a way to run formulas on their machine.
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
