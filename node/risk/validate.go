package risk

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/entente/entente/policy"
)

// validate checks in and returns its parsed control codes. Errors come in the order of
// Input's fields, so the same bad input always names the same field.
func validate(in Input) ([]ControlCode, error) {
	if in.At.IsZero() {
		return nil, inputErr("at", "required: the assessment time decides which indicators are still valid")
	}
	if err := policy.ValidStateCode(in.Destination); err != nil {
		return nil, inputErr("destination", "%v", err)
	}
	if math.IsNaN(in.Value) || math.IsInf(in.Value, 0) || in.Value < 0 {
		return nil, inputErr("value", "%v: want a finite amount, 0 or more", in.Value)
	}

	if len(in.ControlCodes) == 0 {
		return nil, inputErr("control_codes", "required: at least one item (\"EAR99\" or \"\" for an uncontrolled one)")
	}
	if len(in.ControlCodes) > maxItems {
		return nil, inputErr("control_codes", "%d items; at most %d", len(in.ControlCodes), maxItems)
	}
	codes := make([]ControlCode, len(in.ControlCodes))
	for i, s := range in.ControlCodes {
		c, err := ParseControlCode(s)
		if err != nil {
			return nil, inputErr(fmt.Sprintf("control_codes[%d]", i), "%v", err)
		}
		codes[i] = c
	}

	if len(in.Transit) > maxTransit {
		return nil, inputErr("transit", "%d states; at most %d", len(in.Transit), maxTransit)
	}
	for i, s := range in.Transit {
		if err := policy.ValidStateCode(s); err != nil {
			return nil, inputErr(fmt.Sprintf("transit[%d]", i), "%v", err)
		}
	}

	if len(in.Parties) > maxParties {
		return nil, inputErr("parties", "%d parties; at most %d", len(in.Parties), maxParties)
	}
	for i, p := range in.Parties {
		path := fmt.Sprintf("parties[%d]", i)
		if !slices.Contains(roles, p.Role) {
			return nil, inputErr(path+".role", "%q: want one of %v", clip(p.Role), roles)
		}
		if err := checkText(path+".name", p.Name, true); err != nil {
			return nil, err
		}
		if p.Country != "" {
			if err := policy.ValidStateCode(p.Country); err != nil {
				return nil, inputErr(path+".country", "%v", err)
			}
		}
	}

	if len(in.Hits) > maxHits {
		return nil, inputErr("hits", "%d hits; at most %d", len(in.Hits), maxHits)
	}
	for i, h := range in.Hits {
		path := fmt.Sprintf("hits[%d]", i)
		if !slices.ContainsFunc(in.Parties, func(p Party) bool { return p.Role == h.PartyRole }) {
			return nil, inputErr(path+".party_role", "%q: no party has this role", clip(h.PartyRole))
		}
		if math.IsNaN(h.Score) || h.Score < 0 || h.Score > 1 {
			return nil, inputErr(path+".score", "%v: want 0 to 1", h.Score)
		}
		if err := checkText(path+".list", h.List, true); err != nil {
			return nil, err
		}
		if err := checkText(path+".entity_id", h.EntityID, true); err != nil {
			return nil, err
		}
		if err := checkText(path+".matched_name", h.MatchedName, false); err != nil {
			return nil, err
		}
	}

	if len(in.Indicators) > maxIndicators {
		return nil, inputErr("indicators", "%d indicators; at most %d", len(in.Indicators), maxIndicators)
	}
	ids := make(map[string]int, len(in.Indicators))
	for i, ind := range in.Indicators {
		path := fmt.Sprintf("indicators[%d]", i)
		if err := checkText(path+".id", ind.ID, true); err != nil {
			return nil, err
		}
		if j, dup := ids[ind.ID]; dup {
			// Counting one indicator twice would inflate its factor.
			return nil, inputErr(path+".id", "%q is also indicators[%d]", clip(ind.ID), j)
		}
		ids[ind.ID] = i
		if !slices.Contains(indicatorKinds, ind.Kind) {
			return nil, inputErr(path+".kind", "%q: want one of %v", clip(ind.Kind), indicatorKinds)
		}
		if ind.Severity < 1 || ind.Severity > 5 {
			return nil, inputErr(path+".severity", "%d: want 1 to 5", ind.Severity)
		}
		if ind.Corroborations < 0 {
			return nil, inputErr(path+".corroborations", "%d: want 0 or more", ind.Corroborations)
		}
		if ind.ValidUntil.IsZero() {
			return nil, inputErr(path+".valid_until", "required: every federation indicator has an end of validity")
		}
		if err := checkText(path+".subject", ind.Subject, false); err != nil {
			return nil, err
		}
		if err := checkText(path+".originator", ind.Originator, false); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// checkText checks a name-like string: valid UTF-8 (reasons are JSON), at most maxName
// characters, and non-blank if required.
func checkText(field, s string, required bool) error {
	switch {
	case !utf8.ValidString(s):
		return inputErr(field, "not valid UTF-8")
	case required && strings.TrimSpace(s) == "":
		return inputErr(field, "required, must not be empty")
	case utf8.RuneCountInString(s) > maxName:
		return inputErr(field, "%d characters; at most %d", utf8.RuneCountInString(s), maxName)
	}
	return nil
}
