package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func sampleSealed() Sealed {
	ct := make([]byte, minCT+10)
	for i := range ct {
		ct[i] = byte(i * 37)
	}
	return Sealed{V: Version, Marking: "REL TO FRA,DEU", Key: "k1" + b64.EncodeToString(bytes.Repeat([]byte{7}, 16)), CT: ct}
}

func TestSealedTextRoundTrip(t *testing.T) {
	s := sampleSealed()
	text, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	want := "v1." + s.Key + "." + b64.EncodeToString([]byte(s.Marking)) + "." + b64.EncodeToString(s.CT)
	if string(text) != want {
		t.Fatalf("Compact = %s, want %s", text, want)
	}
	back, err := ParseSealed(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.V != s.V || back.Marking != s.Marking || back.Key != s.Key || !bytes.Equal(back.CT, s.CT) {
		t.Fatalf("round trip %+v, want %+v", back, s)
	}
}

func TestSealedTextOfRealValueOpens(t *testing.T) {
	nodes, _ := federation(t, "FRA", "DEU")
	fra := nodes["FRA"]
	s := mustSeal(t, fra.kr, "e", "f", relFRADEU, []string{"FRA", "DEU"}, 1, "value")
	text, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSealed(text)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fra.kr.Open(back, "e", "f"); err != nil || string(got) != "value" {
		t.Fatalf("open after text round trip: %q, %v", got, err)
	}
}

func TestParseSealedRejects(t *testing.T) {
	s := sampleSealed()
	text, _ := s.Compact()
	good := string(text)
	parts := strings.Split(good, ".")
	join := func(p ...string) string { return strings.Join(p, ".") }
	short := b64.EncodeToString(make([]byte, minCT-1))
	cases := map[string]string{
		"empty":           "",
		"version 2":       join("v2", parts[1], parts[2], parts[3]),
		"version 01":      join("v01", parts[1], parts[2], parts[3]),
		"no version":      join("1", parts[1], parts[2], parts[3]),
		"three segments":  join(parts[0], parts[1], parts[3]),
		"five segments":   join(parts[0], parts[1], parts[2], parts[3], "x"),
		"padded ct":       good + "=",
		"newline":         join(parts[0], parts[1], parts[2], parts[3][:10]+"\n"+parts[3][10:]),
		"std alphabet":    join(parts[0], parts[1], parts[2], "+"+parts[3][1:]),
		"non-canonical":   join(parts[0], parts[1], parts[2], nonCanonical(parts[3])),
		"empty marking":   join(parts[0], parts[1], "", parts[3]),
		"marking control": join(parts[0], parts[1], b64.EncodeToString([]byte("REL TO\x00FRA")), parts[3]),
		"bad key id":      join(parts[0], "k2"+parts[1][2:], parts[2], parts[3]),
		"short key id":    join(parts[0], parts[1][:20], parts[2], parts[3]),
		"short ct":        join(parts[0], parts[1], parts[2], short),
		"too large":       good + strings.Repeat("A", MaxSealedText),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSealed([]byte(in)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSealed: %v, want ErrMalformed", err)
			}
		})
	}
}

// nonCanonical sets an unused low bit in the last character of a base64url string whose
// length leaves spare bits, giving a second spelling a lax decoder maps to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}

func TestValidate(t *testing.T) {
	if err := sampleSealed().Validate(); err != nil {
		t.Fatalf("valid value refused: %v", err)
	}
	mut := map[string]func(*Sealed){
		"version 0":        func(s *Sealed) { s.V = 0 },
		"empty marking":    func(s *Sealed) { s.Marking = "" },
		"marking spaces":   func(s *Sealed) { s.Marking = " REL TO FRA" },
		"marking too long": func(s *Sealed) { s.Marking = strings.Repeat("A", MaxMarkingLen+1) },
		"marking not utf8": func(s *Sealed) { s.Marking = "REL TO \xff" },
		"key id":           func(s *Sealed) { s.Key = "k1short" },
		"key id padded":    func(s *Sealed) { s.Key = s.Key[:22] + "==" },
		"ct short":         func(s *Sealed) { s.CT = s.CT[:minCT-1] },
		"ct too long":      func(s *Sealed) { s.CT = make([]byte, maxCT+1) },
	}
	for name, m := range mut {
		t.Run(name, func(t *testing.T) {
			s := sampleSealed()
			m(&s)
			if err := s.Validate(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := s.Compact(); err == nil {
				t.Fatal("Compact rendered an invalid value")
			}
		})
	}
}

// FuzzParseSealed checks that ParseSealed never panics, refuses only with ErrMalformed,
// and that what it accepts is valid and has exactly one text form: the input itself.
func FuzzParseSealed(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := ParseSealed(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid value: %v", err)
		}
		again, err := s.Compact()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("accepted %q, whose canonical form is %q", text, again)
		}
	})
}

// The valid seeds in testdata/fuzz must stay valid, or the fuzzer stops exercising the
// acceptance path.
func TestFuzzSeedsStillParse(t *testing.T) {
	for _, name := range []string{"valid-sample", "valid-real"} {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParseSealed", name))
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[1])
		text, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseSealed([]byte(text)); err != nil {
			t.Fatalf("seed %s no longer parses: %v", name, err)
		}
	}
}
