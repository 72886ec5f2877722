package export

import (
	"bytes"
	"crypto/sha1" // #nosec G505 -- RFC 9562 defines UUIDv5 with SHA-1; it names, it does not protect
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/entente/entente/node/api"
	"github.com/entente/entente/policy"
)

// STIX 2.1 constants.
const (
	stixSpecVersion = "2.1"
	// stixTimeLayout is the STIX timestamp with exactly millisecond precision, which
	// STIX 2.1 requires of created and modified.
	stixTimeLayout = "2006-01-02T15:04:05.000Z"
	// STIXMediaType is the media type of one STIX 2.1 object, as TAXII manifests list it.
	STIXMediaType = "application/stix+json;version=2.1"
	// tlp2Extension is the extension-definition of the OASIS TLP 2.0 marking definitions.
	tlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
	// riskSubjectType is the custom observable type our indicator patterns test.
	riskSubjectType = "x-entente-risk-subject"
	// sourceName is the external_references source of entry and indicator ids.
	sourceName = "entente"
)

// stixEpoch is the created time of the objects this package defines once and never
// versions: the producer's identity and the statement markings. A constant keeps them
// byte-identical from one export to the next.
var stixEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// tlpMarking is one of the TLP 2.0 marking definitions OASIS publishes with fixed ids
// (cti-stix-common-objects, extension-definition-specifications/tlp-2.0). They are
// copied exactly: a consumer recognises TLP by these ids. TLP:GREEN and TLP:RED exist
// too but no Entente marking maps to them (see the package documentation).
type tlpMarking struct{ id, name, level string }

var (
	tlpClear       = tlpMarking{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR", "clear"}
	tlpAmber       = tlpMarking{"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER", "amber"}
	tlpAmberStrict = tlpMarking{"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT", "amber+strict"}
)

// tlpCreated is the created time OASIS gave every TLP 2.0 marking definition.
var tlpCreated = time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)

// stixCommon holds the common properties of STIX 2.1 domain objects (STIX 2.1, "Common
// Properties").
type stixCommon struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified"`
	Revoked            bool                `json:"revoked,omitempty"`
	ExternalReferences []externalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	GranularMarkings   []granularMarking   `json:"granular_markings,omitempty"`
}

type externalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

type granularMarking struct {
	MarkingRef string   `json:"marking_ref"`
	Selectors  []string `json:"selectors"`
}

// stixIdentity is an identity SDO: the producing state, or a listed party. Properties
// STIX has no name for are custom, prefixed x_entente_ as STIX 2.1 ("Custom Properties")
// asks.
type stixIdentity struct {
	stixCommon
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	IdentityClass string   `json:"identity_class,omitempty"`
	Sectors       []string `json:"sectors,omitempty"`

	XKind         string        `json:"x_entente_kind,omitempty"`
	XOrigin       string        `json:"x_entente_origin,omitempty"`
	XStatus       string        `json:"x_entente_status,omitempty"`
	XPartyType    string        `json:"x_entente_party_type,omitempty"`
	XAliases      []string      `json:"x_entente_aliases,omitempty"`
	XCountries    []string      `json:"x_entente_countries,omitempty"`
	XAddresses    []stixAddress `json:"x_entente_addresses,omitempty"`
	XIdentifiers  []stixIdent   `json:"x_entente_identifiers,omitempty"`
	XDateOfBirth  string        `json:"x_entente_date_of_birth,omitempty"`
	XBasis        *stixBasis    `json:"x_entente_basis,omitempty"`
	XSealedFields []string      `json:"x_entente_sealed_fields,omitempty"`
}

// stixAddress, stixIdent and stixBasis restate records.Address, records.Identifier and
// api.Basis so that the STIX output does not change shape if those types grow fields.
type stixAddress struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

type stixIdent struct {
	Scheme  string `json:"scheme"`
	Value   string `json:"value"`
	Country string `json:"country,omitempty"`
}

