package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"yjshub/catalogue"
	"yjshub/problem"
)

// Rules of the selection check besides problem.RuleRequired, problem.RuleEnum and
// problem.RuleDuplicate.
const (
	RuleNotOpenToApplicant = "applicant_type"  // a chosen matter is not open to the applicant type
	RuleRequiredMatter     = "required_matter" // a required matter of the bundle was dropped
	RuleEitherOr           = "either_or"       // not exactly one matter of an either-or group was chosen
)

// SelectionPaths says where the selection's problems are reported: a JSON Pointer into an
// application's body, or the query parameter of the form route.
type SelectionPaths struct {
	ApplicantType string
	// Matter is the path of the i-th chosen matter; Matters that of the choice as a whole.
	Matter  func(i int) string
	Matters string
}

// BodyPaths are the paths of an application's body (POST /api/v1/cases).
var BodyPaths = SelectionPaths{
	ApplicantType: "/applicant_type",
	Matter:        func(i int) string { return fmt.Sprintf("/matters/%d", i) },
	Matters:       "/matters",
}

// QueryPaths are the paths of the form and notice routes' query parameters.
var QueryPaths = SelectionPaths{
	ApplicantType: "applicant_type",
	Matter:        func(int) string { return "matters" },
	Matters:       "matters",
}

// CheckSelection is the one check of a choice of a bundle's matters, which intake and the form
// and notice routes share, so that a form is never offered for a choice intake would refuse.
// It returns the matter codes to apply for, in the bundle's order: the chosen ones, or, when
// matters is nil (no choice made), the bundle's required matters open to the applicant type.
// Required matters cannot be dropped, a matter cannot be chosen twice, and every chosen matter
// must be the bundle's and open to the applicant type. Every problem is reported.
func CheckSelection(cat *catalogue.Catalogue, bundle *catalogue.Bundle, applicantType string, matters []string, at SelectionPaths) (selected []string, problems problem.List) {
	add := problems.Add
	if pr := CheckApplicantType(applicantType, at); pr != nil {
		return nil, append(problems, *pr)
	}
	chosen := map[string]bool{}
	for i, code := range matters {
		path := at.Matter(i)
		entry, ok := entryOf(bundle, code)
		switch {
		case !ok:
			add(path, RuleUnknownMatter, "%s is not a matter of bundle %d %s", strconv.Quote(clip(code)), bundle.Seq, bundle.Name)
			continue
		case chosen[code]:
			add(path, problem.RuleDuplicate, "%s is chosen twice", code)
			continue
		}
		m, _ := cat.Matter(entry.Matter)
		if !m.Handles(applicantType) {
			add(path, RuleNotOpenToApplicant, "%s (%s) is not open to %s applicants", entry.Name, code, applicantType)
			continue
		}
		chosen[code] = true
	}
	for _, e := range bundle.Matters {
		m, _ := cat.Matter(e.Matter)
		choice := Choosable(cat, bundle, e, applicantType)
		switch {
		case !m.Handles(applicantType):
		case matters == nil:
			if !choice {
				selected = append(selected, e.Matter)
			}
		case chosen[e.Matter]:
			selected = append(selected, e.Matter)
		case !choice:
			add(at.Matters, RuleRequiredMatter, "the required matter %s (%s) cannot be dropped", e.Name, e.Matter)
		}
	}
	// An either-or group is applied for once: exactly one of its matters open to the applicant.
	for _, g := range bundle.OneOf {
		open := openMembers(cat, bundle, g.Code, applicantType)
		if len(open) < 2 {
			continue
		}
		var picked []string
		for _, e := range open {
			if chosen[e.Matter] {
				picked = append(picked, e.Name+" ("+e.Matter+")")
			}
		}
		switch {
		case len(picked) == 0:
			add(at.Matters, RuleEitherOr, "choose exactly one of %s (%s): %s", entryNames(open), g.Name, g.Note)
		case len(picked) > 1:
			add(at.Matters, RuleEitherOr, "choose only one of %s (%s), not %s: %s", entryNames(open), g.Name, strings.Join(picked, " and "), g.Note)
		}
	}
	if len(selected) == 0 && len(problems) == 0 {
		add(at.Matters, problem.RuleRequired, "choose at least one matter")
	}
	return selected, problems
}

// CheckApplicantType checks an applicant type: enterprise or individual.
func CheckApplicantType(applicantType string, at SelectionPaths) *problem.Problem {
	switch applicantType {
	case catalogue.Enterprise, catalogue.Individual:
		return nil
	case "":
		return &problem.Problem{Path: at.ApplicantType, Rule: problem.RuleRequired, Message: "must be enterprise or individual"}
	}
	return &problem.Problem{Path: at.ApplicantType, Rule: problem.RuleEnum, Message: "must be enterprise or individual"}
}

// Choosable reports whether entry e of bundle b is the applicant's to choose rather than
// required of every application: an optional matter (选办), or a matter of an either-or group
// another of whose matters is open to the applicant type too.
func Choosable(cat *catalogue.Catalogue, b *catalogue.Bundle, e catalogue.BundleEntry, applicantType string) bool {
	return e.Optional || len(openMembers(cat, b, e.OneOf, applicantType)) > 1
}

// openMembers returns the entries of b's either-or group whose matters are open to the
// applicant type; none for "".
func openMembers(cat *catalogue.Catalogue, b *catalogue.Bundle, group, applicantType string) []catalogue.BundleEntry {
	if group == "" {
		return nil
	}
	_, entries, _ := b.Group(group)
	var open []catalogue.BundleEntry
	for _, e := range entries {
		if m, ok := cat.Matter(e.Matter); ok && m.Handles(applicantType) {
			open = append(open, e)
		}
	}
	return open
}

// entryNames lists entries as "name (code) or name (code)".
func entryNames(entries []catalogue.BundleEntry) string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name + " (" + e.Matter + ")"
	}
	return strings.Join(names, " or ")
}

func entryOf(b *catalogue.Bundle, code string) (catalogue.BundleEntry, bool) {
	for _, e := range b.Matters {
		if e.Matter == code {
			return e, true
		}
	}
	return catalogue.BundleEntry{}, false
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
