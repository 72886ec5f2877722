package screen

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
)

// testEntities is a small list with the kinds of neighbours that make screening hard:
// shared common words, relatives sharing a family name, and companies differing only in
// their distinctive word.
func testEntities() []Entity {
	es := []Entity{
		{List: "t", ID: "putin", Type: "person", Names: []string{"Vladimir Vladimirovich PUTIN", "Владимир Владимирович Путин"},
			Countries: []string{"RUS"}, BirthDates: []string{"1952-10-07"}},
		{List: "t", ID: "maduro", Type: "person", Names: []string{"MADURO MOROS, Nicolas"}, Countries: []string{"VEN"},
			BirthDates: []string{"1962-11-23"}, Identifiers: []Identifier{{Scheme: "national-id", Value: "V-5.892.464", Country: "VEN"}}},
		{List: "t", ID: "maduro-guerra", Type: "person", Names: []string{"MADURO GUERRA, Nicolas Ernesto"}, Countries: []string{"VEN"}},
		{List: "t", ID: "shoigu", Type: "person", Names: []string{"Шойгу Сергей Кужугетович"}},
		{List: "t", ID: "saddam", Type: "person", Names: []string{"SADDAM HUSSEIN AL-TIKRITI", "صدام حسين التكريتي"}},
		{List: "t", ID: "qusay", Type: "person", Names: []string{"QUSAY SADDAM HUSSEIN AL-TIKRITI"}},
		{List: "t", ID: "delta", Type: "organisation", Names: []string{"Delta Trading International LLC"}},
		{List: "t", ID: "gamma", Type: "organisation", Names: []string{"Gamma Trading International Co., Ltd."}},
		{List: "t", ID: "acme", Type: "organisation", Names: []string{"ACME TRADING"}, Countries: []string{"ARE"}},
		{List: "t", ID: "vessel", Type: "vessel", Names: []string{"SEA STAR"}, Identifiers: []Identifier{{Scheme: "imo", Value: "IMO 9176187"}}},
		{List: "t", ID: "kim", Type: "person", Names: []string{"KIM, Jong Un"}},
		{List: "t", ID: "zawahiri", Type: "person", Names: []string{"AL-ZAWAHIRI, Ayman", "Aiman Muhammad Rabi al-Zawahiri"}},
	}
	// Many names sharing "trading", "international" and "mohammad", so those weigh little.
	for i := range 40 {
		es = append(es, Entity{List: "t", ID: fmt.Sprintf("filler-%d", i), Type: "organisation",
			Names: []string{fmt.Sprintf("%s Trading International", fillerWords[i%len(fillerWords)]+fmt.Sprint(i))}})
		es = append(es, Entity{List: "t", ID: fmt.Sprintf("person-%d", i), Type: "person",
			Names: []string{fmt.Sprintf("Mohammad %s", fillerWords[(i+3)%len(fillerWords)]+fmt.Sprint(i))}})
	}
	return es
}

var fillerWords = []string{"Orion", "Vega", "Lyra", "Draco", "Cetus", "Hydra", "Pavo", "Ara"}

func testIndex(t testing.TB) *Index {
	t.Helper()
	b := NewBuilder()
	for _, e := range testEntities() {
		b.Add(e)
	}
	return b.Build()
}

