package screen_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entente/entente/node/screen"
)

// The benchmarks build an index of the real list names plus synthetic names of the same
// shape, generated from a seeded PRNG: persons from culture-specific name pools (with a
// long tail of syllable-built surnames, as real lists have) and companies with legal
// forms. Queries mix variants of indexed names (typos, reordering, dropped words) with
// names that are not indexed.

var namePools = []struct {
	first, last []string
	syllables   []string // for long-tail surnames
}{
	{ // English
		strings.Fields("James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Emily Emma Olivia Sophia Grace Alice Henry George Edward Peter"),
		strings.Fields("Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes"),
		strings.Fields("ash bur ford ley ton wick ham ing by wood field stone brook well more ridge"),
	},
	{ // Spanish and Portuguese
		strings.Fields("Jose Juan Luis Carlos Jorge Manuel Pedro Miguel Francisco Antonio Alejandro Fernando Ricardo Eduardo Javier Diego Andres Maria Ana Carmen Rosa Isabel Lucia Sofia Valentina Camila Gabriela Daniela Paula Elena Marta Beatriz Joao Tiago Rafael"),
		strings.Fields("Garcia Rodriguez Martinez Lopez Gonzalez Hernandez Perez Sanchez Ramirez Torres Flores Rivera Gomez Diaz Cruz Morales Reyes Gutierrez Ortiz Ramos Castillo Vargas Jimenez Moreno Romero Alvarez Ruiz Mendoza Aguilar Medina Castro Herrera Silva Santos Oliveira Souza Pereira Costa Carvalho Almeida Ribeiro Ferreira"),
		strings.Fields("al ba ca do es ga la ma na ra te ve zu que ro da"),
	},
	{ // Arabic
		strings.Fields("Mohammed Muhammad Ahmed Ahmad Ali Omar Umar Hassan Hussein Husain Ibrahim Khalid Youssef Yusuf Abdullah Mahmoud Mustafa Salem Saeed Said Tariq Karim Nasser Faisal Hamza Bilal Ziad Samir Walid Adel Fatima Aisha Mariam Zainab Layla Noor Huda Amina Khadija Salma"),
		strings.Fields("Al-Masri Al-Tikriti Haddad Khalil Mansour Nasr Saleh Hamdan Qasim Rahman Aziz Hakim Jaber Bakr Hashimi Farouk Sharif Zaydan Darwish Najjar Khoury Abboud Shaker Mubarak Rashid Salim Zubaidi Obeidi Dulaimi Shammari Janabi Anbari Qahtani Ghamdi Zahrani Harbi Otaibi Mutairi"),
		strings.Fields("al ba da ha ja ka ma na ra sa ta za bi di hi ri"),
	},
	{ // Russian and Ukrainian
		strings.Fields("Alexander Alexei Andrei Dmitry Sergei Vladimir Ivan Mikhail Nikolai Pavel Yuri Oleg Igor Viktor Boris Anatoly Konstantin Maxim Roman Denis Olga Tatiana Natalia Elena Irina Svetlana Anna Maria Ekaterina Yulia"),
		strings.Fields("Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev Orlov Andreev Makarov Nikitin Zakharov Zaitsev Soloviev Borisov Yakovlev Grigoriev Romanov Vorobiev Sergeev Kovalenko Shevchenko Bondarenko Tkachenko Kravchenko"),
		strings.Fields("ko vo lo no ro so to go mo zo ka sha che"),
	},
	{ // Chinese
		strings.Fields("Wei Fang Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Juan Tao Ming Chao Xiu Ying Hua Ping Jian Guo Zhi Hong Dong Hai Xiao Chun Jinping Xiaoming Jiayi Haoran Yutong Zixuan"),
		strings.Fields("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Jiang Cai Du"),
		strings.Fields("an bo chen de fei gang hao jun kai lan mei ning qing rui shan"),
	},
	{ // Korean
		strings.Fields("Min-jun Seo-yeon Ji-hoon Ha-eun Do-hyun Su-bin Jong-un Yong-chol Chol Song-il Kwang-il Myong-hak Hyon Chun-sik Sok-hwa Yong-nam Jae-in Geun-hye"),
		strings.Fields("Kim Lee Ri Park Pak Choi Choe Jung Jong Kang Cho Jo Yoon Yun Jang Lim Rim Han Shin Sin Oh O Seo So Kwon Hwang Ahn An Song Ryu Hong"),
		strings.Fields("gyu hyun jin sung yeon chul"),
	},
	{ // South Asian and Persian
		strings.Fields("Rahul Amit Sanjay Vijay Rajesh Suresh Arjun Vikram Anil Sunil Priya Anjali Kavita Sunita Pooja Neha Imran Bilal Farhan Asif Zahid Reza Ali Mehdi Hossein Amir Dariush Kaveh Parisa Shirin Nasrin"),
		strings.Fields("Sharma Verma Gupta Singh Kumar Patel Shah Mehta Joshi Iyer Nair Reddy Rao Chatterjee Banerjee Mukherjee Khan Qureshi Siddiqui Chaudhry Malik Butt Ahmadi Hosseini Mohammadi Rezaei Moradi Karimi Jafari Rahimi Tehrani Farahani"),
		strings.Fields("pur vand zadeh abadi ani nia far"),
	},
	{ // Turkish, Central Asian, African
		strings.Fields("Mehmet Mustafa Ahmet Emre Burak Elif Zeynep Ayse Nurlan Aigerim Bakhodir Dilnoza Chinonso Ngozi Kwame Ama Thabo Lindiwe Wanjiru Otieno Fatoumata Mamadou Aminata Tesfaye"),
		strings.Fields("Yilmaz Kaya Demir Sahin Celik Yildiz Aydin Ozturk Arslan Dogan Tokhtarov Seitkali Rakhimov Yusupov Okafor Adeyemi Mensah Boateng Nkosi Dlamini Kamau Odhiambo Diallo Traore Bekele Haile"),
		strings.Fields("ogu olu ade kwa nde mbe zan tek"),
	},
}

