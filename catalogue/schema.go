package catalogue

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"yjshub/schemas"
)

// Kinds of catalogue file, each with its JSON Schema under schemas/catalogue.
const (
	kindDepartments = "departments"
	kindFields      = "fields"
	kindMaterials   = "materials"
	kindMatters     = "matters"
	kindBundles     = "bundles"
)

var fileKinds = []string{kindDepartments, kindFields, kindMaterials, kindMatters, kindBundles}

var (
	schemaOnce sync.Once
	schemaSet  map[string]*jsonschema.Schema
	schemaErr  error
)

// fileSchemas compiles the catalogue schemas once per process.
func fileSchemas() (map[string]*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		entries, err := fs.ReadDir(schemas.FS, "catalogue")
		if err != nil {
			schemaErr = err
			return
		}
		for _, e := range entries {
			b, err := fs.ReadFile(schemas.FS, "catalogue/"+e.Name())
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemaErr = fmt.Errorf("schemas/catalogue/%s: %w", e.Name(), err)
				return
			}
			if err := c.AddResource(schemas.BaseURL+"catalogue/"+e.Name(), doc); err != nil {
				schemaErr = fmt.Errorf("schemas/catalogue/%s: %w", e.Name(), err)
				return
			}
		}
		set := map[string]*jsonschema.Schema{}
		for _, k := range fileKinds {
			s, err := c.Compile(schemas.BaseURL + "catalogue/" + k + ".schema.json")
			if err != nil {
				schemaErr = fmt.Errorf("compiling the %s schema: %w", k, err)
				return
			}
			set[k] = s
		}
		schemaSet = set
	})
	return schemaSet, schemaErr
}

var printer = message.NewPrinter(language.English)

// checkSchema validates a document against its kind's schema and reports each failure as a
// problem at its instance location. It returns the JSON Pointers that failed.
func checkSchema(d *document, k string, c *collector) ([]string, error) {
	set, err := fileSchemas()
	if err != nil {
		return nil, err
	}
	verr := set[k].Validate(d.value)
	if verr == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return nil, verr
	}
	seen := map[string]bool{}
	var failed []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			// The branches' own failures say little ("missing property const", "missing
			// property expr" …); the summary says what is needed.
			report(d, e, c, seen, &failed)
			return
		}
		if len(e.Causes) == 0 {
			report(d, e, c, seen, &failed)
			return
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(ve)
	sort.Strings(failed)
	return failed, nil
}

func report(d *document, e *jsonschema.ValidationError, c *collector, seen map[string]bool, failed *[]string) {
	ptr := ""
	for _, tok := range e.InstanceLocation {
		ptr += "/" + escapePointer(tok)
	}
	msg := schemaMessage(e, ptr)
	key := ptr + "\x00" + msg
	if seen[key] {
		return
	}
	seen[key] = true
	*failed = append(*failed, ptr)
	c.add(d.file, d.line(ptr), ptr, "%s", msg)
}

// schemaMessage says what is wrong at ptr: for the catalogue's two one-of choices, which
// alternatives there are.
func schemaMessage(e *jsonschema.ValidationError, ptr string) string {
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		return fmt.Sprintf("unknown key(s) %s", quoteAll(k.Properties))
	case *kind.Required:
		return fmt.Sprintf("missing required key(s) %s", quoteAll(k.Missing))
	case *kind.OneOf:
		alternatives := ""
		switch {
		case strings.Contains(ptr, "/form/"):
			alternatives = " (for a form field: one of from, const, expr or from_result)"
		case strings.HasSuffix(ptr, "/fee"):
			alternatives = " (for a fee: amount with basis, or unknown: true with a note)"
		}
		if len(k.Subschemas) == 0 {
			return "needs exactly one of the alternatives" + alternatives
		}
		return "matches more than one alternative" + alternatives
	case *kind.FalseSchema:
		// The schemas say "false" for a key that a sibling's value rules out (a
		// licence_type_code of a result that is not an e-licence).
		return "is not allowed here"
	}
	return e.ErrorKind.LocalizedString(printer)
}

// quoteAll quotes ss in sorted order: the schema validator lists keys in map order, and the
// same catalogue must give the same message every time.
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range slices.Sorted(slices.Values(ss)) {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
