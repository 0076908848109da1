package licences

import (
	"fmt"
	"strings"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub/event"
	"yjshub/problem"
)

// Rules of a licence a department may not issue.
const (
	// RuleLicenceType: the licence (its type, or its type code) is not one the matter's result
	// defines in the catalogue — a matter that issues no e-licence issues none.
	RuleLicenceType = "licence_type"
	// RuleIssuer: the licence names another issuer than the department that handled the
	// sub-case, or a department revokes a licence another department issued.
	RuleIssuer = "issuer"
)

// CheckIssue returns the problems with a licence that department dept attaches to its approval
// of matter m, at paths under prefix (e.g. "/licences/0"): its type must be one of the
// catalogue's licence types of m (m.LicenceTypes), with that type's code when the licence gives
// one and the catalogue knows it, and its issuer must be dept, by code, name, full name or
// alias. A matter or department the catalogue does not have (m or dept nil) allows nothing.
// Messages name the catalogue's values, never the licence's.
func CheckIssue(m *catalogue.Matter, dept *catalogue.Department, l event.Licence, prefix string) []problem.Problem {
	var problems problem.List
	switch types := issuedTypes(m); {
	case m == nil:
		problems.Add(prefix+"/type", RuleLicenceType, "the sub-case's matter is not in the catalogue: it issues no e-licence")
	case len(types) == 0:
		problems.Add(prefix+"/type", RuleLicenceType, "matter %s issues no e-licence (its result is a %s)", m.Code, m.Result.Kind)
	default:
		var lt *catalogue.LicenceType
		for i := range types {
			if types[i].Name == l.Type {
				lt = &types[i]
			}
		}
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = t.Name
		}
		switch {
		case lt == nil:
			problems.Add(prefix+"/type", RuleLicenceType, "matter %s issues only %s", m.Code, strings.Join(names, ", "))
		case l.TypeCode != "" && lt.Code != "" && l.TypeCode != lt.Code:
			problems.Add(prefix+"/type_code", RuleLicenceType, "the catalogue's code of %s is %s", lt.Name, lt.Code)
		}
	}
	if l.IssuerCode != "" && format.CheckUSCC(l.IssuerCode) != nil {
		problems.Add(prefix+"/issuer_code", format.GB32100, "must be the issuing department's unified social credit code (GB 32100)")
	}
	switch {
	case dept == nil:
		problems.Add(prefix+"/issuer", RuleIssuer, "the sub-case's department is not in the catalogue: it issues no e-licence")
	case l.Issuer != dept.Code && !dept.Named(l.Issuer):
		problems.Add(prefix+"/issuer", RuleIssuer, "must be the department that handled the sub-case, %s (%s): a department issues licences in its own name only",
			dept.Code, departmentName(dept))
	}
	return problems
}

// Completed returns a licence a department issues as the library records it: with its type
// code from the catalogue when it gave none (the code of an issued licence comes from the
// catalogue), and with its identifier (GB/T 36904) built from type code, issuer's code and
// number when it gave none and both codes are known. A licence whose issuer's code is missing
// keeps no identifier: the hub does not make up a department's credit code.
func Completed(m *catalogue.Matter, l event.Licence) event.Licence {
	if l.TypeCode == "" && m != nil {
		for _, t := range m.LicenceTypes() {
			if t.Name == l.Type {
				l.TypeCode = t.Code
			}
		}
	}
	if l.Identifier == "" && l.TypeCode != "" && l.IssuerCode != "" {
		if id, err := Identifier(l.TypeCode, l.IssuerCode, l.Number, FirstVersion); err == nil {
			l.Identifier = id
		}
	}
	return l
}

func issuedTypes(m *catalogue.Matter) []catalogue.LicenceType {
	if m == nil {
		return nil
	}
	return m.LicenceTypes()
}

func departmentName(d *catalogue.Department) string {
	if d.FullName != "" {
		return fmt.Sprintf("%s, %s", d.Name, d.FullName)
	}
	return d.Name
}
