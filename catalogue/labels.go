package catalogue

import "yjshub/problem"

// The catalogue names the things problems are about in their Chinese messages (problem.Localise).
var _ problem.Labeller = (*Catalogue)(nil)

// FieldName returns the Chinese name of a canonical field (数据元), e.g. 申请人公民身份号码.
func (c *Catalogue) FieldName(code string) (string, bool) {
	if c == nil {
		return "", false
	}
	f, ok := c.Field(code)
	if !ok {
		return "", false
	}
	return f.Name, true
}

// MaterialName returns the Chinese name of a material of the material catalogue.
func (c *Catalogue) MaterialName(code string) (string, bool) {
	if c == nil {
		return "", false
	}
	m, ok := c.Material(code)
	if !ok {
		return "", false
	}
	return m.Name, true
}

// MatterName returns the Chinese name of a matter definition.
func (c *Catalogue) MatterName(code string) (string, bool) {
	if c == nil {
		return "", false
	}
	m, ok := c.Matter(code)
	if !ok {
		return "", false
	}
	return m.Name, true
}
