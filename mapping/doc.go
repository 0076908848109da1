// Package mapping owns the "one form" (一表申请) of 一件事一次办: the applicant fills one form of
// canonical fields (数据元) for a bundle of matters, and every department receives its own form
// filled in from it.
//
// It has three parts:
//
//   - Map fills one department's form from the canonical form and from the results of the
//     matter's prerequisites, following the matter's mapping in the catalogue (from, const,
//     expr, from_result). Expressions that fold to a field or a constant for the applicant
//     type are not run; a CaseMapper maps a whole case with one expression environment.
//   - InputsFor says which canonical fields a matter reads for one applicant type: mapping
//     expressions such as `applicant_type == "enterprise" ? insured.name : applicant.name` are
//     folded for the type, so an individual is never asked for insured.name.
//   - BuildOneForm derives the unified application form of a bundle (a JSON Schema, the field
//     list, the de-duplicated material list and the reuse figures of the reform), and
//     OneForm.Validate checks a submitted form against it, reporting every problem at once.
//     The schema stays the contract; Validate runs it compiled into per-field checks, which
//     tests hold to the schema validator. Forms caches one-forms so that a schema is compiled
//     once, not per request.
//
// Values the applicant typed are personal data: no Problem message and no error string of this
// package ever contains one. Problems name the field and the rule.
//
// The identifier checks themselves (resident ID, USCC, mobile …) live in the sub-package
// format.
package mapping
