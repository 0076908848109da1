package catalogue

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// baseFS returns the small valid catalogue under testdata/base as an in-memory FS.
func baseFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := filepath.Join("testdata", "base")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTheBaseCatalogueLoads(t *testing.T) {
	cat, err := Load(baseFS(t), "base")
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Version) != 64 {
		t.Fatalf("version %q is not a sha256 hex", cat.Version)
	}
	b, ok := cat.Bundle("1")
	if !ok || b.Code != "open-drink-shop" {
		t.Fatalf("bundle by seq: %v %v", b, ok)
	}
	if _, ok := cat.Bundle("01"); ok {
		t.Fatal("a seq with a leading zero should not match")
	}
	m, _ := cat.Matter("food-licence")
	if got := m.Department.For(Enterprise); got != "approval" {
		t.Fatalf("enterprise handling department = %s", got)
	}
	if got := m.Department.For(Individual); got != "market" {
		t.Fatalf("individual handling department = %s", got)
	}
	want := []string{"applicant.name", "business.area_m2", "enterprise.name"}
	if got := m.Inputs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("inputs = %v, want %v (the expression's fields and the mapped field)", got, want)
	}
	if len(m.programs) != 1 || m.programs[0] == nil {
		t.Fatalf("the expression was not compiled at load: %v", m.programs)
	}
	if leads := b.LeadFor(Individual); len(leads) != 1 || leads[0].Department != "market" {
		t.Fatalf("individual leads = %v", leads)
	}
}

func TestTheVersionIsTheContentHash(t *testing.T) {
	a, err := Load(baseFS(t), "base")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load(baseFS(t), "base")
	if a.Version != b.Version {
		t.Fatal("the same files gave two versions")
	}
	changed := baseFS(t)
	changed["materials/core.yaml"].Data = append(append([]byte{}, changed["materials/core.yaml"].Data...), "\n# edited\n"...)
	c, err := Load(changed, "base")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version == a.Version {
		t.Fatal("an edit did not change the version")
	}
}

type invalidCase struct {
	file  string
	wants []string
	data  []byte
}

func readCase(t testing.TB, path string) invalidCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := invalidCase{data: b}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# file: "):
			c.file = strings.TrimPrefix(line, "# file: ")
		case strings.HasPrefix(line, "# want: "):
			c.wants = append(c.wants, strings.TrimPrefix(line, "# want: "))
		}
	}
	if c.file == "" || len(c.wants) == 0 {
		t.Fatalf("%s: needs a '# file:' line and at least one '# want:' line", path)
	}
	return c
}

