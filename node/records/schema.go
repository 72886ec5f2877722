package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/entente/entente/policy"
)

// Kinds lists the record kinds a node accepts, in the order people meet them in a
// licensing case. It is for display and documentation: validation uses its own copy, so
// changing this slice changes nothing.
var Kinds = []string{
	KindLicenceApplication,
	KindLicenceDecision,
	KindEndUseCheck,
	KindConsignment,
	KindProcurementAward,
}

// Record kinds.
const (
	KindLicenceApplication = "licence-application"
	KindLicenceDecision    = "licence-decision"
	KindEndUseCheck        = "end-use-check"
	KindConsignment        = "consignment"
	KindProcurementAward   = "procurement-award"
)

// Limits on strings and lists. Names are counted in characters (runes) since they come in
// any script; free text in bytes, since that is what it costs to store and seal.
const (
	maxName       = 512      // names, aliases, addresses, short references
	maxIdentifier = 128      // identifier values
	maxText       = 16 << 10 // free text: end use, findings, rationales, conditions
	maxAliases    = 64       // per party
	maxPartyList  = 32       // addresses, countries, identifiers per party
	maxItems      = 500      // per record
	maxRoute      = 32       // transit states per consignment
	maxConditions = 256      // per decision
	minYear       = 1900     // plausibility bounds on dates: catch "0226" for "2026"
	maxYear       = 2199     // ... and "2925" for "2025"
	dateLayout    = "2006-01-02"
)

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	dateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// Party is a person, organisation, vessel or aircraft named in a record (applicant,
// consignee, end user, supplier). Screening decodes opened party fields into it, so its
// JSON form is the canonical one Validate produces.
type Party struct {
	Type        string       `json:"type" rec:"required"`
	Name        string       `json:"name" rec:"required"`
	Aliases     []string     `json:"aliases,omitempty"`
	Addresses   []Address    `json:"addresses,omitempty"`
	Countries   []string     `json:"countries,omitempty"`
	Identifiers []Identifier `json:"identifiers,omitempty"`
	DateOfBirth string       `json:"date_of_birth,omitempty"`
}

// Address is a postal address of a party; at least one part must be given.
type Address struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Identifier is an identifying number of a party (passport, IMO number, LEI...), which
// screening matches exactly.
type Identifier struct {
	Scheme  string `json:"scheme" rec:"required"`
	Value   string `json:"value" rec:"required"`
	Country string `json:"country,omitempty"`
}

// Item is one line of goods in an application, consignment or award.
type Item struct {
	Description string  `json:"description" rec:"required"`
	ControlCode string  `json:"control_code" rec:"required"`
	Quantity    float64 `json:"quantity" rec:"required"`
	Unit        string  `json:"unit,omitempty"`
	Value       *Money  `json:"value,omitempty"`
}

// Money is an amount in an ISO 4217 currency.
type Money struct {
	Amount   float64 `json:"amount" rec:"required"`
	Currency string  `json:"currency" rec:"required"`
}

var (
	partyTypes        = []string{"aircraft", "organisation", "person", "vessel"}
	identifierSchemes = []string{"duns", "imo", "lei", "national-id", "other", "passport", "registration", "tax"}
	decisions         = []string{"amended", "granted", "refused", "revoked", "suspended"}
	outcomes          = []string{"diversion-suspected", "not-performed", "satisfactory", "unsatisfactory"}
)

// fieldSpec is one field of a kind: its name, whether it is required, and how to decode,
// check and normalise its value.
type fieldSpec struct {
	name     string
	required bool
	decode   func(path string, raw json.RawMessage) (any, error)
}

// kindSchema is the schema of one kind; check runs after every field decoded, for rules
// that involve more than one field.
type kindSchema struct {
	fields []fieldSpec
	check  func(vals map[string]any) error
}

func (k kindSchema) field(name string) (fieldSpec, bool) {
	for _, f := range k.fields {
		if f.name == name {
			return f, true
		}
	}
	return fieldSpec{}, false
}

