package mapping

import (
	"strings"
	"sync"
	"testing"

	"yjshub/catalogue"
	"yjshub/problem"
	"yjshub/seeds"
)

var (
	seedOnce sync.Once
	seedCat  *catalogue.Catalogue
	seedErr  error
)

// seedCatalogue loads the embedded seed catalogue once for all tests.
func seedCatalogue(tb testing.TB) *catalogue.Catalogue {
	tb.Helper()
	seedOnce.Do(func() { seedCat, seedErr = catalogue.Load(seeds.FS, "seeds") })
	if seedErr != nil {
		tb.Fatalf("loading the seed catalogue: %v", seedErr)
	}
	return seedCat
}

func mustMatter(tb testing.TB, code string) *catalogue.Matter {
	tb.Helper()
	m, ok := seedCatalogue(tb).Matter(code)
	if !ok {
		tb.Fatalf("the seed catalogue has no matter %s", code)
	}
	return m
}

func mustBundle(tb testing.TB, code string) *catalogue.Bundle {
	tb.Helper()
	b, ok := seedCatalogue(tb).Bundle(code)
	if !ok {
		tb.Fatalf("the seed catalogue has no bundle %s", code)
	}
	return b
}

// exampleForm fills every field of a one form with the field dictionary's example.
func exampleForm(f *OneForm) Form {
	form := Form{}
	for code, r := range f.rules {
		form[code] = r.field.Example
	}
	return form
}

// assertNoLeak fails when a problem's text repeats one of the values the applicant gave.
func assertNoLeak(tb testing.TB, problems []problem.Problem, values ...string) {
	tb.Helper()
	for _, p := range problems {
		for _, v := range values {
			if v == "" {
				continue
			}
			if strings.Contains(p.Message, v) || strings.Contains(p.Rule, v) {
				tb.Errorf("problem %s (%s) repeats a value the applicant gave: %q", p.Path, p.Rule, p.Message)
			}
		}
	}
}

// rulesAt indexes problems by path → rules.
func rulesAt(problems []problem.Problem) map[string][]string {
	out := map[string][]string{}
	for _, p := range problems {
		out[p.Path] = append(out[p.Path], p.Rule)
	}
	return out
}
