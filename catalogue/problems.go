package catalogue

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with the catalogue: where (file, line, path) and what.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Path    string `json:"path,omitempty"` // a JSON Pointer into the file's document, e.g. /matters/3/form/2/from
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Path != "" {
		b.WriteString(": ")
		b.WriteString(p.Path)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the error Load returns: every problem found, in file and line order.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the catalogue has %d problem(s):", len(ps))
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Path < ps[j].Path
	})
}

// collector gathers problems while the loader works.
type collector struct {
	problems Problems
}

func (c *collector) add(file string, line int, path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// at reports a problem at a location inside a loaded document.
func (c *collector) at(loc location, suffix, format string, args ...any) {
	path := loc.path + suffix
	c.add(loc.doc.file, loc.doc.line(path), path, format, args...)
}
