package catalogue

import (
	"sort"
	"strconv"

	"github.com/expr-lang/expr/vm"
)

// Catalogue is a loaded, checked catalogue. It is immutable once Load returns it and safe for
// concurrent use.
type Catalogue struct {
	// Version is the SHA-256 (hex) of the catalogue files: any edit gives a new version.
	Version     string
	Departments []*Department
	Fields      []*Field
	Materials   []*Material
	Matters     []*Matter
	Bundles     []*Bundle // ordered by Seq

	departments map[string]*Department
	fields      map[string]*Field
	materials   map[string]*Material
	matters     map[string]*Matter
	bundles     map[string]*Bundle
	bundleSeqs  map[int]*Bundle
}

func (c *Catalogue) index() {
	sort.SliceStable(c.Bundles, func(i, j int) bool { return c.Bundles[i].Seq < c.Bundles[j].Seq })
	c.departments = map[string]*Department{}
	for _, d := range c.Departments {
		c.departments[d.Code] = d
	}
	c.fields = map[string]*Field{}
	for _, f := range c.Fields {
		c.fields[f.Code] = f
	}
	c.materials = map[string]*Material{}
	for _, m := range c.Materials {
		c.materials[m.Code] = m
	}
	c.matters = map[string]*Matter{}
	for _, m := range c.Matters {
		c.matters[m.Code] = m
	}
	c.bundles = map[string]*Bundle{}
	c.bundleSeqs = map[int]*Bundle{}
	for _, b := range c.Bundles {
		c.bundles[b.Code] = b
		c.bundleSeqs[b.Seq] = b
	}
}

// Department returns a department by code.
func (c *Catalogue) Department(code string) (*Department, bool) {
	d, ok := c.departments[code]
	return d, ok
}

// Field returns a canonical field by code.
func (c *Catalogue) Field(code string) (*Field, bool) {
	f, ok := c.fields[code]
	return f, ok
}

// Material returns a material by code.
func (c *Catalogue) Material(code string) (*Material, bool) {
	m, ok := c.materials[code]
	return m, ok
}

// Matter returns a matter by code.
func (c *Catalogue) Matter(code string) (*Matter, bool) {
	m, ok := c.matters[code]
	return m, ok
}

// Bundle returns a bundle by code or by its sequence number (序号) written in decimal.
func (c *Catalogue) Bundle(codeOrSeq string) (*Bundle, bool) {
	if b, ok := c.bundles[codeOrSeq]; ok {
		return b, true
	}
	if n, err := strconv.Atoi(codeOrSeq); err == nil && strconv.Itoa(n) == codeOrSeq {
		b, ok := c.bundleSeqs[n]
		return b, ok
	}
	return nil, false
}

// BundlesUsing returns the bundles that list a matter, in seq order.
func (c *Catalogue) BundlesUsing(matterCode string) []*Bundle {
	var out []*Bundle
	for _, b := range c.Bundles {
		for _, e := range b.Matters {
			if e.Matter == matterCode {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

// Inputs returns the canonical fields the matter's form reads (directly or through
// expressions), sorted.
func (m *Matter) Inputs() []string { return m.inputs }

// Handles reports whether the matter is open to an applicant type.
func (m *Matter) Handles(applicantType string) bool {
	for _, t := range m.ApplicantTypes {
		if t == applicantType {
			return true
		}
	}
	return false
}

// LeadFor returns the bundle's lead departments for an applicant type: the leads with that
// applicant type or with none.
func (b *Bundle) LeadFor(applicantType string) []Lead {
	var out []Lead
	for _, l := range b.Leads {
		if l.ApplicantType == "" || l.ApplicantType == applicantType {
			out = append(out, l)
		}
	}
	return out
}

// Program returns the compiled expression of form field i, or nil when that field is not an
// expression. Programs are compiled once, when the catalogue loads, and are safe for concurrent
// use (run each with its own environment).
func (m *Matter) Program(i int) *vm.Program { return m.programs[i] }