var companyWords = strings.Fields(`Global United International National General Eastern Western Northern Southern Pacific
	Atlantic Golden Silver Royal Star Sun Moon Ocean River Mountain Dragon Phoenix Eagle Lion Tiger Crown
	Delta Alpha Omega Prime Apex Summit Pioneer Frontier Horizon Vision Future Modern Classic Imperial
	Continental Central Metro Union Allied Trans Inter Euro Asia Africa Arab Gulf Caspian Baltic Andean`)

var companyIndustries = strings.Fields(`Trading Shipping Logistics Petroleum Oil Gas Energy Mining Metals Steel Chemicals
	Pharmaceuticals Electronics Technology Engineering Construction Machinery Aviation Marine Textiles Foods
	Agriculture Finance Investment Holdings Capital Insurance Exchange Industries Manufacturing Supply Import
	Export Commerce Resources Development Services Systems Solutions Equipment Motors Transport Tankers`)

var companyForms = []string{"LLC", "Ltd", "Co., Ltd.", "Inc.", "GmbH", "S.A.", "JSC", "Limited", "Corp.", "FZE", "Pvt. Ltd.", "OOO", "Sdn. Bhd.", "PLC", "S.A.R.L.", ""}

// skewed picks from a pool with a Zipf-like preference for its first entries: real
// name frequencies are heavily skewed.
func skewed(rng *rand.Rand, pool []string) string {
	u := rng.Float64()
	return pool[int(u*u*float64(len(pool)))]
}

func syllableName(rng *rand.Rand, syl []string, base []string) string {
	var b strings.Builder
	b.WriteString(skewed(rng, base))
	n := 1 + rng.IntN(2)
	for range n {
		b.WriteString(syl[rng.IntN(len(syl))])
	}
	return b.String()
}

func syntheticName(rng *rand.Rand) (name, typ string) {
	if rng.IntN(4) == 0 {
		var parts []string
		parts = append(parts, skewed(rng, companyWords))
		if rng.IntN(2) == 0 {
			parts = append(parts, syllableName(rng, namePools[rng.IntN(len(namePools))].syllables, companyWords))
		}
		parts = append(parts, skewed(rng, companyIndustries))
		if f := companyForms[rng.IntN(len(companyForms))]; f != "" {
			parts = append(parts, f)
		}
		return strings.Join(parts, " "), "organisation"
	}
	p := namePools[rng.IntN(len(namePools))]
	first := skewed(rng, p.first)
	var last string
	if rng.IntN(3) == 0 {
		last = syllableName(rng, p.syllables, p.last)
	} else {
		last = skewed(rng, p.last)
	}
	switch rng.IntN(5) {
	case 0:
		return first + " " + skewed(rng, p.first) + " " + last, "person"
	case 1:
		return strings.ToUpper(last) + ", " + first, "person"
	}
	return first + " " + last, "person"
}

// realEntities reads every list in the shared data that the lists package can parse.
func realEntities(tb testing.TB) []screen.Entity {
	tb.Helper()
	var out []screen.Entity
	for _, l := range realLists {
		out = append(out, readList(tb, l.format, l.rel)...)
	}
	return out
}

