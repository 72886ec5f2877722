package screening_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/entente/entente/node/screen"
	"github.com/entente/entente/node/screening"
)

// synthetic returns n entities of three names each (a primary name and two aliases),
// built from syllables so that the names are varied like real ones.
func synthetic(n int) []screen.Entity {
	syl := []string{"ka", "ro", "mi", "sa", "del", "vin", "tor", "ash", "ben", "lu", "zar", "ni", "qua", "mor", "el", "fi", "go", "han", "ib", "jo"}
	word := func(i int) string {
		return syl[i%len(syl)] + syl[(i/len(syl))%len(syl)] + syl[(i/(len(syl)*len(syl)))%len(syl)]
	}
	out := make([]screen.Entity, n)
	for i := range out {
		a, b, c := word(i*7+1), word(i*13+5), word(i*31+11)
		out[i] = screen.Entity{ID: fmt.Sprintf("S%07d", i), Type: "person",
			Names: []string{a + " " + b + " " + c, c + " " + a, a + " " + b}, Countries: []string{"IRN"}}
	}
	return out
}

// BenchmarkImportMillionNames imports a list of a million names (333,334 entities of
// three names) into a fresh database and loads it back as a node does at start-up. Run
// it with -benchtime 1x; it reports the time of each step and the heap after loading.
func BenchmarkImportMillionNames(b *testing.B) {
	es := synthetic(333_334)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(map[string]any{"format": "national", "version": "v1", "counts": map[string]int{"entities": len(es)}})
	for i := range es {
		_ = enc.Encode(&es[i])
	}
	body := buf.Bytes()
	es = nil
	for b.Loop() {
		b.StopTimer()
		db, err := bbolt.Open(b.TempDir()+"/node.db", 0o600, &bbolt.Options{InitialMmapSize: 1 << 30, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
		if err != nil {
			b.Fatal(err)
		}
		svc, err := screening.Open(db, quiet)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := svc.Import("synthetic", bytes.NewReader(body), "bench", time.Now(), screening.Limits{}, noAudit)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "import-s")
		b.ReportMetric(float64(res.Meta.Chunks), "chunks")
		b.ReportMetric(res.List.Index.Stats().BuildTime.Seconds(), "index-build-s")
		svc = nil
		runtime.GC()
		start = time.Now()
		svc2, err := screening.Open(db, quiet)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-after-load-MiB")
		if st, _ := db.Begin(false); st != nil {
			b.ReportMetric(float64(st.Size())/(1<<20), "db-MiB")
			_ = st.Rollback()
		}
		b.ReportMetric(float64(len(body))/(1<<20), "body-MiB")
		l, _ := svc2.Snapshot().Get("synthetic")
		b.ReportMetric(float64(l.Index.Stats().Names), "names")
		_ = db.Close()
	}
}
