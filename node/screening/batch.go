package screening

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/entente/entente/node/screen"
)

// Batch bounds: a case file or a customer list of up to a hundred thousand parties per
// request. Larger files are split by the client; the node never holds more than
// MaxBatchBytes of input for one request.
const (
	MaxBatchLines = 100_000
	MaxBatchBytes = 32 << 20
)

// Batch formats.
const (
	BatchNDJSON = "ndjson"
	BatchCSV    = "csv"
)

// CSVColumns are the columns a CSV batch may have, in any order, with a header row.
// "name" may hold several names of the party separated by ";" (aliases), and "country"
// several countries separated by ";".
var CSVColumns = []string{"name", "type", "country", "date_of_birth", "identifier_scheme", "identifier_value"}

// BatchItem is one line of a batch: its line number in the body and either the request
// or what is wrong with the line.
type BatchItem struct {
	Line int
	Req  Request
	Err  *FieldError
}

// Batch reads a batch body one item at a time.
type Batch struct {
	// Format is BatchNDJSON or BatchCSV.
	Format string
	// Defaults are the threshold, limit and lists that apply where a line gives none.
	Defaults Request
	next     func() (BatchItem, bool)
}

// Next returns the next item, or false at the end of the body.
func (b *Batch) Next() (BatchItem, bool) { return b.next() }

// NewBatch prepares body for reading as the content type says: text/csv is CSV with a
// header row (CSVColumns); application/x-ndjson, application/jsonl, application/json or
// none is one Request per line. defaults fills threshold, limit and lists where a line
// does not give them (CSV lines never do). A body that cannot be read as a batch at all
// (unknown content type, bad CSV header, too many lines) is a *FieldError before any line
// is screened.
func NewBatch(body []byte, contentType string, defaults Request) (*Batch, error) {
	format := BatchNDJSON
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, &FieldError{"Content-Type", fmt.Sprintf("%q does not parse: %v", clip(contentType), err)}
		}
		switch mt {
		case "text/csv":
			format = BatchCSV
		case "application/x-ndjson", "application/jsonl", "application/json", "application/jsonlines", "text/plain":
		default:
			return nil, &FieldError{"Content-Type", fmt.Sprintf("%q is not a batch format: send application/x-ndjson (one JSON request per line) or text/csv", mt)}
		}
	}
	if n := bytes.Count(body, []byte{'\n'}); n > MaxBatchLines+1 {
		return nil, &FieldError{"body", fmt.Sprintf("%d lines; a batch has at most %d: split it", n, MaxBatchLines)}
	}
	fill := func(r *Request) {
		if r.Threshold == 0 {
			r.Threshold = defaults.Threshold
		}
		if r.Limit == 0 {
			r.Limit = defaults.Limit
		}
		if len(r.Lists) == 0 {
			r.Lists = defaults.Lists
		}
	}
	if format == BatchCSV {
		b, err := csvBatch(body, fill)
		if b != nil {
			b.Defaults = defaults
		}
		return b, err
	}
	line, rest := 0, body
	return &Batch{Format: format, Defaults: defaults, next: func() (BatchItem, bool) {
		for len(rest) > 0 {
			var l []byte
			l, rest, _ = bytes.Cut(rest, []byte{'\n'})
			line++
			l = bytes.TrimSpace(l)
			if len(l) == 0 {
				continue
			}
			it := BatchItem{Line: line}
			if fe := DecodeStrict(l, &it.Req); fe != nil {
				if fe.Field == "" {
					fe.Field = "body"
				}
				it.Err = fe
			} else {
				fill(&it.Req)
			}
			return it, true
		}
		return BatchItem{}, false
	}}, nil
}

func csvBatch(body []byte, fill func(*Request)) (*Batch, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{"body", "empty: a CSV batch starts with a header row (" + strings.Join(CSVColumns, ",") + ")"}
		}
		return nil, &FieldError{"header", "the header row does not parse: " + err.Error()}
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(CSVColumns, h) {
			return nil, &FieldError{"header", fmt.Sprintf("unknown column %q: the columns are %s", clip(h), strings.Join(CSVColumns, ", "))}
		}
		if _, dup := col[h]; dup {
			return nil, &FieldError{"header", fmt.Sprintf("column %q appears twice", h)}
		}
		col[h] = i
	}
	_, hasName := col["name"]
	_, hasID := col["identifier_value"]
	if !hasName && !hasID {
		return nil, &FieldError{"header", "a batch needs a name column (or identifier_value)"}
	}
	r.FieldsPerRecord = len(head)
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ";") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return &Batch{Format: BatchCSV, next: func() (BatchItem, bool) {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return BatchItem{}, false
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line := pe.Line
				if errors.Is(err, csv.ErrFieldCount) {
					return BatchItem{Line: line, Err: &FieldError{"body", fmt.Sprintf("%d columns; the header has %d", len(rec), len(head))}}, true
				}
				return BatchItem{Line: line, Err: &FieldError{"body", pe.Err.Error()}}, true
			}
			return BatchItem{Err: &FieldError{"body", err.Error()}}, true
		}
		line, _ := r.FieldPos(0)
		req := Request{Names: split(get(rec, "name")), Type: get(rec, "type"), Countries: split(get(rec, "country")), DateOfBirth: get(rec, "date_of_birth")}
		if v := get(rec, "identifier_value"); v != "" {
			req.Identifiers = append(req.Identifiers, screenIdentifier(get(rec, "identifier_scheme"), v))
		}
		fill(&req)
		return BatchItem{Line: line, Req: req}, true
	}}, nil
}

func screenIdentifier(scheme, value string) screen.Identifier {
	return screen.Identifier{Scheme: strings.ToLower(scheme), Value: value}
}