type benchIndex struct {
	ix      *screen.Index
	names   int
	build   time.Duration
	heapMiB float64
	queries []string
}

var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*benchIndex{}
)

// getBenchIndex builds (once per size) an index of exactly size names.
func getBenchIndex(b *testing.B, size int) *benchIndex {
	benchMu.Lock()
	defer benchMu.Unlock()
	if bi, ok := benchIndexes[size]; ok {
		return bi
	}
	clear(benchIndexes) // one index at a time, so that heap-MiB is this one's
	real := realEntities(b)
	rng := rand.New(rand.NewPCG(42, 4242))
	var sample []string // names to derive variant queries from
	runtime.GC()
	start := time.Now()
	bld := screen.NewBuilder()
	names := 0
	for _, e := range real {
		if names+len(e.Names) > size {
			break
		}
		bld.Add(e)
		names += len(e.Names)
		if rng.IntN(20) == 0 {
			sample = append(sample, e.Names[0])
		}
	}
	for i := 0; names < size; i++ {
		name, typ := syntheticName(rng)
		e := screen.Entity{List: "synthetic", ID: fmt.Sprint(i), Type: typ, Names: []string{name}}
		if rng.IntN(10) == 0 && names+2 <= size {
			alias, _ := syntheticName(rng)
			e.Names = append(e.Names, alias)
		}
		bld.Add(e)
		names += len(e.Names)
		if rng.IntN(500) == 0 {
			sample = append(sample, name)
		}
	}
	ix := bld.Build()
	build := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	// Queries: variants of indexed names and names that are not indexed, half and half.
	negatives := readLines(b, filepath.Join("testdata", "negatives.txt"))
	var queries []string
	for i, n := range sample {
		words := strings.Fields(strings.ReplaceAll(n, ",", " "))
		switch i % 3 {
		case 0:
			queries = append(queries, typoOf(rng, n))
		case 1:
			slices.Reverse(words)
			queries = append(queries, strings.Join(words, " "))
		default:
			if len(words) > 2 {
				words = append(words[:1], words[2:]...)
			}
			queries = append(queries, strings.Join(words, " "))
		}
	}
	for len(queries) < 2*len(sample) && len(negatives) > 0 {
		queries = append(queries, negatives[len(queries)%len(negatives)])
	}
	rng.Shuffle(len(queries), func(i, j int) { queries[i], queries[j] = queries[j], queries[i] })
	bi := &benchIndex{ix: ix, names: names, build: build, heapMiB: float64(ms.HeapInuse) / (1 << 20), queries: queries}
	benchIndexes[size] = bi
	return bi
}

func typoOf(rng *rand.Rand, s string) string {
	rs := []rune(s)
	if len(rs) < 4 {
		return s
	}
	p := 1 + rng.IntN(len(rs)-1)
	rs[p] = rune('a' + rng.IntN(26))
	return string(rs)
}

func benchSearch(b *testing.B, size int) {
	if _, err := os.Stat(dataDir); err != nil {
		b.Skipf("real list data not available at %s", dataDir)
	}
	bi := getBenchIndex(b, size)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; b.Loop(); i++ {
		q := bi.queries[i%len(bi.queries)]
		t0 := time.Now()
		if _, err := bi.ix.Search(screen.Query{Names: []string{q}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	// One goroutine searches, so wall-clock throughput is that of one core when the
	// machine is otherwise idle; per CPU second (GC included) it is that of one core
	// however busy the machine is.
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "queries/s-wall")
	if cpu > 0 {
		b.ReportMetric(float64(len(lat))/cpu.Seconds(), "queries/s/core")
	}
	b.ReportMetric(bi.build.Seconds(), "build-s")
	b.ReportMetric(bi.heapMiB, "heap-MiB")
	b.ReportMetric(float64(bi.names), "names")

}

// BenchmarkSearch1M screens single-name queries against 1,000,000 names on one
// goroutine, so queries/s/core is the throughput of one core.
func BenchmarkSearch1M(b *testing.B) { benchSearch(b, 1_000_000) }

// BenchmarkSearch100k is the quick version.
func BenchmarkSearch100k(b *testing.B) { benchSearch(b, 100_000) }

// BenchmarkSearchParallel1M runs queries from every core at once.
func BenchmarkSearchParallel1M(b *testing.B) {
	if _, err := os.Stat(dataDir); err != nil {
		b.Skipf("real list data not available at %s", dataDir)
	}
	bi := getBenchIndex(b, 1_000_000)
	b.ResetTimer()
	var next sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			q := bi.queries[i%len(bi.queries)]
			i++
			next.Unlock()
			if _, err := bi.ix.Search(screen.Query{Names: []string{q}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
