package conformance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/connectors/signing"
	"yjshub/hub/bus"
)

// KindRestPush is the kind of department connector the kit checks: the REST push binding.
const KindRestPush = "restpush"

// Kinds lists the kinds the kit can check.
var Kinds = []string{KindRestPush, KindRestPull, KindFrontDB, KindKafka, KindPlatform}

// Config says what to check and how. Fields left zero take the defaults stated on each.
type Config struct {
	// Kind is the connector kind whose other side is checked: restpush (a department) or
	// platform (an integrated platform). Default "restpush".
	Kind string
	// Target is the department's endpoint: the URL the hub would POST sub-cases to; for the
	// platform kind, the platform's pull_url. Required. It may carry credentials; reports show
	// it only redacted.
	Target string
	// Driver is the database/sql driver of the frontdb kind's exchange database: pgx or
	// sqlite. Default: pgx for a postgres:// Target, sqlite otherwise.
	Driver string
	// SubcaseTable and ResultTable are the frontdb kind's exchange tables, bare or
	// schema-qualified. Default yjs_subcase_in and yjs_result_out, as the connector's.
	SubcaseTable, ResultTable string
	// Group is the kafka kind's consumer group of the department: the group_id of its
	// connectors file, exactly as its system commits under it. Required for kafka.
	Group string
	// Namespace is put before the kafka kind's topic names (yjs.subcase.<dept>, yjs.result)
	// when the hub runs with a bus namespace. Default none.
	Namespace string
	// PushURL is the platform's push_url, where the hub posts progress documents. Required for
	// the platform kind, not allowed for restpush. Reports show it only redacted.
	PushURL string
	// Limit is the page size the platform kit asks for (limit=…), small so that paging is
	// checked. Default 10; at most 1000.
	Limit int
	// MaxPages bounds the pages the platform kit reads. Default 20.
	MaxPages int
	// Department is the department's code, as the hub names it in data.department and in
	// its connectors file. Required for the department kinds: a department's system checks
	// that sub-cases are its own (the simulator refuses others with 400), so a made-up code
	// would fail every check for a reason that is not the department's.
	Department string
	// Headers are sent with every request (e.g. Authorization). Their values are secrets:
	// reports never show them.
	Headers map[string]string
	// SigningSecret is the restpush connector's signing_secret for this department. When set,
	// every request is signed with it, and the kit checks that a wrongly signed or stale
	// request is refused. A secret: reports never show it.
	SigningSecret string
	// Timeout bounds each request. Default 10s, the hub's own attempt timeout.
	Timeout time.Duration
	// MaxResponseTime is the longest an answer may take to pass the response-time check.
	// Default 3s.
	MaxResponseTime time.Duration

	// Callback plays the hub's events endpoint and checks the department's callbacks.
	Callback bool
	// CallbackAddr is where the events endpoint listens. Default "127.0.0.1:0" (a free port
	// on this machine only): give e.g. "0.0.0.0:8099" for a department on another machine.
	CallbackAddr string
	// CallbackURL is the base URL the department reaches the events endpoint at; sub-cases
	// carry CallbackURL/api/v1/subcases/{id}/events as data.callback. Default
	// http://<the address listened on>.
	CallbackURL string
	// Listener, when set, is where the kit's endpoint listens instead of CallbackAddr, so that
	// a caller knows the address before the run starts (to start a department client against
	// it). The kit closes it. Default none.
	Listener net.Listener
	// CallbackWait is how long to wait for the department's events. Default 30s.
	CallbackWait time.Duration

	// Progress, when set, receives a line as each check starts and ends, and the time waited
	// so far during long waits, so that a person watching a run sees it move. Default: none.
	Progress io.Writer
	// ProgressEvery is how often a long wait says it is still waiting, with the time waited
	// so far: often enough that a run against a slow or silent target never looks hung.
	// Default 2s.
	ProgressEvery time.Duration

	// Client makes the requests; its Timeout is overridden by Timeout, and it never follows
	// redirects (the hub does not). Default: a new http.Client.
	Client *http.Client
}

const (
	defaultTimeout         = 10 * time.Second
	defaultMaxResponseTime = 3 * time.Second
	defaultCallbackAddr    = "127.0.0.1:0"
	defaultCallbackWait    = 30 * time.Second
	defaultLimit           = 10
	defaultMaxPages        = 20
)

