package raftstore

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func codecCases() []*raft.Log {
	return []*raft.Log{
		{Index: 1},
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")},
		fullLog(127),
		fullLog(128),
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: raft.LogType(255),
			Data: bytes.Repeat([]byte{0}, 300), Extensions: bytes.Repeat([]byte{1}, 200),
			AppendedAt: time.Unix(0, math.MaxInt64).UTC()},
		{Index: 2, AppendedAt: time.Unix(0, math.MinInt64).UTC()},
		{Index: 3, AppendedAt: time.Unix(0, -1).UTC()},
		{Index: 4, Extensions: []byte("only extensions")},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, in := range codecCases() {
		enc, err := appendLog(nil, in)
		if err != nil {
			t.Fatalf("encode %#v: %v", in, err)
		}
		if len(enc) != encodedLen(in) {
			t.Errorf("encodedLen = %d, encoding is %d bytes", encodedLen(in), len(enc))
		}
		var out raft.Log
		if err := decodeLog(enc, &out); err != nil {
			t.Fatalf("decode %#v: %v", in, err)
		}
		if !sameLog(&out, in) {
			t.Errorf("round trip: got %#v, want %#v", out, in)
		}
		// Decoding must not alias the input: bbolt memory dies with the tx.
		for i := range enc {
			enc[i] = 0xee
		}
		if !sameLog(&out, in) {
			t.Errorf("decoded entry shares memory with the encoded value")
		}
	}
}

func TestCodecIsCompact(t *testing.T) {
	// A typical federation entry: small index and term, timestamp set.
	l := &raft.Log{Index: 1000, Term: 3, Data: make([]byte, 256), AppendedAt: time.Now()}
	if overhead := encodedLen(l) - len(l.Data); overhead > 24 {
		t.Errorf("overhead %d bytes per entry, want <= 24", overhead)
	}
}

func TestDecodeRejectsEveryTruncation(t *testing.T) {
	for _, in := range codecCases() {
		enc, err := appendLog(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(enc); n++ {
			var out raft.Log
			if err := decodeLog(enc[:n], &out); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode of %d/%d bytes = %v, want ErrCorrupt", n, len(enc), err)
			}
		}
	}
}

func TestDecodeRejectsEveryBitFlip(t *testing.T) {
	enc, err := appendLog(nil, fullLog(300))
	if err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		for bit := 0; bit < 8; bit++ {
			bad := append([]byte(nil), enc...)
			bad[i] ^= 1 << bit
			var out raft.Log
			if err := decodeLog(bad, &out); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d bit %d flipped: decode = %v, want ErrCorrupt", i, bit, err)
			}
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	// Each value has a valid checksum, so only the structural checks can
	// reject it.
	cases := map[string][]byte{
		// index 1 written as a two-byte varint
		"non-minimal varint": withCRC([]byte{codecVersion1, 0, 0, 0x81, 0x00, 0, 0, 0}),
		// an 11-byte varint
		"varint overflow": withCRC([]byte{codecVersion1, 0, 0,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0}),
		"data length beyond value": withCRC([]byte{codecVersion1, 0, 0, 1, 1, 50, 'a', 0}),
		"data length 2^64-1": withCRC([]byte{codecVersion1, 0, 0, 1, 1,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}),
		"missing timestamp": withCRC([]byte{codecVersion1, flagAppendedAt, 0, 1, 1, 0, 0}),
		"short timestamp":   withCRC([]byte{codecVersion1, flagAppendedAt, 0, 1, 1, 0, 0, 1, 2, 3}),
		"trailing byte":     withCRC([]byte{codecVersion1, 0, 0, 1, 1, 0, 0, 9}),
		"version 0":         withCRC([]byte{0, 0, 0, 1, 1, 0, 0}),
	}
	for name, raw := range cases {
		var out raft.Log
		if err := decodeLog(raw, &out); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode = %v, want ErrCorrupt", name, err)
		}
	}
	// The same minimal value, correctly formed, decodes.
	var out raft.Log
	if err := decodeLog(withCRC([]byte{codecVersion1, 0, 0, 1, 1, 0, 0}), &out); err != nil {
		t.Fatalf("minimal valid value: %v", err)
	}
	if out.Index != 1 || out.Term != 1 {
		t.Fatalf("minimal valid value decoded as %#v", out)
	}
}

func TestEncodeRejectsUnrepresentableTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if _, err := appendLog(nil, &raft.Log{Index: 1, AppendedAt: at}); !errors.Is(err, ErrInvalidLog) {
			t.Errorf("encode AppendedAt %s = %v, want ErrInvalidLog", at, err)
		}
	}
}

// FuzzDecodeLog checks the two properties the store relies on: decoding
// arbitrary bytes never panics and either fails with ErrCorrupt or yields an
// entry that re-encodes to exactly those bytes; and every entry raft can hand
// us survives encode then decode unchanged.
func FuzzDecodeLog(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, index, term uint64, typ byte, data, ext []byte, nanos int64, hasTime bool) {
		var l raft.Log
		if err := decodeLog(raw, &l); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
		} else {
			again, err := appendLog(nil, &l)
			if err != nil {
				t.Fatalf("re-encode of a decoded entry: %v", err)
			}
			if !bytes.Equal(again, raw) {
				t.Fatalf("decoding is not canonical:\n in  %x\n out %x", raw, again)
			}
		}

		in := &raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if hasTime {
			in.AppendedAt = time.Unix(0, nanos)
		}
		enc, err := appendLog(nil, in)
		if err != nil {
			t.Fatalf("encode %#v: %v", in, err)
		}
		if len(enc) != encodedLen(in) {
			t.Fatalf("encodedLen = %d, encoding is %d bytes", encodedLen(in), len(enc))
		}
		var out raft.Log
		if err := decodeLog(enc, &out); err != nil {
			t.Fatalf("decode(encode(%#v)): %v", in, err)
		}
		if !sameLog(&out, in) {
			t.Fatalf("decode(encode(l)) = %#v, want %#v", out, in)
		}
	})
}
