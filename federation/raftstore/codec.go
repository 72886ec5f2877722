package raftstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
)

// Log value encoding, version 1. Every field of raft.Log is kept; nothing is
// interpreted. All multi-byte fixed-width integers are big-endian.
//
//	offset  size      field
//	0       1         version, always 0x01 for this layout
//	1       1         flags: bit 0 set = AppendedAt present; bits 1-7 must be 0
//	2       1         Type (raft.LogType, opaque byte)
//	3       uvarint   Index (must equal the bucket key it is stored under)
//	        uvarint   Term
//	        uvarint   len(Data), then Data
//	        uvarint   len(Extensions), then Extensions
//	        8         AppendedAt as Unix nanoseconds (int64), only if flag bit 0
//	        4         CRC-32C (Castagnoli) of every preceding byte
//
// Why this shape: Index, Term and lengths are small numbers, so uvarints keep a
// typical entry's overhead near 14 bytes plus 8 for the timestamp; that is a
// 61-bit number today, so fixed 8 bytes beats a 9-byte varint. bbolt
// does not checksum its pages, so the trailing CRC is what turns a flipped bit
// on disk into an error instead of a silently different log entry that raft
// would replicate or apply.
//
// Decoding is strict: uvarints must be minimal, lengths must fit the value,
// no bytes may trail the checksum, unknown flag bits and versions are
// rejected. That makes the encoding canonical: a value decodes only if
// re-encoding the result gives back the same bytes.
const (
	codecVersion1 byte = 0x01

	flagAppendedAt byte = 1 << 0
	knownFlags          = flagAppendedAt

	headerLen   = 3 // version, flags, type
	checksumLen = 4
	// minEncodedLen is the header, four one-byte uvarints and the checksum.
	minEncodedLen = headerLen + 4 + checksumLen
)

// castagnoli is hardware accelerated on amd64 and arm64, so checksumming
// every entry costs little next to the fsync that follows.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// encodedLen returns the exact size appendLog will add for l, so StoreLogs can
// size one buffer for a whole batch.
func encodedLen(l *raft.Log) int {
	n := headerLen +
		uvarintLen(l.Index) +
		uvarintLen(l.Term) +
		uvarintLen(uint64(len(l.Data))) + len(l.Data) +
		uvarintLen(uint64(len(l.Extensions))) + len(l.Extensions) +
		checksumLen
	if !l.AppendedAt.IsZero() {
		n += 8
	}
	return n
}

// appendLog appends the version 1 encoding of l to dst. It fails, without
// touching dst's contents beyond its length, when AppendedAt cannot be
// represented in Unix nanoseconds (before 1678 or after 2262): storing a
// different time than raft handed us would break the round-trip guarantee.
func appendLog(dst []byte, l *raft.Log) ([]byte, error) {
	var flags byte
	var nanos int64
	if !l.AppendedAt.IsZero() {
		nanos = l.AppendedAt.UnixNano()
		if !time.Unix(0, nanos).Equal(l.AppendedAt) {
			return dst, fmt.Errorf("%w: log %d: AppendedAt %s is outside the range of Unix nanoseconds",
				ErrInvalidLog, l.Index, l.AppendedAt.Format(time.RFC3339Nano))
		}
		flags |= flagAppendedAt
	}
	start := len(dst)
	dst = append(dst, codecVersion1, flags, byte(l.Type))
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	if flags&flagAppendedAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(nanos))
	}
	dst = binary.BigEndian.AppendUint32(dst, crcOf(dst[start:]))
	return dst, nil
}

// decodeLog decodes a version 1 value into l, overwriting every field. Data
// and Extensions are copied into fresh memory, so b may be bbolt's mmap which
// is only valid inside the transaction. Empty Data or Extensions decode as
// nil. AppendedAt decodes in UTC so the result does not depend on the host's
// time zone. Any malformation returns an error wrapping ErrCorrupt; l is left
// unchanged in that case.
func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < minEncodedLen {
		return fmt.Errorf("%w: value is %d bytes, shorter than the minimum %d", ErrCorrupt, len(b), minEncodedLen)
	}
	body := b[:len(b)-checksumLen]
	want := binary.BigEndian.Uint32(b[len(b)-checksumLen:])
	if got := crcOf(body); got != want {
		return fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", ErrCorrupt, want, got)
	}
	if body[0] != codecVersion1 {
		return fmt.Errorf("%w: unsupported encoding version %d", ErrCorrupt, body[0])
	}
	flags := body[1]
	if flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flag bits %08b", ErrCorrupt, flags&^knownFlags)
	}
	typ := raft.LogType(body[2])
	r := reader{b: body, off: headerLen}
	index, err := r.uvarint("index")
	if err != nil {
		return err
	}
	term, err := r.uvarint("term")
	if err != nil {
		return err
	}
	data, err := r.bytes("data")
	if err != nil {
		return err
	}
	ext, err := r.bytes("extensions")
	if err != nil {
		return err
	}
	var appendedAt time.Time
	if flags&flagAppendedAt != 0 {
		nanos, err := r.uint64("appended_at")
		if err != nil {
			return err
		}
		appendedAt = time.Unix(0, int64(nanos)).UTC()
	}
	if r.off != len(body) {
		return fmt.Errorf("%w: %d unexpected bytes before the checksum", ErrCorrupt, len(body)-r.off)
	}

	// One allocation for both byte fields; each gets a capped slice so an
	// append by the caller cannot run into the other.
	var dataCopy, extCopy []byte
	if len(data)+len(ext) > 0 {
		buf := make([]byte, len(data)+len(ext))
		copy(buf, data)
		copy(buf[len(data):], ext)
		if len(data) > 0 {
			dataCopy = buf[:len(data):len(data)]
		}
		if len(ext) > 0 {
			extCopy = buf[len(data):]
		}
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       typ,
		Data:       dataCopy,
		Extensions: extCopy,
		AppendedAt: appendedAt,
	}
	return nil
}

// reader walks a value with bounds checks on every read; each failure names
// the field so a corrupt entry can be diagnosed from the error alone.
type reader struct {
	b   []byte
	off int
}

func (r *reader) uvarint(field string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: %s: truncated varint at offset %d", ErrCorrupt, field, r.off)
	case n < 0:
		return 0, fmt.Errorf("%w: %s: varint overflows 64 bits at offset %d", ErrCorrupt, field, r.off)
	case n != uvarintLen(v):
		return 0, fmt.Errorf("%w: %s: non-minimal varint at offset %d", ErrCorrupt, field, r.off)
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(field string) ([]byte, error) {
	n, err := r.uvarint(field + " length")
	if err != nil {
		return nil, err
	}
	if rest := uint64(len(r.b) - r.off); n > rest {
		return nil, fmt.Errorf("%w: %s: length %d exceeds the %d remaining bytes", ErrCorrupt, field, n, rest)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

func (r *reader) uint64(field string) (uint64, error) {
	if len(r.b)-r.off < 8 {
		return 0, fmt.Errorf("%w: %s: need 8 bytes, %d remain", ErrCorrupt, field, len(r.b)-r.off)
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

// uvarintLen is the size of the minimal uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// errIndexMismatch reports a value whose encoded index differs from the key
// it is stored under: a misplaced or overwritten value that raft must not see.
func errIndexMismatch(key, encoded uint64) error {
	return fmt.Errorf("%w: value stored under index %d encodes index %d", ErrCorrupt, key, encoded)
}
