package lists

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// readSlack is how far past the end of the last complete record the buffered readers of
// encoding/csv, encoding/xml and bufio may legitimately have read. The limiting reader
// only refuses input once a record has run this far beyond MaxRecordBytes, so the exact
// per-record check stays with the parser and the reader is a memory backstop.
const readSlack = 64 << 10

// limitReader counts the bytes read from a file, reports them to the progress meter,
// and stops a file or a single record from growing without bound.
type limitReader struct {
	r       io.Reader
	n       int64 // bytes read so far
	mark    int64 // offset where the current record starts; advanced by the parser
	max     int64 // file size limit
	records bool  // whether the per-record limit applies (the FTM scanner has its own)
	m       *meter
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.records && l.n-l.mark > MaxRecordBytes+readSlack {
		return 0, errRecordTooLong
	}
	if room := l.max + 1 - l.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	l.m.bytes(n)
	if l.n > l.max {
		return n, errFileTooLarge
	}
	return n, err
}

// source is one input file being read under the limits.
type source struct {
	name string // base name, for errors
	lim  *limitReader
	br   *bufio.Reader
}

// newSource wraps r; max is the file size limit (MaxFileBytes outside tests). A leading
// UTF-8 byte order mark is skipped because spreadsheet exports of these lists carry one.
func newSource(name string, r io.Reader, max int64, m *meter) *source {
	lim := &limitReader{r: r, max: max, records: true, m: m}
	br := bufio.NewReader(lim)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	return &source{name: name, lim: lim, br: br}
}

// statInput checks an input file before it is opened, so that the size of every file of
// an import is known for progress before reading starts. optional files may be absent
// (ok=false, no error). An empty optional file is treated as absent too: it adds nothing,
// and a publication in which no remark overflows may well ship an empty comments file.
func statInput(path string, optional bool) (size int64, ok bool, err error) {
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	switch {
	case err != nil && optional && errors.Is(err, os.ErrNotExist):
		return 0, false, nil
	case err != nil && errors.Is(err, os.ErrNotExist):
		return 0, false, &ParseError{File: name, Reason: "file not found in " + filepath.Dir(path), err: err}
	case err != nil:
		return 0, false, &ParseError{File: name, Reason: err.Error(), err: err}
	case fi.IsDir():
		return 0, false, errorf(name, 0, "is a directory, not a file")
	case fi.Size() > MaxFileBytes:
		return 0, false, errorf(name, 0, "file is larger than 2 GiB (%d bytes)", fi.Size())
	case fi.Mode().IsRegular() && fi.Size() == 0 && optional:
		return 0, false, nil
	case fi.Mode().IsRegular() && fi.Size() == 0:
		return 0, false, errorf(name, 0, "file is empty")
	case !fi.Mode().IsRegular():
		return -1, true, nil
	}
	return fi.Size(), true, nil
}

// openInput opens a file that statInput accepted and calls fn with it.
func openInput(path string, m *meter, fn func(*source) error) error {
	f, err := os.Open(path)
	if err != nil {
		return &ParseError{File: filepath.Base(path), Reason: err.Error(), err: err}
	}
	defer f.Close()
	return fn(newSource(filepath.Base(path), f, MaxFileBytes, m))
}

// csvSource reads CSV or TSV records and turns every failure into a ParseError with the
// line of the record concerned.
type csvSource struct {
	*source
	r    *csv.Reader
	end  int64 // input offset after the previous record
	line int   // last line of the previous record
}

func newCSV(src *source, comma rune) *csvSource {
	r := csv.NewReader(src.br)
	r.Comma = comma
	r.FieldsPerRecord = -1 // checked by the parsers, with a better message
	return &csvSource{source: src, r: r}
}

// next returns the next record and the line it starts on; io.EOF at the end.
func (c *csvSource) next() ([]string, int, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, c.fail(err)
	}
	line, _ := c.r.FieldPos(0)
	off := c.r.InputOffset()
	if off-c.end > MaxRecordBytes {
		return nil, 0, &ParseError{File: c.name, Line: line, Reason: errRecordTooLong.Error(), err: errRecordTooLong}
	}
	c.end = off
	c.lim.mark = off
	last, _ := c.r.FieldPos(len(rec) - 1)
	c.line = last + strings.Count(rec[len(rec)-1], "\n")
	for i, f := range rec {
		if !utf8.ValidString(f) {
			l, _ := c.r.FieldPos(i)
			return nil, 0, errorf(c.name, l, "field %d is not valid UTF-8", i+1)
		}
	}
	return rec, line, nil
}

func (c *csvSource) fail(err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errRecordTooLong):
		return &ParseError{File: c.name, Line: c.line + 1, Reason: errRecordTooLong.Error(), err: err}
	case errors.Is(err, errFileTooLarge):
		return &ParseError{File: c.name, Reason: errFileTooLarge.Error(), err: err}
	case errors.As(err, &pe):
		return errorf(c.name, pe.Line, "column %d: %v", pe.Column, pe.Err)
	}
	return &ParseError{File: c.name, Line: c.line + 1, Reason: err.Error(), err: err}
}

// meter turns bytes read into Progress calls: at most one per ~1% of the total when the
// total is known, otherwise one per 10,000 records, and always one at the end.
type meter struct {
	fn      Progress
	total   int64 // bytes, or -1 when unknown
	done    int64 // bytes read
	records int64
	next    int64
}

const recordStep = 10000

func newMeter(fn Progress) *meter { return &meter{fn: fn, total: -1} }

// start sets the total once the sizes of all input files are known.
func (m *meter) start(total int64) {
	m.total = total
	if total > 0 {
		m.next = max(total/100, 1)
	} else {
		m.next = recordStep
	}
}

func (m *meter) bytes(n int) {
	if m == nil {
		return
	}
	m.done += int64(n)
	if m.fn != nil && m.total > 0 && m.done >= m.next && m.done < m.total {
		m.fn(m.done, m.total)
		m.next = m.done + max(m.total/100, 1)
	}
}

// record counts a record; it drives progress only when the byte total is unknown.
func (m *meter) record() {
	if m == nil {
		return
	}
	m.records++
	if m.fn != nil && m.total <= 0 && m.records >= m.next {
		m.fn(m.records, -1)
		m.next = m.records + recordStep
	}
}

func (m *meter) end() {
	if m == nil || m.fn == nil {
		return
	}
	if m.total > 0 {
		m.fn(m.done, m.total)
	} else {
		m.fn(m.records, m.records)
	}
}
