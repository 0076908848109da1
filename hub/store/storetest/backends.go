package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"yjshub/hub/store"
)

// PostgresURLEnv names the environment variable holding the PostgreSQL URL
// that tests use. When it is unset, PostgreSQL tests are skipped.
const PostgresURLEnv = "YJSHUB_TEST_DATABASE_URL"

// cleanupTimeout bounds how long dropping a test schema may take.
const cleanupTimeout = 30 * time.Second

// Opener opens a fresh, empty, unmigrated store for one test; the store is
// closed (and its database removed) when the test ends.
type Opener func(t *testing.T) *store.Store

// Backends returns an opener per backend, keyed by dialect name. The
// PostgreSQL opener skips its test when [PostgresURLEnv] is unset, so a
// package that loops over Backends shows the skip instead of silently
// testing one backend.
func Backends() map[string]Opener {
	return map[string]Opener{
		store.DialectSQLite:   OpenSQLite,
		store.DialectPostgres: OpenPostgres,
	}
}

// Migrated wraps open so that the stores it returns are already migrated.
func Migrated(open Opener) Opener {
	return func(t *testing.T) *store.Store {
		t.Helper()
		s := open(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return s
	}
}

// OpenSQLite opens a store on a new SQLite file in the test's temporary
// directory.
func OpenSQLite(t *testing.T) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db", "hub.db")
	s, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sqlite store: %v", err)
		}
	})
	return s
}

// OpenPostgres opens a store on a new schema, unique to the test, in the
// PostgreSQL database named by [PostgresURLEnv], and drops the schema when the
// test ends; tests using it may run in parallel and repeatedly. It skips the
// test when the variable is unset.
func OpenPostgres(t *testing.T) *store.Store {
	t.Helper()
	u := PostgresSchemaURL(t)
	s, err := store.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	// Registered after the schema's cleanup, so it runs first.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close postgres store: %v", err)
		}
	})
	return s
}

// PostgresSchemaURL creates a new schema, unique to the test, in the
// PostgreSQL database named by [PostgresURLEnv] and returns that database's
// URL with search_path set to the schema, for tests that open several stores
// on one database. The schema is dropped when the test ends, after stores
// opened later in the test have been closed. It skips the test when the
// variable is unset.
func PostgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := PostgresURL(t)
	schema := "t_" + randomHex(t, 8)

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres %s: %v", store.RedactDatabaseURL(base), err)
	}
	admin.SetMaxOpenConns(1)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		if err := admin.Close(); err != nil {
			t.Errorf("close postgres admin connection: %v", err)
		}
	})
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s in %s: %v", schema, store.RedactDatabaseURL(base), err)
	}

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", store.RedactDatabaseURL(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RequireRealEnv, when set (make test sets it), turns a missing real-service address from a
// skip into a failure, so that a run meant to cover PostgreSQL and Kafka cannot pass without.
const RequireRealEnv = "YJSHUB_REQUIRE_REAL"

// PostgresURL returns the test PostgreSQL URL, skipping the test when
// [PostgresURLEnv] is unset (failing it when [RequireRealEnv] is set).
func PostgresURL(t *testing.T) string {
	t.Helper()
	return RealEnv(t, PostgresURLEnv, "PostgreSQL",
		"PostgreSQL tests skipped: set "+PostgresURLEnv+" to a PostgreSQL URL (e.g. postgres://user:pass@127.0.0.1:5432/db?sslmode=disable) to run them")
}

// RealEnv returns the value of the environment variable name, which names a real service for
// the test; unset, the test is skipped with skip, or fails when [RequireRealEnv] is set, as a
// run that must cover what (the service) would otherwise pass without it.
func RealEnv(t *testing.T, name, what, skip string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" && os.Getenv(RequireRealEnv) != "" {
		t.Fatalf("%s is set but %s is not: this run must cover %s", RequireRealEnv, name, what)
	}
	if v == "" {
		t.Skip(skip)
	}
	return v
}

// PostgresCAEnv names the environment variable holding the PEM file of the CA that signs the
// test PostgreSQL server's certificate (scripts/postgres.sh turns TLS on with one).
const PostgresCAEnv = "YJSHUB_TEST_DATABASE_CA"

// PostgresCA returns the file named by [PostgresCAEnv], skipping the test when it is unset
// (failing it when [RequireRealEnv] is set).
func PostgresCA(t *testing.T) string {
	t.Helper()
	return RealEnv(t, PostgresCAEnv, "PostgreSQL over TLS",
		"PostgreSQL TLS tests skipped: set "+PostgresCAEnv+" to the PEM file of the CA that signs the server's certificate")
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
