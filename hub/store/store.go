package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// ErrNotFound reports that the row a lookup or update names does not exist.
var ErrNotFound = errors.New("store: not found")

// Pool sizes. SQLite gets one connection so that its single writer is a queue
// in Go rather than SQLITE_BUSY errors (see the package documentation).
// PostgreSQL's bound keeps one hub instance from taking more than its share of
// the server's max_connections (100 by default).
const (
	sqliteMaxOpenConns   = 1
	postgresMaxOpenConns = 16
	// Every connection is kept when idle: a new PostgreSQL backend per burst cost a fork and
	// lost its cached statement plans (3.6 new backends per case were measured with 4 kept).
	postgresMaxIdleConns = postgresMaxOpenConns
	postgresConnMaxIdle  = 5 * time.Minute
)

// Store is the hub's SQL database. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string
	// url is kept for error messages, which redact it.
	url     string
	counter *counter
	// conns holds, on PostgreSQL, the connection of each transaction InTx has open
	// (*sqlx.Tx → *sqlx.Conn), for Send.
	conns sync.Map
}

// Open connects to the database named by url and checks that it answers.
//
// postgres://… and postgresql://… URLs open PostgreSQL through pgx; run-time
// parameters such as search_path may be given as query parameters.
// sqlite:PATH, file:PATH and a plain path open (or create) an SQLite file,
// creating its directory; sqlite::memory: opens a private in-memory database.
//
// Open does not migrate; call [Store.Migrate]. Errors name the database by its
// redacted URL and never contain its password.
func Open(ctx context.Context, url string) (*Store, error) {
	t, err := parseTarget(url)
	if err != nil {
		return nil, urlError("open", url, err)
	}
	if t.path != "" {
		if err := ensureDir(t.path); err != nil {
			return nil, urlError("open", url, err)
		}
	}
	c := &counter{}
	var drv driver.Driver = &sqlite.Driver{}
	if t.dialect == DialectPostgres {
		drv = stdlib.GetDefaultDriver()
	}
	db := sql.OpenDB(countingConnector{dsn: t.dsn, drv: drv, c: c, cache: t.dialect == DialectSQLite})
	switch t.dialect {
	case DialectSQLite:
		db.SetMaxOpenConns(sqliteMaxOpenConns)
		db.SetMaxIdleConns(sqliteMaxOpenConns)
		// Never recycle the connection: an in-memory database lives in it.
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	case DialectPostgres:
		db.SetMaxOpenConns(postgresMaxOpenConns)
		db.SetMaxIdleConns(postgresMaxIdleConns)
		db.SetConnMaxIdleTime(postgresConnMaxIdle)
	}
	// sql.Open connects lazily; connect now so a bad URL fails here.
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(urlError("open", url, err), db.Close())
	}
	return &Store{db: sqlx.NewDb(db, t.driver), dialect: t.dialect, url: url, counter: c}, nil
}

// Dialect reports the backend: [DialectPostgres] or [DialectSQLite].
func (s *Store) Dialect() string { return s.dialect }

// DB returns the underlying handle, for packages that keep their own tables.
// Its Rebind turns ? placeholders into the backend's own. On SQLite it has a
// single connection: do not use it while a transaction from [Store.InTx] is
// open in the same goroutine.
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return urlError("ping", s.url, err)
	}
	return nil
}

// Close closes every connection. Transactions still open are rolled back by
// the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return urlError("close", s.url, err)
	}
	return nil
}

// InTx runs fn in a transaction, at the database's default isolation level
// (READ COMMITTED on PostgreSQL; SQLite's single writer makes transactions
// serializable), and commits it if fn returns nil. If fn
// returns an error the transaction is rolled back and fn's error is returned
// as it is, joined with the rollback's error should that fail too. If fn
// panics (or calls runtime.Goexit, as t.FailNow does) the transaction is
// rolled back and the panic carries on.
//
// fn must do all its work through tx: see the package documentation on SQLite.
// fn may run again only if the caller calls InTx again; InTx does not retry.
func (s *Store) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	var tx *sqlx.Tx
	if s.dialect == DialectPostgres {
		// The transaction on a connection of its own, which Send can reach.
		conn, err := s.db.Connx(ctx)
		if err != nil {
			return fmt.Errorf("store: begin transaction: %w", err)
		}
		defer conn.Close() // back to the pool, after the transaction ended
		if tx, err = conn.BeginTxx(ctx, nil); err != nil {
			return fmt.Errorf("store: begin transaction: %w", err)
		}
		s.conns.Store(tx, conn)
		defer s.conns.Delete(tx)
	} else {
		var err error
		if tx, err = s.db.BeginTxx(ctx, nil); err != nil {
			return fmt.Errorf("store: begin transaction: %w", err)
		}
	}
	finished := false
	defer func() {
		if !finished {
			// fn panicked or called runtime.Goexit. Without this the
			// connection would stay in the transaction for good — on SQLite,
			// the store's only connection.
			_ = tx.Rollback()
		}
	}()
	fnErr := fn(tx)
	finished = true
	if fnErr != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(fnErr, fmt.Errorf("store: roll back transaction: %w", rbErr))
		}
		return fnErr
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit transaction: %w", err)
	}
	return nil
}

// Send sends w's statements within tx, in order: on PostgreSQL in one round trip (a pgx
// batch, pipelined on the transaction's connection), so that a transaction that has read what
// it needs writes all it changed at once; on SQLite one after another. A transaction InTx did
// not begin sends them one after another too. The first statement that fails ends the send
// with its error, and the transaction is then to be rolled back.
func (s *Store) Send(ctx context.Context, tx *sqlx.Tx, w *Writes) error {
	if tx == nil {
		return errors.New("store: send: no transaction")
	}
	if err := errors.Join(w.errs...); err != nil {
		return err
	}
	c, ok := s.conns.Load(tx)
	if !ok || len(w.stmts) < 2 {
		return w.execEach(ctx, tx)
	}
	return c.(*sqlx.Conn).Raw(func(dc any) error {
		cc, ok := dc.(*countingConn)
		if !ok {
			return fmt.Errorf("store: send: connection is %T", dc)
		}
		pc, ok := cc.Conn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: send: connection is %T, not pgx's", cc.Conn)
		}
		var b pgx.Batch
		for _, st := range w.stmts {
			b.Queue(tx.Rebind(st.query), st.args...)
		}
		s.counter.statements.Add(uint64(len(w.stmts)))
		s.counter.pipelines.Add(1)
		br := pc.Conn().SendBatch(ctx, &b)
		for _, st := range w.stmts {
			if _, err := br.Exec(); err != nil {
				return errors.Join(fmt.Errorf("store: %s: %w", st.what, err), br.Close())
			}
		}
		return br.Close()
	})
}

// rebind turns the ? placeholders of query into the store's bind type.
func (s *Store) rebind(query string) string { return s.db.Rebind(query) }
