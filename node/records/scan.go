package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanJSON checks that data is exactly one well-formed JSON value (surrounding
// whitespace allowed) and refuses what encoding/json would let through: invalid UTF-8,
// \u escapes that encode half of a surrogate pair (encoding/json silently turns them into
// U+FFFD), containers nested deeper than MaxDepth, and duplicate keys in any object
// (encoding/json keeps the last, so two readers could see two different records). depth
// is how many levels enclose data already; root is data's path, used in errors. If
// topKeys is not nil, data must be an object whose keys are all in topKeys.
//
// It is a recursive-descent parser, so its stack is bounded by MaxDepth, and it
// allocates little: keys are compared in place unless escaped, and only objects with
// many keys get a set. It replaces a json.Decoder.Token scan, which was half the cost of
// Decode and Validate.
func scanJSON(data []byte, root string, depth int, topKeys []string) error {
	where := root
	if where == "" {
		where = "body"
	}
	if !utf8.Valid(data) {
		return fieldErr(where, "invalid UTF-8 at byte %d", invalidUTF8At(data))
	}
	s := &scanner{data: data, root: root, where: where, topKeys: topKeys}
	s.skipSpace()
	if topKeys != nil && s.peek() != '{' {
		return fieldErr("body", "must be a JSON object")
	}
	if err := s.value(depth + 1); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos < len(s.data) {
		return fieldErr(where, "unexpected data after the JSON value at byte %d", s.pos)
	}
	return nil
}

type scanner struct {
	data    []byte
	pos     int
	root    string
	where   string    // root, or "body" at the top
	topKeys []string  // allowed keys of the outermost object, or nil
	path    []segment // below root; turned into a string only for an error
}

// segment is one step of a path: an object key, or an array index when isIndex is set.
type segment struct {
	key     []byte
	index   int
	isIndex bool
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// at returns the path of the current position, for errors about a member or element.
func (s *scanner) at() string {
	var b strings.Builder
	b.WriteString(s.root)
	for _, seg := range s.path {
		switch {
		case seg.isIndex:
			b.WriteString("[" + strconv.Itoa(seg.index) + "]")
		case b.Len() == 0:
			b.Write(seg.key)
		default:
			b.WriteByte('.')
			b.Write(seg.key)
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// syntax reports malformed JSON; the body as a whole (or the raw field) is at fault.
func (s *scanner) syntax(format string, args ...any) error {
	if s.pos >= len(s.data) {
		return fieldErr(s.where, "malformed JSON: unexpected end of input")
	}
	return fieldErr(s.where, "malformed JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// value parses one value; depth is the level a container opened here would be at.
func (s *scanner) value(depth int) error {
	s.skipSpace()
	switch c := s.peek(); {
	case c == '{' || c == '[':
		if depth > MaxDepth {
			return fieldErr(s.at(), "nested deeper than %d levels", MaxDepth)
		}
		if c == '{' {
			return s.object(depth)
		}
		return s.array(depth)
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case s.pos >= len(s.data):
		return s.syntax("")
	default:
		return s.syntax("unexpected character %q", rune(c))
	}
}

// smallObject is how many keys an object may have before duplicate detection switches
// from a linear search to a map, so that a hostile object with many keys stays linear.
const smallObject = 16

func (s *scanner) object(depth int) error {
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	var keys [][]byte
	var set map[string]struct{}
	s.path = append(s.path, segment{})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for {
		s.skipSpace()
		if s.peek() != '"' {
			return s.syntax("want a string key")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		s.path[len(s.path)-1] = segment{key: key}
		dup := false
		if set != nil {
			_, dup = set[string(key)]
			set[string(key)] = struct{}{}
		} else {
			dup = slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) })
			keys = append(keys, key)
			if len(keys) > smallObject {
				set = make(map[string]struct{}, 2*smallObject)
				for _, k := range keys {
					set[string(k)] = struct{}{}
				}
			}
		}
		if dup {
			return fieldErr(s.at(), "duplicate key")
		}
		if s.topKeys != nil && len(s.path) == 1 && !slices.Contains(s.topKeys, string(key)) {
			return fieldErr(s.at(), "unknown field (known: %s)", strings.Join(s.topKeys, ", "))
		}
		s.skipSpace()
		if s.peek() != ':' {
			return s.syntax("want ':' after an object key")
		}
		s.pos++
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax("want ',' or '}' in an object")
		}
	}
}

func (s *scanner) array(depth int) error {
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	s.path = append(s.path, segment{isIndex: true})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for i := 0; ; i++ {
		s.path[len(s.path)-1].index = i
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntax("want ',' or ']' in an array")
		}
	}
}

func (s *scanner) literal(word string) error {
	if !strings.HasPrefix(string(s.data[s.pos:min(len(s.data), s.pos+len(word))]), word) {
		return s.syntax("unexpected character %q", rune(s.data[s.pos]))
	}
	s.pos += len(word)
	return nil
}

// number checks the JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.pos++
	}
	switch {
	case s.peek() == '0':
		s.pos++
	case digits() == 0:
		return s.syntax("malformed number")
	}
	if s.peek() == '.' {
		s.pos++
		if digits() == 0 {
			return s.syntax("malformed number: digits must follow '.'")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if digits() == 0 {
			return s.syntax("malformed number: digits must follow the exponent")
		}
	}
	return nil
}

// str parses a string at s.pos (on its opening quote) and returns its value: a view of
// data when it has no escapes, a decoded copy when it has. Raw control characters,
// unknown escapes and lone surrogates are refused.
func (s *scanner) str() ([]byte, error) {
	start := s.pos
	s.pos++
	escaped := false
	for {
		if s.pos >= len(s.data) {
			return nil, s.syntax("")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !escaped {
				return s.data[start+1 : s.pos-1], nil
			}
			var v string
			if err := json.Unmarshal(s.data[start:s.pos], &v); err != nil {
				return nil, fieldErr(s.where, "malformed JSON string at byte %d: %v", start, err)
			}
			return []byte(v), nil
		case c < 0x20:
			return nil, s.syntax("control character %U in a string (escape it)", rune(c))
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, err
			}
		default:
			s.pos++
		}
	}
}

// escape checks the escape sequence at s.pos (on the backslash) and moves past it.
func (s *scanner) escape() error {
	if s.pos+1 >= len(s.data) {
		s.pos = len(s.data)
		return s.syntax("")
	}
	switch s.data[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return nil
	case 'u':
	default:
		s.pos++
		return s.syntax("unknown escape \\%c", rune(s.data[s.pos]))
	}
	u, ok := hex4(s.data, s.pos+2)
	if !ok {
		return s.syntax("\\u must be followed by four hex digits")
	}
	switch {
	case u >= 0xD800 && u <= 0xDBFF:
		if s.pos+11 < len(s.data) && s.data[s.pos+6] == '\\' && s.data[s.pos+7] == 'u' {
			if lo, ok := hex4(s.data, s.pos+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				s.pos += 12
				return nil
			}
		}
		return fieldErr(s.where, "invalid UTF-16 escape (lone surrogate) at byte %d", s.pos)
	case u >= 0xDC00 && u <= 0xDFFF:
		return fieldErr(s.where, "invalid UTF-16 escape (lone surrogate) at byte %d", s.pos)
	}
	s.pos += 6
	return nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var v rune
	for _, c := range data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// member is one key and raw value of an object.
type member struct {
	key []byte
	raw []byte
}

// objectMembers splits the object raw into its members, in order. raw must already have
// passed scanJSON (decodeStrict only sees values that have), so this is a plain walk with
// no second validation; errors are still returned rather than assumed away.
func objectMembers(raw []byte) ([]member, error) {
	s := &scanner{data: raw, where: "body"}
	s.skipSpace()
	if s.peek() != '{' {
		return nil, s.syntax("want an object")
	}
	s.pos++
	s.skipSpace()
	if s.peek() == '}' {
		return nil, nil
	}
	var out []member
	for {
		s.skipSpace()
		key, err := s.str()
		if err != nil {
			return nil, err
		}
		s.skipSpace()
		if s.peek() != ':' {
			return nil, s.syntax("want ':' after an object key")
		}
		s.pos++
		s.skipSpace()
		start := s.pos
		if err := s.skip(); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, raw: raw[start:s.pos]})
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			return out, nil
		default:
			return nil, s.syntax("want ',' or '}' in an object")
		}
	}
}

