package client

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/entente/entente/node/api"
)

// Decoding a feed page. encoding/json decodes a page of 1,000 alerts several times slower
// than the node serves it: it validates the whole input before decoding, walks every
// field through reflection, and allocates each string and map on its own. A page has one
// shape, so decodeAlertPage reads that shape directly: one copy of the body as a string,
// whose substrings become the alerts' strings without further allocation; numbers and
// names matched by hand; the rare nested values (a federation alert's command and
// subject) handed to encoding/json.
//
// The fast path accepts only what encoding/json would decode the same way: the members
// of api.AlertPage and api.AlertView under their exact names, each once per object, with
// values of their own types. Anything else (another member, a repeated one, a null, an
// escape in a number's place, invalid UTF-8, a syntax error) sends the whole body to
// json.Unmarshal, whose answer, value or error, is then the result. A test feeds both
// the same inputs, fuzzed, and requires equal results. Like every decode in this package
// it runs only on bytes whose signature has been verified.

// decodeAlertPage decodes a page of the alert feed into page, exactly as json.Unmarshal
// would. fast reports whether the fast path decoded it (for tests).
func decodeAlertPage(data []byte, page *api.AlertPage) (fast bool, err error) {
	d := pageDecoder{s: string(data)}
	var p api.AlertPage
	if d.page(&p) {
		*page = p
		return true, nil
	}
	var slow api.AlertPage
	if err := json.Unmarshal(data, &slow); err != nil {
		return false, err
	}
	*page = slow
	return false, nil
}

// pageDecoder reads s from i. Each method returns false when the input is not in the
// shape the fast path accepts, and the caller gives up.
type pageDecoder struct {
	s string
	i int
}

