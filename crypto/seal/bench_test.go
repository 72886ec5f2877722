package seal

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

// The envelope and age-per-field benchmarks live together so one invocation yields the
// ratio quoted in the README. All use five recipients and a 64-byte field, the typical
// size of a name or identifier released to a handful of states.

var five = []string{"FRA", "DEU", "GBR", "ITA", "POL"}

const benchMarking = "REL TO FRA,DEU,GBR,ITA,POL"

func benchNode(b *testing.B) *node {
	nodes, _ := federation(b, five...)
	fra := nodes["FRA"]
	// Warm: the data key for the set exists and is cached.
	if _, err := fra.kr.Seal("e", "f", benchMarking, five, 1, make([]byte, 64)); err != nil {
		b.Fatal(err)
	}
	return fra
}

func BenchmarkSealOpenEnvelope5(b *testing.B) {
	fra := benchNode(b)
	pt := bytes.Repeat([]byte{'x'}, 64)
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		s, err := fra.kr.Seal("wl-0001", "party.names[0]", benchMarking, five, 1, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fra.kr.Open(s, "wl-0001", "party.names[0]"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seal+open/s")
}

// BenchmarkSealOpenAgePerField5 is the alternative the envelope replaces: each field its
// own age file to the five recipients. The reader's stanza comes first, age's best case.
func BenchmarkSealOpenAgePerField5(b *testing.B) {
	var rcpts []age.Recipient
	var mine age.Identity
	for i := range five {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			mine = id
		}
		rcpts = append(rcpts, id.Recipient())
	}
	pt := bytes.Repeat([]byte{'x'}, 64)
	var buf bytes.Buffer
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		w, err := age.Encrypt(&buf, rcpts...)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(pt)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		r, err := age.Decrypt(&buf, mine)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || len(got) != 64 {
			b.Fatalf("%d bytes, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seal+open/s")
}

func BenchmarkSealEnvelope5(b *testing.B) {
	fra := benchNode(b)
	pt := bytes.Repeat([]byte{'x'}, 64)
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fra.kr.Seal("wl-0001", "party.names[0]", benchMarking, five, 1, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenEnvelope5(b *testing.B) {
	fra := benchNode(b)
	s, err := fra.kr.Seal("wl-0001", "party.names[0]", benchMarking, five, 1, bytes.Repeat([]byte{'x'}, 64))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fra.kr.Open(s, "wl-0001", "party.names[0]"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealOpenEnvelope5Parallel shows the read-lock fast path scaling across cores.
func BenchmarkSealOpenEnvelope5Parallel(b *testing.B) {
	fra := benchNode(b)
	pt := bytes.Repeat([]byte{'x'}, 64)
	b.SetBytes(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := fra.kr.Seal("wl-0001", "party.names[0]", benchMarking, five, 1, pt)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := fra.kr.Open(s, "wl-0001", "party.names[0]"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
