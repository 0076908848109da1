package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Dialect names, as reported by [Store.Dialect].
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Driver names registered with database/sql by the imported drivers.
const (
	driverPostgres = "pgx"
	driverSQLite   = "sqlite"
)

// sqlitePragmas are applied to every SQLite connection the driver opens.
// busy_timeout comes first so the others do not fail on a locked file.
var sqlitePragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
	// A page cache of 16 MiB and the first 64 MiB of the file mapped into memory: the hot
	// pages of a busy hub (the recent cases, the indexes) are read from memory, not with a
	// pread each, while the hub's resident memory stays bounded as the file grows (mapped
	// pages count in it).
	"cache_size(-16384)",
	"mmap_size(67108864)",
}

// postgresParams are run-time parameters of every PostgreSQL session, unless the URL sets them.
//
// plan_cache_mode=force_custom_plan: each statement is planned with its values and the tables'
// current size. PostgreSQL otherwise settles on a generic plan after five runs of a prepared
// statement (pgx prepares every statement it sends) and keeps it until the table's statistics
// change: on a new database, plans made while the tables were nearly empty read whole tables
// (sequential scans of cases, sub-cases and materials) long after they have grown, until
// autoanalyze catches up, and the database's CPU is spent on them. The hub's statements are
// short to plan.
//
// jit=off: the hub's statements each touch a few rows; compiling one (when a stale estimate
// makes it look costly) takes longer than running it.
var postgresParams = map[string]string{"plan_cache_mode": "force_custom_plan", "jit": "off"}

// withPostgresParams adds postgresParams to a PostgreSQL URL that does not set them.
func withPostgresParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // pgx reports the bad URL
	}
	q := u.Query()
	for k, v := range postgresParams {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// target is a parsed store URL: which backend, and the DSN its driver takes.
type target struct {
	dialect string
	driver  string
	dsn     string
	// path is the SQLite file, empty for PostgreSQL and in-memory databases.
	path string
}

// parseTarget decides the backend from the URL's scheme and builds the DSN.
func parseTarget(raw string) (target, error) {
	if strings.TrimSpace(raw) == "" {
		return target{}, errors.New("empty database URL")
	}
	scheme, rest, hasScheme := strings.Cut(raw, ":")
	if !hasScheme || strings.ContainsAny(scheme, `/\.`) || len(scheme) < 2 {
		// A plain path; the length check keeps Windows drive letters (C:\…) plain too.
		return sqliteTarget(raw)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return target{dialect: DialectPostgres, driver: driverPostgres, dsn: withPostgresParams(raw)}, nil
	case "sqlite", "sqlite3", "file":
		// sqlite:///abs/path and file:///abs/path carry an empty authority.
		return sqliteTarget(strings.TrimPrefix(rest, "//"))
	default:
		return target{}, fmt.Errorf("unsupported database URL scheme %q (want postgres://, postgresql://, sqlite:PATH, file:PATH or a path)", scheme)
	}
}

// sqliteTarget builds a modernc.org/sqlite DSN: the path, then the caller's own
// query parameters, then the store's pragmas unless the caller set the same one.
func sqliteTarget(pathAndQuery string) (target, error) {
	path, rawQuery, _ := strings.Cut(pathAndQuery, "?")
	if path == "" {
		return target{}, errors.New("empty SQLite path")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return target{}, fmt.Errorf("parse SQLite parameters: %w", err)
	}
	for _, p := range sqlitePragmas {
		name, _, _ := strings.Cut(p, "(")
		if !hasPragma(q["_pragma"], name) {
			q.Add("_pragma", p)
		}
	}
	if q.Get("_txlock") == "" {
		// Take the write lock at BEGIN: a deferred transaction that reads and
		// then writes can fail with SQLITE_BUSY at once, without waiting, when
		// another process holds the lock.
		q.Set("_txlock", "immediate")
	}
	t := target{dialect: DialectSQLite, driver: driverSQLite, dsn: path + "?" + q.Encode()}
	if !isSQLiteMemory(path) {
		t.path = path
	}
	return t, nil
}

func hasPragma(pragmas []string, name string) bool {
	for _, p := range pragmas {
		p = strings.ToLower(strings.TrimSpace(p))
		if strings.HasPrefix(p, name+"(") || strings.HasPrefix(p, name+"=") || strings.HasPrefix(p, name+" ") {
			return true
		}
	}
	return false
}

func isSQLiteMemory(path string) bool {
	return strings.HasPrefix(path, ":memory:")
}

// ensureDir creates the directory that will hold the SQLite file.
func ensureDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return nil
}

// redactMask replaces every secret that RedactDatabaseURL removes.
const redactMask = "xxxxx"

var (
	passwordParam = regexp.MustCompile(`(?i)(password=)[^&\s]*`)
	userinfo      = regexp.MustCompile(`(://[^/?#\s]*?:)[^\s]*@`)
)

// RedactDatabaseURL returns the database URL with its password replaced by "xxxxx",
// both the userinfo password and a password query parameter. A URL that does
// not parse is redacted by pattern, erring towards hiding too much. Use it
// wherever a database URL could reach a log line or an error string.
func RedactDatabaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redactByPattern(raw)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redactMask)
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redactMask)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func redactByPattern(raw string) string {
	s := passwordParam.ReplaceAllString(raw, "${1}"+redactMask)
	return userinfo.ReplaceAllString(s, "${1}"+redactMask+"@")
}

// secrets lists the forms in which raw's password could appear in a driver's
// error text: as written, and unescaped.
func secrets(raw string) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != redactMask {
			out = append(out, s)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		// Whatever the patterns would hide.
		for _, m := range userinfo.FindAllStringSubmatchIndex(raw, -1) {
			add(raw[m[3] : m[1]-1])
		}
		for _, m := range passwordParam.FindAllStringSubmatchIndex(raw, -1) {
			add(raw[m[3]:m[1]])
		}
		return out
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	for _, p := range u.Query()["password"] {
		add(p)
		add(url.QueryEscape(p))
	}
	return out
}

// redactedError carries an error whose text has been scrubbed of a URL's
// secrets; errors.Is and errors.As still see the original through Unwrap.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// urlError wraps err for an operation on the database at raw, naming the
// database by its redacted URL and scrubbing the password from the driver's
// text too: drivers redact on a best-effort basis only.
func urlError(op, raw string, err error) error {
	msg := fmt.Sprintf("store: %s %s: %v", op, RedactDatabaseURL(raw), err)
	for _, s := range secrets(raw) {
		msg = strings.ReplaceAll(msg, s, redactMask)
	}
	return &redactedError{msg: msg, err: err}
}