// top returns the best hit for the entity id, or a zero Hit.
func top(t *testing.T, ix *Index, q Query, id string) Hit {
	t.Helper()
	if q.Threshold == 0 {
		q.Threshold = 0.01
	}
	hits, err := ix.Search(q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	for _, h := range hits {
		if h.Entity.ID == id {
			return h
		}
	}
	return Hit{}
}

func TestScoreOrdering(t *testing.T) {
	ix := testIndex(t)
	score := func(name string) float64 {
		return top(t, ix, Query{Names: []string{name}}, "maduro").Score
	}
	exact := score("MADURO MOROS, Nicolas")
	cased := score("maduro moros nicolás")
	reordered := score("Nicolas Maduro Moros")
	typo := score("Nicolas Maduro Mros")
	twoTypos := score("Nicolas Madura Mros")
	dropped := score("Nicolas Maduro")
	unrelated := score("Vladimir Putin")
	t.Logf("exact %.4f cased %.4f reordered %.4f typo %.4f two typos %.4f dropped %.4f unrelated %.4f",
		exact, cased, reordered, typo, twoTypos, dropped, unrelated)
	if exact != 1 || cased != 1 {
		t.Errorf("exact match scores %v and %v, want 1", exact, cased)
	}
	if !(reordered < exact && reordered >= 0.95) {
		t.Errorf("reordered %v: want just below exact", reordered)
	}
	if !(typo < reordered-0.02) {
		t.Errorf("typo %v: want clearly below reordered %v", typo, reordered)
	}
	if !(twoTypos < typo && twoTypos > dropped-0.2) {
		t.Errorf("two typos %v: want below one typo %v", twoTypos, typo)
	}
	if !(unrelated < 0.3) {
		t.Errorf("unrelated name scores %v", unrelated)
	}
	if typo < DefaultThreshold || dropped < DefaultThreshold {
		t.Errorf("typo %v or dropped surname %v below the default threshold", typo, dropped)
	}
}

func TestNoTiesAtOne(t *testing.T) {
	ix := testIndex(t)
	for _, q := range []string{"Nicolas Maduro Moros", "Nicolas Maduro", "MADURO MOROS Nicolás Ernesto", "Maduro Moros, N."} {
		hits, err := ix.Search(Query{Names: []string{q}, Threshold: 0.01, Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Score >= 1 {
				t.Errorf("%q: inexact match %q scores %v", q, h.MatchedName, h.Score)
			}
		}
		for i := 1; i < len(hits) && i < 3; i++ {
			if hits[i].Score == hits[i-1].Score && hits[i].Score > 0.5 {
				t.Errorf("%q: tie %v between %s and %s", q, hits[i].Score, hits[i-1].Entity.ID, hits[i].Entity.ID)
			}
		}
	}
}

func TestIdentifier(t *testing.T) {
	ix := testIndex(t)
	for _, id := range []Identifier{
		{Scheme: "national-id", Value: "v5892464"},
		{Scheme: "", Value: "V 5892464"},
		{Scheme: "other", Value: "V-5892-464"},
	} {
		h := top(t, ix, Query{Identifiers: []Identifier{id}}, "maduro")
		if h.Score != 1 || h.Explanation.Identifier == nil {
			t.Errorf("identifier %+v: score %v", id, h.Score)
		}
	}
	// Another scheme is another number, even if the digits agree.
	if h := top(t, ix, Query{Identifiers: []Identifier{{Scheme: "passport", Value: "V5892464"}}}, "maduro"); h.Entity != nil {
		t.Errorf("passport matched a national id")
	}
	// IMO with and without prefix.
	if h := top(t, ix, Query{Identifiers: []Identifier{{Scheme: "imo", Value: "9176187"}}}, "vessel"); h.Score != 1 {
		t.Errorf("IMO: %v", h.Score)
	}
	// An identifier hit is 1 even when the name given disagrees, and says so.
	h := top(t, ix, Query{Names: []string{"Nicolas Maduro"}, Identifiers: []Identifier{{Value: "V5892464"}}}, "maduro")
	if h.Score != 1 || len(h.Explanation.Components) != 2 || h.Explanation.Components[1].Name != "identifier" {
		t.Errorf("name and identifier: %+v", h)
	}
}

func TestLegalFormIgnored(t *testing.T) {
	ix := testIndex(t)
	bare := top(t, ix, Query{Names: []string{"Acme Trading"}}, "acme")
	for _, q := range []string{"ACME TRADING LLC", "Acme Trading Co., Ltd.", "OOO Acme Trading", "Acme Trading GmbH"} {
		h := top(t, ix, Query{Names: []string{q}}, "acme")
		if h.Score != bare.Score {
			t.Errorf("%q scores %v, the bare name %v", q, h.Score, bare.Score)
		}
		ignored := 0
		for _, tm := range h.Explanation.Tokens {
			if tm.Method == MethodLegalForm {
				ignored++
				if tm.Contribution != 0 || tm.Weight != 0 {
					t.Errorf("%q: legal form %q carries score", q, tm.QueryToken)
				}
			}
		}
		if ignored == 0 {
			t.Errorf("%q: legal form not recorded in the explanation", q)
		}
	}
	// Sharing only common words and a legal form is no match.
	if h := top(t, ix, Query{Names: []string{"Omega Trading International LLC"}}, "delta"); h.Score >= DefaultThreshold {
		t.Errorf("different company scores %v", h.Score)
	}
}

func TestCommonWordsWeighLittle(t *testing.T) {
	ix := testIndex(t)
	hits, err := ix.Search(Query{Names: []string{"Zeta Trading International"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) > 0 {
		t.Errorf("common words alone produced hits: %v", describe(hits))
	}
	hits, _ = ix.Search(Query{Names: []string{"Mohammad Quasar"}})
	if len(hits) > 0 {
		t.Errorf("a common given name alone produced hits: %v", describe(hits))
	}
}

func TestInitialsAliasesCrossScript(t *testing.T) {
	ix := testIndex(t)
	full := top(t, ix, Query{Names: []string{"Vladimir Putin"}}, "putin").Score
	initial := top(t, ix, Query{Names: []string{"V. Putin"}}, "putin").Score
	if !(initial > 0.5 && initial < full) {
		t.Errorf("initial: %v, full name %v", initial, full)
	}
	for _, c := range []struct{ q, id string }{
		{"Путин Владимир", "putin"},               // Cyrillic query, Latin and Cyrillic names
		{"Shoigu Sergei", "shoigu"},               // Latin query, Cyrillic-only entity
		{"Sergey Kuzhugetovich Shoygu", "shoigu"}, // other romanisation
		{"صدام حسين", "saddam"},                   // Arabic query
		{"Ayman Zawahiri", "zawahiri"},            // alias
		{"Aiman Muhammad Rabi al-Zawahiri", "zawahiri"},
		{"김정은", "kim"},
		{"Kim Jong-un", "kim"},
	} {
		h := top(t, ix, Query{Names: []string{c.q}}, c.id)
		if h.Score < DefaultThreshold {
			t.Errorf("%q: %s scores %v", c.q, c.id, h.Score)
		}
	}
	h := top(t, ix, Query{Names: []string{"Aiman Muhammad Rabi al-Zawahiri"}}, "zawahiri")
	if h.MatchedName != "Aiman Muhammad Rabi al-Zawahiri" || h.Score != 1 {
		t.Errorf("best alias not reported: %q %v", h.MatchedName, h.Score)
	}
}

func TestExplanationSums(t *testing.T) {
	ix := testIndex(t)
	for _, q := range []Query{
		{Names: []string{"Nicolas Maduro Mros"}},
		{Names: []string{"MADURO MOROS, Nicolas"}, Countries: []string{"VEN"}, BirthDate: "1962"},
		{Names: []string{"Maduro, Nicolas"}, Countries: []string{"COL"}, BirthDate: "1970-01-01", Type: "organisation"},
		{Names: []string{"Acme Trading LLC"}, Countries: []string{"ARE"}},
		{Names: []string{"V. Putin"}, Type: "person"},
		{Names: []string{"صدام حسين التكريتي"}},
		{Names: []string{"KIM JONGUN"}},
		{Names: []string{"Nicolas Maduro"}, Identifiers: []Identifier{{Value: "V5892464"}}},
	} {
		q.Threshold = 0.3
		hits, err := ix.Search(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Errorf("%v: no hits", q.Names)
		}
		for _, h := range hits {
			var tokens, comps float64
			for _, tm := range h.Explanation.Tokens {
				tokens += tm.Contribution
			}
			for _, c := range h.Explanation.Components {
				comps += c.Contribution
			}
			if math.Abs(tokens+h.Explanation.WordOrder-h.Explanation.NameScore) > 1e-6 {
				t.Errorf("%v -> %s: tokens %v + order %v != name score %v", q.Names, h.MatchedName, tokens, h.Explanation.WordOrder, h.Explanation.NameScore)
			}
			if math.Abs(comps-h.Score) > 1e-9 {
				t.Errorf("%v -> %s: components %v != score %v", q.Names, h.MatchedName, comps, h.Score)
			}
			if h.Score < 0 || h.Score > 1 {
				t.Errorf("score %v out of range", h.Score)
			}
		}
	}
}

func TestAdjustments(t *testing.T) {
	ix := testIndex(t)
	base := top(t, ix, Query{Names: []string{"Nicolas Maduro"}}, "maduro").Score
	for _, c := range []struct {
		q    Query
		up   bool
		what string
	}{
		{Query{Countries: []string{"VEN"}}, true, "country agrees"},
		{Query{Countries: []string{"FRA"}}, false, "country conflicts"},
		{Query{BirthDate: "1962-11-23"}, true, "date of birth agrees"},
		{Query{BirthDate: "1962"}, true, "year of birth agrees"},
		{Query{BirthDate: "1990"}, false, "year of birth conflicts"},
		{Query{Type: "person"}, true, "type agrees"},
		{Query{Type: "vessel"}, false, "type conflicts"},
	} {
		c.q.Names = []string{"Nicolas Maduro"}
		s := top(t, ix, c.q, "maduro").Score
		if c.up != (s > base) || s == base || s >= 1 {
			t.Errorf("%s: %v against %v", c.what, s, base)
		}
	}
	// A year off either way is neither: lists record approximate years.
	if s := top(t, ix, Query{Names: []string{"Nicolas Maduro"}, BirthDate: "1963"}, "maduro").Score; s != base {
		t.Errorf("year off by one: %v against %v", s, base)
	}
}

func TestInvalidQueries(t *testing.T) {
	ix := testIndex(t)
	long := make([]rune, maxNameRunes+1)
	for i := range long {
		long[i] = 'a'
	}
	many := make([]string, MaxQueryNames+1)
	for i := range many {
		many[i] = "x"
	}
	for _, c := range []struct {
		q     Query
		field string
	}{
		{Query{}, "names"},
		{Query{Names: many}, "names"},
		{Query{Names: []string{"ok", string(long)}}, "names[1]"},
		{Query{Names: []string{"\xff"}}, "names[0]"},
		{Query{Names: []string{"x"}, BirthDate: "1962-13"}, "birth_date"},
		{Query{Names: []string{"x"}, BirthDate: "62"}, "birth_date"},
		{Query{Names: []string{"x"}, BirthDate: "1962-02-30"}, "birth_date"},
		{Query{Names: []string{"x"}, Type: "company car"}, "type"},
		{Query{Names: []string{"x"}, Countries: []string{"VE"}}, "countries[0]"},
		{Query{Names: []string{"x"}, Threshold: 1.5}, "threshold"},
		{Query{Names: []string{"x"}, Threshold: math.NaN()}, "threshold"},
		{Query{Names: []string{"x"}, Limit: -1}, "limit"},
		{Query{Identifiers: []Identifier{{Value: " - "}}}, "identifiers[0]"},
	} {
		_, err := ix.Search(c.q)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != c.field {
			t.Errorf("%+v: error %v, want one naming %s", c.q, err, c.field)
		}
	}
	if _, err := ix.Search(Query{Identifiers: []Identifier{{Value: "123"}}}); err != nil {
		t.Errorf("identifier-only query: %v", err)
	}
}

func TestLimitAndThreshold(t *testing.T) {
	ix := testIndex(t)
	hits, _ := ix.Search(Query{Names: []string{"Mohammad"}, Threshold: 0.05})
	if len(hits) != DefaultLimit {
		t.Errorf("default limit: %d hits", len(hits))
	}
	hits, _ = ix.Search(Query{Names: []string{"Mohammad"}, Threshold: 0.05, Limit: 1000})
	if len(hits) > MaxLimit || len(hits) <= DefaultLimit {
		t.Errorf("limit capped at MaxLimit: %d hits", len(hits))
	}
	for i := 1; i < len(hits); i++ {
		a, b := hits[i-1], hits[i]
		if a.Score < b.Score || (a.Score == b.Score && a.Entity.ID > b.Entity.ID) {
			t.Errorf("order: %s %v before %s %v", a.Entity.ID, a.Score, b.Entity.ID, b.Score)
		}
	}
}

func TestDeterministicAndConcurrent(t *testing.T) {
	ix := testIndex(t)
	queries := []Query{
		{Names: []string{"Nicolas Maduro"}},
		{Names: []string{"Путин"}, Threshold: 0.3},
		{Names: []string{"Mohammad Orion"}, Threshold: 0.2, Limit: 50},
		{Names: []string{"Gamma Trading"}, Countries: []string{"ARE"}},
		{Identifiers: []Identifier{{Value: "9176187"}}},
	}
	want := make([][]Hit, len(queries))
	for i, q := range queries {
		want[i], _ = ix.Search(q)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 50 {
				i := (g + r) % len(queries)
				got, err := ix.Search(queries[i])
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("query %d differs under concurrency: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestMerge(t *testing.T) {
	a := &Entity{List: "a", ID: "1"}
	b := &Entity{List: "b", ID: "1"}
	c := &Entity{List: "a", ID: "2"}
	got := Merge(0,
		[]Hit{{Entity: a, Score: 0.9}, {Entity: c, Score: 0.8}},
		[]Hit{{Entity: b, Score: 0.9}, {Entity: &Entity{List: "a", ID: "1"}, Score: 0.95}},
	)
	var ids []string
	for _, h := range got {
		ids = append(ids, fmt.Sprintf("%s/%s %.2f", h.Entity.List, h.Entity.ID, h.Score))
	}
	want := []string{"a/1 0.95", "b/1 0.90", "a/2 0.80"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("Merge = %v, want %v", ids, want)
	}
	if got := Merge(1, []Hit{{Entity: a, Score: 0.5}, {Entity: c, Score: 0.6}}); len(got) != 1 || got[0].Entity != c {
		t.Errorf("limit: %v", got)
	}
}

func TestEmptyIndex(t *testing.T) {
	ix := NewBuilder().Build()
	if ix.Len() != 0 {
		t.Fatal(ix.Len())
	}
	hits, err := ix.Search(Query{Names: []string{"anyone"}, Identifiers: []Identifier{{Value: "1"}}})
	if err != nil || len(hits) != 0 {
		t.Errorf("empty index: %v %v", hits, err)
	}
}
