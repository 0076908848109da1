package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
)

// Counts are what the hub has asked of its database since the store was opened: the
// statements it sent (each Exec or Query, inside a transaction or not) and the transactions it
// began. The statement-count test and `yjshub bench` divide them by the cases processed;
// /metrics exports them.
type Counts struct {
	Statements   uint64 `json:"statements"`
	Transactions uint64 `json:"transactions"`
}

// Sub returns c minus an earlier reading.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{Statements: c.Statements - earlier.Statements, Transactions: c.Transactions - earlier.Transactions}
}

// Counts reads the store's counters.
func (s *Store) Counts() Counts {
	return Counts{Statements: s.counter.statements.Load(), Transactions: s.counter.transactions.Load()}
}

type counter struct {
	statements, transactions atomic.Uint64
}

// countingConnector opens the driver's connections wrapped so that each statement and each
// transaction is counted. It forwards every optional interface the hub's drivers implement
// that database/sql consults (argument conversion, session reset, validity), so that wrapping
// changes nothing but the counts.
type countingConnector struct {
	dsn string
	drv driver.Driver
	c   *counter
}

func (k countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := k.drv.Open(k.dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: k.c}, nil
}

func (k countingConnector) Driver() driver.Driver { return k.drv }

type countingConn struct {
	driver.Conn
	c *counter
}

var (
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
)

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares the statement instead, and counts it there
	}
	r, err := e.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.statements.Add(1)
	}
	return r, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := q.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.statements.Add(1)
	}
	return r, err
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: c.c}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.c.transactions.Add(1)
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 only for a driver without BeginTx, which the hub's two drivers have
	return c.Conn.Begin()
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// countingStmt counts the executions of a prepared statement.
type countingStmt struct {
	driver.Stmt
	c *counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.statements.Add(1)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("store: the driver's statement cannot take a context")
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.statements.Add(1)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errors.New("store: the driver's statement cannot take a context")
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
