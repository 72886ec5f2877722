package risk

import (
	"fmt"
	"strings"

	"github.com/entente/entente/node/records"
)

// Regimes of a ControlCode.
const (
	RegimeMilitary     = "military"
	RegimeDualUse      = "dual-use"
	RegimeUncontrolled = "uncontrolled"
)

// ControlCode is a control-list code split into the parts the model weighs.
type ControlCode struct {
	// Regime is RegimeMilitary (ML1-ML22), RegimeDualUse (e.g. 3A001) or
	// RegimeUncontrolled ("EAR99" or no code at all).
	Regime string
	// Category is the Military List number (1-22) or the dual-use category (0-9); it is
	// 0 and meaningless for uncontrolled items.
	Category int
	// Group is the dual-use product group, "A" to "E"; empty otherwise.
	Group string
	// Advanced marks dual-use items under closer scrutiny (docs/risk.md, "Advanced
	// dual-use items"), which score higher.
	Advanced bool
	// Raw is the code trimmed and upper-cased, as records stores it.
	Raw string
}

// ParseControlCode parses a Munitions List or dual-use code, or "EAR99"/"" for an
// uncontrolled item. The syntax check is records.NormalizeControlCode, so that a code the
// records layer accepts is never refused here and the other way round.
func ParseControlCode(s string) (ControlCode, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.EqualFold(t, "EAR99") {
		return ControlCode{Regime: RegimeUncontrolled, Raw: strings.ToUpper(t)}, nil
	}
	c, err := records.NormalizeControlCode(t)
	if err != nil {
		return ControlCode{}, err
	}
	if rest, ok := strings.CutPrefix(c, "ML"); ok {
		n := 0
		for i := 0; i < len(rest) && isDigit(rest[i]); i++ {
			n = n*10 + int(rest[i]-'0')
		}
		return ControlCode{Regime: RegimeMilitary, Category: n, Raw: c}, nil
	}
	return ControlCode{Regime: RegimeDualUse, Category: int(c[0] - '0'), Group: c[1:2], Advanced: advanced(c[:5]), Raw: c}, nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// advancedEntries are the Wassenaar-derived dual-use entries under closer scrutiny; the
// regime-derived ones are recognised by number in advanced. docs/risk.md gives the reasons.
var advancedEntries = []string{
	"3A001", // electronic components: rad-hard ICs, high-end FPGAs, microwave parts for radar and seekers
	"3A090", // advanced computing integrated circuits (national transpositions of the US ECCN)
	"6A002", // optical sensors and focal-plane arrays, the heart of missile seekers and night sights
	"6A003", // cameras, including thermal imaging
	"6A005", // lasers, including high-power lasers usable as directed-energy weapons
	"9A004", // space launch vehicles: the same rockets carry warheads
	"9E003", // gas-turbine hot-section technology: cruise-missile and combat-aircraft engines
}

// advanced reports whether the dual-use entry head (such as "1C350") is under closer
// scrutiny. Category 0 is the nuclear category, and in the EU list (Annex I of Regulation
// 2021/821) the first digit of the three-digit number names the regime an entry comes
// from: 1xx the Missile Technology Control Regime, 2xx the Nuclear Suppliers Group, 3xx the
// Australia Group (chemical and biological), 4xx the Chemical Weapons Convention. Those
// are the weapons-of-mass-destruction entries.
func advanced(head string) bool {
	if head[0] == '0' || ('1' <= head[2] && head[2] <= '4') {
		return true
	}
	for _, e := range advancedEntries {
		if head == e {
			return true
		}
	}
	return false
}

// military holds, for ML1 to ML22, what the category covers and its points. docs/risk.md
// gives the reasoning; the maximum of any item is itemCeiling.
var military = [23]struct {
	name   string
	points int
}{
	1:  {"smooth-bore weapons under 20 mm, small arms", 20},
	2:  {"smooth-bore weapons of 20 mm or more", 18},
	3:  {"ammunition and fuze setting devices", 18},
	4:  {"bombs, torpedoes, rockets, missiles", 26},
	5:  {"fire control and warning equipment", 20},
	6:  {"ground vehicles", 18},
	7:  {"chemical and biological toxic agents", 28},
	8:  {"energetic materials", 18},
	9:  {"vessels of war", 18},
	10: {"aircraft and unmanned aerial vehicles", 24},
	11: {"military electronic equipment", 18},
	12: {"kinetic energy weapons", 22},
	13: {"armoured and protective equipment", 8},
	14: {"training and simulation equipment", 10},
	15: {"imaging and countermeasure equipment", 16},
	16: {"forgings, castings, unfinished products", 10},
	17: {"miscellaneous equipment and materials", 10},
	18: {"production equipment", 20},
	19: {"directed energy weapons", 24},
	20: {"cryogenic and superconductive equipment", 12},
	21: {"software", 20},
	22: {"technology", 24},
}

// dualUse holds, for categories 0 to 9, what the category covers and its base points.
var dualUse = [10]struct {
	name   string
	points int
}{
	{"nuclear materials, facilities and equipment", 16},
	{"special materials, chemicals, microorganisms, toxins", 10},
	{"materials processing", 10},
	{"electronics", 10},
	{"computers", 8},
	{"telecommunications and information security", 8},
	{"sensors and lasers", 12},
	{"navigation and avionics", 12},
	{"marine", 8},
	{"aerospace and propulsion", 12},
}

// groups holds, for dual-use product groups A to E, what the group covers and the points
// it adds: production equipment builds a capability rather than one weapon, and software
// and technology cannot be recalled or inspected once transferred.
var groups = map[string]struct {
	name   string
	points int
}{
	"A": {"systems and equipment", 0},
	"B": {"test and production equipment", 2},
	"C": {"materials", 0},
	"D": {"software", 3},
	"E": {"technology", 5},
}

// advancedPoints are added for an advanced dual-use item.
const advancedPoints = 8

// itemPoints returns an item's sensitivity in points (0 to itemCeiling) and how they
// were reached.
func itemPoints(c ControlCode) (int, string) {
	switch c.Regime {
	case RegimeMilitary:
		m := military[c.Category]
		return m.points, fmt.Sprintf("Military List category %d (%s) = %d", c.Category, m.name, m.points)
	case RegimeDualUse:
		d, g := dualUse[c.Category], groups[c.Group]
		p := d.points + g.points
		why := fmt.Sprintf("dual-use category %d (%s) %d + group %s (%s) %d", c.Category, d.name, d.points, c.Group, g.name, g.points)
		if c.Advanced {
			p += advancedPoints
			why += fmt.Sprintf(" + advanced item %d", advancedPoints)
		}
		return p, fmt.Sprintf("%s = %d", why, p)
	}
	return 0, "uncontrolled"
}

// codePath splits a normalised code into its head ("ML4", "3A001") and sub-items, dots
// dropped ("ML4.a.1" and "ML4A1" both give ML4, A, 1), so that an item indicator about
// "ML4.a" covers "ML4.a.1" but one about "ML1" does not cover "ML10".
func codePath(raw string) []string {
	c := strings.ReplaceAll(raw, ".", "")
	n := 5 // dual-use head: category, group, three digits
	if strings.HasPrefix(c, "ML") {
		n = 2
		for n < len(c) && isDigit(c[n]) {
			n++
		}
	}
	if len(c) < n {
		return nil
	}
	path := []string{c[:n]}
	for i := n; i < len(c); {
		j := i + 1
		for j < len(c) && isDigit(c[j]) == isDigit(c[i]) {
			j++
		}
		path = append(path, c[i:j])
		i = j
	}
	return path
}
