package sharing

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/licences"
	"yjshub/problem"
)

// ConsentHeader is the header a listing of a holder's e-licences presents its consent token in.
const ConsentHeader = "X-Consent-Token"

// Bases of a listing granted.
const (
	BasisConsent  = "consent"  // the holder's consent for the purpose licences
	BasisOperator = "operator" // an operator of the hub, who needs no consent (and is audited)
	BasisCase     = "case"     // the holder's own case, submitted by the same platform
)

// RuleConsentCase: the case a listing names is not one the asking platform submitted for
// that holder.
const RuleConsentCase = "consent_case"

// listingDetail is what the audit log keeps of a listing: the licences' ids, never their
// numbers or holders.
type listingDetail struct {
	Basis    string   `json:"basis,omitempty"`
	Purpose  string   `json:"purpose,omitempty"`
	Consent  string   `json:"consent,omitempty"`
	Case     string   `json:"case,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Licences []string `json:"licences,omitempty"`
	// Client is the API client that asked; empty when the API does not authenticate.
	Client string `json:"client,omitempty"`
}

// HolderLicences returns a holder's e-licences (holder: USCC or resident ID number), the most
// recently issued first, to a client the holder consented to with a consent for the purpose
// licences (token, presented in the header ConsentHeader; one use of it), or to an operator
// of the hub; or, without a token, to the platform that submitted caseID, a case of that
// holder (the applicant is applying through it right now). A malformed holder is a *problem.Error, a listing no consent covers a
// RefusedError. Every listing, granted or refused, is written to the audit log with the
// holder's pseudonym, the client, the basis and the licences' ids; a refused one stores
// nothing else.
func (s *Service) HolderLicences(ctx context.Context, holder, token, caseID string) ([]licences.Licence, error) {
	client, _ := auth.FromContext(ctx)
	detail := listingDetail{Client: client.Name}
	if p := HolderProblem("holder", "", holder); p != nil {
		detail.Reason = "invalid_request"
		if _, err := s.log.AppendAlone(ctx, audit.Entry{Kind: KindLicences, Outcome: audit.Refused, Detail: detail}); err != nil {
			return nil, err
		}
		return nil, problem.New(*p)
	}
	subject := s.keys.Of(holder)
	var out []licences.Licence
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		switch {
		case client.Role == auth.RoleOperator:
			detail.Basis = BasisOperator
		case token == "" && caseID != "":
			detail.Basis, detail.Case = BasisCase, caseID
			if err := s.ownCase(ctx, tx, client, holder, caseID); err != nil {
				return err
			}
		default:
			detail.Basis, detail.Purpose = BasisConsent, PurposeLicences
			ref := &ConsentRef{Token: token, Purpose: PurposeLicences}
			id, err := s.useConsent(ctx, tx, ref, ConsentHeader, PurposeLicences, holder, nil)
			detail.Consent = id
			if err != nil {
				return err
			}
		}
		var err error
		if out, err = s.lib.HeldBy(ctx, tx, holder); err != nil {
			return err
		}
		for _, l := range out {
			detail.Licences = append(detail.Licences, l.ID)
		}
		_, err = s.log.Append(ctx, tx, audit.Entry{Kind: KindLicences, Outcome: audit.Granted, Subject: subject, Detail: detail})
		return err
	})
	var refused *RefusedError
	if errors.As(err, &refused) {
		detail.Reason = refused.Rule
		if _, aerr := s.log.AppendAlone(ctx, audit.Entry{Kind: KindLicences, Outcome: audit.Refused, Subject: subject, Detail: detail}); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ownCase refuses a listing on the basis of caseID unless the asking client (a platform of an
// API that authenticates) submitted that case and it is the holder's.
func (s *Service) ownCase(ctx context.Context, tx *sqlx.Tx, client auth.Client, holder, caseID string) error {
	var row struct {
		Holder string `db:"holder_id"`
		Owner  string `db:"owner"`
	}
	err := tx.GetContext(ctx, &row, tx.Rebind(`SELECT holder_id, owner FROM cases WHERE id = ?`), caseID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err != nil || client.Name == "" || row.Owner != client.Name || row.Holder != holder {
		return &RefusedError{Rule: RuleConsentCase, Reason: "the case named is not one this platform submitted for this holder: present the holder's consent instead"}
	}
	return nil
}
