package records

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// CheckParty decodes and validates a party exactly as a record's party fields are (type,
// names in any script, addresses, countries, identifiers), so that a party nominated to
// the consensus watchlist meets the same rules as one in a national record. It returns
// the party's canonical JSON; path prefixes the field named in an error.
func CheckParty(path string, raw json.RawMessage) (json.RawMessage, error) {
	if err := scanJSON(raw, path, 0, nil); err != nil {
		return nil, err
	}
	var p Party
	if err := decodeStrict(raw, reflect.ValueOf(&p).Elem(), path); err != nil {
		return nil, err
	}
	if err := checkParty(path, &p); err != nil {
		return nil, err
	}
	out, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("records: encode party: %w", err)
	}
	return out, nil
}

// NormalizeControlCode checks a control-list code (Munitions List ML1-ML22 with
// sub-items, or a dual-use code such as 3A001) and returns it upper-cased.
func NormalizeControlCode(code string) (string, error) { return normalizeControlCode(code) }
