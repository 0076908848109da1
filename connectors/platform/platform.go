package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"yjshub/catalogue"
	"yjshub/connectors/casepush"
	"yjshub/connectors/delivery"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/links"
	"yjshub/hub/store"
)

// Kind is the connector kind's name.
const Kind = "platform"

// Cases is what the connector needs of the case service; *cases.Service has it.
type Cases interface {
	SubmitAs(ctx context.Context, owner string, app cases.Application, requestHash, idempotencyKey string) (*cases.CaseView, bool, error)
	Get(ctx context.Context, caseID string) (*cases.CaseView, error)
}

// Licences is what the connector needs of the e-licence library: it imports the platform's
// licences (licences_url) and reads revocations (outbound.revoked). *licences.Library has it.
type Licences interface {
	licenceImporter
	licenceReader
}

// Deps are what the connector needs of the hub, each passed in explicitly.
type Deps struct {
	// Bus, Store, Catalogue, Cases and Recorder are required: the connector follows the case
	// events on the bus, keeps its cursors, applications and pushes in the store, checks its
	// mapping against the catalogue, submits applications and records dead letters.
	Bus       *bus.Bus
	Store     *store.Store
	Catalogue *catalogue.Catalogue
	Cases     Cases
	Recorder  connector.Recorder
	// Licences is the e-licence library; required with licences_url or outbound.revoked.
	Licences Licences
	// Links signs, on each licence a result pushes whose file the hub holds (uploaded by its
	// department), a link to that file for the platform (file_link; its party is the
	// connector's name, as the platform's client is named). Optional: without it no link is
	// pushed.
	Links *links.Keyring
	// FilesBase is the hub's public base URL the links are relative to (as cases.Config's).
	// Default: a path and query.
	FilesBase string
}

// Option changes how New builds a Connector.
type Option func(*options)

type options struct {
	log  *slog.Logger
	http *http.Client
}

// WithLogger sends the connector's logs to l. Default: nothing is logged. Log lines carry
// application, case and step ids, statuses and scrubbed reasons; never a payload.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHTTPClient makes requests with a copy of hc (its transport, TLS settings, proxy).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.http = hc } }

// Connector connects one platform: it pulls the applications submitted there into the hub and
// pushes their progress, results and e-licences back; with licences_url it also imports the
// platform's e-licences into the hub's library. It is safe for concurrent use.
type Connector struct {
	cfg    Config
	cases  Cases
	cat    *catalogue.Catalogue
	rec    connector.Recorder
	log    *slog.Logger
	tables tables
	mapper *mapper
	pull   *http.Client
	client *delivery.Client
	runner *casepush.Runner

	// apps is the list of submitted applications; lics the list of e-licences, nil without
	// licences_url.
	apps, lics *feed
	licMapper  *licenceMapper
	library    licenceImporter
	licCounts  licenceCounts

	// links signs the links to the licences' files a result pushes, relative to filesBase;
	// nil: none.
	links     *links.Keyring
	filesBase string

	// revokedOut maps the revocation document and revocations reads the revoked licences;
	// both nil without outbound.revoked.
	revokedOut  *Outbound
	revocations licenceReader

	pulled, submitted, rejected, duplicates atomic.Int64
	// faults counts the applications held for a fault of the hub's, recovered those of them
	// since taken in or answered, retaken the corrected applications taken as new submissions
	// after a 退件.
	faults, recovered, retaken atomic.Int64
	// counters holds the pulls' own dead letters and last error; the pushes' are the runner's.
	counters connector.Counters
}

