package mapping

import (
	"testing"

	"yjshub/catalogue"
)

// BenchmarkMapCase maps one case of open-bar (enterprise, every matter) from a full valid
// form, as intake does: one op fills in every department's form of the case with one
// CaseMapper.
func BenchmarkMapCase(b *testing.B) {
	f := openBarForm(b, catalogue.Enterprise, nil)
	form := exampleForm(f)
	var matters []*catalogue.Matter
	for _, sm := range f.Matters {
		matters = append(matters, mustMatter(b, sm.Code))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := NewCaseMapper(catalogue.Enterprise, form)
		for _, m := range matters {
			if _, problems := c.Map(m, nil); len(problems) > 0 {
				b.Fatalf("%s: %v", m.Code, problems)
			}
		}
	}
	b.ReportMetric(float64(len(matters)), "matters/op")
}

// BenchmarkOneFormValidate validates a full valid open-bar form (enterprise, every matter)
// against its compiled schema and the field dictionary.
func BenchmarkOneFormValidate(b *testing.B) {
	f := openBarForm(b, catalogue.Enterprise, nil)
	form := exampleForm(f)
	if problems := f.Validate(form); len(problems) > 0 {
		b.Fatal(problems)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Validate(form)
	}
	b.ReportMetric(float64(len(form)), "fields/op")
}

// BenchmarkFormsGet is the cost of finding a cached one form, as intake does per request.
func BenchmarkFormsGet(b *testing.B) {
	fs := NewForms(seedCatalogue(b))
	bar := mustBundle(b, "open-bar")
	if _, err := fs.Get(bar, catalogue.Individual, openBarWithoutAds); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := fs.Get(bar, catalogue.Individual, openBarWithoutAds); err != nil {
			b.Fatal(err)
		}
	}
}
