package screening

import (
	"strings"

	"github.com/entente/entente/node/records"
	"github.com/entente/entente/node/screen"
)

// ConsensusEntity is the entity of a consensus watchlist entry whose party this node
// could open. Its ID is the entry's id, so a hit leads straight to GET /v1/watchlist/{id};
// its programme is the entry's kind (denied-party, end-user-of-concern...).
func ConsensusEntity(id, kind string, p records.Party) screen.Entity {
	e := screen.Entity{List: ConsensusList, ID: id, Type: p.Type, Names: partyNames(p), Countries: uniq(p.Countries),
		Addresses: addresses(p.Addresses), Identifiers: identifiers(p.Identifiers)}
	if p.DateOfBirth != "" {
		e.BirthDates = []string{p.DateOfBirth}
	}
	if kind != "" {
		e.Programs = []string{kind}
	}
	return e
}

// PartyQuery is the screening query for a party of a national record: its names and
// aliases, type, countries, addresses, identifiers and date of birth.
func PartyQuery(p records.Party) screen.Query {
	return screen.Query{Names: partyNames(p), Type: p.Type, Countries: uniq(p.Countries), Addresses: addresses(p.Addresses),
		Identifiers: identifiers(p.Identifiers), BirthDate: p.DateOfBirth}
}

func partyNames(p records.Party) []string {
	out := make([]string, 0, 1+len(p.Aliases))
	if s := strings.TrimSpace(p.Name); s != "" {
		out = append(out, s)
	}
	for _, a := range p.Aliases {
		if s := strings.TrimSpace(a); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func addresses(as []records.Address) []string {
	var out []string
	for _, a := range as {
		var parts []string
		for _, s := range []string{a.Street, a.City, a.PostalCode, a.Country} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			out = append(out, strings.Join(parts, ", "))
		}
	}
	return out
}

func identifiers(ids []records.Identifier) []screen.Identifier {
	var out []screen.Identifier
	for _, id := range ids {
		out = append(out, screen.Identifier{Scheme: id.Scheme, Value: id.Value, Country: id.Country})
	}
	return out
}

func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