// arrayElements splits the array raw into its elements; like objectMembers it expects
// input that passed scanJSON.
func arrayElements(raw []byte) ([][]byte, error) {
	s := &scanner{data: raw, where: "body"}
	s.skipSpace()
	if s.peek() != '[' {
		return nil, s.syntax("want an array")
	}
	s.pos++
	s.skipSpace()
	if s.peek() == ']' {
		return nil, nil
	}
	var out [][]byte
	for {
		s.skipSpace()
		start := s.pos
		if err := s.skip(); err != nil {
			return nil, err
		}
		out = append(out, raw[start:s.pos])
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			return out, nil
		default:
			return nil, s.syntax("want ',' or ']' in an array")
		}
	}
}

// skip moves past one value of input that already passed scanJSON, without checking it
// again: the typed walk splits the same bytes level by level, and re-validating each
// level made the work grow with depth times size. It stays bounds-checked, so input that
// did not pass scanJSON yields an error, never a read past the end.
func (s *scanner) skip() error {
	depth := 0
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch c {
		case '"':
			s.pos++
			for s.pos < len(s.data) && s.data[s.pos] != '"' {
				if s.data[s.pos] == '\\' {
					s.pos++
				}
				s.pos++
			}
			if s.pos >= len(s.data) {
				return s.syntax("")
			}
			s.pos++
		case '{', '[':
			depth++
			s.pos++
		case '}', ']':
			if depth == 0 {
				return nil // the end of the enclosing container: a scalar ended here
			}
			depth--
			s.pos++
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return nil
			}
			s.pos++
		default:
			s.pos++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return nil
		}
	}
	if depth != 0 {
		return s.syntax("")
	}
	return nil
}

// stringValue decodes the JSON string raw (which passed scanJSON).
func stringValue(raw []byte) (string, error) {
	s := &scanner{data: raw, where: "body"}
	v, err := s.str()
	return string(v), err
}
