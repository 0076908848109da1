package frontdb

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"yjshub/hub/bus"
)

// Drivers the connector speaks: database/sql driver names.
const (
	DriverPostgres = "pgx"
	DriverSQLite   = "sqlite"
)

// Config configures the front-end exchange database (前置库) connector of one department.
// Fields left zero take the defaults stated on each; [New] applies them and then validates.
type Config struct {
	// Department is the department's code; the connector consumes bus.SubcaseTopic(Department).
	// Required.
	Department string `yaml:"department" json:"department"`

	// Driver is "pgx" (PostgreSQL) or "sqlite". Required.
	Driver string `yaml:"driver" json:"driver"`

	// DSN is the data source name the driver opens: a postgres:// URL or key=value string
	// for pgx, a file path (with optional ?_pragma=… parameters) for sqlite. Required. It is a
	// secret: logs, errors and the status show it only redacted (store.RedactDatabaseURL).
	DSN string `yaml:"dsn" json:"dsn"`

	// Schema is the PostgreSQL schema holding the exchange tables. Default: none, the tables
	// are found through the connection's search_path. Not for sqlite.
	Schema string `yaml:"schema,omitempty" json:"schema,omitempty"`

	// SubcaseTable is the staging table the hub writes sub-cases into. Default yjs_subcase_in.
	SubcaseTable string `yaml:"subcase_table,omitempty" json:"subcase_table,omitempty"`

	// ResultTable is the table the department writes its results into. Default yjs_result_out.
	ResultTable string `yaml:"result_table,omitempty" json:"result_table,omitempty"`

	// PollInterval is how often the result table is read. Default 2s.
	PollInterval time.Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`

	// BatchSize is how many result rows one poll reads at most; a full batch is followed by
	// the next at once. Default 100.
	BatchSize int `yaml:"batch_size,omitempty" json:"batch_size,omitempty"`

	// Migrate says whether the connector creates and upgrades the exchange tables when it
	// starts (the migrations under migrations/, see README.md). Set it to false when the
	// department owns the schema: the connector then only checks that the tables have the
	// columns it uses. Default true.
	Migrate *bool `yaml:"migrate,omitempty" json:"migrate,omitempty"`

	// GroupID is the Kafka consumer group. Hub instances with the same GroupID share the
	// department's partitions. Default "yjshub-frontdb-<department>".
	GroupID string `yaml:"group_id,omitempty" json:"group_id,omitempty"`

	// Concurrency is how many sub-cases each hub instance writes into the staging table at
	// once. One case's sub-cases are still written one at a time, in order (they share its
	// key), so their seq keeps the order they were dispatched in; offsets are committed in
	// batches once written and recorded. Default 8; 1 writes one sub-case at a time.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`

	// MaterialFiles says whether the connector writes the bytes of the materials the hub holds
	// into FileTable, besides the signed links in materials_json: for a department whose
	// system reads the exchange database and cannot reach the hub. Each file written is a read
	// of the material, in the audit log like a read through a link (connector frontdb).
	// Default false: links only.
	MaterialFiles bool `yaml:"material_files,omitempty" json:"material_files,omitempty"`

	// FileTable is the table of material files. Default: the SubcaseTable's name with _file
	// (yjs_subcase_in_file), so that departments sharing one database, each with its own
	// staging table, never share one.
	FileTable string `yaml:"file_table,omitempty" json:"file_table,omitempty"`
}

const (
	defaultSubcaseTable = "yjs_subcase_in"
	defaultResultTable  = "yjs_result_out"
	fileTableSuffix     = "_file"
	defaultPollInterval = 2 * time.Second
	defaultBatchSize    = 100
	groupIDPrefix       = "yjshub-frontdb-"
	defaultConcurrency  = 8
	maxConcurrency      = 64
)

// identifier is what a schema or table name may be: it goes into SQL unquoted.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

func (c *Config) setDefaults() {
	if c.SubcaseTable == "" {
		c.SubcaseTable = defaultSubcaseTable
	}
	if c.ResultTable == "" {
		c.ResultTable = defaultResultTable
	}
	if c.FileTable == "" {
		c.FileTable = c.SubcaseTable + fileTableSuffix
	}
	if c.PollInterval == 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.GroupID == "" && c.Department != "" {
		c.GroupID = groupIDPrefix + c.Department
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency
	}
}

// migrate reports whether the connector runs the migrations.
func (c *Config) migrate() bool { return c.Migrate == nil || *c.Migrate }

// Validate reports every problem in c at once. It does not apply defaults: zero values are
// accepted because they mean "use the default". The DSN never appears in its messages.
func (c *Config) Validate() error {
	var errs []error
	if c.Department == "" {
		errs = append(errs, errors.New("department: required"))
	} else if err := bus.ValidateTopic(bus.SubcaseTopic(c.Department)); err != nil {
		errs = append(errs, fmt.Errorf("department: %q does not make a topic name: %w", c.Department, err))
	}
	switch c.Driver {
	case DriverPostgres, DriverSQLite:
	case "":
		errs = append(errs, fmt.Errorf("driver: required (%q or %q)", DriverPostgres, DriverSQLite))
	default:
		errs = append(errs, fmt.Errorf("driver: %q is not %q or %q", c.Driver, DriverPostgres, DriverSQLite))
	}
	if strings.TrimSpace(c.DSN) == "" {
		errs = append(errs, errors.New("dsn: required"))
	}
	if c.Schema != "" {
		if c.Driver == DriverSQLite {
			errs = append(errs, errors.New("schema: only for driver pgx"))
		} else if !identifier.MatchString(c.Schema) {
			errs = append(errs, fmt.Errorf("schema: %q is not a lower-case SQL identifier of at most 51 characters", c.Schema))
		}
	}
	for _, t := range []struct{ name, v string }{{"subcase_table", c.SubcaseTable}, {"result_table", c.ResultTable}, {"file_table", c.FileTable}} {
		if t.v != "" && !identifier.MatchString(t.v) {
			errs = append(errs, fmt.Errorf("%s: %q is not a lower-case SQL identifier of at most 51 characters", t.name, t.v))
		}
	}
	if c.SubcaseTable != "" && c.SubcaseTable == c.ResultTable {
		errs = append(errs, fmt.Errorf("result_table: %q is also the subcase_table", c.ResultTable))
	}
	if c.FileTable != "" && (c.FileTable == c.SubcaseTable || c.FileTable == c.ResultTable) {
		errs = append(errs, fmt.Errorf("file_table: %q is also the subcase_table or the result_table", c.FileTable))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll_interval: %v is negative", c.PollInterval))
	}
	if c.BatchSize < 0 || c.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("batch_size: %d is not from 1 to 10000", c.BatchSize))
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", c.Concurrency, maxConcurrency))
	}
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
	}
	return errors.Join(errs...)
}

// LogValue shows the configuration with the DSN redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("department", c.Department),
		slog.String("driver", c.Driver),
		slog.String("dsn", RedactDSN(c.DSN)),
		slog.String("schema", c.Schema),
		slog.String("subcase_table", c.SubcaseTable),
		slog.String("result_table", c.ResultTable),
		slog.Duration("poll_interval", c.PollInterval),
		slog.Bool("migrate", c.migrate()),
		slog.String("group_id", c.GroupID),
		slog.Int("concurrency", c.Concurrency),
		slog.Bool("material_files", c.MaterialFiles),
		slog.String("file_table", c.FileTable),
	)
}
