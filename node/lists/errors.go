package lists

import (
	"errors"
	"fmt"
)

// Limits on untrusted input. They are generous for real lists (the largest OFAC remark is
// a few KiB, the full UN list about 2 MiB) but keep a hostile or corrupt file from making
// an import use unbounded memory.
const (
	// MaxRecordBytes bounds one CSV/TSV record, one JSON line or one XML record.
	MaxRecordBytes = 1 << 20
	// MaxFileBytes bounds one input file.
	MaxFileBytes = 2 << 30
	// MaxNames bounds the names (primary plus aliases) kept per entity; further names
	// are dropped and counted in Counts.Skipped.
	MaxNames = 500
)

// ErrUnknownFormat is returned, wrapped with the list of supported formats, when Read or
// Parse is given a format name it does not know.
var ErrUnknownFormat = errors.New("lists: unknown format")

// errRecordTooLong and errFileTooLarge travel through encoding/csv and encoding/xml from
// the limiting reader, so they must be distinguishable values rather than strings.
var (
	errRecordTooLong = errors.New("record longer than 1 MiB")
	errFileTooLarge  = errors.New("file larger than 2 GiB")
)

// ParseError reports why an input file was refused and where, so an officer can find the
// offending line in the published file. Use errors.As to obtain it.
type ParseError struct {
	// File is the base name of the input file, e.g. "sdn.csv".
	File string
	// Line is the 1-based line of the offending record, or 0 when the problem concerns
	// the file as a whole (missing, empty, too large).
	Line int
	// Reason says what is wrong, in terms of the source format.
	Reason string

	err error // underlying cause, if any, for errors.Is (e.g. fs.ErrNotExist)
}

// Error formats the error as "lists: FILE line N: REASON".
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("lists: %s line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("lists: %s: %s", e.File, e.Reason)
}

// Unwrap returns the underlying cause, so that errors.Is(err, fs.ErrNotExist) still
// works for a missing file.
func (e *ParseError) Unwrap() error { return e.err }

// errorf builds a ParseError; it exists to keep the parsers' error paths on one line.
func errorf(file string, line int, format string, args ...any) *ParseError {
	return &ParseError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
}
