package hub_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The packages form layers and every import points down: format, problem and pdfmin are leaves (and
// jsonstrict sits on problem), catalogue and mapping sit on them, the hub on those, the
// connectors on the hub, and only the binary sees everything. A test file counts too: a test that imports a layer above ties the
// layers together as much as code does.
func TestEveryImportPointsDown(t *testing.T) {
	root := filepath.Join("..")
	may := map[string][]string{ // a layer → the layers of this module it may import
		"format":     nil,
		"problem":    nil,
		"pdfmin":     nil,
		"jsonstrict": {"problem"},
		"schemas":    nil,
		"seeds":      nil,
		"catalogue":  {"format", "problem", "schemas"},
		"mapping":    {"format", "problem", "schemas", "seeds", "catalogue"},
		"hub":        {"format", "problem", "jsonstrict", "schemas", "seeds", "catalogue", "mapping", "hub"},
		"connectors": {"format", "problem", "jsonstrict", "schemas", "seeds", "catalogue", "mapping", "hub", "connectors"},
		"deptsim":    {"format", "problem", "pdfmin", "hub", "connectors/signing"},
	}
	// Tests may also use what checks the layer from outside: the catalogue checks the seed data,
	// the simulated department is the department the conformance kit is tried on.
	mayInTests := map[string][]string{"seeds": {"catalogue"}, "connectors": {"deptsim"}}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		layer := strings.Split(filepath.ToSlash(rel), "/")[0]
		allowed, ok := may[layer]
		if !ok {
			return nil // cmd/ wires everything
		}
		allowed = append([]string{layer}, allowed...) // within a layer anything goes
		if strings.HasSuffix(path, "_test.go") {
			allowed = append(allowed, mayInTests[layer]...)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			own, found := strings.CutPrefix(p, "yjshub/")
			if !found {
				continue
			}
			ok := false
			for _, a := range allowed {
				if own == a || strings.HasPrefix(own, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s (layer %s) imports %s, which is not below it", filepath.ToSlash(rel), layer, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: the walk did not find the module", checked)
	}
}