type stixBasis struct {
	Regime       string   `json:"regime"`
	ControlCodes []string `json:"control_codes,omitempty"`
}

// stixIndicator is an indicator SDO for a risk indicator.
type stixIndicator struct {
	stixCommon
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	Pattern        string `json:"pattern"`
	PatternType    string `json:"pattern_type"`
	PatternVersion string `json:"pattern_version"`
	ValidFrom      string `json:"valid_from"`
	ValidUntil     string `json:"valid_until,omitempty"`

	XKind         string   `json:"x_entente_kind"`
	XOrigin       string   `json:"x_entente_origin"`
	XSeverity     int      `json:"x_entente_severity"`
	XSealedFields []string `json:"x_entente_sealed_fields,omitempty"`
}

// stixMarkingDefinition is a marking-definition: a TLP 2.0 one (extensions) or a
// statement (definition_type and definition). Marking definitions are never versioned,
// so they have no modified.
type stixMarkingDefinition struct {
	Type           string             `json:"type"`
	SpecVersion    string             `json:"spec_version"`
	ID             string             `json:"id"`
	Created        string             `json:"created"`
	Name           string             `json:"name,omitempty"`
	DefinitionType string             `json:"definition_type,omitempty"`
	Definition     *stixStatement     `json:"definition,omitempty"`
	Extensions     map[string]tlp2Ext `json:"extensions,omitempty"`
}

type stixStatement struct {
	Statement string `json:"statement"`
}

type tlp2Ext struct {
	ExtensionType string `json:"extension_type"`
	TLP20         string `json:"tlp_2_0"`
}

// markingSet collects the marking definitions the exported objects refer to.
type markingSet map[string]stixMarkingDefinition

// refs returns the marking-definition ids that carry m and records their definitions:
//
//	PUBLIC             -> TLP:CLEAR
//	REL TO FEDERATION  -> TLP:AMBER
//	REL TO <list>      -> a statement "REL TO <list>" and TLP:AMBER+STRICT
//
// NATIONAL and invalid markings never reach here (openEntry withholds their values);
// refs refuses them anyway rather than mark them with something weaker.
func (s markingSet) refs(m policy.Marking) ([]string, error) {
	switch m.Kind {
	case policy.Public:
		return []string{s.tlp(tlpClear)}, nil
	case policy.Federation:
		return []string{s.tlp(tlpAmber)}, nil
	case policy.RelTo:
		if len(m.To) == 0 {
			break
		}
		st := statementMarking(m)
		s[st.ID] = st
		ids := []string{st.ID, s.tlp(tlpAmberStrict)}
		slices.Sort(ids)
		return ids, nil
	}
	return nil, fmt.Errorf("marking %q may not leave the node", m.String())
}

func (s markingSet) tlp(t tlpMarking) string {
	s[t.id] = stixMarkingDefinition{Type: "marking-definition", SpecVersion: stixSpecVersion, ID: t.id,
		Created: stixTime(tlpCreated), Name: t.name,
		Extensions: map[string]tlp2Ext{tlp2Extension: {ExtensionType: "property-extension", TLP20: t.level}}}
	return t.id
}

// statementMarking is the statement marking of a REL TO marking. Its id and content
// depend on the marking alone (no producer, a constant created time), so every node
// emits the same object for the same marking.
func statementMarking(m policy.Marking) stixMarkingDefinition {
	name := m.String()
	var to []string
	for _, t := range m.To {
		if len(t) == 3 {
			to = append(to, t+" ("+countryName(t)+")")
		} else {
			to = append(to, "the "+t+" group of the Entente federation")
		}
	}
	return stixMarkingDefinition{Type: "marking-definition", SpecVersion: stixSpecVersion,
		ID: "marking-definition--" + uuid5("marking:"+name), Created: stixTime(stixEpoch), Name: name,
		DefinitionType: "statement", Definition: &stixStatement{Statement: "Entente releasability marking " + name +
			": release only to the governments of " + strings.Join(to, ", ") +
			"; do not share further without the originating state's consent."}}
}

