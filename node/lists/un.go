package lists

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/entente/entente/node/screen"
)

// unRecord is one INDIVIDUAL or ENTITY of the UN consolidated list. Both kinds share the
// struct; the fields of the other kind simply stay empty.
type unRecord struct {
	DataID         string      `xml:"DATAID"`
	First          string      `xml:"FIRST_NAME"`
	Second         string      `xml:"SECOND_NAME"`
	Third          string      `xml:"THIRD_NAME"`
	Fourth         string      `xml:"FOURTH_NAME"`
	ListType       string      `xml:"UN_LIST_TYPE"`
	Reference      string      `xml:"REFERENCE_NUMBER"`
	OriginalScript string      `xml:"NAME_ORIGINAL_SCRIPT"`
	Comments       string      `xml:"COMMENTS1"`
	Titles         []string    `xml:"TITLE>VALUE"`
	Designations   []string    `xml:"DESIGNATION>VALUE"`
	Nationalities  []string    `xml:"NATIONALITY>VALUE"`
	Aliases        []unAlias   `xml:"INDIVIDUAL_ALIAS"`
	EntityAliases  []unAlias   `xml:"ENTITY_ALIAS"`
	Addresses      []unAddress `xml:"INDIVIDUAL_ADDRESS"`
	EntityAddrs    []unAddress `xml:"ENTITY_ADDRESS"`
	BirthDates     []unDOB     `xml:"INDIVIDUAL_DATE_OF_BIRTH"`
	BirthPlaces    []unAddress `xml:"INDIVIDUAL_PLACE_OF_BIRTH"`
	Documents      []unDoc     `xml:"INDIVIDUAL_DOCUMENT"`
}

type unAlias struct {
	Quality string `xml:"QUALITY"`
	Name    string `xml:"ALIAS_NAME"`
}

type unAddress struct {
	Street  string `xml:"STREET"`
	City    string `xml:"CITY"`
	State   string `xml:"STATE_PROVINCE"`
	Zip     string `xml:"ZIP_CODE"`
	Country string `xml:"COUNTRY"`
}

func (a unAddress) String() string {
	return joinNonEmpty(", ", a.Street, a.City, a.State, a.Zip, a.Country)
}

type unDOB struct {
	Type     string `xml:"TYPE_OF_DATE"`
	Date     string `xml:"DATE"`
	Year     string `xml:"YEAR"`
	FromYear string `xml:"FROM_YEAR"`
	ToYear   string `xml:"TO_YEAR"`
}

type unDoc struct {
	Type         string `xml:"TYPE_OF_DOCUMENT"`
	Number       string `xml:"NUMBER"`
	IssuingCtry  string `xml:"ISSUING_COUNTRY"`
	CountryIssue string `xml:"COUNTRY_OF_ISSUE"`
}

// parseUN reads the UN Security Council consolidated list XML.
func parseUN(path string, m *meter, c *collector) error {
	size, _, err := statInput(path, false)
	if err != nil {
		return err
	}
	m.start(size)
	return openInput(path, m, func(src *source) error { return readUN(src, c) })
}

// readUN streams the XML: tokens are read one by one and only each INDIVIDUAL or ENTITY
// is decoded whole, so the raw XML is never held in memory, only the entities built so
// far and one record.
func readUN(src *source, c *collector) error {
	d := xml.NewDecoder(src.br)
	seen := map[string]int{}
	depth, root := 0, false
	for {
		line, _ := d.InputPos()
		src.lim.mark = d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			if !root {
				return errorf(src.name, line, "no CONSOLIDATED_LIST element")
			}
			return nil
		}
		if err != nil {
			return unError(src, d, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Local != "CONSOLIDATED_LIST" || root {
					return errorf(src.name, line, "root element is <%s>, not one <CONSOLIDATED_LIST>: not a UN consolidated list", t.Name.Local)
				}
				root = true
			}
			if depth != 3 || (t.Name.Local != "INDIVIDUAL" && t.Name.Local != "ENTITY") {
				continue
			}
			var r unRecord
			start := d.InputOffset()
			if err := d.DecodeElement(&r, &t); err != nil {
				return unError(src, d, line, err)
			}
			if d.InputOffset()-start > MaxRecordBytes {
				return &ParseError{File: src.name, Line: line, Reason: errRecordTooLong.Error(), err: errRecordTooLong}
			}
			depth--
			src.lim.m.record()
			e, weak := r.entity(t.Name.Local == "INDIVIDUAL")
			if e.ID == "" {
				return errorf(src.name, line, "%s has neither REFERENCE_NUMBER nor DATAID", t.Name.Local)
			}
			if first, dup := seen[e.ID]; dup {
				return errorf(src.name, line, "duplicate REFERENCE_NUMBER %s (first on line %d)", e.ID, first)
			}
			seen[e.ID] = line
			c.add(e, weak)
		case xml.EndElement:
			depth--
		}
	}
}

