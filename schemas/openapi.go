package schemas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// openAPI is the OpenAPI document of the hub's HTTP API. It is not in FS: FS holds the JSON
// Schemas that Compile reads as JSON.
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.0.3 document of the hub's HTTP API (schemas/openapi.yaml), as
// YAML.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// OpenAPIJSON returns the OpenAPI document as JSON, its keys in the order the YAML writes them.
// The hub converts it once, when it starts, and serves it at GET /api/v1/openapi.json.
func OpenAPIJSON() ([]byte, error) {
	b, err := yamlToJSON(openAPI)
	if err != nil {
		return nil, fmt.Errorf("schemas/openapi.yaml: %w", err)
	}
	return b, nil
}

// yamlToJSON converts one YAML document to JSON. Mappings keep their order; scalars keep the
// types YAML resolves them to (a date stays the string it is written as). Merge keys, duplicate
// keys, non-scalar keys and values JSON cannot hold (.inf, .nan) are errors.
func yamlToJSON(in []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, errors.New("empty document")
	}
	var out bytes.Buffer
	if err := writeJSON(&out, &doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeJSON(out *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: a document holds %d nodes", n.Line, len(n.Content))
		}
		return writeJSON(out, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(out, n.Alias)
	case yaml.SequenceNode:
		out.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeJSON(out, c); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		return nil
	case yaml.MappingNode:
		out.WriteByte('{')
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key must be a scalar", k.Line)
			}
			if k.Tag == "!!merge" {
				return fmt.Errorf("line %d: merge keys (<<) are not supported", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeValue(out, k.Value); err != nil {
				return err
			}
			out.WriteByte(':')
			if err := writeJSON(out, v); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		return nil
	case yaml.ScalarNode:
		if n.Tag == "!!timestamp" {
			return writeValue(out, n.Value)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if err := writeValue(out, v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		return nil
	}
	return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// writeValue writes v as JSON, leaving <, > and & as they are (the document speaks of
// "Bearer <key>").
func writeValue(out *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	out.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}
