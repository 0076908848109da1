package sharing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/audit"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// ConsentRequest is what the platform posts once the applicant agreed to share their data
// (POST /api/v1/consents).
type ConsentRequest struct {
	// Holder is the applicant's USCC or resident ID number.
	Holder string `json:"holder"`
	// Purpose is what the data may be used for, a code: "prefill" for prefill.
	Purpose string `json:"purpose"`
	// Bundle is the bundle's code or 序号.
	Bundle json.RawMessage `json:"bundle"`
	// TTL is how long the consent lasts: seconds, or a duration such as "30m". Default 30m,
	// at most 24h.
	TTL json.RawMessage `json:"ttl,omitempty"`
}

// Consent is a consent given: the token, shown this once, and when it expires.
type Consent struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	Purpose   string          `json:"purpose"`
	Bundle    event.BundleRef `json:"bundle"`
}

// ConsentRef is a consent as a request presents it.
type ConsentRef struct {
	Token   string `json:"token"`
	Purpose string `json:"purpose"`
}

var purposeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// tokenPrefix marks a consent token, so that one found in a log or a file is recognised.
const tokenPrefix = "yjc_"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// GrantConsent records an applicant's consent and returns its token. Only the token's SHA-256
// and the holder's SHA-256 are stored; the consent is written to the audit log.
func (s *Service) GrantConsent(ctx context.Context, req ConsentRequest) (*Consent, error) {
	var problems []problem.Problem
	if p := HolderProblem("/holder", "", req.Holder); p != nil {
		problems = append(problems, *p)
	}
	if !purposeRE.MatchString(req.Purpose) {
		problems = append(problems, problem.Problem{Path: "/purpose", Rule: problem.RulePattern, Message: "name the purpose by a code such as " + PurposePrefill})
	}
	b, bp := s.bundleOf(req.Bundle)
	if bp != nil {
		problems = append(problems, *bp)
	}
	ttl, tp := ttlOf(req.TTL, s.cfg.DefaultConsentTTL, s.cfg.MaxConsentTTL)
	if tp != nil {
		problems = append(problems, *tp)
	}
	if len(problems) > 0 {
		return nil, problem.New(problems...)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("making a consent token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := store.NewTimestamp(s.cfg.Now())
	expires := store.NewTimestamp(now.Add(ttl))
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO consents (token_hash, holder_ref, purpose, bundle_code, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			tokenHash(token), audit.SubjectRef(req.Holder), req.Purpose, b.Code, now, expires); err != nil {
			return fmt.Errorf("storing a consent: %w", err)
		}
		_, err := s.log.Append(ctx, tx, audit.Entry{Kind: "consent", Outcome: audit.Granted, Subject: audit.SubjectRef(req.Holder),
			Detail: map[string]any{"consent": tokenHash(token)[:16], "purpose": req.Purpose, "bundle": b.Code, "expires_at": expires.Time, "client": clientOf(ctx)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Consent{Token: token, ExpiresAt: expires.Time, Purpose: req.Purpose, Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}}, nil
}

// checkConsent decides whether a consent covers a request for a purpose, a holder and a
// bundle; it returns the consent's reference (a prefix of its token's hash) or a RefusedError.
func (s *Service) checkConsent(ctx context.Context, ref *ConsentRef, purpose, holder string, b *catalogue.Bundle) (string, error) {
	if ref == nil || ref.Token == "" {
		return "", &RefusedError{Rule: RuleConsentMissing, Reason: "no consent was given: ask the applicant and present the consent token"}
	}
	hash := tokenHash(ref.Token)
	var c struct {
		HolderRef  string          `db:"holder_ref"`
		Purpose    string          `db:"purpose"`
		BundleCode string          `db:"bundle_code"`
		ExpiresAt  store.Timestamp `db:"expires_at"`
	}
	db := s.st.DB()
	err := db.GetContext(ctx, &c, db.Rebind(`SELECT holder_ref, purpose, bundle_code, expires_at FROM consents WHERE token_hash = ?`), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", &RefusedError{Rule: RuleConsentUnknown, Reason: "the consent token is not known"}
	}
	if err != nil {
		return "", fmt.Errorf("reading a consent: %w", err)
	}
	id := hash[:16]
	switch {
	case !s.cfg.Now().Before(c.ExpiresAt.Time):
		return id, &RefusedError{Rule: RuleConsentExpired, Reason: "the consent expired at " + c.ExpiresAt.Time.Format(time.RFC3339) + ": ask the applicant again"}
	case ref.Purpose != c.Purpose || c.Purpose != purpose:
		return id, &RefusedError{Rule: RuleConsentPurpose, Reason: fmt.Sprintf("the consent does not cover this use: it needs a consent given, and presented, for the purpose %q", purpose)}
	case c.HolderRef != audit.SubjectRef(holder):
		return id, &RefusedError{Rule: RuleConsentHolder, Reason: "the consent was given by another holder"}
	case c.BundleCode != b.Code:
		return id, &RefusedError{Rule: RuleConsentBundle, Reason: "the consent was given for another bundle"}
	}
	return id, nil
}
