package licences

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"yjshub/format"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// EventRevoked is the one licence event type: the issuing department revoked the licence.
const EventRevoked = "revoked"

// Event is what an issuing department posts about one of its licences
// (POST /api/v1/licences/{type}/{number}/events).
type Event struct {
	// EventID is the department's own id for the event; the same id sent again gets the
	// first answer.
	EventID string `json:"event_id"`
	// Type is "revoked".
	Type string `json:"type"`
	// Reason says why; it is shown to whoever verifies the licence, so it must not hold
	// personal data.
	Reason string `json:"reason"`
	// Department is the code of the department that posts the event.
	Department string `json:"department"`
	// Time is when the department decided; default: when the hub records it.
	Time time.Time `json:"time,omitzero"`
}

func (ev Event) problems() []problem.Problem {
	var problems problem.List
	add := problems.Add
	if ev.EventID == "" || len(ev.EventID) > 128 {
		add("/event_id", problem.RuleRequired, "give the event a unique id of at most 128 characters")
	}
	if ev.Type != EventRevoked {
		add("/type", problem.RuleEnum, "must be revoked")
	}
	if ev.Reason == "" || utf8.RuneCountInString(ev.Reason) > 500 || !utf8.ValidString(ev.Reason) {
		add("/reason", problem.RuleRequired, "a revocation must give its reason, in at most 500 characters")
	}
	if ev.Department == "" {
		add("/department", problem.RuleRequired, "name the department that revokes the licence by its code")
	}
	return problems
}

// Revoke records that the issuing department revoked a licence. A department other than the
// issuer is a ForbiddenError; revoking a licence already revoked is a ConflictError; the same
// event id sent again returns the licence without a second effect (replayed = true).
func (l *Library) Revoke(ctx context.Context, typ, number string, ev Event) (lic *Licence, replayed bool, err error) {
	if problems := ev.problems(); len(problems) > 0 {
		return nil, false, problem.New(problems...)
	}
	now := l.cfg.Now().UTC()
	at := now
	if !ev.Time.IsZero() {
		at = ev.Time.UTC()
	}
	err = l.st.InTx(ctx, func(tx *sqlx.Tx) error {
		q := `SELECT id FROM licences WHERE type = ? AND number = ?`
		if l.st.Dialect() == store.DialectPostgres {
			q += " FOR UPDATE"
		}
		var id string
		if err := tx.GetContext(ctx, &id, tx.Rebind(q), typ, number); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		cur, err := l.Find(ctx, tx, typ, number)
		if err != nil {
			return err
		}
		if cur.Department == "" || cur.Department != ev.Department {
			return &ForbiddenError{Rule: RuleIssuer, Path: "/department", Reason: "only the department that issued this licence may revoke it"}
		}
		var prior string
		err = tx.GetContext(ctx, &prior, tx.Rebind(`SELECT type FROM licence_events WHERE licence_id = ? AND event_id = ?`), id, ev.EventID)
		switch {
		case err == nil && prior == ev.Type:
			replayed = true
			lic = cur
			return nil
		case err == nil:
			return &ConflictError{Reason: fmt.Sprintf("event id %q was already used for a %s event", ev.EventID, prior)}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if cur.Status == StatusRevoked {
			return &ConflictError{Reason: "the licence was already revoked on " + cur.RevokedAt.Format(time.DateOnly)}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO licence_events (licence_id, event_id, type, department, reason, at) VALUES (?, ?, ?, ?, ?, ?)`),
			id, ev.EventID, ev.Type, ev.Department, ev.Reason, store.NewTimestamp(at)); err != nil {
			return fmt.Errorf("recording a licence event: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE licences SET status = ?, revoked_at = ?, revoked_reason = ? WHERE id = ?`),
			StatusRevoked, store.NewTimestamp(at), ev.Reason, id); err != nil {
			return fmt.Errorf("revoking a licence: %w", err)
		}
		if lic, err = l.Find(ctx, tx, typ, number); err != nil {
			return err
		}
		if hook := l.revoked.Load(); hook != nil {
			return (*hook)(ctx, tx, lic, at)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return lic, replayed, nil
}

// RevokedFunc is told of a revocation inside its transaction: an error undoes the revocation.
type RevokedFunc func(ctx context.Context, tx *sqlx.Tx, lic *Licence, at time.Time) error

// OnRevoked makes Revoke call fn inside the transaction of every revocation (not of a
// replayed one); the case service uses it to put the revocation in the issuing case's
// timeline. A later call replaces fn.
func (l *Library) OnRevoked(fn RevokedFunc) {
	l.revoked.Store(&fn)
}

// Import records a licence a platform connector (origin) brings in from another e-licence
// system, with source "import" and no case. Its issuing department is the catalogue department
// whose name, full name or alias is the licence's issuer (none: nobody may revoke it through
// the hub). Importing a licence the library already holds for the same holder changes nothing
// and returns it (created = false); for another holder it is a ConflictError.
func (l *Library) Import(ctx context.Context, lic event.Licence, origin string) (out *Licence, created bool, err error) {
	problems := Check(lic, "")
	if origin == "" {
		problems = append(problems, problem.Problem{Path: "/origin", Rule: problem.RuleRequired, Message: "name the connector that imports the licence"})
	}
	if c, ok := holderIDChecks[lic.HolderIDType]; ok && lic.HolderID != "" && c.check(lic.HolderID) != nil {
		problems = append(problems, problem.Problem{Path: "/holder_id", Rule: c.rule, Message: "is not a valid " + c.what})
	}
	if len(problems) > 0 {
		return nil, false, problem.New(problems...)
	}
	dept := l.departmentNamed(lic.Issuer)
	err = l.st.InTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := l.Find(ctx, tx, lic.Type, lic.Number)
		switch {
		case err == nil && cur.HolderID == lic.HolderID:
			out = cur
			return nil
		case err == nil:
			return &ConflictError{Reason: fmt.Sprintf("a %s numbered %s is already in the library for another holder", lic.Type, lic.Number)}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		out, err = l.Record(ctx, tx, Issued{Licence: lic, Source: SourceImport, Origin: origin, Department: dept})
		created = err == nil
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// departmentNamed returns the code of the catalogue department a licence's issuer names.
func (l *Library) departmentNamed(issuer string) string {
	for _, d := range l.cfg.Catalogue.Departments {
		if d.Named(issuer) {
			return d.Code
		}
	}
	return ""
}

// holderIDChecks check a holder's number by its kind, each with the format rule it breaks.
var holderIDChecks = map[string]struct {
	check      func(string) error
	rule, what string
}{
	event.IDUSCC:                     {format.CheckUSCC, format.GB32100, "unified social credit code"},
	event.IDResident:                 {format.CheckResidentID, format.GB11643, "resident ID number"},
	event.IDResidencePermitHMT:       {format.CheckResidencePermitHMT, format.ResidencePermitHMT, "residence permit number of a Hong Kong, Macao or Taiwan resident"},
	event.IDForeignPermanentResident: {format.CheckForeignPermanentResident, format.ForeignPermanentResident, "foreign permanent resident ID number"},
	event.IDPassport:                 {format.CheckPassport, format.Passport, "passport number"},
}