func (k kindSchema) names() []string {
	out := make([]string, len(k.fields))
	for i, f := range k.fields {
		out[i] = f.name
	}
	slices.Sort(out)
	return out
}

var schemas = map[string]kindSchema{
	KindLicenceApplication: {fields: []fieldSpec{
		{"applicant", true, partyField},
		{"consignee", false, partyField},
		{"end_user", true, partyField},
		{"destination", true, stateField},
		{"items", true, itemsField},
		{"end_use", true, textField},
		{"submitted_on", true, dateField},
		{"value", false, moneyField},
		{"intermediaries", false, partiesField},
		{"applicant_reference", false, nameField},
	}},
	KindLicenceDecision: {fields: []fieldSpec{
		{"application_id", true, recordIDField},
		{"decision", true, enumField(decisions)},
		{"rationale_text", true, textField},
		{"decided_on", true, dateField},
		{"conditions", false, textListField},
		{"valid_until", false, dateField},
	}, check: func(vals map[string]any) error {
		until, ok := vals["valid_until"].(string)
		if decided, _ := vals["decided_on"].(string); ok && until < decided {
			return fieldErr("fields.valid_until", "%s is before decided_on %s", until, decided)
		}
		return nil
	}},
	KindEndUseCheck: {fields: []fieldSpec{
		{"licence_id", true, recordIDField},
		{"end_user", true, partyField},
		{"location", true, stateField},
		{"performed_on", true, dateField},
		{"outcome", true, enumField(outcomes)},
		{"findings", false, textField},
	}},
	KindConsignment: {fields: []fieldSpec{
		{"licence_id", true, recordIDField},
		{"consignor", true, partyField},
		{"consignee", true, partyField},
		{"items", true, itemsField},
		{"destination", true, stateField},
		{"route", false, routeField},
		{"shipped_on", true, dateField},
		{"transport_document", false, nameField},
	}},
	KindProcurementAward: {fields: []fieldSpec{
		{"supplier", true, partyField},
		{"contracting_authority", true, nameField},
		{"items", true, itemsField},
		{"value", true, moneyField},
		{"awarded_on", true, dateField},
		{"reference", true, nameField},
	}},
}

