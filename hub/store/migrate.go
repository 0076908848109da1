package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// migrationFiles is the migrations directory itself, as goose expects it.
var migrationFiles = func() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(fmt.Sprintf("store: embedded migrations: %v", err))
	}
	return sub
}()

// gooseDialects maps the store's dialects to goose's.
var gooseDialects = map[string]goose.Dialect{
	DialectPostgres: goose.DialectPostgres,
	DialectSQLite:   goose.DialectSQLite3,
}

// Migration lock waits, PostgreSQL only: poll every second for up to five
// minutes while another hub instance migrates the same schema.
const (
	migrateLockPollSeconds = 1
	migrateLockPolls       = 300
)

// Migrate brings the schema up to date with the embedded migrations. It is
// idempotent: with nothing pending it changes nothing.
//
// On PostgreSQL, hub instances migrating the same schema at once take turns
// under an advisory lock keyed by database and schema. On SQLite, migrate from
// one process at a time.
func (s *Store) Migrate(ctx context.Context) error {
	opts, err := s.lockOption(ctx)
	if err != nil {
		return err
	}
	p, err := s.provider(opts...)
	if err != nil {
		return err
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if len(applied) > 0 {
		// Fresh statistics for the planners: a new database's first cases are otherwise planned
		// as if its tables were empty (joins as sequential scans until autoanalyze runs).
		if err := s.analyze(ctx); err != nil {
			return fmt.Errorf("store: analyze after migrating: %w", err)
		}
	}
	return nil
}

// analyze updates the planner's statistics of the hub's tables: on PostgreSQL those of its
// schema only (a plain ANALYZE would take every schema of the database, other hubs' and tests'
// included).
func (s *Store) analyze(ctx context.Context) error {
	if s.dialect != DialectPostgres {
		_, err := s.db.ExecContext(ctx, "ANALYZE")
		return err
	}
	var tables []string
	if err := s.db.SelectContext(ctx, &tables, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
		WHERE schemaname = current_schema() ORDER BY tablename`); err != nil {
		return err
	}
	if len(tables) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, "ANALYZE "+strings.Join(tables, ", "))
	return err
}

// SchemaVersion reports the highest migration version applied; 0 means none.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	current, _, err := p.GetVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return current, nil
}

// LatestSchemaVersion reports the version [Store.Migrate] brings a database to.
func LatestSchemaVersion() int64 {
	var latest int64
	for _, name := range migrationNames() {
		if v, err := goose.NumericComponent(name); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

func (s *Store) provider(extra ...goose.ProviderOption) (*goose.Provider, error) {
	dialect, ok := gooseDialects[s.dialect]
	if !ok {
		return nil, fmt.Errorf("store: migrate: no migrations for dialect %q", s.dialect)
	}
	opts := append([]goose.ProviderOption{
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithExcludeNames(otherDialectVariants(s.dialect)),
	}, extra...)
	p, err := goose.NewProvider(dialect, s.db.DB, migrationFiles, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return p, nil
}

// lockOption returns the goose option that serialises concurrent migrations
// of one PostgreSQL schema. Each schema gets its own lock id, so separate
// schemas (one per test, say) migrate in parallel.
func (s *Store) lockOption(ctx context.Context) ([]goose.ProviderOption, error) {
	if s.dialect != DialectPostgres {
		return nil, nil
	}
	var database, schema string
	if err := s.db.QueryRowContext(ctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&database, &schema); err != nil {
		return nil, fmt.Errorf("store: migrate: read current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("yjshub.migrate\x00" + database + "\x00" + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(migrateLockPollSeconds, migrateLockPolls),
	)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return []goose.ProviderOption{goose.WithSessionLocker(locker)}, nil
}

// migrationNames lists the embedded migration files.
func migrationNames() []string {
	names, err := fs.Glob(migrationFiles, "*.sql")
	if err != nil {
		// The pattern is constant and valid.
		panic(fmt.Sprintf("store: list migrations: %v", err))
	}
	return names
}

// variantDialect reports the dialect of a file named NNNNN_name.<dialect>.sql,
// or "" for a migration both dialects share.
func variantDialect(name string) string {
	base := strings.TrimSuffix(path.Base(name), ".sql")
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		return base[i+1:]
	}
	return ""
}

// otherDialectVariants lists the migration files written for dialects other
// than dialect, for goose to skip.
func otherDialectVariants(dialect string) []string {
	var out []string
	for _, name := range migrationNames() {
		if d := variantDialect(name); d != "" && d != dialect {
			out = append(out, name)
		}
	}
	return out
}
