package frontdb

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"testing/fstest"
	"text/template"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// tables names the exchange tables of one configuration, as the migrations and queries use
// them. Every name has passed Config.Validate's identifier rule, so it goes into SQL as it is.
type tables struct {
	// Postgres picks PostgreSQL's syntax where the dialects differ.
	Postgres bool
	// Subcase and Result are the table names, qualified by the schema when one is configured.
	Subcase, Result string
	// SubcaseName and ResultName are the bare names, for index names.
	SubcaseName, ResultName string
	// File is the table of material files (material_files), qualified like the others.
	File string
	// Version is goose's table of applied migrations: one per staging table, so that two
	// departments sharing one database keep separate histories.
	Version string
}

func newTables(cfg Config) tables {
	q := func(name string) string {
		if cfg.Schema == "" {
			return name
		}
		return cfg.Schema + "." + name
	}
	return tables{
		Postgres: cfg.Driver == DriverPostgres,
		Subcase:  q(cfg.SubcaseTable), Result: q(cfg.ResultTable),
		SubcaseName: cfg.SubcaseTable, ResultName: cfg.ResultTable,
		File:    q(cfg.FileTable),
		Version: q(cfg.SubcaseTable + "_migrations"),
	}
}

// render returns the embedded migrations filled in for t, as the file system goose reads.
// fstest.MapFS is a plain map-backed fs.FS, used here as such.
func render(t tables) (fs.FS, error) {
	names, err := fs.Glob(embedded, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for _, name := range names {
		src, err := embedded.ReadFile(name)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, t); err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out[path.Base(name)] = &fstest.MapFile{Data: buf.Bytes(), Mode: 0o444}
	}
	return out, nil
}

// Migration lock waits, PostgreSQL only: poll every second for up to five minutes while
// another hub instance migrates the same tables.
const (
	migrateLockPollSeconds = 1
	migrateLockPolls       = 300
)

// migrate creates or upgrades the exchange tables. On PostgreSQL, hub instances migrating the
// same tables at once take turns under an advisory lock; a configured schema that does not
// exist is created.
func migrate(ctx context.Context, db *sqlx.DB, cfg Config) error {
	t := newTables(cfg)
	fsys, err := render(t)
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(t.Version),
	}
	if t.Postgres {
		dialect = goose.DialectPostgres
		if cfg.Schema != "" {
			if err := ensureSchema(ctx, db, cfg.Schema); err != nil {
				return err
			}
		}
		var database, schema string
		if err := db.QueryRowContext(ctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&database, &schema); err != nil {
			return fmt.Errorf("read the current schema: %w", err)
		}
		if cfg.Schema != "" {
			schema = cfg.Schema
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte("yjshub.frontdb\x00" + database + "\x00" + schema + "\x00" + cfg.SubcaseTable))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())),
			lock.WithLockTimeout(migrateLockPollSeconds, migrateLockPolls))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB, fsys, opts...)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	return nil
}

// ensureSchema creates schema unless it exists: CREATE SCHEMA IF NOT EXISTS would need the
// right to create schemas even when it does.
func ensureSchema(ctx context.Context, db *sqlx.DB, schema string) error {
	var exists bool
	if err := db.GetContext(ctx, &exists, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

// checkTables verifies that the exchange tables have every column the connector uses, so that
// a department-owned schema that lacks one fails at start, not on the first sub-case.
func checkTables(ctx context.Context, db *sqlx.DB, t tables, files bool) error {
	queries := []string{
		`SELECT seq, id, event_type, case_id, subcase_id, matter_code, department, form_json, materials_json, envelope_json, created_at, picked_up_at
			FROM ` + t.Subcase + ` WHERE 1 = 0`,
		`SELECT seq, result_id, subcase_id, type, time, comment, reason, decision_number, licences_json, missing_json,
			department_ref, created_at, processed_at, error FROM ` + t.Result + ` WHERE 1 = 0`,
	}
	if files {
		queries = append(queries, `SELECT sha256, content_type, size, content, created_at FROM `+t.File+` WHERE 1 = 0`)
	}
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}
