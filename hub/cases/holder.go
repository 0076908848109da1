package cases

import (
	"context"

	"yjshub/catalogue"
	"yjshub/hub/event"
)

// Holder returns the applicant of a case, to whom its licences are issued: the enterprise by
// its unified social credit code, or the person by resident ID number. It holds personal data;
// connectors that pass it on (supervision records) decide what to mask.
func (s *Service) Holder(ctx context.Context, caseID string) (event.ApplicantRef, error) {
	var row struct {
		ApplicantType string `db:"applicant_type"`
		HolderID      string `db:"holder_id"`
		HolderName    string `db:"holder_name"`
	}
	db := s.st.DB()
	if err := db.GetContext(ctx, &row, db.Rebind(`SELECT applicant_type, holder_id, holder_name FROM cases WHERE id = ?`), caseID); err != nil {
		return event.ApplicantRef{}, notFound(err, "case")
	}
	idType := "resident_id"
	if row.ApplicantType == catalogue.Enterprise {
		idType = "uscc"
	}
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
