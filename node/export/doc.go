// Package export writes the consensus watchlist and the risk indicators in the formats
// integrators' tools already read: FollowTheMoney JSON lines (WriteFTM) for yente and
// the other OpenSanctions tools, CSV (WriteCSV) for spreadsheets and case-management
// imports, and STIX 2.1 objects (STIXObjects, WriteSTIXBundle) served by a read-only
// TAXII 2.1 server (NewTAXII). No STIX or TAXII library is available to the module, so
// the structs are written here, and the tests validate every object and response against
// JSON Schemas transcribed from the OASIS specifications (testdata/schemas).
//
// The package takes what the node's API already opened for the caller (api.WatchlistEntry,
// api.IndicatorView) and decides nothing about who may see what: the caller filters by
// principal before exporting, and wraps the TAXII handler with its own authentication.
// What the package does enforce is that an export never says more than it may and never
// pretends to know less than it does:
//
//   - A field that is sealed for this node, marked NATIONAL, or marked with anything
//     ParseMarking refuses is withheld: its value is not written, and each format says
//     so where it can (the CSV "sealed" column, x_entente_sealed_fields in STIX, a note
//     on the FtM party and sanction). A withheld value is never written as empty.
//   - Only entries in force (listed, review-due, appealed) are exported as listings.
//     STIX also carries delisted and expired entries, as revoked objects, so that a TAXII
//     consumer that has the listing learns it ended.
//   - Every output is deterministic: inputs are sorted by id, ids are derived from entry
//     and indicator ids, and times come from the inputs, so the same watchlist always
//     gives the same bytes.
//
// # STIX mapping
//
// A watchlist entry is about a party, so the party is the STIX object: an identity
// (identity_class individual for a person, organization for an organisation,
// unspecified for a vessel or aircraft, which STIX 2.1 has no object for). Its name is
// the party's name; its description is the rationale; external_references carries the
// entry id. What STIX has no property for is custom and named x_entente_* (STIX 2.1,
// "Custom Properties"): kind, origin, status, party_type, aliases, countries (ISO
// alpha-3), addresses, identifiers (scheme, value, country), date_of_birth, basis
// (regime, control_codes) and sealed_fields. created is the listing decision; a listing
// in force has modified = created, a delisted or expired one is revoked (revoked: true)
// with a later modified. We did not add an indicator per listed party: STIX indicators
// detect cyber observables, and a name or passport number is not one, so an indicator
// would be a pattern no consumer could evaluate, pretending to be detection content.
//
// A risk indicator is different: it is a claim that some subject (a destination, an end
// user, an item, a route) is a risk, valid from its publication until valid_until. That
// is what a STIX indicator is, so each maps to one, with pattern
// [x-entente-risk-subject:kind = '<kind>' AND x-entente-risk-subject:value = '<subject>']
// (pattern_type stix, a custom observable type since STIX has none for these
// subjects), valid_from and valid_until, the evidence as description, and the severity
// (1 to 5) as x_entente_severity, since STIX indicators have no severity and confidence
// means something else. An indicator whose subject is withheld is left out: a pattern
// without its subject would match everything of its kind. A withdrawn indicator is
// revoked. Notes and opinions were considered and rejected: both must point at other
// STIX objects, and these indicators stand alone.
//
// Every object is created_by_ref the producer: an identity for the producing state
// (organization, sector government-national), because the STIX object is the
// producer's rendering of the entry with the fields the producer could open, which can
// differ from another node's. Ids are UUIDv5 of the producer and the entry or indicator
// id, in a namespace of this package's own.
//
// Known limits of the mapping: WatchlistEntry does not carry the time a listing ended,
// nor IndicatorView the time of a withdrawal, so a revoked version's modified is the
// latest deadline the entry carries, or one millisecond after the listing (see
// revokedAt). And because what a node can open may change (a key it later receives),
// two exports of one version can differ in what they withhold; votes, corroborations
// and review deadlines are left out of the objects for the same reason, since they
// change without a version time to mark the change.
//
// # Markings
//
// Entente markings say to whom a value may be released. On the way out they become STIX
// data markings, TLP 2.0 (the OASIS marking definitions with their fixed ids) where TLP
// says the same thing, and statement markings where it cannot:
//
//	Entente marking       STIX marking definitions            why
//	PUBLIC                TLP:CLEAR                           no limit on disclosure
//	REL TO FEDERATION     TLP:AMBER                           the recipient state's own
//	                                                          administration, and those it
//	                                                          must tell (an exporter), on a
//	                                                          need-to-know basis; GREEN
//	                                                          would let it go to a wider
//	                                                          community than the federation
//	REL TO DEU,FRA        statement "REL TO DEU,FRA"          TLP cannot name states; the
//	REL TO STEERING         + TLP:AMBER+STRICT                statement is authoritative,
//	                                                          AMBER+STRICT (recipient's
//	                                                          organisation only) is the
//	                                                          floor for TLP-only tools
//	NATIONAL              never exported
//
// The object's object_marking_refs carry the party's (or, for an indicator, the
// subject's) marking. STIX markings accumulate, so a field marked otherwise (basis,
// rationale, evidence) gets granular_markings on its own property, and a field marked
// less restrictively than the object is over-marked, never under-marked. A statement
// marking's id and text depend only on the marking, so every node emits the same
// definition for the same marking.
//
// # TAXII
//
// TAXII serves discovery, one API root, its collections, objects (with added_after,
// limit, next, match[id], match[type], match[version] and match[spec_version]), single
// objects and their versions, and manifests, read-only. Pages are ordered by date added,
// then id, then version; next is the key of the last object served, so paging resumes
// exactly after it and sees every object once, however many share a date_added. The
// Source supplies date_added, and must never give a new object an earlier one than it
// already served (see Source).
//
// # Why the FtM and CSV shapes are these
//
// FtM follows what OpenSanctions publishes: a party entity (Person, Organization,
// Company when it has a DUNS or company registration number, Vessel, Airplane) with
// name, alias, country (ISO alpha-2, lower case), address, birthDate, identifier
// properties by scheme (passportNumber, idNumber, taxNumber, registrationNumber,
// leiCode, dunsCode, imoNumber), program, topics ("sanction" and one of export.control,
// export.risk, debarment by kind) and notes; and a Sanction entity (authority, authorityId,
// program, provisions, reason, startDate, listingDate, status) whose entity property
// points at it. yente indexes both and links them.
//
// CSV has one row per entry, lists joined with "; ", the marking of each exported value
// in its own column, and the withheld fields in "sealed". Cells that a spreadsheet would
// evaluate are defused (CSVCell).
package export
