package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/node/records"
)

// ftmAuthority names the listing body on every Sanction entity: the listing is the
// federation's consensus decision, whichever state nominated it.
const ftmAuthority = "Entente federation"

// datasetRE is the shape of a FollowTheMoney dataset name: nomenklatura and yente key
// datasets by lower-case names of letters, digits and underscores.
var datasetRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ftmEntity is one FollowTheMoney entity as yente and the other OpenSanctions tools read
// it from a dataset's entities file: one JSON object per line.
type ftmEntity struct {
	ID         string              `json:"id"`
	Caption    string              `json:"caption"`
	Schema     string              `json:"schema"`
	Properties map[string][]string `json:"properties"`
	Datasets   []string            `json:"datasets"`
	Referents  []string            `json:"referents"`
	Target     bool                `json:"target"`
	FirstSeen  string              `json:"first_seen,omitempty"`
	LastChange string              `json:"last_change,omitempty"`
}

// ftmTimeLayout is how OpenSanctions writes first_seen and last_change: UTC, no zone.
const ftmTimeLayout = "2006-01-02T15:04:05"

// WriteFTM writes the entries in force as FollowTheMoney JSON lines for dataset: for
// each entry, the party (Person, Organization, Company, Vessel or Airplane, or
// LegalEntity for a type this package does not know) and a Sanction entity that links
// to it with the authority, programme, dates and reason, as OpenSanctions datasets do.
// Entries come out in id order with ids derived only from the entry id, so the same
// watchlist always gives the same bytes.
//
// An entry whose party is withheld (sealed for this node, or not releasable) is left
// out: a listing without a name cannot be screened against. Any other withheld field is
// named in the party's notes and the sanction's description rather than written empty.
func WriteFTM(w io.Writer, dataset string, entries []api.WatchlistEntry) error {
	if !datasetRE.MatchString(dataset) {
		return fmt.Errorf("dataset %q: want a lower-case name of letters, digits and underscores, starting with a letter, at most 64 characters", clip(dataset))
	}
	sorted, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, we := range sorted {
		if !InForce(we.Status) {
			continue
		}
		e, err := openEntry(we)
		if err != nil {
			return err
		}
		if e.party == nil {
			continue
		}
		party, sanction := ftmEntities(e, dataset)
		if err := enc.Encode(party); err != nil {
			return err
		}
		if err := enc.Encode(sanction); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ftmEntities maps one entry to its party and Sanction entities.
func ftmEntities(e *entry, dataset string) (party, sanction ftmEntity) {
	p := e.party
	schema := ftmSchema(p)
	id := FTMID(e.ID)
	props := map[string][]string{"name": {strings.TrimSpace(p.Name)}}
	add := func(prop string, vs ...string) {
		if list := appendUnique(props[prop], vs...); len(list) > 0 {
			props[prop] = list
		}
	}
	for _, a := range p.Aliases {
		if strings.TrimSpace(a) != strings.TrimSpace(p.Name) {
			add("alias", a)
		}
	}
	for _, c := range p.Countries {
		add("country", alpha2(c))
	}
	for _, a := range p.Addresses {
		add("address", formatAddress(a))
		if a.Country != "" {
			add("country", alpha2(a.Country))
		}
	}
	if schema == "Person" {
		add("birthDate", p.DateOfBirth)
	}
	for _, id := range p.Identifiers {
		if prop := ftmIdentifierProp(schema, id.Scheme); prop != "" {
			add(prop, id.Value)
		} else {
			add("notes", fmt.Sprintf("Identifier (%s): %s", id.Scheme, id.Value))
		}
	}
	add("topics", ftmTopics(e.Kind)...)
	if e.basis != nil {
		add("program", e.basis.Regime)
	}
	if len(e.withheld) > 0 {
		add("notes", withheldNotice(e.withheld))
	}

	sanctionID := id + ".sanction"
	sp := map[string][]string{
		"entity":      {id},
		"authority":   {ftmAuthority},
		"authorityId": {e.ID},
		"status":      {e.Status},
		"summary":     {fmt.Sprintf("Entente consensus watchlist: %s, nominated by %s", e.Kind, e.Origin)},
	}
	sadd := func(prop string, vs ...string) {
		if list := appendUnique(sp[prop], vs...); len(list) > 0 {
			sp[prop] = list
		}
	}
	caption := "Entente consensus watchlist"
	if e.basis != nil {
		sadd("program", e.basis.Regime)
		sadd("provisions", e.basis.ControlCodes...)
		if r := strings.TrimSpace(e.basis.Regime); r != "" {
			caption = r
		}
	}
	if e.hasRationale {
		sadd("reason", e.rationale)
	}
	var firstSeen string
	if at, ok := e.listedAt(); ok {
		sadd("startDate", at.Format("2006-01-02"))
		sadd("listingDate", at.Format("2006-01-02"))
		firstSeen = at.Format(ftmTimeLayout)
	}
	if len(e.withheld) > 0 {
		sadd("description", withheldNotice(e.withheld))
	}
	party = ftmEntity{ID: id, Caption: strings.TrimSpace(p.Name), Schema: schema, Properties: props,
		Datasets: []string{dataset}, Referents: []string{}, Target: true, FirstSeen: firstSeen, LastChange: firstSeen}
	sanction = ftmEntity{ID: sanctionID, Caption: caption, Schema: "Sanction", Properties: sp,
		Datasets: []string{dataset}, Referents: []string{}, FirstSeen: firstSeen, LastChange: firstSeen}
	return party, sanction
}

// ftmSchema picks the FtM schema for a party. An organisation with a DUNS number or a
// company registration number is a Company (those identify commercial undertakings);
// any other organisation is an Organization, which FtM matches against companies too.
func ftmSchema(p *records.Party) string {
	switch p.Type {
	case "person":
		return "Person"
	case "organisation":
		for _, id := range p.Identifiers {
			if id.Scheme == "duns" || id.Scheme == "registration" {
				return "Company"
			}
		}
		return "Organization"
	case "vessel":
		return "Vessel"
	case "aircraft":
		return "Airplane"
	}
	return "LegalEntity"
}

// ftmIdentifierProp maps an identifier scheme to the FtM property of schema that holds
// it, or "" where the schema has none (the value then goes to notes, so it is still
// shown but never matched as the wrong kind of number).
func ftmIdentifierProp(schema, scheme string) string {
	switch schema {
	case "Vessel":
		switch scheme {
		case "imo":
			return "imoNumber"
		case "registration":
			return "registrationNumber"
		}
		return ""
	case "Airplane":
		if scheme == "registration" {
			return "registrationNumber"
		}
		return ""
	}
	// Person, Organization, Company and LegalEntity all inherit LegalEntity's
	// identifiers; IMO company numbers and passports exist only on the subtypes.
	switch scheme {
	case "lei":
		return "leiCode"
	case "duns":
		return "dunsCode"
	case "tax":
		return "taxNumber"
	case "registration":
		return "registrationNumber"
	case "national-id", "other":
		return "idNumber"
	case "passport":
		if schema == "Person" {
			return "passportNumber"
		}
		return "idNumber"
	case "imo":
		if schema == "Organization" || schema == "Company" {
			return "imoNumber"
		}
		return "idNumber"
	}
	return ""
}

// ftmTopics tags every entry in force as "sanction", which is how OpenSanctions tools
// recognise a listing, and adds the export-control topic that says what kind it is.
func ftmTopics(kind string) []string {
	switch kind {
	case "denied-party":
		return []string{"sanction", "export.control"}
	case "end-user-of-concern":
		return []string{"sanction", "export.risk"}
	case "debarred-supplier":
		return []string{"sanction", "debarment"}
	}
	return []string{"sanction"}
}

// alpha2 converts an ISO 3166-1 alpha-3 code to the lower-case alpha-2 code FtM uses,
// or "" for a code it does not know (which appendUnique then drops).
func alpha2(alpha3 string) string {
	return countries[strings.ToUpper(strings.TrimSpace(alpha3))].alpha2
}

// FTMID returns the FtM entity id of an entry's party: "entente-<entry id>" when the
// entry id is already a valid FtM id without dots, and otherwise the entry id with each
// character FtM does not allow (and every dot and hyphen) escaped as a dot and a letter.
// The two forms never meet (only escaped ids contain dots), so distinct entries never
// share an id, and the id never changes for the same entry. The Sanction entity's id is
// this id followed by ".sanction", which no escaped id can produce.
func FTMID(entryID string) string {
	if ftmPlainRE.MatchString(entryID) {
		return "entente-" + entryID
	}
	var b strings.Builder
	b.WriteString("entente-")
	for i := 0; i < len(entryID); i++ {
		switch c := entryID[i]; {
		case c == '.':
			b.WriteString(".d")
		case c == '-':
			b.WriteString(".h")
		case c == ':':
			b.WriteString(".c")
		case c == '_':
			b.WriteString(".u")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, ".x%02x", c)
		}
	}
	return b.String()
}

// ftmPlainRE matches entry ids that are FtM ids as they stand and contain no dot.
var ftmPlainRE = regexp.MustCompile(`^[0-9a-zA-Z]([0-9a-zA-Z-]*[0-9a-zA-Z])?$`)
