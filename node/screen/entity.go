// Package screen matches parties against listed entities: names in any script, aliases,
// word order, legal forms, spelling variants and initials, plus exact identifiers. Every
// hit carries a score in [0,1] and an explanation of what contributed to it.
//
// The package is a pure in-memory engine. It knows nothing of lists, files or the
// federation: the node feeds it Entities from the consensus watchlist, its national lists
// and imported public lists, and swaps in a new Index when a list changes, so a failed
// refresh never takes the last good index out of service.
package screen

// Entity is one listed party as screening sees it. Importers and the node build Entities;
// the index never changes one after Add.
type Entity struct {
	// List names the list the entity comes from: "consensus", "national", or an imported
	// list such as "ofac-sdn", "un", "csl", "bis-dpl".
	List string `json:"list"`
	// ID is unique and stable within List across re-imports of the same source, so that a
	// re-import gives the same entities and a hit can be traced back to its source entry.
	ID string `json:"id"`
	// Type is "person", "organisation", "vessel", "aircraft", or "" when the source does
	// not say.
	Type string `json:"type,omitempty"`
	// Names holds the primary name first, then every alias, in any script, as published.
	Names []string `json:"names"`
	// Countries are ISO 3166-1 alpha-3 codes (nationality, citizenship, registration,
	// address country), upper case, without duplicates.
	Countries []string `json:"countries,omitempty"`
	// Addresses are free-text postal addresses as published.
	Addresses []string `json:"addresses,omitempty"`
	// Identifiers are matched exactly after normalisation.
	Identifiers []Identifier `json:"identifiers,omitempty"`
	// BirthDates are "YYYY", "YYYY-MM" or "YYYY-MM-DD".
	BirthDates []string `json:"birth_dates,omitempty"`
	// Programs are the sanctions programmes or regimes the source lists the entity under.
	Programs []string `json:"programs,omitempty"`
	// Remarks is the source's free-text remark, kept for display only.
	Remarks string `json:"remarks,omitempty"`
}

// Identifier is an identifying number: scheme is one of "imo", "passport", "national-id",
// "registration", "tax", "lei", "duns", "swift", "aircraft", "other".
type Identifier struct {
	Scheme  string `json:"scheme"`
	Value   string `json:"value"`
	Country string `json:"country,omitempty"`
}