// unError turns a decoder failure into a ParseError at the line the decoder reached.
func unError(src *source, d *xml.Decoder, recordLine int, err error) error {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errRecordTooLong):
		return &ParseError{File: src.name, Line: recordLine, Reason: errRecordTooLong.Error(), err: err}
	case errors.Is(err, errFileTooLarge):
		return &ParseError{File: src.name, Reason: errFileTooLarge.Error(), err: err}
	case errors.As(err, &se):
		return errorf(src.name, se.Line, "malformed XML: %s", se.Msg)
	}
	line, _ := d.InputPos()
	return &ParseError{File: src.name, Line: line, Reason: fmt.Sprintf("malformed XML: %v", err), err: err}
}

// entity maps a UN record. The primary name is FIRST..FOURTH_NAME joined, as the UN
// prints it; the original-script name and aliases follow. Aliases of "Low" quality are
// returned as weak so they go last.
func (r *unRecord) entity(individual bool) (screen.Entity, []string) {
	e := screen.Entity{ID: clean(r.Reference), Type: "organisation"}
	if e.ID == "" {
		e.ID = clean(r.DataID)
	}
	if individual {
		e.Type = "person"
	}
	e.Names = []string{joinNonEmpty(" ", r.First, r.Second, r.Third, r.Fourth), r.OriginalScript}
	var weak []string
	for _, a := range append(r.Aliases, r.EntityAliases...) {
		if strings.EqualFold(clean(a.Quality), "Low") {
			weak = append(weak, a.Name)
		} else {
			e.Names = append(e.Names, a.Name)
		}
	}

	codes, unknown := countries(countryName, r.Nationalities...)
	e.Countries = codes
	for _, n := range unknown {
		remark(&e.Remarks, prefixed("Nationality: ", n))
	}
	for _, a := range append(r.Addresses, r.EntityAddrs...) {
		e.Addresses = append(e.Addresses, a.String())
		if c, ok := countryName(a.Country); ok {
			e.Countries = append(e.Countries, c)
		}
	}
	for _, d := range r.BirthDates {
		e.BirthDates = append(e.BirthDates, d.dates()...)
	}
	for _, d := range r.Documents {
		country := d.IssuingCtry
		if clean(country) == "" {
			country = d.CountryIssue
		}
		if id, ok := identifier(unDocScheme(d.Type), d.Number, country); ok {
			e.Identifiers = append(e.Identifiers, id)
		}
	}
	e.Programs = []string{r.ListType}

	for _, t := range r.Titles {
		remark(&e.Remarks, prefixed("Title: ", clean(t)))
	}
	for _, t := range r.Designations {
		remark(&e.Remarks, prefixed("Designation: ", clean(t)))
	}
	for _, p := range r.BirthPlaces {
		remark(&e.Remarks, prefixed("Place of birth: ", p.String()))
	}
	remark(&e.Remarks, r.Comments)
	if len(weak) > 0 {
		// Screening sees names only; the remark is where an officer reviewing a hit on
		// one of these learns that the UN rates it a low-quality alias.
		remark(&e.Remarks, "Low quality aliases: "+strings.Join(uniq(weak), "; "))
	}
	return e, weak
}

func (d unDOB) dates() []string {
	switch {
	case clean(d.FromYear) != "" || clean(d.ToYear) != "":
		return dateRange(parseDate(d.FromYear), parseDate(d.ToYear))
	case clean(d.Date) != "":
		return birthDates(d.Date)
	case clean(d.Year) != "":
		return birthDates(d.Year)
	}
	return nil
}

// unDocScheme maps TYPE_OF_DOCUMENT, which the UN writes in English, French or Spanish.
func unDocScheme(t string) string {
	t = strings.ToLower(clean(t))
	switch {
	case strings.Contains(t, "passport") || strings.Contains(t, "passeport") || strings.Contains(t, "pasaporte"):
		return "passport"
	case strings.Contains(t, "national identification") || strings.Contains(t, "identity card") || strings.Contains(t, "national id"):
		return "national-id"
	}
	return "other"
}
