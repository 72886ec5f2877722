package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/entente/entente/crypto/seal"
)

// diskFormat is the first byte of every stored version. The encoding is this package's
// alone, so how seal.Sealed or the API encode themselves can never change records already
// written. It is binary because every read of a record decodes it: a JSON layout cost a
// quarter of the CPU of a signed GET.
//
// Layout, after the format byte (strings and byte strings are a uvarint length, then the
// bytes; integers are uvarints unless said otherwise):
//
//	id, kind, actor, rationale
//	version
//	created: Unix nanoseconds as a big-endian int64
//	field count, then per field, in name order:
//	  name, marking, tag (0 plain, 1 sealed)
//	  plain:  the value's JSON
//	  sealed: format version, sealed marking, key id, ciphertext
const diskFormat byte = 0xE1

// Limits applied when decoding, so that a damaged file cannot make the node allocate
// without bound.
const (
	maxDiskString = 1 << 20
	maxDiskFields = 256
)

// errCorrupt marks a stored version that does not decode.
var errCorrupt = errors.New("records: stored version does not decode")

func encodeStored(s *Stored) ([]byte, error) {
	names := make([]string, 0, len(s.Fields))
	size := 64 + len(s.ID) + len(s.Kind) + len(s.Actor) + len(s.Rationale)
	for name, f := range s.Fields {
		names = append(names, name)
		size += 32 + len(name) + len(f.Marking) + len(f.Plain)
		if f.Sealed != nil {
			size += len(f.Sealed.Marking) + len(f.Sealed.Key) + len(f.Sealed.CT)
		}
	}
	if len(names) > maxDiskFields {
		return nil, fmt.Errorf("records: %d fields, more than %d", len(names), maxDiskFields)
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, diskFormat)
	for _, str := range []string{s.ID, s.Kind, s.Actor, s.Rationale} {
		b = appendString(b, str)
	}
	if s.Version < 0 {
		return nil, fmt.Errorf("records: negative version %d", s.Version)
	}
	b = binary.AppendUvarint(b, uint64(s.Version))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Created.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		f := s.Fields[name]
		b = appendString(b, name)
		b = appendString(b, f.Marking)
		if f.Sealed == nil {
			b = append(b, 0)
			b = appendBytes(b, f.Plain)
			continue
		}
		if f.Sealed.V < 0 {
			return nil, fmt.Errorf("records: field %s: negative sealed version", name)
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(f.Sealed.V))
		b = appendString(b, f.Sealed.Marking)
		b = appendString(b, f.Sealed.Key)
		b = appendBytes(b, f.Sealed.CT)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decoder reads the layout above; the first error sticks and every later read is empty.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || (n > 1 && d.b[n-1] == 0) { // refuse padded (non-minimal) encodings: one form only
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > maxDiskString || n > uint64(len(d.b)) {
		d.fail(what + " length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string { return string(d.bytes(what)) }

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func decodeStored(id string, version int, data []byte) (*Stored, error) {
	d := &decoder{b: data}
	if d.byte("format") != diskFormat {
		return nil, fmt.Errorf("records: %s version %d: unknown storage format", id, version)
	}
	s := &Stored{ID: d.string("id"), Kind: d.string("kind"), Actor: d.string("actor"), Rationale: d.string("rationale")}
	v := d.uvarint("version")
	if v > math.MaxInt32 {
		d.fail("version")
	}
	s.Version = int(v)
	if d.err == nil && len(d.b) < 8 {
		d.fail("created")
	}
	if d.err == nil {
		s.Created = time.Unix(0, int64(binary.BigEndian.Uint64(d.b))).UTC()
		d.b = d.b[8:]
	}
	n := d.uvarint("field count")
	if n > maxDiskFields {
		d.fail("field count")
		n = 0
	}
	s.Fields = make(map[string]StoredField, n)
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.string("field name")
		if i > 0 && name <= prev {
			d.fail("field names out of order")
		}
		prev = name
		f := StoredField{Marking: d.string("marking")}
		switch d.byte("field tag") {
		case 0:
			if p := d.bytes("plain value"); p != nil {
				f.Plain = slices.Clone(p)
			}
		case 1:
			sv := d.uvarint("sealed version")
			if sv > math.MaxInt32 {
				d.fail("sealed version")
			}
			f.Sealed = &seal.Sealed{V: int(sv), Marking: d.string("sealed marking"), Key: d.string("key id"), CT: slices.Clone(d.bytes("ciphertext"))}
		default:
			d.fail("field tag")
		}
		s.Fields[name] = f
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%s version %d: %w", id, version, d.err)
	}
	return s, nil
}
