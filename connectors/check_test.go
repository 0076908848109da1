package connectors

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/seeds"
)

func catalogueDepartments(t *testing.T) []string {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range cat.Departments {
		codes = append(codes, d.Code)
	}
	return codes
}

// Each testdata/check/NAME.yaml holds known mistakes; NAME.want lists every problem Check
// must report for it, in order, as LINE:COLUMN: PATH: MESSAGE.
func TestCheckReportsEveryKnownMistakeWhereItIsInTheFilesTerms(t *testing.T) {
	t.Parallel()
	depts := catalogueDepartments(t)
	files, err := filepath.Glob(filepath.Join("testdata", "check", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			f, err := Check(b, path, depts)
			var ce *CheckError
			if f != nil || !errors.As(err, &ce) {
				t.Fatalf("Check: %v, %v; want a *CheckError", f, err)
			}
			var got []string
			for _, p := range ce.Problems {
				if p.Line == 0 || p.Column == 0 {
					t.Errorf("%s has no place in the file", p)
				}
				for _, goTerm := range []string{"not found in type", "time.Duration", "restpush.Config", "!!str", "unmarshal"} {
					if strings.Contains(p.Message, goTerm) {
						t.Errorf("%s speaks Go, not the file: %q", p, goTerm)
					}
				}
				if strings.Contains(p.Message, "hub:secret@") {
					t.Errorf("%s shows a password", p)
				}
				got = append(got, p.String())
			}
			if w := strings.Split(strings.TrimSpace(string(want)), "\n"); !slices.Equal(got, w) {
				t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
			// Startup and reload (Load, Parse) report the same problems.
			if _, err := Parse(b, path, func(d string) bool { return slices.Contains(depts, d) }); err == nil {
				t.Error("Parse takes it")
			}
		})
	}
}

func TestNearestSuggestsOnlyWhatWasLikelyMeant(t *testing.T) {
	t.Parallel()
	keys := []string{"endpoint", "timeout", "retry", "headers", "breaker", "group_id"}
	for _, tc := range []struct{ in, want string }{
		{"timout", "timeout"},
		{"retyr", "retry"},
		{"Endpoint", "endpoint"},
		{"groupid", "group_id"},
		{"x", ""},
		{"database", ""},
		{"timeout", ""},
	} {
		if got := nearest(tc.in, keys); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every connectors file the docs show passes the check against the catalogue: those with
// elided values (…) at least name only keys, kinds and departments that exist, with values of
// the right types where they are not elided.
func TestEveryConnectorsFileOfTheDocsPassesTheCheck(t *testing.T) {
	t.Parallel()
	depts := catalogueDepartments(t)
	docs := docExamples(t)
	if len(docs) < 5 {
		t.Fatalf("%d connectors files found in the docs", len(docs))
	}
	for _, e := range docs {
		_, err := Check([]byte(e.doc), e.from, depts)
		if err == nil {
			continue
		}
		var ce *CheckError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v", e.from, err)
			continue
		}
		lines := strings.Split(e.doc, "\n")
		for _, p := range ce.Problems {
			if e.elided && (p.Rule == RuleInvalid || p.Rule == RuleRequired ||
				p.Line > 0 && p.Line <= len(lines) && strings.Contains(lines[p.Line-1], "…")) {
				continue // a value, or a part of the file, the doc leaves out
			}
			t.Errorf("%s: %s", e.from, p)
		}
	}
}

// An empty file has no connectors; it is not a problem.
func TestCheckTakesAnEmptyFile(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "# nothing yet\n", "---\n"} {
		if f, err := Check([]byte(doc), "connectors.yaml", nil); err != nil || f == nil || len(f.Departments) != 0 {
			t.Errorf("%q: %v, %v", doc, f, err)
		}
	}
}