// New returns the connector of one platform after applying cfg's defaults and validating it
// (also against the catalogue: mapped fields, bundles, matters, materials and licence types
// must exist); the error lists every problem at once. With licences_url or outbound.revoked,
// deps.Licences is required.
func New(cfg Config, deps Deps, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	b, st, svc, rec, cat := deps.Bus, deps.Store, deps.Cases, deps.Recorder, deps.Catalogue
	for _, dep := range []struct {
		name    string
		missing bool
	}{{"bus", b == nil}, {"store", st == nil}, {"catalogue", cat == nil}, {"cases", svc == nil}, {"recorder", rec == nil}} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%s: required", dep.name))
		}
	}
	var m *mapper
	var lm *licenceMapper
	var lib licenceImporter
	var rev licenceReader
	if cat != nil {
		m = newMapper(cfg.Inbound, cat)
		errs = append(errs, m.check(), cfg.Outbound.Revoked.check(cat))
		if cfg.LicencesURL != "" {
			lm = newLicenceMapper(cfg.LicenceFields, cat)
			errs = append(errs, lm.check())
		}
	}
	if cfg.Outbound.Revoked != nil {
		if deps.Licences != nil {
			rev = deps.Licences
		} else {
			errs = append(errs, errors.New("outbound.revoked: the hub's e-licence library is required to tell of revocations"))
		}
	}
	if cfg.LicencesURL != "" {
		if deps.Licences != nil {
			lib = deps.Licences
		} else {
			errs = append(errs, errors.New("licences_url: the hub's e-licence library is required to import licences"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("platform %s: invalid configuration: %w", cfg.Name, err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Connector{cfg: cfg, cases: svc, cat: cat, rec: rec, mapper: m, licMapper: lm, library: lib, tables: tables{st: st, platform: cfg.Name},
		revokedOut: cfg.Outbound.revoked(), revocations: rev, log: o.log.With("connector", Kind+":"+cfg.Name),
		links: deps.Links, filesBase: strings.TrimRight(deps.FilesBase, "/")}
	c.apps = &feed{what: "applications", url: cfg.PullURL, cursors: appCursors, take: c.intake, afterRound: c.afterRound}
	if cfg.LicencesURL != "" {
		c.lics = &feed{what: "licences", url: cfg.LicencesURL, cursors: licenceCursors, take: c.takeLicence}
	}
	hc := &http.Client{}
	if o.http != nil {
		copied := *o.http
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.pull = hc
	client, err := delivery.NewClient(delivery.ClientConfig{Endpoint: cfg.PushURL, Timeout: cfg.Timeout, Headers: cfg.Headers, SigningSecret: cfg.SigningSecret,
		Retry: cfg.Retry, UserAgent: "yjshub-platform"}, hc)
	if err != nil {
		return nil, fmt.Errorf("platform %s: push_url: %w", cfg.Name, err)
	}
	c.client = client
	runner, err := casepush.NewRunner(casepush.RunnerConfig{Name: c.Name(), GroupID: cfg.GroupID, Concurrency: cfg.Concurrency}, b, client,
		casepush.NewLedger(st, c.Name()), rec, planner{c}, c.log)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", cfg.Name, err)
	}
	c.runner = runner
	return c, nil
}

// Name is the connector's name in the status API: platform:<name>.
func (c *Connector) Name() string { return Kind + ":" + c.cfg.Name }

// Run pulls applications (and e-licences) and pushes progress until ctx ends (then it returns
// nil) or the store fails (then it returns the error; the manager runs it again). A platform
// that does not answer is not an error: the connector waits and tries again, and its status
// says so.
func (c *Connector) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	loops := []func(context.Context) error{c.runner.Run, func(ctx context.Context) error { return c.pullLoop(ctx, c.apps) }}
	if c.lics != nil {
		loops = append(loops, func(ctx context.Context) error { return c.pullLoop(ctx, c.lics) })
	}
	errc := make(chan error, len(loops))
	for _, loop := range loops {
		go func() { errc <- loop(ctx) }()
	}
	errs := []error{<-errc}
	cancel()
	for range len(loops) - 1 {
		errs = append(errs, <-errc)
	}
	if parent.Err() != nil {
		return nil
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return fmt.Errorf("%s: stopped before its context ended", c.Name())
}

// Status reports the connector: its consumer group on yjs.case.event (the manager fills in
// the lag), pushes delivered, the documents the platform is sent (Detail["documents"]: revoked
// only with outbound.revoked), applications pulled, submitted and rejected, and with
// licences_url the e-licences pulled, imported, already known, rejected and repeated
// (Detail["licences"]).
func (c *Connector) Status() connector.Status {
	rs := c.runner.Stats()
	cursor, lastPull, lastSuccess := c.apps.state()
	detail := map[string]any{
		"level": c.cfg.Level, "pull_url": delivery.RedactEndpoint(c.cfg.PullURL), "push_url": c.client.Endpoint(),
		"cursor": cursor, "pulls": c.apps.pulls.Load(), "pulled": c.pulled.Load(), "submitted": c.submitted.Load(),
		"rejected": c.rejected.Load(), "duplicates": c.duplicates.Load(), "faults": c.faults.Load(), "recovered": c.recovered.Load(),
		"retaken": c.retaken.Load(), "documents": c.documents(),
	}
	if !lastPull.IsZero() {
		detail["last_pull"] = lastPull
	}
	if c.lics != nil {
		licCursor, licLastPull, licLastSuccess := c.lics.state()
		lics := map[string]any{
			"url": delivery.RedactEndpoint(c.cfg.LicencesURL), "cursor": licCursor, "pulls": c.lics.pulls.Load(),
			"pulled": c.licCounts.pulled.Load(), "imported": c.licCounts.imported.Load(), "known": c.licCounts.known.Load(),
			"rejected": c.licCounts.rejected.Load(), "repeated": c.licCounts.repeated.Load(),
		}
		if !licLastPull.IsZero() {
			lics["last_pull"] = licLastPull
		}
		detail["licences"] = lics
		lastSuccess = latest(lastSuccess, licLastSuccess)
	}
	cs := c.counters.Snapshot()
	history := rs.History // the pushes, with the refused applications and licences of the pulls
	history.Add(cs.History)
	st := connector.Status{
		Name: c.Name(), Kind: Kind, Topic: bus.TopicCaseEvent, Group: c.cfg.GroupID,
		Delivered: rs.Delivered, Retries: rs.Retries, Failed: rs.Failed + cs.Failed, DeadLetters: rs.Failed + cs.Failed,
		InFlight:    rs.InFlight,
		History:     &history,
		LastSuccess: connector.TimePtr(latest(rs.LastSuccess, lastSuccess)),
		Detail:      detail,
	}
	st.LastError, st.LastErrorMessage = connector.TimePtr(cs.LastError), cs.LastErrorMessage
	if rs.LastError.After(cs.LastError) {
		st.LastError, st.LastErrorMessage = connector.TimePtr(rs.LastError), rs.LastErrorMessage
	}
	return st
}

// afterRound runs after every pull of applications: the applications held for a fault are
// tried again, then the rejections are reported.
func (c *Connector) afterRound(ctx context.Context) error {
	if err := c.retryFaults(ctx); err != nil {
		return err
	}
	return c.reportRejections(ctx)
}

// documents lists the documents the platform is sent, in the order of a case.
func (c *Connector) documents() []string {
	docs := []string{stepRejected, stepAccepted, stepSupplement, stepResult, stepCompleted, stepWithdrawn}
	if c.revokedOut != nil {
		docs = append(docs, stepRevoked)
	}
	return docs
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// note records a failure for Status; msg must be scrubbed.
func (c *Connector) note(msg string) {
	c.counters.Failure(time.Now(), msg)
}
