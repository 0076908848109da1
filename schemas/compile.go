package schemas

import (
	"bytes"
	"fmt"
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	compilerOnce sync.Once
	compiler     *jsonschema.Compiler
	compilerErr  error
	compileMu    sync.Mutex
)

// Compile compiles the schema at path (e.g. "events/envelope.schema.json") with every schema of
// this package available to its $refs, asserting formats.
func Compile(path string) (*jsonschema.Schema, error) {
	compilerOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		compilerErr = fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(FS, p)
			if err != nil {
				return err
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("schemas/%s: %w", p, err)
			}
			return c.AddResource(BaseURL+p, doc)
		})
		compiler = c
	})
	if compilerErr != nil {
		return nil, compilerErr
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	return compiler.Compile(BaseURL + path)
}