// knownKinds is the sorted list of kinds for error messages.
var knownKinds = func() []string {
	k := make([]string, 0, len(schemas))
	for name := range schemas {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}()

// ---- field decoders: decode strictly, check, normalise ----

func partyField(path string, raw json.RawMessage) (any, error) {
	var p Party
	if err := decodeStrict(raw, reflect.ValueOf(&p).Elem(), path); err != nil {
		return nil, err
	}
	return p, checkParty(path, &p)
}

// maxIntermediaries bounds the intermediate consignees named on one application.
const maxIntermediaries = 32

// partiesField is a list of parties, such as the intermediate consignees on an application.
func partiesField(path string, raw json.RawMessage) (any, error) {
	var ps []Party
	if err := decodeStrict(raw, reflect.ValueOf(&ps).Elem(), path); err != nil {
		return nil, err
	}
	if len(ps) > maxIntermediaries {
		return nil, fieldErr(path, "has %d parties; at most %d", len(ps), maxIntermediaries)
	}
	for i := range ps {
		if err := checkParty(path+"["+strconv.Itoa(i)+"]", &ps[i]); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func itemsField(path string, raw json.RawMessage) (any, error) {
	var items []Item
	if err := decodeStrict(raw, reflect.ValueOf(&items).Elem(), path); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fieldErr(path, "must list at least one item")
	}
	if len(items) > maxItems {
		return nil, fieldErr(path, "has %d items; at most %d", len(items), maxItems)
	}
	for i := range items {
		if err := checkItem(path+"["+strconv.Itoa(i)+"]", &items[i]); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func moneyField(path string, raw json.RawMessage) (any, error) {
	var m Money
	if err := decodeStrict(raw, reflect.ValueOf(&m).Elem(), path); err != nil {
		return nil, err
	}
	return m, checkMoney(path, &m)
}

func decodeString(path string, raw json.RawMessage) (string, error) {
	var s string
	err := decodeStrict(raw, reflect.ValueOf(&s).Elem(), path)
	return s, err
}

func stateField(path string, raw json.RawMessage) (any, error) {
	s, err := decodeString(path, raw)
	if err != nil {
		return nil, err
	}
	return s, checkState(path, s)
}

func dateField(path string, raw json.RawMessage) (any, error) {
	s, err := decodeString(path, raw)
	if err != nil {
		return nil, err
	}
	return s, checkDate(path, s)
}

func textField(path string, raw json.RawMessage) (any, error) {
	s, err := decodeString(path, raw)
	if err != nil {
		return nil, err
	}
	return normText(path, s, true)
}

func nameField(path string, raw json.RawMessage) (any, error) {
	s, err := decodeString(path, raw)
	if err != nil {
		return nil, err
	}
	return normName(path, s, true, maxName)
}

func recordIDField(path string, raw json.RawMessage) (any, error) {
	s, err := decodeString(path, raw)
	if err != nil {
		return nil, err
	}
	return s, checkID(path, s)
}

func enumField(values []string) func(string, json.RawMessage) (any, error) {
	return func(path string, raw json.RawMessage) (any, error) {
		s, err := decodeString(path, raw)
		if err != nil {
			return nil, err
		}
		return s, checkEnum(path, s, values)
	}
}

func textListField(path string, raw json.RawMessage) (any, error) {
	var list []string
	if err := decodeStrict(raw, reflect.ValueOf(&list).Elem(), path); err != nil {
		return nil, err
	}
	if len(list) > maxConditions {
		return nil, fieldErr(path, "has %d entries; at most %d", len(list), maxConditions)
	}
	for i, s := range list {
		t, err := normText(path+"["+strconv.Itoa(i)+"]", s, true)
		if err != nil {
			return nil, err
		}
		list[i] = t
	}
	return list, nil
}

func routeField(path string, raw json.RawMessage) (any, error) {
	var list []string
	if err := decodeStrict(raw, reflect.ValueOf(&list).Elem(), path); err != nil {
		return nil, err
	}
	return list, checkStates(path, list, maxRoute)
}

// ---- checks on typed values; each normalises in place and names the exact path ----

func checkParty(path string, p *Party) error {
	if err := checkEnum(path+".type", p.Type, partyTypes); err != nil {
		return err
	}
	var err error
	if p.Name, err = normName(path+".name", p.Name, true, maxName); err != nil {
		return err
	}
	if len(p.Aliases) > maxAliases {
		return fieldErr(path+".aliases", "has %d entries; at most %d", len(p.Aliases), maxAliases)
	}
	for i := range p.Aliases {
		if p.Aliases[i], err = normName(path+".aliases["+strconv.Itoa(i)+"]", p.Aliases[i], true, maxName); err != nil {
			return err
		}
	}
	if len(p.Addresses) > maxPartyList {
		return fieldErr(path+".addresses", "has %d entries; at most %d", len(p.Addresses), maxPartyList)
	}
	for i := range p.Addresses {
		if err := checkAddress(path+".addresses["+strconv.Itoa(i)+"]", &p.Addresses[i]); err != nil {
			return err
		}
	}
	if err := checkStates(path+".countries", p.Countries, maxPartyList); err != nil {
		return err
	}
	if len(p.Identifiers) > maxPartyList {
		return fieldErr(path+".identifiers", "has %d entries; at most %d", len(p.Identifiers), maxPartyList)
	}
	for i := range p.Identifiers {
		ip := path + ".identifiers[" + strconv.Itoa(i) + "]"
		id := &p.Identifiers[i]
		if err := checkEnum(ip+".scheme", id.Scheme, identifierSchemes); err != nil {
			return err
		}
		if id.Value, err = normName(ip+".value", id.Value, true, maxIdentifier); err != nil {
			return err
		}
		if id.Country != "" {
			if err := checkState(ip+".country", id.Country); err != nil {
				return err
			}
		}
	}
	if p.DateOfBirth != "" {
		if p.Type != "person" {
			return fieldErr(path+".date_of_birth", "only a person has a date of birth (type is %s)", p.Type)
		}
		if err := checkDate(path+".date_of_birth", p.DateOfBirth); err != nil {
			return err
		}
	}
	return nil
}

func checkAddress(path string, a *Address) error {
	var err error
	for _, part := range []struct {
		name string
		s    *string
	}{{"street", &a.Street}, {"city", &a.City}, {"postal_code", &a.PostalCode}} {
		if *part.s, err = normName(path+"."+part.name, *part.s, false, maxName); err != nil {
			return err
		}
	}
	if a.Country != "" {
		if err := checkState(path+".country", a.Country); err != nil {
			return err
		}
	}
	if *a == (Address{}) {
		return fieldErr(path, "empty address: give at least one of street, city, postal_code, country")
	}
	return nil
}

func checkItem(path string, it *Item) error {
	var err error
	if it.Description, err = normText(path+".description", it.Description, true); err != nil {
		return err
	}
	if it.ControlCode, err = normalizeControlCode(it.ControlCode); err != nil {
		return fieldErr(path+".control_code", "%v", err)
	}
	if !(it.Quantity > 0) || math.IsInf(it.Quantity, 0) {
		return fieldErr(path+".quantity", "must be greater than 0")
	}
	if it.Unit, err = normName(path+".unit", it.Unit, false, maxName); err != nil {
		return err
	}
	if it.Value != nil {
		return checkMoney(path+".value", it.Value)
	}
	return nil
}

func checkMoney(path string, m *Money) error {
	if !(m.Amount >= 0) || math.IsInf(m.Amount, 0) {
		return fieldErr(path+".amount", "must be 0 or more")
	}
	m.Amount = math.Abs(m.Amount) // -0 reads as 0
	if err := validCurrency(m.Currency); err != nil {
		return fieldErr(path+".currency", "%v", err)
	}
	return nil
}

func checkState(path, code string) error {
	if err := policy.ValidStateCode(code); err != nil {
		return fieldErr(path, "%v", err)
	}
	return nil
}

func checkStates(path string, codes []string, max int) error {
	if len(codes) > max {
		return fieldErr(path, "has %d entries; at most %d", len(codes), max)
	}
	for i, c := range codes {
		if err := checkState(path+"["+strconv.Itoa(i)+"]", c); err != nil {
			return err
		}
	}
	return nil
}

func checkDate(path, s string) error {
	if !dateRE.MatchString(s) {
		return fieldErr(path, "%q is not a date in the form YYYY-MM-DD", clip(s))
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return fieldErr(path, "%q is not a calendar date", s)
	}
	if y := t.Year(); y < minYear || y > maxYear {
		return fieldErr(path, "%s: year must be between %d and %d", s, minYear, maxYear)
	}
	return nil
}

func checkID(path, s string) error {
	if !idRE.MatchString(s) {
		return fieldErr(path, "%q is not a record id (a letter or digit, then up to 127 letters, digits, '.', '_', ':' or '-')", clip(s))
	}
	return nil
}

func checkEnum(path, s string, values []string) error {
	if s == "" {
		return fieldErr(path, "required, one of %s", strings.Join(values, ", "))
	}
	if !slices.Contains(values, s) {
		return fieldErr(path, "%q is not one of %s", clip(s), strings.Join(values, ", "))
	}
	return nil
}

// normName trims s and checks a short, single-line string: no control characters, at
// most max characters.
func normName(path, s string, required bool, max int) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkString(path, s, required, false); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fieldErr(path, "is %d characters long; at most %d", n, max)
	}
	return s, nil
}

// normText trims s and checks free text: tabs and line breaks allowed, at most maxText
// bytes.
func normText(path, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkString(path, s, required, true); err != nil {
		return "", err
	}
	if len(s) > maxText {
		return "", fieldErr(path, "is %d bytes long; at most %d", len(s), maxText)
	}
	return s, nil
}

func checkString(path, s string, required, multiline bool) error {
	if s == "" {
		if required {
			return fieldErr(path, "required, must not be empty")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return fieldErr(path, "invalid UTF-8")
	}
	for i, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return fieldErr(path, "control character U+%04X at byte %d", r, i)
		}
	}
	return nil
}

// ---- strict typed decoding ----

// structInfo describes a struct type for decodeStrict: its JSON names, exactly as
// tagged, and which are required.
type structInfo struct {
	fields []structField
	known  string // sorted names for error messages
}

type structField struct {
	name     string
	index    int
	required bool
}

var structInfos sync.Map // reflect.Type -> *structInfo

func infoFor(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		info.fields = append(info.fields, structField{name: name, index: i, required: f.Tag.Get("rec") == "required"})
		names = append(names, name)
	}
	slices.Sort(names)
	info.known = strings.Join(names, ", ")
	structInfos.Store(t, info)
	return info
}

