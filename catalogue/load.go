package catalogue

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// maxFileSize bounds one catalogue file.
const maxFileSize = 16 << 20

// LoadDir loads the catalogue from a directory laid out as seeds/ is.
func LoadDir(dir string) (*Catalogue, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("catalogue directory: %w", err)
	}
	return Load(os.DirFS(dir), dir)
}

// Load loads the catalogue from fsys, laid out as seeds/ is: departments.yaml and the folders
// bundles/, fields/, materials/ and matters/ of *.yaml files. name is how problems refer to
// the root (a directory path, or "seeds" for the embedded copy). It returns either a complete,
// checked Catalogue or a Problems error listing every problem found.
func Load(fsys fs.FS, name string) (*Catalogue, error) {
	l := &loader{root: name}
	files, err := l.readFiles(fsys)
	if err != nil {
		return nil, err
	}
	cat := &Catalogue{Version: contentHash(files)}
	for _, f := range files {
		if err := l.loadFile(f, cat); err != nil {
			return nil, err
		}
	}
	if len(cat.Departments) == 0 && !l.hasKind(kindDepartments) {
		l.c.add(l.display("departments.yaml"), 0, "", "missing: the catalogue needs a departments file")
	}
	for _, k := range []string{kindBundles, kindFields, kindMaterials, kindMatters} {
		if !l.hasKind(k) {
			l.c.add(l.display(k+"/"), 0, "", "missing: the catalogue needs at least one %s file", k)
		}
	}
	l.crossCheck(cat)
	if len(l.c.problems) > 0 {
		l.c.problems.sort()
		return nil, l.c.problems
	}
	cat.index()
	return cat, nil
}

type sourceFile struct {
	path string // slash path relative to the root
	kind string
	data []byte
}

type loader struct {
	root  string
	c     collector
	kinds map[string]bool
	// broken holds codes of items that failed the schema: references to them are not
	// reported again as unknown.
	broken map[string]map[string]bool
	// unusable holds the kinds of which a whole file could not be read.
	unusable map[string]bool
	// locs remembers where each loaded item came from, for cross-reference problems.
	locs map[any]location
}

// location is an item's place: its document and JSON Pointer.
type location struct {
	doc  *document
	path string
}

func (l *loader) display(rel string) string { return path.Join(l.root, rel) }

func (l *loader) hasKind(k string) bool { return l.kinds[k] }

func (l *loader) readFiles(fsys fs.FS) ([]sourceFile, error) {
	var files []sourceFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", l.display(p), err)
		}
		if d.IsDir() {
			switch {
			case p == ".", p == kindBundles, p == kindFields, p == kindMaterials, p == kindMatters:
				return nil
			case strings.HasPrefix(path.Base(p), "."), p == "testdata":
				return fs.SkipDir
			}
			l.c.add(l.display(p), 0, "", "unexpected folder: the catalogue has only bundles/, fields/, materials/ and matters/")
			return fs.SkipDir
		}
		ext := path.Ext(p)
		if ext != ".yaml" && ext != ".yml" {
			return nil // README.md and the like
		}
		k := ""
		switch dir := path.Dir(p); dir {
		case ".":
			if p == "departments.yaml" || p == "departments.yml" {
				k = kindDepartments
			}
		case kindBundles, kindFields, kindMaterials, kindMatters:
			k = dir
		}
		if k == "" {
			l.c.add(l.display(p), 0, "", "unexpected file: catalogue files are departments.yaml and */*.yaml under bundles/, fields/, materials/, matters/")
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", l.display(p), err)
		}
		if info.Size() > maxFileSize {
			l.c.add(l.display(p), 0, "", "the file is larger than %d bytes", maxFileSize)
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", l.display(p), err)
		}
		files = append(files, sourceFile{path: p, kind: k, data: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}

// contentHash is the catalogue version: SHA-256 over every file's path and content, in path
// order, so any edit (and only an edit) gives a new version.
func contentHash(files []sourceFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.path, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (l *loader) loadFile(f sourceFile, cat *Catalogue) error {
	if l.kinds == nil {
		l.kinds = map[string]bool{}
		l.broken = map[string]map[string]bool{}
		l.unusable = map[string]bool{}
		l.locs = map[any]location{}
	}
	l.kinds[f.kind] = true
	doc, convFailed := parseDocument(l.display(f.path), f.data, &l.c)
	if doc == nil {
		// Nothing in the file can be trusted, so nothing it may define is reported as unknown
		// elsewhere: the file's own problem comes first.
		l.unusable[f.kind] = true
		return nil
	}
	failed, err := checkSchema(doc, f.kind, &l.c)
	if err != nil {
		return err
	}
	failed = append(failed, convFailed...)
	root, _ := doc.value.(map[string]any)
	items, _ := root[f.kind].([]any)
	for i, raw := range items {
		ptr := "/" + f.kind + "/" + strconv.Itoa(i)
		if subtreeFailed(failed, ptr) {
			if m, ok := raw.(map[string]any); ok {
				if code, ok := m["code"].(string); ok {
					l.markBroken(f.kind, code)
				}
			}
			continue
		}
		loc := location{doc: doc, path: ptr}
		if err := l.decodeItem(f.kind, raw, loc, cat); err != nil {
			l.c.at(loc, "", "cannot decode: %v", err)
		}
	}
	return nil
}

func subtreeFailed(failed []string, ptr string) bool {
	for _, f := range failed {
		// A failure on the array or the document (minItems, an unknown top-level key) does
		// not make an item broken.
		if f == ptr || strings.HasPrefix(f, ptr+"/") {
			return true
		}
	}
	return false
}

// known reports whether a code of a kind may exist: defined, or in an item or file that
// already has a problem of its own.
func (l *loader) known(k, code string, defined bool) bool {
	return defined || l.broken[k][code] || l.unusable[k]
}

func (l *loader) markBroken(k, code string) {
	if l.broken[k] == nil {
		l.broken[k] = map[string]bool{}
	}
	l.broken[k][code] = true
}

// decodeItem decodes one schema-valid item strictly into its Go type.
func (l *loader) decodeItem(k string, raw any, loc location, cat *Catalogue) error {
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	switch k {
	case kindDepartments:
		v := &Department{}
		if err := dec.Decode(v); err != nil {
			return err
		}
		l.locs[v] = loc
		cat.Departments = append(cat.Departments, v)
	case kindFields:
		v := &Field{}
		if err := dec.Decode(v); err != nil {
			return err
		}
		l.locs[v] = loc
		cat.Fields = append(cat.Fields, v)
	case kindMaterials:
		v := &Material{}
		if err := dec.Decode(v); err != nil {
			return err
		}
		l.locs[v] = loc
		cat.Materials = append(cat.Materials, v)
	case kindMatters:
		v := &Matter{}
		if err := dec.Decode(v); err != nil {
			return err
		}
		l.locs[v] = loc
		cat.Matters = append(cat.Matters, v)
	case kindBundles:
		v := &Bundle{}
		if err := dec.Decode(v); err != nil {
			return err
		}
		l.locs[v] = loc
		cat.Bundles = append(cat.Bundles, v)
	}
	return nil
}