func (c *Config) setDefaults() {
	if c.Kind == "" {
		c.Kind = KindRestPush
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxResponseTime == 0 {
		c.MaxResponseTime = defaultMaxResponseTime
	}
	if c.CallbackAddr == "" {
		c.CallbackAddr = defaultCallbackAddr
	}
	if c.CallbackWait == 0 {
		c.CallbackWait = defaultCallbackWait
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.SubcaseTable == "" {
		c.SubcaseTable = defaultSubcaseTable
	}
	if c.ResultTable == "" {
		c.ResultTable = defaultResultTable
	}
	if c.Limit == 0 {
		c.Limit = defaultLimit
	}
	if c.MaxPages == 0 {
		c.MaxPages = defaultMaxPages
	}
}

// Validate reports every problem of c at once; the target appears in them only redacted,
// header values never.
func (c *Config) Validate() error {
	var errs []error
	switch c.Kind {
	case KindRestPull:
		if c.Target != "" {
			errs = append(errs, errors.New("target: not for the restpull kind (the department's client polls the kit: give --callback-addr and --callback-url)"))
		}
		if c.PushURL != "" {
			errs = append(errs, errors.New("push URL: only for the platform kind"))
		}
	case KindFrontDB:
		if c.Driver != "" && c.Driver != "pgx" && c.Driver != "sqlite" {
			errs = append(errs, fmt.Errorf("driver: %q is neither pgx nor sqlite", c.Driver))
		}
		for _, t := range []string{c.SubcaseTable, c.ResultTable} {
			if t != "" && !tableName.MatchString(t) {
				errs = append(errs, fmt.Errorf("table %q: not a table name (letters, digits, _; schema.table)", t))
			}
		}
		if c.Callback || c.PushURL != "" {
			errs = append(errs, errors.New("callback, push URL: not for the frontdb kind (results come back through the result table)"))
		}
	case KindKafka:
		if c.Group == "" {
			errs = append(errs, errors.New("group: required for the kafka kind (the department's group_id, as in its connectors file)"))
		}
		if c.Namespace != "" {
			if err := bus.ValidateTopic(c.Namespace + "x"); err != nil {
				errs = append(errs, fmt.Errorf("namespace: %q is not a topic prefix", c.Namespace))
			}
		}
		if c.Callback || c.PushURL != "" {
			errs = append(errs, errors.New("callback, push URL: not for the kafka kind (results come back on yjs.result)"))
		}
	case "", KindRestPush:
		if c.PushURL != "" {
			errs = append(errs, errors.New("push URL: only for the platform kind"))
		}
	case KindPlatform:
		if u, err := url.Parse(c.PushURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("push URL: %q is not an absolute http or https URL (the platform's push_url is required)", delivery.RedactEndpoint(c.PushURL)))
		}
		if c.Callback {
			errs = append(errs, errors.New("callback: only for the restpush kind"))
		}
		if c.Limit < 0 || c.Limit > 1000 || c.MaxPages < 0 {
			errs = append(errs, fmt.Errorf("limit %d, max pages %d: want 1..1000 and a positive number", c.Limit, c.MaxPages))
		}
	default:
		errs = append(errs, fmt.Errorf("kind: %q is not one the kit checks (%s)", c.Kind, strings.Join(Kinds, ", ")))
	}
	switch {
	case c.Kind == KindRestPull:
		// The department's client calls the kit: there is no target to reach.
	case c.Kind == KindFrontDB:
		if strings.TrimSpace(c.Target) == "" {
			errs = append(errs, errors.New("target: required (the exchange database's DSN: postgres://… or a SQLite file)"))
		}
	case c.Kind == KindKafka:
		if len(splitBrokers(c.Target)) == 0 {
			errs = append(errs, errors.New("target: required (the hub's Kafka brokers, host:port[,host:port…])"))
		}
	case strings.TrimSpace(c.Target) == "":
		errs = append(errs, errors.New("target: required (the department's endpoint URL)"))
	default:
		if u, err := url.Parse(c.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("target: %q is not an absolute http or https URL", delivery.RedactEndpoint(c.Target)))
		}
	}
	if c.Department == "" && c.Kind != KindPlatform {
		errs = append(errs, fmt.Errorf("department: required for the %s kind (the department's code, as in the connectors file and data.department)", c.Kind))
	}
	if c.Department != "" {
		if err := bus.ValidateTopic(bus.SubcaseTopic(c.Department)); err != nil {
			errs = append(errs, fmt.Errorf("department: %q is not a department code (letters, digits, '.', '_', '-')", c.Department))
		}
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "max response time": c.MaxResponseTime, "callback wait": c.CallbackWait} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", name, d))
		}
	}
	for name, v := range c.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			errs = append(errs, fmt.Errorf("header %q: not a header name", name))
		}
		if strings.ContainsAny(v, "\r\n") {
			errs = append(errs, fmt.Errorf("header %q: its value has a line break", name))
		}
	}
	if c.SigningSecret != "" {
		if err := signing.CheckSecret(c.SigningSecret); err != nil {
			errs = append(errs, fmt.Errorf("signing secret: %w", err))
		}
	}
	if c.CallbackURL != "" {
		if u, err := url.Parse(c.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("callback URL: %q is not an absolute http or https URL", delivery.RedactEndpoint(c.CallbackURL)))
		}
	}
	return errors.Join(errs...)
}