// decodeStrict decodes raw into v, which must be a struct, slice, pointer, string or
// float64 as used by the record types. Unlike encoding/json it matches member names
// exactly (not case-insensitively), refuses unknown members with their full path,
// reports a missing required member, and names array elements by index, so every error
// points at one place in the input. A null member counts as absent.
func decodeStrict(raw json.RawMessage, v reflect.Value, path string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return fieldErr(path, "missing value")
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return decodeStrict(raw, v.Elem(), path)
	case reflect.Struct:
		if raw[0] != '{' {
			return fieldErr(path, "must be an object")
		}
		members, err := objectMembers(raw)
		if err != nil {
			return err
		}
		info := infoFor(v.Type())
		unknown := ""
		for _, m := range members {
			if !slices.ContainsFunc(info.fields, func(f structField) bool { return f.name == string(m.key) }) {
				if k := string(m.key); unknown == "" || k < unknown {
					unknown = k // report the first in sorted order, whatever the input order
				}
			}
		}
		if unknown != "" {
			return fieldErr(path+"."+unknown, "unknown field (known: %s)", info.known)
		}
		for _, f := range info.fields {
			i := slices.IndexFunc(members, func(m member) bool { return string(m.key) == f.name })
			if i < 0 || isNull(members[i].raw) {
				if f.required {
					return fieldErr(path+"."+f.name, "required")
				}
				continue
			}
			if err := decodeStrict(members[i].raw, v.Field(f.index), path+"."+f.name); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if raw[0] != '[' {
			return fieldErr(path, "must be an array")
		}
		elems, err := arrayElements(raw)
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		for i, e := range elems {
			ep := path + "[" + strconv.Itoa(i) + "]"
			if isNull(e) {
				return fieldErr(ep, "must not be null")
			}
			if err := decodeStrict(e, s.Index(i), ep); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if raw[0] != '"' {
			return fieldErr(path, "must be a string")
		}
		s, err := stringValue(raw)
		if err != nil {
			return err
		}
		v.SetString(s)
		return nil
	case reflect.Float64:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return fieldErr(path, "must be a number")
		}
		// The JSON number grammar is a subset of what ParseFloat reads; encoding/json
		// uses ParseFloat too, so out-of-range values are refused the same way.
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return fieldErr(path, "must be a number within the range of a 64-bit float")
		}
		v.SetFloat(f)
		return nil
	}
	// Only reachable if a record type gains a field of a kind not handled above.
	return fmt.Errorf("records: decodeStrict: unsupported kind %s at %s", v.Kind(), path)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
