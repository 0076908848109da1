package catalogue

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work of turning one YAML file into a document, so that alias bombs and
// absurdly large files fail with a clear problem instead of exhausting memory.
const maxNodes = 1_000_000

// document is one catalogue file turned into JSON-compatible values (map[string]any, []any,
// string, json.Number, bool, nil), with the source line of every JSON Pointer in it.
type document struct {
	file  string
	value any
	lines map[string]int
}

// line returns the source line of a JSON Pointer, or of its nearest ancestor.
func (d *document) line(ptr string) int {
	for {
		if l, ok := d.lines[ptr]; ok {
			return l
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return 0
		}
		ptr = ptr[:i]
	}
}

// parseDocument parses YAML source into a document, reporting every problem to c. The
// document is nil when the file as a whole is unusable; otherwise failed lists the pointers
// of values that could not be converted.
func parseDocument(file string, src []byte, c *collector) (doc *document, failed []string) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		c.add(file, yamlErrorLine(err), "", "not valid YAML: %s", yamlErrorText(err))
		return nil, nil
	}
	d := &document{file: file, lines: map[string]int{}}
	if root.Kind == 0 {
		c.add(file, 0, "", "the file is empty")
		return nil, nil
	}
	conv := converter{doc: d, c: c}
	v, _ := conv.node(&root, "")
	if conv.aborted {
		return nil, nil
	}
	d.value = v
	return d, conv.failed
}

type converter struct {
	doc     *document
	c       *collector
	nodes   int
	depth   int
	aborted bool
	// failed holds the pointers of values that could not be converted; the items holding
	// them are skipped, the rest of the file still loads.
	failed []string
}

// maxDepth bounds nesting (and alias recursion).
const maxDepth = 64

func (cv *converter) fail(line int, ptr, format string, args ...any) {
	cv.c.add(cv.doc.file, line, ptr, format, args...)
	cv.failed = append(cv.failed, ptr)
}

func (cv *converter) node(n *yaml.Node, ptr string) (any, bool) {
	if cv.aborted {
		return nil, false
	}
	cv.nodes++
	if cv.nodes > maxNodes {
		cv.aborted = true
		cv.c.add(cv.doc.file, n.Line, ptr, "the document is too large (more than %d YAML nodes, counting alias expansions)", maxNodes)
		return nil, false
	}
	cv.depth++
	defer func() { cv.depth-- }()
	if cv.depth > maxDepth {
		cv.aborted = true
		cv.c.add(cv.doc.file, n.Line, ptr, "the document nests deeper than %d levels (or an alias refers to itself)", maxDepth)
		return nil, false
	}
	cv.doc.lines[ptr] = n.Line
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			cv.aborted = true
			cv.c.add(cv.doc.file, n.Line, ptr, "expected exactly one YAML document")
			return nil, false
		}
		return cv.node(n.Content[0], ptr)
	case yaml.AliasNode:
		return cv.node(n.Alias, ptr)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool") {
				cv.fail(k.Line, ptr, "mapping keys must be plain strings")
				ok = false
				continue
			}
			if k.Value == "<<" {
				cv.fail(k.Line, ptr, "YAML merge keys (<<) are not supported: write the keys out")
				ok = false
				continue
			}
			child := ptr + "/" + escapePointer(k.Value)
			if _, dup := m[k.Value]; dup {
				cv.fail(k.Line, child, "the key %q appears twice", k.Value)
				ok = false
				continue
			}
			val, vok := cv.node(v, child)
			ok = ok && vok
			m[k.Value] = val
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			val, vok := cv.node(item, ptr+"/"+strconv.Itoa(i))
			ok = ok && vok
			s = append(s, val)
		}
		return s, ok
	case yaml.ScalarNode:
		return cv.scalar(n, ptr)
	}
	cv.fail(n.Line, ptr, "unsupported YAML node")
	return nil, false
}

func (cv *converter) scalar(n *yaml.Node, ptr string) (any, bool) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		// Timestamps stay text: dates in the catalogue are strings in the dictionary's format.
		return n.Value, true
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			cv.fail(n.Line, ptr, "not a boolean")
			return nil, false
		}
		return b, true
	case "!!int":
		var i big.Int
		s := strings.ReplaceAll(n.Value, "_", "")
		if _, ok := i.SetString(s, 0); !ok {
			cv.fail(n.Line, ptr, "not an integer")
			return nil, false
		}
		return json.Number(i.String()), true
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			var v float64
			if derr := n.Decode(&v); derr != nil {
				cv.fail(n.Line, ptr, "not a number")
				return nil, false
			}
			f = v
		}
		num := json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		if _, err := num.Float64(); err != nil || strings.ContainsAny(string(num), "IN") {
			cv.fail(n.Line, ptr, "infinite and NaN numbers are not allowed")
			return nil, false
		}
		return num, true
	}
	cv.fail(n.Line, ptr, "unsupported YAML tag %s", n.ShortTag())
	return nil, false
}

// escapePointer escapes a key for a JSON Pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func yamlErrorLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i+5:], "%d", &line)
	}
	return line
}

func yamlErrorText(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
