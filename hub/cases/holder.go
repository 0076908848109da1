package cases

import (
	"context"

	"yjshub/catalogue"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/mapping"
)

// The subject of an individual applicant: applicant.subject says whether the person applies as
// a natural person (自然人, also when the form does not say) or as their individual business
// (个体工商户).
//
// An individual business stays applicant_type individual: the plan names 个体 lead departments
// and the matters' individual handling departments, materials and bundles for exactly these
// applicants, and none of that changes with the subject. What changes is whom the case is for:
// the business has a credit code of its own (92…, GB 32100: registration authority 9 市场监管,
// category 2 个体工商户) and a registered name, the departments' forms that ask a 社会信用代码
// send that code rather than the operator's ID number (the operator's identity goes in the
// 经营者 fields), and its licences are issued to the code. A third applicant type would have
// had to be added to every lead, handling rule, material and bundle to say the same thing
// twice.
const (
	// SubjectField is the canonical field that says the subject.
	SubjectField = "applicant.subject"
	// SubjectIndividualBusiness is its value for an individual business.
	SubjectIndividualBusiness = "个体工商户"
)

// IndividualBusiness reports whether an application of applicantType with form is made by an
// individual business (个体工商户) rather than a natural person.
func IndividualBusiness(applicantType string, form mapping.Form) bool {
	return applicantType == catalogue.Individual && form[SubjectField] == SubjectIndividualBusiness
}

// Holder returns the applicant of a case, to whom its licences are issued: the enterprise or
// the individual business by its unified social credit code, or the person by identity number
// (holderOf). It holds personal data; connectors that pass it on (supervision records) decide
// what to mask.
func (s *Service) Holder(ctx context.Context, caseID string) (event.ApplicantRef, error) {
	var row struct {
		ApplicantType string                   `db:"applicant_type"`
		HolderID      string                   `db:"holder_id"`
		HolderName    string                   `db:"holder_name"`
		Form          store.JSON[mapping.Form] `db:"form"`
	}
	db := s.st.DB()
	if err := db.GetContext(ctx, &row, db.Rebind(`SELECT applicant_type, holder_id, holder_name, form FROM cases WHERE id = ?`), caseID); err != nil {
		return event.ApplicantRef{}, notFound(err, "case")
	}
	// The kind is the one intake gave the holder; the form says it for an individual.
	idType := holderOf(row.ApplicantType, row.Form.V).IDType
	return event.ApplicantRef{Name: row.HolderName, ID: row.HolderID, IDType: idType}, nil
}

// SubcaseDepartment returns the code of the department a sub-case is for.
func (s *Service) SubcaseDepartment(ctx context.Context, subcaseID string) (string, error) {
	_, dept, err := s.SubcaseOwner(ctx, subcaseID)
	return dept, err
}

// SubcaseOwner returns the case a sub-case belongs to and the code of the department it is
// for, from the sub-case's row alone; ErrNotFound when there is no such sub-case.
func (s *Service) SubcaseOwner(ctx context.Context, subcaseID string) (caseID, department string, err error) {
	var row struct {
		CaseID     string `db:"case_id"`
		Department string `db:"department"`
	}
	err = s.st.DB().GetContext(ctx, &row, s.st.DB().Rebind(`SELECT case_id, department FROM subcases WHERE id = ?`), subcaseID)
	if err != nil {
		return "", "", notFound(err, "sub-case")
	}
	return row.CaseID, row.Department, nil
}