func (d *pageDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (d *pageDecoder) byte(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c { // the node writes no whitespace
		d.i++
		return true
	}
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// peek returns the next byte after whitespace, or 0 at the end.
func (d *pageDecoder) peek() byte {
	d.ws()
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// open consumes an object's opening brace, and its closing one too if it is empty.
func (d *pageDecoder) open() (empty, ok bool) {
	if !d.byte('{') {
		return false, false
	}
	return d.byte('}'), true
}

// key reads a member's name and the colon after it.
func (d *pageDecoder) key() (string, bool) {
	name, ok := d.str()
	return name, ok && d.byte(':')
}

// more consumes what follows a member's value: a comma (more members) or the closing
// brace.
func (d *pageDecoder) more() (more, ok bool) {
	if d.byte(',') {
		return true, true
	}
	return false, d.byte('}')
}

func (d *pageDecoder) page(p *api.AlertPage) bool {
	empty, ok := d.open()
	haveNext := false
	for more := !empty; ok && more; {
		var name string
		if name, ok = d.key(); !ok {
			return false
		}
		switch name {
		case "alerts":
			ok = p.Alerts == nil && d.alerts(p)
		case "next":
			ok = !haveNext
			haveNext = true
			if ok {
				p.Next, ok = d.uint()
			}
		default:
			ok = false
		}
		if ok {
			more, ok = d.more()
		}
	}
	if !ok {
		return false
	}
	d.ws()
	return d.i == len(d.s)
}

// alerts reads the array of alerts.
func (d *pageDecoder) alerts(p *api.AlertPage) bool {
	if !d.byte('[') {
		return false
	}
	p.Alerts = make([]api.AlertView, 0, min(len(d.s)/128+1, 1000)) // an alert is 200 bytes or more
	if d.byte(']') {
		return true
	}
	for {
		p.Alerts = append(p.Alerts, api.AlertView{})
		if !d.alert(&p.Alerts[len(p.Alerts)-1]) {
			return false
		}
		if d.byte(']') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// The members of an alert, as bits, to refuse a repeated one.
const (
	mSeq = 1 << iota
	mSource
	mIndex
	mTime
	mKind
	mSubject
	mOrigin
	mDetail
	mCommand
	mEntry
	mIndicator
)

func (d *pageDecoder) alert(a *api.AlertView) bool {
	empty, ok := d.open()
	var seen uint16
	for more := !empty; ok && more; {
		var name string
		if name, ok = d.key(); !ok {
			return false
		}
		var bit uint16
		switch name {
		case "seq":
			bit = mSeq
			a.Seq, ok = d.uint()
		case "source":
			bit = mSource
			a.Source, ok = d.str()
		case "index":
			bit = mIndex
			a.Index, ok = d.uint()
		case "time":
			bit = mTime
			ok = d.time(&a.Time)
		case "kind":
			bit = mKind
			a.Kind, ok = d.str()
		case "subject":
			bit = mSubject
			a.Subject, ok = d.str()
		case "origin":
			bit = mOrigin
			a.Origin, ok = d.str()
		case "detail":
			bit = mDetail
			ok = d.detail(&a.Detail)
		case "command":
			bit = mCommand
			a.Command = new(api.SignedCommandView)
			ok = d.nested(a.Command)
		case "entry":
			bit = mEntry
			a.Entry = new(api.WatchlistEntry)
			ok = d.nested(a.Entry)
		case "indicator":
			bit = mIndicator
			a.Indicator = new(api.IndicatorView)
			ok = d.nested(a.Indicator)
		}
		if bit == 0 || seen&bit != 0 || !ok {
			return false
		}
		seen |= bit
		more, ok = d.more()
	}
	return ok
}

// time reads a time as time.Time's UnmarshalJSON does, which reads the literal as it
// stands, escapes and all.
func (d *pageDecoder) time(t *time.Time) bool {
	if d.peek() != '"' {
		return false
	}
	start := d.i
	v, ok := d.str()
	if !ok {
		return false
	}
	if d.i-start == len(v)+2 { // no escapes
		var fast bool
		if *t, fast = parseUTC(v); fast {
			return true
		}
	}
	return t.UnmarshalJSON([]byte(d.s[start:d.i])) == nil
}

// detail reads a flat object of strings into a new map.
func (d *pageDecoder) detail(m *map[string]string) bool {
	empty, ok := d.open()
	if !ok {
		return false
	}
	*m = make(map[string]string, 4)
	for more := !empty; ok && more; {
		var name, v string
		if name, ok = d.key(); !ok {
			return false
		}
		if v, ok = d.str(); !ok {
			return false
		}
		if _, dup := (*m)[name]; dup {
			return false
		}
		(*m)[name] = v
		more, ok = d.more()
	}
	return ok
}

// nested decodes an object with encoding/json. Its end is found by counting brackets
// outside strings; json.Unmarshal then checks that what was found is one valid value.
func (d *pageDecoder) nested(v any) bool {
	if d.peek() != '{' {
		return false
	}
	start, depth := d.i, 0
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case '"':
			if _, ok := d.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		d.i++
		if depth == 0 {
			return json.Unmarshal([]byte(d.s[start:d.i]), v) == nil
		}
	}
	return false
}

// str reads a string. One without escapes is a substring of the input; one with escapes
// is left to encoding/json, so that its rules for escapes stand.
func (d *pageDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start, ascii := d.i, true
	for d.i < len(d.s) {
		switch strByte[d.s[d.i]] {
		case strPlain:
			d.i++
			continue
		case strHigh:
			ascii = false
			d.i++
			continue
		case strQuote:
			v := d.s[start:d.i]
			d.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false // encoding/json would replace the bad bytes
			}
			return v, true
		case strControl:
			return "", false
		}
		return d.escaped(start)
	}
	return "", false
}

// escaped reads the rest of a string that holds an escape, from its first byte at start,
// through encoding/json.
func (d *pageDecoder) escaped(start int) (string, bool) {
	for d.i = start; d.i < len(d.s); d.i++ {
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			var u string
			if json.Unmarshal([]byte(d.s[start-1:d.i]), &u) != nil {
				return "", false
			}
			return u, true
		case c == '\\':
			d.i++
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// What a byte inside a string is to str.
const (
	strPlain   = iota // ASCII that stands for itself
	strHigh           // part of a multi-byte UTF-8 sequence, to validate
	strQuote          // the end
	strEscape         // a backslash
	strControl        // below 0x20: not JSON
)

var strByte = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20:
			t[c] = strControl
		case c == '"':
			t[c] = strQuote
		case c == '\\':
			t[c] = strEscape
		case c >= utf8.RuneSelf:
			t[c] = strHigh
		}
	}
	return t
}()

// parseUTC parses the form the node writes times in, "2006-01-02T15:04:05.999999999Z",
// to the same Time as time.Time's UnmarshalJSON, several times faster. It accepts only
// valid dates and times in UTC with up to nine decimals; ok false leaves the string to
// UnmarshalJSON.
func parseUTC(s string) (t time.Time, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > len("2006-01-02T15:04:05.999999999Z") || len(s) == len("2006-01-02T15:04:05.Z") ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	ok = true
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' {
			return time.Time{}, false
		}
		nsec = num(frac[1:])
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if !ok || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// uint reads a non-negative integer in JSON's form that fits in a uint64.
func (d *pageDecoder) uint() (uint64, bool) {
	d.ws()
	start := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	digits := d.s[start:d.i]
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	if d.i < len(d.s) {
		switch d.s[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}
