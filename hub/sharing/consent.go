package sharing

import (
	"bytes"
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
	"strconv"
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
	// Purpose is what the data may be used for, a code: PurposePrefill for prefill,
	// PurposeLicences for listing the holder's e-licences.
	Purpose string `json:"purpose"`
	// Bundle is the bundle's code or 序号.
	Bundle json.RawMessage `json:"bundle"`
	// TTL is how long the consent lasts: seconds, or a duration such as "30m". Default 30m,
	// at most 24h.
	TTL json.RawMessage `json:"ttl,omitempty"`
	// Uses is how many requests the consent covers. Default 1, at most Config.MaxConsentUses.
	Uses json.RawMessage `json:"uses,omitempty"`
}

// Consent is a consent given: its id (for withdrawing it), the token, shown this once, and
// what it covers until when.
type Consent struct {
	ID        string          `json:"id"`
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	Purpose   string          `json:"purpose"`
	Bundle    event.BundleRef `json:"bundle"`
	Uses      int             `json:"uses"`
}

// ConsentRef is a consent as a request presents it.
type ConsentRef struct {
	Token   string `json:"token"`
	Purpose string `json:"purpose"`
}

var purposeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// consentIDRE is the shape of a consent id: the first 16 hex digits of its token's SHA-256.
var consentIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// tokenPrefix marks a consent token, so that one found in a log or a file is recognised.
const tokenPrefix = "yjc_"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// GrantConsent records an applicant's consent, obtained by the request's API client (the
// platform), and returns its token. Only the token's SHA-256 and the holder's keyed pseudonym
// are stored; the consent is written to the audit log.
func (s *Service) GrantConsent(ctx context.Context, req ConsentRequest) (*Consent, error) {
	var problems []problem.Problem
	if p := HolderProblem("/holder", "", req.Holder); p != nil {
		problems = append(problems, *p)
	}
	if !purposeRE.MatchString(req.Purpose) {
		problems = append(problems, problem.Problem{Path: "/purpose", Rule: problem.RulePattern, Message: "name the purpose by a code such as " + PurposePrefill + " or " + PurposeLicences})
	}
	b, bp := s.bundleOf(req.Bundle)
	if bp != nil {
		problems = append(problems, *bp)
	}
	ttl, tp := ttlOf(req.TTL, s.cfg.DefaultConsentTTL, s.cfg.MaxConsentTTL)
	if tp != nil {
		problems = append(problems, *tp)
	}
	uses, up := usesOf(req.Uses, s.cfg.MaxConsentUses)
	if up != nil {
		problems = append(problems, *up)
	}
	if len(problems) > 0 {
		return nil, problem.New(problems...)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("making a consent token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	hash := tokenHash(token)
	id := hash[:16]
	holderRef := s.keys.Of(req.Holder)
	client := clientOf(ctx)
	now := store.NewTimestamp(s.cfg.Now())
	expires := store.NewTimestamp(now.Add(ttl))
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO consents (id, token_hash, holder_ref, purpose, bundle_code, client, max_uses, uses, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`),
			id, hash, holderRef, req.Purpose, b.Code, client, uses, now, expires); err != nil {
			return fmt.Errorf("storing a consent: %w", err)
		}
		_, err := s.log.Append(ctx, tx, audit.Entry{Kind: KindConsent, Outcome: audit.Granted, Subject: holderRef,
			Detail: map[string]any{"consent": id, "purpose": req.Purpose, "bundle": b.Code, "uses": uses, "expires_at": expires.Time, "client": client}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Consent{ID: id, Token: token, ExpiresAt: expires.Time, Purpose: req.Purpose, Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, Uses: uses}, nil
}

// usesOf reads how many requests a consent covers: a whole number from 1 to limit, 1 when not
// given.
func usesOf(raw json.RawMessage, limit int) (int, *problem.Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return 1, nil
	}
	// A JSON number only: json.Number alone would take "3", a string, too.
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	num, isNumber := json.Number(""), false
	if dec.Decode(&v) == nil {
		num, isNumber = v.(json.Number)
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if !isNumber || err != nil {
		return 0, &problem.Problem{Path: "/uses", Rule: problem.RuleType, Message: "must be a whole number of uses"}
	}
	if n < 1 || n > int64(limit) {
		return 0, &problem.Problem{Path: "/uses", Rule: problem.RuleRange, Message: fmt.Sprintf("must be from 1 to %d", limit)}
	}
	return int(n), nil
}

// consentRow is a consents row as a use reads it.
type consentRow struct {
	ID          string          `db:"id"`
	HolderRef   string          `db:"holder_ref"`
	Purpose     string          `db:"purpose"`
	BundleCode  string          `db:"bundle_code"`
	Client      string          `db:"client"`
	MaxUses     int             `db:"max_uses"`
	Uses        int             `db:"uses"`
	ExpiresAt   store.Timestamp `db:"expires_at"`
	WithdrawnAt store.Timestamp `db:"withdrawn_at"`
}

// useConsent decides, within tx, whether a consent covers a request of the request's API
// client for a purpose, a holder and a bundle (nil: any bundle), and if it does counts one use
// of it. It returns the consent's id (for the audit log; "" when no consent was found) or a
// RefusedError whose Path is path. The use is counted by one conditional UPDATE, so that
// requests at once never use a consent more often than it allows; rolling tx back gives the
// use back.
func (s *Service) useConsent(ctx context.Context, tx *sqlx.Tx, ref *ConsentRef, path, purpose, holder string, b *catalogue.Bundle) (string, error) {
	refuse := func(rule, reason string) error { return &RefusedError{Rule: rule, Reason: reason, Path: path} }
	if ref == nil || ref.Token == "" {
		return "", refuse(RuleConsentMissing, "no consent was given: ask the applicant and present the consent token")
	}
	var c consentRow
	const cols = `id, holder_ref, purpose, bundle_code, client, max_uses, uses, expires_at, withdrawn_at`
	err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT `+cols+` FROM consents WHERE token_hash = ?`), tokenHash(ref.Token))
	if errors.Is(err, sql.ErrNoRows) {
		return "", refuse(RuleConsentUnknown, "the consent token is not known")
	}
	if err != nil {
		return "", fmt.Errorf("reading a consent: %w", err)
	}
	switch {
	case c.Client != clientOf(ctx):
		return c.ID, refuse(RuleConsentPlatform, "the consent was obtained by another platform: only the platform the applicant gave it to may use it")
	case !c.WithdrawnAt.IsZero():
		return c.ID, refuse(RuleConsentWithdrawn, "the consent was withdrawn: ask the applicant again")
	case !s.cfg.Now().Before(c.ExpiresAt.Time):
		return c.ID, refuse(RuleConsentExpired, "the consent expired at "+c.ExpiresAt.Time.Format(time.RFC3339)+": ask the applicant again")
	case ref.Purpose != c.Purpose || c.Purpose != purpose:
		return c.ID, refuse(RuleConsentPurpose, fmt.Sprintf("the consent does not cover this use: it needs a consent given, and presented, for the purpose %q", purpose))
	case !s.keys.Matches(c.HolderRef, holder):
		return c.ID, refuse(RuleConsentHolder, "the consent was given by another holder")
	case b != nil && c.BundleCode != b.Code:
		return c.ID, refuse(RuleConsentBundle, "the consent was given for another bundle")
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE consents SET uses = uses + 1 WHERE id = ? AND uses < max_uses AND withdrawn_at IS NULL`), c.ID)
	if err != nil {
		return c.ID, fmt.Errorf("using a consent: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return c.ID, err
	}
	// Another request used it up, or it was withdrawn, since it was read.
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT `+cols+` FROM consents WHERE id = ?`), c.ID); err != nil {
		return c.ID, fmt.Errorf("reading a consent: %w", err)
	}
	if !c.WithdrawnAt.IsZero() {
		return c.ID, refuse(RuleConsentWithdrawn, "the consent was withdrawn: ask the applicant again")
	}
	return c.ID, refuse(RuleConsentUsed, fmt.Sprintf("the consent covered %d request(s) and all were made: ask the applicant again", c.MaxUses))
}

