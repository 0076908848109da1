package store_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.OpenSQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // skips, with the reason, when unset
	storetest.Run(t, storetest.OpenPostgres)
}

func TestConcurrentMigrateOfOnePostgresSchemaAppliesEachMigrationOnce(t *testing.T) {
	t.Parallel()
	u := storetest.PostgresSchemaURL(t)
	const instances = 3
	stores := make([]*store.Store, instances)
	for i := range stores {
		s, err := store.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close instance %d: %v", i, err)
			}
		})
		stores[i] = s
	}
	// Create goose's version table up front, so that the instances do not
	// merely take turns at creating it and really race for the migrations.
	if _, err := stores[0].SchemaVersion(t.Context()); err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Migrate: %v", err)
	}
	var applied int
	if err := stores[0].DB().GetContext(t.Context(), &applied,
		"SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0 AND is_applied"); err != nil {
		t.Fatalf("count applied migrations: %v", err)
	}
	if want := migrationVersions(t); applied != want {
		t.Errorf("%d migrations recorded as applied, want %d, each once", applied, want)
	}
}

// migrationVersions counts the distinct versions of the migration files: not the latest
// version, for numbers are handed out ahead of the work and a tree may lack some of them.
func migrationVersions(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]bool{}
	for _, e := range entries {
		if v, _, ok := strings.Cut(e.Name(), "_"); ok && strings.HasSuffix(e.Name(), ".sql") {
			versions[v] = true
		}
	}
	return len(versions)
}

func TestOpenPostgresWithWrongPasswordDoesNotLeakIt(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", store.RedactDatabaseURL(storetest.PostgresURL(t)), err)
	}
	const wrong = "not-the-Pa55word"
	user := "yjshub"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, wrong)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := store.Open(ctx, u.String())
	if err == nil {
		_ = s.Close()
		t.Skip("the server accepted a wrong password (trust authentication); nothing to check")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("Open error contains the password: %v", err)
	}
}

func TestOpenSQLiteURLForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
	}{
		{"A sqlite: URL with an absolute path", "sqlite:" + dir + "/a/hub.db"},
		{"A sqlite:// URL with an empty authority", "sqlite://" + dir + "/b/hub.db"},
		{"A file: URL", "file:" + dir + "/c/hub.db"},
		{"A plain path", dir + "/d/hub.db"},
		{"A URL that keeps its own parameters", "sqlite:" + dir + "/e/hub.db?_pragma=cache_size(-4000)"},
		{"An in-memory database", "sqlite::memory:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s, err := store.Open(ctx, tc.url)
			if err != nil {
				t.Fatalf("Open(%s): %v", tc.url, err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			if s.Dialect() != store.DialectSQLite {
				t.Errorf("Dialect() = %q, want %q", s.Dialect(), store.DialectSQLite)
			}
			var fk int
			if err := s.DB().GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil {
				t.Fatalf("read foreign_keys: %v", err)
			}
			if fk != 1 {
				t.Errorf("foreign_keys = %d, want 1", fk)
			}
			var busy int
			if err := s.DB().GetContext(ctx, &busy, "PRAGMA busy_timeout"); err != nil {
				t.Fatalf("read busy_timeout: %v", err)
			}
			if busy != 10000 {
				t.Errorf("busy_timeout = %d, want 10000", busy)
			}
			if tc.url == "sqlite::memory:" {
				return
			}
			var mode string
			if err := s.DB().GetContext(ctx, &mode, "PRAGMA journal_mode"); err != nil {
				t.Fatalf("read journal_mode: %v", err)
			}
			if mode != "wal" {
				t.Errorf("journal_mode = %q, want wal", mode)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		})
	}
}

func TestOpenRejectsUnusableURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "   ", "mysql://localhost/db", "sqlite:"} {
		if s, err := store.Open(t.Context(), u); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q): no error", u)
		}
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"A userinfo password is masked", "postgres://hub:s3cret@db:5432/hub?sslmode=disable", "postgres://hub:xxxxx@db:5432/hub?sslmode=disable"},
		{"A password query parameter is masked", "postgres://db/hub?password=s3cret&sslmode=disable", "postgres://db/hub?password=xxxxx&sslmode=disable"},
		{"A URL without a password is unchanged", "postgres://hub@db/hub", "postgres://hub@db/hub"},
		{"A SQLite path is unchanged", "sqlite:/var/lib/yjshub/hub.db", "sqlite:/var/lib/yjshub/hub.db"},
		{"An escaped password is masked", "postgres://hub:p%40ss%2Fw@db/hub", "postgres://hub:xxxxx@db/hub"},
		{"An unparseable URL is masked by pattern", "postgres://hub:s3cret@db:notaport/hub", "postgres://hub:xxxxx@db:notaport/hub"},
		{"An unparseable URL with a password parameter is masked", "postgres://db:x/hub?password=s3cret", "postgres://db:x/hub?password=xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := store.RedactDatabaseURL(tc.in); got != tc.want {
				t.Errorf("RedactDatabaseURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestOpenErrorKeepsTheCause(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := store.Open(ctx, "postgres://hub:s3cret@127.0.0.1:1/hub?sslmode=disable")
	if err == nil {
		t.Fatal("Open with a cancelled context: no error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open error %v does not wrap context.Canceled", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open error contains the password: %v", err)
	}
}
