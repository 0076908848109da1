package store_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"yjshub/hub/store"
)

func TestUnavailableTellsAnOutageFromAWrongRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"a refused connection", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"a reset, wrapped", fmt.Errorf("storing the case: %w", syscall.ECONNRESET), true},
		{"a bad connection", driver.ErrBadConn, true},
		{"connection failure (08006)", &pgconn.PgError{Code: "08006"}, true},
		{"the server shutting down (57P01)", &pgconn.PgError{Code: "57P01"}, true},
		{"too many connections (53300)", &pgconn.PgError{Code: "53300"}, true},
		{"a unique violation (23505)", &pgconn.PgError{Code: "23505"}, false},
		{"a syntax error (42601)", &pgconn.PgError{Code: "42601"}, false},
		{"any other error", errors.New("no such table"), false},
		{"no error", nil, false},
	} {
		if got := store.Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable = %v, want %v", c.name, got, c.want)
		}
	}
}