// WithdrawConsent withdraws a consent by its id, for the API client that obtained it: it is
// refused from then on. A consent of another client, or none with that id, is ErrNotFound,
// so that another platform learns nothing of it. Withdrawing a withdrawn consent changes
// nothing; the withdrawal itself is written to the audit log.
func (s *Service) WithdrawConsent(ctx context.Context, id string) error {
	if !consentIDRE.MatchString(id) {
		return ErrNotFound
	}
	client := clientOf(ctx)
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var c consentRow
		err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT id, holder_ref, purpose, bundle_code, client, max_uses, uses, expires_at, withdrawn_at
			FROM consents WHERE id = ?`), id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return fmt.Errorf("reading a consent: %w", err)
		case c.Client != client:
			return ErrNotFound
		case !c.WithdrawnAt.IsZero():
			return nil
		}
		now := store.NewTimestamp(s.cfg.Now())
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE consents SET withdrawn_at = ? WHERE id = ? AND withdrawn_at IS NULL`), now, id); err != nil {
			return fmt.Errorf("withdrawing a consent: %w", err)
		}
		_, err = s.log.Append(ctx, tx, audit.Entry{Kind: KindConsentWithdrawn, Outcome: audit.Granted, Subject: c.HolderRef,
			Detail: map[string]any{"consent": id, "purpose": c.Purpose, "bundle": c.BundleCode, "uses_made": c.Uses, "client": client}})
		return err
	})
}
