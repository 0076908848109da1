package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
)

// Counts are what the hub has asked of its database since the store was opened: the
// statements it sent (each Exec or Query, inside a transaction or not) and the transactions it
// began. The statement-count test and `yjshub bench` divide them by the cases processed;
// /metrics exports them.
type Counts struct {
	Statements   uint64 `json:"statements"`
	Transactions uint64 `json:"transactions"`
	// Pipelines are the sends of several statements in one round trip (Send, on
	// PostgreSQL); their statements are counted in Statements.
	Pipelines uint64 `json:"pipelines"`
}

// Sub returns c minus an earlier reading.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{Statements: c.Statements - earlier.Statements, Transactions: c.Transactions - earlier.Transactions, Pipelines: c.Pipelines - earlier.Pipelines}
}

// Counts reads the store's counters.
func (s *Store) Counts() Counts {
	return Counts{Statements: s.counter.statements.Load(), Transactions: s.counter.transactions.Load(), Pipelines: s.counter.pipelines.Load()}
}

type counter struct {
	statements, transactions, pipelines atomic.Uint64
}

// countingConnector opens the driver's connections wrapped so that each statement and each
// transaction is counted. It forwards every optional interface the hub's drivers implement
// that database/sql consults (argument conversion, session reset, validity), so that wrapping
// changes nothing but the counts.
type countingConnector struct {
	dsn string
	drv driver.Driver
	c   *counter
	// cache keeps each connection's prepared statements (SQLite: its driver parses every
	// statement anew, a sixth of a busy hub's CPU; pgx caches its own).
	cache bool
}

func (k countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := k.drv.Open(k.dsn)
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: conn, c: k.c}
	if k.cache {
		cc.stmts = map[string]*cachedStmt{}
	}
	return cc, nil
}

func (k countingConnector) Driver() driver.Driver { return k.drv }

type countingConn struct {
	driver.Conn
	c     *counter
	stmts map[string]*cachedStmt // nil: no cache. A connection is used by one goroutine at a time.
}

// maxCachedStmts bounds a connection's statement cache; the hub's queries are far fewer, but a
// query built with one placeholder per value (IN lists, multi-row INSERTs) has a text per length.
const maxCachedStmts = 512

// cachedStmt is a prepared statement kept for its query text; busy while rows it returned are
// open, when the query runs on a statement of its own instead.
type cachedStmt struct {
	driver.Stmt
	busy bool
}

// cached returns the connection's prepared statement for query, preparing it if need be, or
// nil when the query is not cached: several statements in one text (migrations), a full cache,
// or its statement busy.
func (c *countingConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	if st, ok := c.stmts[query]; ok {
		if st.busy {
			return nil, nil
		}
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts || strings.Contains(strings.TrimRight(query, " \t\n;"), ";") {
		return nil, nil
	}
	p, ok := c.Conn.(driver.ConnPrepareContext)
	if !ok {
		return nil, nil
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{Stmt: st}
	c.stmts[query] = cs
	return cs, nil
}

// Close closes the cached statements, then the connection.
func (c *countingConn) Close() error {
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
	return c.Conn.Close()
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
	if st, err := c.cached(ctx, query); err != nil || st != nil {
		if err != nil {
			return nil, err
		}
		c.c.statements.Add(1)
		return st.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	}
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
	if st, err := c.cached(ctx, query); err != nil || st != nil {
		if err != nil {
			return nil, err
		}
		c.c.statements.Add(1)
		rows, err := st.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return nil, err
		}
		st.busy = true
		return &cachedRows{Rows: rows, st: st}, nil
	}
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

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	driver.Rows
	st *cachedStmt
}

func (r *cachedRows) Close() error {
	r.st.busy = false
	return r.Rows.Close()
}