// STIXObjects maps the watchlist and the risk indicators to STIX 2.1 objects, as seen
// by producer (an ISO 3166-1 alpha-3 state code, the node's own state): its identity,
// the marking definitions used, an identity per party, and an indicator per risk
// indicator. The mapping, and why it is this one, is in the package documentation.
//
// The output is deterministic: ids are UUIDv5 of the producer and the entry or
// indicator id, times come from the inputs, and objects come out in a fixed order
// (producer, marking definitions by id, parties by entry id, indicators by indicator
// id), each encoded as compact JSON.
func STIXObjects(entries []api.WatchlistEntry, indicators []api.IndicatorView, producer string) ([]json.RawMessage, error) {
	if err := policy.ValidStateCode(producer); err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	sorted, err := sortedEntries(entries)
	if err != nil {
		return nil, err
	}
	inds, err := sortedIndicators(indicators)
	if err != nil {
		return nil, err
	}
	marks := markingSet{}
	producerID := "identity--" + uuid5("producer:"+producer)
	prod := stixIdentity{
		stixCommon: stixCommon{Type: "identity", SpecVersion: stixSpecVersion, ID: producerID,
			Created: stixTime(stixEpoch), Modified: stixTime(stixEpoch), ObjectMarkingRefs: []string{marks.tlp(tlpClear)}},
		Name: producer, Description: "Entente federation node of " + countryName(producer),
		IdentityClass: "organization", Sectors: []string{"government-national"},
	}
	var body []any
	for _, we := range sorted {
		obj, ok, err := partyIdentity(we, producer, producerID, marks)
		if err != nil {
			return nil, err
		}
		if ok {
			body = append(body, obj)
		}
	}
	for _, in := range inds {
		obj, ok, err := riskIndicator(in, producer, producerID, marks)
		if err != nil {
			return nil, err
		}
		if ok {
			body = append(body, obj)
		}
	}
	ids := make([]string, 0, len(marks))
	for id := range marks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	all := make([]any, 0, 1+len(ids)+len(body))
	all = append(all, prod)
	for _, id := range ids {
		all = append(all, marks[id])
	}
	all = append(all, body...)
	out := make([]json.RawMessage, len(all))
	for i, o := range all {
		b, err := marshalCompact(o)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// partyIdentity maps a watchlist entry to an identity SDO for its party. Entries in
// force map to a current identity; delisted and expired ones to a revoked version, so
// that a TAXII consumer that already has the listing learns that it ended. Every other
// status (nominated, disputed, rejected) was never a listing and maps to nothing, as
// does an entry whose party this node may not export.
func partyIdentity(we *api.WatchlistEntry, producer, producerID string, marks markingSet) (stixIdentity, bool, error) {
	revoked := we.Status == statusDelisted || we.Status == statusExpired
	if !InForce(we.Status) && !revoked {
		return stixIdentity{}, false, nil
	}
	e, err := openEntry(we)
	if err != nil {
		return stixIdentity{}, false, err
	}
	if e.party == nil {
		return stixIdentity{}, false, nil
	}
	created, ok := e.listedAt()
	if !ok {
		return stixIdentity{}, false, fmt.Errorf("watchlist entry %s is %s but has no decision or nomination time", e.ID, e.Status)
	}
	modified := created
	status := statusListed
	if revoked {
		modified, status = revokedAt(e, created), e.Status
	}
	objRefs, err := marks.refs(e.partyMarking)
	if err != nil {
		return stixIdentity{}, false, err
	}
	p := e.party
	obj := stixIdentity{
		stixCommon: stixCommon{Type: "identity", SpecVersion: stixSpecVersion,
			ID: "identity--" + uuid5("watchlist:"+producer+":"+e.ID), CreatedByRef: producerID,
			Created: stixTime(created), Modified: stixTime(modified), Revoked: revoked,
			ExternalReferences: []externalReference{{SourceName: sourceName, ExternalID: e.ID,
				Description: "Entente consensus watchlist entry"}},
			ObjectMarkingRefs: objRefs},
		Name: strings.TrimSpace(p.Name), IdentityClass: identityClass(p.Type),
		XKind: e.Kind, XOrigin: e.Origin, XStatus: status, XPartyType: p.Type,
		XAliases: p.Aliases, XCountries: p.Countries, XDateOfBirth: p.DateOfBirth,
		XSealedFields: e.withheld,
	}
	for _, a := range p.Addresses {
		obj.XAddresses = append(obj.XAddresses, stixAddress(a))
	}
	for _, id := range p.Identifiers {
		obj.XIdentifiers = append(obj.XIdentifiers, stixIdent(id))
	}
	// STIX markings accumulate: a property carries the object's markings and any
	// granular ones on top. So a field marked like the party, or less restrictively,
	// needs nothing more (it is over-marked, never under-marked), and a field marked
	// more restrictively gets its own markings on its own property.
	var gm []granularMarking
	addGranular := func(selector string, m policy.Marking) error {
		if coveredBy(m, e.partyMarking) {
			return nil
		}
		refs, err := marks.refs(m)
		if err != nil {
			return err
		}
		gm = addGranularRefs(gm, selector, refs, objRefs)
		return nil
	}
	if e.basis != nil {
		obj.XBasis = &stixBasis{Regime: e.basis.Regime, ControlCodes: e.basis.ControlCodes}
		if err := addGranular("x_entente_basis", e.basisMarking); err != nil {
			return stixIdentity{}, false, err
		}
	}
	if e.hasRationale && strings.TrimSpace(e.rationale) != "" {
		obj.Description = e.rationale
		if err := addGranular("description", e.rationaleMarking); err != nil {
			return stixIdentity{}, false, err
		}
	}
	obj.GranularMarkings = gm
	return obj, true, nil
}

// coveredBy reports whether a value marked field is fully protected by the object
// marking obj, that is, whether obj releases to no one field does not: obj is the same
// or less open (NATIONAL < REL TO < REL TO FEDERATION < PUBLIC), and a REL TO object
// marking names only states and groups that field names too.
func coveredBy(field, obj policy.Marking) bool {
	switch {
	case field.Kind != obj.Kind:
		return field.Kind > obj.Kind
	case field.Kind != policy.RelTo:
		return true
	}
	for _, to := range obj.To {
		if !slices.Contains(field.To, to) {
			return false
		}
	}
	return true
}

// addGranularRefs adds the refs not already on the object to gm for selector, keeping
// gm sorted by marking ref and each selector list sorted, so the output is canonical.
func addGranularRefs(gm []granularMarking, selector string, refs, objRefs []string) []granularMarking {
	for _, ref := range refs {
		if slices.Contains(objRefs, ref) {
			continue
		}
		i, found := slices.BinarySearchFunc(gm, ref, func(g granularMarking, ref string) int { return strings.Compare(g.MarkingRef, ref) })
		if !found {
			gm = slices.Insert(gm, i, granularMarking{MarkingRef: ref})
		}
		if !slices.Contains(gm[i].Selectors, selector) {
			gm[i].Selectors = append(gm[i].Selectors, selector)
			slices.Sort(gm[i].Selectors)
		}
	}
	return gm
}

// revokedAt is the modified time of a revoked listing. WatchlistEntry does not carry the
// time the listing ended, so this is the latest time the entry does carry (its review
// deadline for an expiry, its appeal deadline for a delisting) when that is after the
// listing, and one millisecond after the listing otherwise: always later than the
// listed version, as STIX versioning requires, and the same on every export.
func revokedAt(e *entry, listed time.Time) time.Time {
	at := listed.Add(time.Millisecond)
	var deadline *time.Time
	switch e.Status {
	case statusExpired:
		deadline = e.ReviewDue
	case statusDelisted:
		deadline = e.AppealEnds
	}
	if deadline != nil && deadline.UTC().Truncate(time.Millisecond).After(at) {
		at = deadline.UTC()
	}
	return at
}

// identityClass maps a party type to STIX identity-class-ov. Vessels and aircraft are
// not identities in STIX's sense, and no STIX 2.1 object fits them better, so they are
// "unspecified" with x_entente_party_type saying what they are.
func identityClass(partyType string) string {
	switch partyType {
	case "person":
		return "individual"
	case "organisation":
		return "organization"
	}
	return "unspecified"
}

// Indicator statuses (federation/state).
const (
	indicatorActive    = "active"
	indicatorExpired   = "expired"
	indicatorWithdrawn = "withdrawn"
)

// riskIndicator maps a risk indicator to an indicator SDO whose pattern tests the
// indicator's kind and subject on the custom observable x-entente-risk-subject. An
// indicator whose subject this node may not export maps to nothing: a pattern without
// its subject would match every subject of that kind. A withdrawn indicator maps to a
// revoked version; one that was purged or has a status this package does not know maps
// to nothing.
func riskIndicator(in *api.IndicatorView, producer, producerID string, marks markingSet) (stixIndicator, bool, error) {
	revoked := in.Status == indicatorWithdrawn
	if in.Status != indicatorActive && in.Status != indicatorExpired && !revoked {
		return stixIndicator{}, false, nil
	}
	subjectMarking, ok := exportable(in.Subject)
	if !ok {
		return stixIndicator{}, false, nil
	}
	var subject string
	if err := json.Unmarshal(in.Subject.Value, &subject); err != nil || strings.TrimSpace(subject) == "" {
		return stixIndicator{}, false, fmt.Errorf("indicator %s: subject is not a non-empty JSON string", in.ID)
	}
	if in.Published.IsZero() {
		return stixIndicator{}, false, fmt.Errorf("indicator %s has no publication time", in.ID)
	}
	published := in.Published.UTC()
	if !in.ValidUntil.Truncate(time.Millisecond).After(published.Truncate(time.Millisecond)) {
		return stixIndicator{}, false, fmt.Errorf("indicator %s: valid_until %s is not after its publication %s", in.ID,
			stixTime(in.ValidUntil), stixTime(published))
	}
	objRefs, err := marks.refs(subjectMarking)
	if err != nil {
		return stixIndicator{}, false, err
	}
	modified := published
	if revoked {
		// IndicatorView does not carry the withdrawal time; see revokedAt.
		modified = published.Add(time.Millisecond)
	}
	obj := stixIndicator{
		stixCommon: stixCommon{Type: "indicator", SpecVersion: stixSpecVersion,
			ID: "indicator--" + uuid5("indicator:"+producer+":"+in.ID), CreatedByRef: producerID,
			Created: stixTime(published), Modified: stixTime(modified), Revoked: revoked,
			ExternalReferences: []externalReference{{SourceName: sourceName, ExternalID: in.ID,
				Description: "Entente risk indicator"}},
			ObjectMarkingRefs: objRefs},
		Name:    fmt.Sprintf("Entente risk indicator (%s): %s", in.Kind, clipRunes(subject, 200)),
		Pattern: riskPattern(in.Kind, subject), PatternType: "stix", PatternVersion: stixSpecVersion,
		ValidFrom: stixTime(published), ValidUntil: stixTime(in.ValidUntil),
		XKind: in.Kind, XOrigin: in.Origin, XSeverity: in.Severity,
	}
	if evMarking, ok := exportable(in.Evidence); ok {
		var evidence string
		if err := json.Unmarshal(in.Evidence.Value, &evidence); err != nil {
			return stixIndicator{}, false, fmt.Errorf("indicator %s: evidence is not a JSON string", in.ID)
		}
		if strings.TrimSpace(evidence) != "" {
			obj.Description = evidence
			if !coveredBy(evMarking, subjectMarking) {
				refs, err := marks.refs(evMarking)
				if err != nil {
					return stixIndicator{}, false, err
				}
				obj.GranularMarkings = addGranularRefs(nil, "description", refs, objRefs)
			}
		}
	} else if in.Evidence.Sealed || len(in.Evidence.Value) > 0 || in.Evidence.Marking != "" {
		obj.XSealedFields = []string{"evidence"}
	}
	return obj, true, nil
}

// riskPattern is the STIX pattern of a risk indicator. String literals in STIX patterns
// are single-quoted with \' and \\ as the only escapes (STIX 2.1, "Patterning").
func riskPattern(kind, subject string) string {
	return fmt.Sprintf("[%s:kind = '%s' AND %s:value = '%s']", riskSubjectType, patternEscape(kind), riskSubjectType, patternEscape(subject))
}

func patternEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// sortedIndicators checks the number of indicators and their ids, and returns them in
// id order.
func sortedIndicators(inds []api.IndicatorView) ([]*api.IndicatorView, error) {
	if len(inds) > MaxEntries {
		return nil, fmt.Errorf("%d indicators: at most %d are exported at once", len(inds), MaxEntries)
	}
	out := make([]*api.IndicatorView, len(inds))
	for i := range inds {
		if !entryIDRE.MatchString(inds[i].ID) {
			return nil, fmt.Errorf("indicator id %q: not an indicator id", clip(inds[i].ID))
		}
		if len(inds[i].Subject.Value) > maxValueBytes || len(inds[i].Evidence.Value) > maxValueBytes {
			return nil, fmt.Errorf("indicator %s: a value is larger than %d bytes", inds[i].ID, maxValueBytes)
		}
		out[i] = &inds[i]
	}
	slices.SortStableFunc(out, func(a, b *api.IndicatorView) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("indicator %q appears twice", out[i].ID)
		}
	}
	return out, nil
}

// WriteSTIXBundle writes objects (as STIXObjects returns them) as one STIX 2.1 bundle,
// for a file export. The bundle id is a UUIDv5 of the objects' bytes, so the same
// objects always make the same bundle.
func WriteSTIXBundle(w io.Writer, objects []json.RawMessage) error {
	if len(objects) == 0 {
		return fmt.Errorf("a STIX bundle needs at least one object")
	}
	h := sha256.New()
	for _, o := range objects {
		if !json.Valid(o) {
			return fmt.Errorf("STIX bundle: an object is not valid JSON")
		}
		h.Write(o)
		h.Write([]byte{0})
	}
	b, err := marshalCompact(struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}{"bundle", "bundle--" + uuid5("bundle:"+hex.EncodeToString(h.Sum(nil))), objects})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// stixTime formats t as a STIX timestamp with millisecond precision, in UTC.
func stixTime(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(stixTimeLayout) }

// marshalCompact encodes v as JSON without HTML escaping: STIX consumers read the
// characters as they are, and the output is still valid JSON.
func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// clipRunes shortens s to at most n runes, for names built from free text.
func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// stixNamespace is the UUIDv5 namespace of every id this package makes: the UUIDv5 of
// the URL namespace and this package's import path.
var stixNamespace = uuid5With(uuidNamespaceURL, "https://github.com/entente/entente/node/export")

// uuidNamespaceURL is the RFC 9562 namespace for URLs, 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
var uuidNamespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuid5 returns the UUIDv5 of name in stixNamespace, formatted.
func uuid5(name string) string { return formatUUID(uuid5With(stixNamespace, name)) }

// CollectionID returns a stable TAXII collection id (a UUIDv5) for a collection name,
// so that the lead can name collections ("watchlist", "indicators") and keep their ids
// across restarts without storing them.
func CollectionID(name string) string { return uuid5("collection:" + name) }

func uuid5With(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