// TestInvalidCatalogues runs each file under testdata/invalid: the file replaces (or joins)
// one file of the base catalogue, and loading must fail with exactly the problems its
// '# want:' lines name, and return no catalogue.
func TestInvalidCatalogues(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if len(paths) < 15 {
		t.Fatalf("found only %d invalid cases", len(paths))
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".yaml"), func(t *testing.T) {
			c := readCase(t, p)
			fsys := baseFS(t)
			fsys[c.file] = &fstest.MapFile{Data: c.data}
			cat, err := Load(fsys, "cat")
			if cat != nil {
				t.Fatal("a broken catalogue was returned")
			}
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("error is not Problems: %v", err)
			}
			for _, w := range c.wants {
				found := false
				for _, pr := range probs {
					if strings.Contains(pr.String(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem says %q in:\n%v", w, err)
				}
			}
			if len(probs) != len(c.wants) {
				t.Errorf("got %d problems, want %d:\n%v", len(probs), len(c.wants), err)
			}
			for _, pr := range probs {
				if pr.File == "" || pr.Message == "" {
					t.Errorf("a problem lacks its file or message: %+v", pr)
				}
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	fsys := baseFS(t)
	for _, name := range []string{"unknown-department", "promised-above-half", "invalid-example"} {
		c := readCase(t, filepath.Join("testdata", "invalid", name+".yaml"))
		fsys[c.file] = &fstest.MapFile{Data: c.data}
	}
	_, err := Load(fsys, "cat")
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("error is not Problems: %v", err)
	}
	files := map[string]bool{}
	for _, p := range probs {
		files[p.File] = true
	}
	if len(probs) != 7 || len(files) != 3 {
		t.Fatalf("want 7 problems from 3 files at once, got %d from %d:\n%v", len(probs), len(files), err)
	}
}

// fuzzFiles are the files FuzzLoad puts its input in: each file of the base catalogue, a
// file joining them in each folder, and one where no catalogue file belongs.
var fuzzFiles = []string{
	"departments.yaml", "bundles/core.yaml", "fields/core.yaml", "materials/core.yaml", "matters/core.yaml",
	"bundles/extra.yaml", "fields/extra.yaml", "materials/extra.yaml", "matters/extra.yaml", "extras/notes.yaml",
}

// FuzzLoad loads the base catalogue with one of its files replaced, or joined, by the input:
// Load never panics, and returns either a catalogue, whose matters every bundle's entries
// name, or only a Problems error listing problems in order, each in a file of the catalogue
// with a message; loading the same files again gives the same answer. Seeds are the base
// catalogue's files and every invalid case of testdata/invalid, each in its file.
func FuzzLoad(f *testing.F) {
	base := baseFS(f)
	for i, name := range fuzzFiles {
		if mf, ok := base[name]; ok {
			f.Add(uint8(i), mf.Data)
		}
	}
	paths, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	for _, p := range paths {
		c := readCase(f, p)
		i := slices.Index(fuzzFiles, c.file)
		if i < 0 {
			f.Fatalf("%s: its file %s is not one FuzzLoad fills", p, c.file)
		}
		f.Add(uint8(i), c.data)
	}
	f.Add(uint8(4), []byte("matters: [{code: a, form: [{expr: '1 +'}]}]"))
	f.Add(uint8(4), []byte("a: &a [*a, *a]"))
	f.Add(uint8(4), []byte("matters:\n  - !!binary aGVsbG8=\n"))
	f.Fuzz(func(t *testing.T, file uint8, data []byte) {
		name := fuzzFiles[int(file)%len(fuzzFiles)]
		fsys := baseFS(t)
		fsys[name] = &fstest.MapFile{Data: data}
		cat, err := Load(fsys, "cat")
		again, errAgain := Load(fsys, "cat")
		if err == nil {
			if cat == nil || len(cat.Matters) == 0 || len(cat.Bundles) == 0 || len(cat.Departments) == 0 {
				t.Fatal("no error and no complete catalogue")
			}
			for _, b := range cat.Bundles {
				for _, e := range b.Matters {
					if _, ok := cat.Matter(e.Matter); !ok {
						t.Fatalf("bundle %s names matter %s, which the catalogue lacks", b.Code, e.Matter)
					}
				}
			}
			if errAgain != nil || again.Version != cat.Version {
				t.Fatalf("loaded again: version %q, %v; first %q", again.Version, errAgain, cat.Version)
			}
			return
		}
		var probs Problems
		if !errors.As(err, &probs) || len(probs) == 0 || cat != nil {
			t.Fatalf("a failed load must return only a non-empty Problems: %v", err)
		}
		for i, p := range probs {
			if p.Message == "" || p.File != "cat" && !strings.HasPrefix(p.File, "cat/") {
				t.Errorf("problem %+v has no message or is not in the catalogue", p)
			}
			if i > 0 && (probs[i-1].File > p.File || probs[i-1].File == p.File && probs[i-1].Line > p.Line) {
				t.Errorf("problems out of file and line order: %v before %v", probs[i-1], p)
			}
		}
		if errAgain == nil || errAgain.Error() != err.Error() {
			t.Fatalf("loaded again, other problems:\n%v\nfirst:\n%v", errAgain, err)
		}
	})
}
