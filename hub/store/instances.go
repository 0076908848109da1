package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// InstanceTTL is how long an instance that stopped refreshing its row still counts as running;
// instances refresh it every InstanceTTL/3.
const InstanceTTL = 15 * time.Second

// Instance is a hub instance that runs on this database.
type Instance struct {
	ID        string    `db:"id"`
	PublicURL string    `db:"public_url"`
	Host      string    `db:"host"`
	StartedAt Timestamp `db:"started_at"`
	SeenAt    Timestamp `db:"seen_at"`
}

// PublicURLConflict is the error of an instance whose public URL differs from that of another
// instance running on the same database, or that was not given one (Implicit) while another
// instance runs on another host.
type PublicURLConflict struct {
	URL      string
	Implicit bool
	Others   []Instance
}

func (e *PublicURLConflict) Error() string {
	var b strings.Builder
	if e.Implicit {
		fmt.Fprintf(&b, "store: --public-url is required when several hub instances share a database, and this one was given none (it would be %s); the other instance%s:", e.URL, map[bool]string{true: "s"}[len(e.Others) > 1])
	} else {
		fmt.Fprintf(&b, "store: this instance's public URL %s is not that of the other hub instance%s on this database:", e.URL, map[bool]string{true: "s"}[len(e.Others) > 1])
	}
	for _, o := range e.Others {
		fmt.Fprintf(&b, " %s (on %s, since %s)", o.PublicURL, o.Host, o.StartedAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("; give every instance that shares a database the same --public-url, the address departments reach them all by (a load balancer in front of them), so that a department's callback lands whichever instance is alive")
	return b.String()
}

// RegisterInstance records this instance and its public URL, after checking that every other
// instance running on the database (its row refreshed within InstanceTTL) has the same public
// URL, and, when this one's was not given (implicit: derived from its listening address), that
// none runs on another host (one on this host with the same URL is this instance's previous
// run: two cannot listen on one address). Otherwise it records nothing and returns a
// *PublicURLConflict. It also forgets the rows of instances gone for longer than InstanceTTL.
func (s *Store) RegisterInstance(ctx context.Context, in Instance, implicit bool) error {
	now := time.Now()
	return s.InTx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == DialectPostgres {
			// Two instances starting at once check one after the other.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, instancesLock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM hub_instances WHERE seen_at < ?`), NewTimestamp(now.Add(-InstanceTTL))); err != nil {
			return err
		}
		var running []Instance
		if err := tx.SelectContext(ctx, &running, tx.Rebind(`SELECT * FROM hub_instances WHERE id <> ? ORDER BY started_at`), in.ID); err != nil {
			return err
		}
		var others []Instance
		for _, o := range running {
			if o.PublicURL != in.PublicURL || (implicit && o.Host != in.Host) {
				others = append(others, o)
			}
		}
		if len(others) > 0 {
			return &PublicURLConflict{URL: in.PublicURL, Implicit: implicit, Others: others}
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO hub_instances (id, public_url, host, started_at, seen_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`), in.ID, in.PublicURL, in.Host, NewTimestamp(now), NewTimestamp(now))
		return err
	})
}

// TouchInstance refreshes this instance's row.
func (s *Store) TouchInstance(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE hub_instances SET seen_at = ? WHERE id = ?`), NewTimestamp(time.Now()), id)
	return err
}

// DeregisterInstance deletes this instance's row, as it stops.
func (s *Store) DeregisterInstance(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM hub_instances WHERE id = ?`), id)
	return err
}

// instancesLock is the advisory lock under which instances register.
const instancesLock = 7310018
