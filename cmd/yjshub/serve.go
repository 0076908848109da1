package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/connectors"
	"yjshub/connectors/restpush"
	"yjshub/connectors/signing"
	"yjshub/deptsim"
	"yjshub/hub"
	"yjshub/hub/api"
	"yjshub/hub/auth"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/deadletter"
	"yjshub/hub/metrics"
	"yjshub/hub/pseudonym"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
	"yjshub/hub/ui"
)

// serveOptions are the settings of `yjshub serve`.
type serveOptions struct {
	addr           string
	publicURL      string
	dataDir        string
	seeds          string
	connectorsFile string
	clientsFile    string
	pseudonymKeys  string
	noAuth         bool
	noUI           bool // --ui=false: no operator console at /ui/
	simulate       bool
	simConfig      string
	databaseURL    string
	brokers        []string
	namespace      string
	materialHosts  []string
	division       string // the division code case numbers begin with
	serverLimits   api.ServerLimits
	limits         api.Limits
	feedMaxWait    time.Duration
	sessionTimeout time.Duration   // consumer-group session; 0: the bus's default
	kafkaTLS       *bus.TLSConfig  // nil: plaintext
	kafkaSASL      *bus.SASLConfig // nil: no authentication
	tls            tlsOptions
	// otelEndpoint is the OTLP/HTTP receiver spans are exported to; "" leaves it to the
	// standard OTEL_EXPORTER_OTLP_* variables (tracing.Config.Endpoint).
	otelEndpoint string
	// ready, when set, receives the listener's address once the hub serves.
	ready chan<- string
	// simulator, when set, receives the in-process simulator (tests read its stats).
	simulator chan<- *deptsim.Simulator
	// busReady, when set, receives the brokers the bus uses once it is open: the embedded
	// broker's port is chosen at start, and yjshub bench measures raw Kafka on it.
	busReady chan<- []string
	// files are the settings of the materials' files (serve_files.go).
	files fileOptions
}

func serveCommand() *cobra.Command {
	var o serveOptions
	var materialHosts string
	var console bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: the HTTP API, the store, the Kafka bus and the department connectors",
		Long: `Run the hub.

With YJSHUB_DATABASE_URL and YJSHUB_KAFKA_BROKERS unset the hub is self-contained: SQLite and an
embedded Kafka-protocol broker keep their data under --data-dir. Set YJSHUB_DATABASE_URL
(postgres://…) and YJSHUB_KAFKA_BROKERS (host:port,host:port) to use PostgreSQL and Apache Kafka;
YJSHUB_KAFKA_NAMESPACE prefixes every topic and consumer group, so that several hubs can share a
Kafka cluster. YJSHUB_KAFKA_TLS_CA (or YJSHUB_KAFKA_TLS=1 for the system's CAs),
YJSHUB_KAFKA_TLS_CERT and YJSHUB_KAFKA_TLS_KEY make the bus speak TLS to the brokers;
YJSHUB_KAFKA_SASL_MECHANISM (SCRAM-SHA-512, the default, or SCRAM-SHA-256),
YJSHUB_KAFKA_SASL_USER and YJSHUB_KAFKA_SASL_PASSWORD authenticate it.
YJSHUB_KAFKA_SESSION_TIMEOUT (default 6s; 2s on the embedded broker) is how soon a killed
instance's partitions move to the others: lower it to 2s where the brokers'
group.min.session.timeout.ms allows. /readyz says ready once every consumer has joined its group.

--tls-cert and --tls-key serve HTTPS (TLS 1.2 or later); --tls-client-ca also requires every
client to present a certificate that CA signed. Plain HTTP is served on a loopback address only,
unless --behind-proxy says that a proxy in front of the hub terminates TLS.

--connectors names the deployment's connectors file (how each department is reached).
--clients names the API clients file (platforms, departments, operators and the SHA-256 of their
keys; 'yjshub clients new' makes a key). Without it the API does not authenticate, which serve
allows only on a loopback address unless --no-auth says so.
--otel-endpoint exports the hub's spans over OTLP/HTTP (a collector's base URL such as
http://collector:4318, to which /v1/traces is added, or a full URL); without it the standard
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT are honoured, and with neither
nothing is exported. Every case has a trace id either way (W3C Trace Context: a platform's
traceparent header is continued), shown as trace_id on the case and carried to the departments.
--simulate wires a simulated back office (see 'yjshub deptsim') into every department that the
connectors file does not configure, so cases complete without real department systems.
The operator console is served at /ui/ (an operator key signs in); --ui=false serves the API only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.databaseURL = os.Getenv("YJSHUB_DATABASE_URL")
			o.brokers = splitList(os.Getenv("YJSHUB_KAFKA_BROKERS"))
			o.namespace = os.Getenv("YJSHUB_KAFKA_NAMESPACE")
			o.materialHosts = splitList(materialHosts)
			o.noUI = !console
			o.kafkaTLS, o.kafkaSASL = kafkaSecurityFromEnv()
			fileFlagsFromCommand(cmd, &o.files)
			if v := os.Getenv("YJSHUB_KAFKA_SESSION_TIMEOUT"); v != "" {
				d, err := time.ParseDuration(v)
				if err != nil || d < time.Second {
					return usageError{fmt.Errorf("YJSHUB_KAFKA_SESSION_TIMEOUT %q: not a duration of 1s or more", v)}
				}
				o.sessionTimeout = d
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			return serve(ctx, o, logger)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	cmd.Flags().StringVar(&o.publicURL, "public-url", "", "the URL departments call back (default http://ADDR)")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "./data", "where the embedded database and broker keep their data")
	cmd.Flags().StringVar(&o.connectorsFile, "connectors", os.Getenv("YJSHUB_CONNECTORS"), "connectors file (env YJSHUB_CONNECTORS)")
	cmd.Flags().StringVar(&o.clientsFile, "clients", os.Getenv("YJSHUB_CLIENTS"), "API clients file (env YJSHUB_CLIENTS)")
	cmd.Flags().StringVar(&o.pseudonymKeys, "pseudonym-keys", os.Getenv("YJSHUB_PSEUDONYM_KEYS"),
		"the keyring of holder pseudonyms, made on first start (default --data-dir/"+pseudonym.FileName+"; env YJSHUB_PSEUDONYM_KEYS)")
	cmd.Flags().BoolVar(&console, "ui", true, "serve the operator console at /ui/ (--ui=false: the API only)")
	cmd.Flags().BoolVar(&o.noAuth, "no-auth", false, "serve without authentication on a non-loopback address (never in production)")
	cmd.Flags().StringVar(&materialHosts, "material-hosts", os.Getenv("YJSHUB_MATERIAL_HOSTS"),
		"hosts materials' files may be on, comma-separated: host or *.domain (env YJSHUB_MATERIAL_HOSTS; default: any public DNS name, https only)")
	cmd.Flags().StringVar(&o.division, "division", cmp.Or(os.Getenv("YJSHUB_DIVISION"), cases.DefaultDivision),
		"the division code (GB/T 2260, six digits) every case number begins with (env YJSHUB_DIVISION)")
	cmd.Flags().IntVar(&o.serverLimits.MaxConns, "max-conns", 1024, "connections served at once; beyond, 503 (health probes still answered)")
	cmd.Flags().DurationVar(&o.feedMaxWait, "feed-max-wait", api.DefaultFeedMaxWait, "the longest a long poll of the change feed (GET /api/v1/events?wait=) is held, under the 1m bound on an answer; lower it behind a proxy that cuts idle requests sooner")
	cmd.Flags().IntVar(&o.limits.MaxInFlight, "max-in-flight", 256, "requests handled at once; beyond, 503 with Retry-After")
	cmd.Flags().Float64Var(&o.limits.RatePerSecond, "client-rate", 100, "requests a second each client may make (a clients file entry may set its own); beyond, 429")
	cmd.Flags().IntVar(&o.limits.Burst, "client-burst", 200, "requests each client may make at once")
	cmd.Flags().StringVar(&o.otelEndpoint, "otel-endpoint", "",
		"export spans over OTLP/HTTP to this receiver, e.g. http://collector:4318 (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; neither: no export)")
	cmd.Flags().BoolVar(&o.simulate, "simulate", false, "simulate the back office of every department without a configured connector")
	cmd.Flags().StringVar(&o.simConfig, "simulator-config", "", "YAML configuration of the simulated departments (decisions, delays, failures)")
	tlsFlags(cmd, &o.tls)
	seedsFlag(cmd, &o.seeds)
	fileFlags(cmd, &o.files)
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// supervise runs fn until ctx ends, starting it again (after a pause) when it fails.
func supervise(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger, name string, fn func(context.Context) error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			err := fn(ctx)
			if ctx.Err() != nil {
				return
			}
			logger.Warn("restarting after failure", "component", name, "error", err)
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// serve runs the hub until ctx ends, then shuts down gracefully. The steps read top to bottom:
// the files it runs on, the store and the bus, the listener, the services, what runs in the
// background (the outbox relay, the simulated departments, the connectors, the file watchers),
// and the HTTP server. What a step starts is stopped, in reverse order, when serve returns.
func serve(ctx context.Context, o serveOptions, logger *slog.Logger) error {
	if o.feedMaxWait < 0 || o.feedMaxWait >= time.Minute {
		return usageError{fmt.Errorf("--feed-max-wait %s: must be from 0s to under 1m, the bound on an answer", o.feedMaxWait)}
	}
	if err := (tracing.Config{Endpoint: o.otelEndpoint}).Validate(); err != nil {
		return usageError{fmt.Errorf("--otel-endpoint: %w", err)}
	}
	o.files = o.files.withDefaults()
	if err := o.files.validate(); err != nil {
		return usageError{err}
	}
	in, err := loadInputs(o, logger)
	if err != nil {
		return err
	}
	rules, err := loadRetention(o.files, in.cat, logger)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, o, in.cat, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := openBus(ctx, o, in.cat, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	ln, err := listen(o.addr, in.tls)
	if err != nil {
		return err
	}
	defer ln.Close() // once served, the server has closed it already; closing again is harmless
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = listenURL(o.tls, ln)
	}

	instance := newInstanceID()
	if err := registerInstance(ctx, st, instance, publicURL, o.publicURL == "", logger); err != nil {
		return err
	}
	defer deregisterInstance(st, instance, logger)
	tp, err := startTracing(ctx, o, instance, logger)
	if err != nil {
		return err
	}
	// Stopped after everything that makes spans (the HTTP server, the connectors, the relay),
	// so that their last spans are exported.
	defer stopTracing(tp, logger)

	if len(o.materialHosts) == 0 {
		logger.Warn("material URIs are held only to https and public host names: name the hosts they may be on with --material-hosts")
	}
	keys, err := openPseudonyms(o, logger)
	if err != nil {
		return err
	}
	blobStore, err := openBlobs(ctx, o.files, o.dataDir, logger)
	if err != nil {
		return err
	}
	linkKeys, err := openLinkKeys(o.files, o.dataDir, logger)
	if err != nil {
		return err
	}
	svc, err := hub.New(hub.Config{Catalogue: in.cat, Store: st, Bus: b, CallbackBase: publicURL, Logger: logger,
		MaterialHosts: o.materialHosts, Pseudonyms: keys, Tracing: tp.TracerProvider(), Division: o.division,
		DataDir: o.dataDir, Blobs: blobStore, LinkKeys: linkKeys, Clients: in.clients, LinkVia: in.kinds.of,
		UploadDir: uploadDir(o.files, o.dataDir), UploadMaxAge: o.files.maxAge, UploadStore: o.files.inFlight(), Retention: rules,
		UploadPutMaxSize: o.files.putMax})
	if err != nil {
		return err
	}
	if w := svc.Calendar.CoverageWarning(time.Now()); w != "" {
		logger.Warn(w)
	}
	bg := &background{logger: logger}
	bg.ctx, bg.cancel = context.WithCancel(context.Background())
	defer bg.stop()
	supervise(bg.ctx, &bg.wg, logger, "outbox relay", svc.Relay.Run)
	supervise(bg.ctx, &bg.wg, logger, "upload sweeper", sweepUploads(svc.Uploads, o.files.maxAge, logger))
	supervise(bg.ctx, &bg.wg, logger, "retention sweeper", sweepRetention(svc.Retention, o.files.retentionEvery))

	simulated, err := startSimulator(o, in, bg)
	if err != nil {
		return err
	}
	deps := connectors.Deps{Bus: b, Store: st, Catalogue: in.cat, Cases: svc.Cases, Licences: svc.Licences, Recorder: svc.Recorder,
		Inbox: svc.Inbox, DeadLetters: svc.DeadLetters.Counts, DeadLetterTopic: deadletter.Topic, Logger: logger, Tracing: tp.TracerProvider(),
		Blobs: svc.Blobs, AuditRead: svc.AuditRead, Links: svc.LinkKeys, FilesBase: publicURL}
	manager, reload, err := startConnectors(o, in, deps, simulated, bg)
	if err != nil {
		return err
	}
	watchClients(o, in, bg)

	limits := o.limits
	limits.TrustForwarded = o.tls.behindProxy // the proxy's X-Forwarded-For names the client's address
	handler, err := httpHandler(in, limits, o.feedMaxWait, !o.noUI, svc, manager, reload, st, b, logger)
	if err != nil {
		return err
	}
	return serveHTTP(ctx, ln, handler, o, publicURL, logger)
}

// startTracing makes the hub's tracer provider: exporting over OTLP/HTTP when --otel-endpoint
// or the standard variables name a receiver, else only making the trace contexts that cases
// and messages carry.
func startTracing(ctx context.Context, o serveOptions, instance string, logger *slog.Logger) (*tracing.Provider, error) {
	tp, err := tracing.New(ctx, tracing.Config{Endpoint: o.otelEndpoint, InstanceID: instance})
	if err != nil {
		return nil, err // the endpoint was checked first: this is the environment's (OTEL_RESOURCE_ATTRIBUTES …)
	}
	if tp.Exporting() != "" {
		tracing.LogExportErrors(logger)
		logger.Info("exporting spans over OTLP/HTTP", "endpoint", tp.Exporting(), "service_instance_id", instance)
	}
	return tp, nil
}

// stopTracing exports the spans still waiting, for at most five seconds.
func stopTracing(tp *tracing.Provider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("spans not exported at shutdown", "error", err)
	}
}

// newInstanceID names a running hub among the instances that share a database.
func newInstanceID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "hub_" + strconv.Itoa(os.Getpid()) + "_" + hex.EncodeToString(b[:])
}

// registerInstance records this instance on a PostgreSQL database that several instances may
// share, after checking that they all have the same public URL (callbacks must reach whichever
// is alive), and keeps its record fresh while it runs. SQLite is one process's database.
func registerInstance(ctx context.Context, st *store.Store, instanceID, publicURL string, implicit bool, logger *slog.Logger) error {
	if st.Dialect() != store.DialectPostgres {
		return nil
	}
	host, _ := os.Hostname()
	if err := st.RegisterInstance(ctx, store.Instance{ID: instanceID, PublicURL: publicURL, Host: host}, implicit); err != nil {
		return err
	}
	if implicit {
		logger.Warn("no --public-url: departments call back this instance's own address; give every instance that shares the database the same --public-url", "public_url", publicURL)
	}
	go func() {
		t := time.NewTicker(store.InstanceTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := st.TouchInstance(ctx, instanceID); err != nil && ctx.Err() == nil {
					logger.Warn("refreshing this instance's record", "error", err)
				}
			}
		}
	}()
	return nil
}

func deregisterInstance(st *store.Store, instanceID string, logger *slog.Logger) {
	if st.Dialect() != store.DialectPostgres {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.DeregisterInstance(ctx, instanceID); err != nil {
		logger.Warn("deleting this instance's record", "error", err)
	}
}

// inputs are the files serve runs on, read and checked before anything starts.
type inputs struct {
	tls     *tls.Config // nil: plain HTTP
	cat     *catalogue.Catalogue
	conns   *connectors.File // nil without --connectors
	clients *auth.Clients    // nil: the API does not authenticate
	simCfg  deptsim.Config
	// kinds are the connector kinds that reach the departments, for the links' via (see
	// connectorKinds); updated when the connectors file is reloaded.
	kinds connectorKinds
}

// connectorKinds knows which kind of connector reaches each department: the connectors file's
// kind, or restpush for a department the simulator answers (it is reached by a restpush
// connector). The case service asks it for every link it signs, so that the audit log says
// through which connector a material was read.
type connectorKinds struct {
	byDept   atomic.Pointer[map[string]string]
	simulate bool
}

// set takes the kinds of the connectors file f (nil: none).
func (k *connectorKinds) set(f *connectors.File) {
	m := map[string]string{}
	if f != nil {
		for code, d := range f.Departments {
			m[code] = d.Kind
		}
	}
	k.byDept.Store(&m)
}

// of is the kind of connector that reaches dept; "" when none does.
func (k *connectorKinds) of(dept string) string {
	if m := k.byDept.Load(); m != nil {
		if kind, ok := (*m)[dept]; ok {
			return kind
		}
	}
	if k.simulate {
		return connectors.KindRestPush
	}
	return ""
}

// loadInputs reads the catalogue, the connectors file, the clients file, the TLS certificate
// and the simulator's configuration; the first that has problems stops the start with all of
// them.
func loadInputs(o serveOptions, logger *slog.Logger) (*inputs, error) {
	cat, err := loadCatalogue(o.seeds)
	if err != nil {
		return nil, fmt.Errorf("loading the catalogue: %w", err)
	}
	logger.Info("catalogue loaded", "version", cat.Version[:12], "bundles", len(cat.Bundles), "matters", len(cat.Matters), "departments", len(cat.Departments))
	in := &inputs{cat: cat}
	in.kinds.simulate = o.simulate
	if o.connectorsFile != "" {
		if in.conns, err = connectors.LoadChecked(o.connectorsFile, departmentCodes(cat)); err != nil {
			return nil, err
		}
	}
	in.kinds.set(in.conns)
	if in.clients, err = loadClients(o, cat, logger); err != nil {
		return nil, err
	}
	if in.tls, err = serverTLS(o.addr, o.tls); err != nil {
		return nil, err
	}
	if o.simConfig != "" {
		b, err := os.ReadFile(o.simConfig)
		if err != nil {
			return nil, fmt.Errorf("simulator config: %w", err)
		}
		if in.simCfg, err = deptsim.ParseConfig(b); err != nil {
			return nil, fmt.Errorf("simulator config %s: %w", o.simConfig, err)
		}
	}
	return in, nil
}

// openStore opens the database (SQLite under --data-dir unless YJSHUB_DATABASE_URL is set),
// migrates it and records the catalogue version it runs on.
func openStore(ctx context.Context, o serveOptions, cat *catalogue.Catalogue, logger *slog.Logger) (*store.Store, error) {
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	dbURL := o.databaseURL
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(o.dataDir, "yjshub.db")
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	err = st.Migrate(ctx)
	if err == nil {
		err = st.RecordCatalogueVersion(ctx, store.CatalogueVersion{
			Version: cat.Version, Bundles: len(cat.Bundles), Matters: len(cat.Matters), Departments: len(cat.Departments)})
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	logger.Info("store ready", "backend", st.Dialect(), "url", store.RedactDatabaseURL(dbURL))
	return st, nil
}

// openBus connects to Kafka (the embedded broker under --data-dir unless YJSHUB_KAFKA_BROKERS
// is set) and creates the topics the hub needs.
func openBus(ctx context.Context, o serveOptions, cat *catalogue.Catalogue, logger *slog.Logger) (*bus.Bus, error) {
	b, err := bus.Open(ctx, bus.Config{Brokers: o.brokers, DataDir: o.dataDir, Namespace: o.namespace, TLS: o.kafkaTLS, SASL: o.kafkaSASL, Logger: logger,
		GroupSessionTimeout: o.sessionTimeout})
	if err != nil {
		return nil, err
	}
	if err := b.EnsureTopics(ctx, hub.Topics(cat)...); err != nil {
		b.Close()
		return nil, err
	}
	logger.Info("bus ready", "embedded", b.Embedded(), "brokers", strings.Join(b.Brokers(), ","), "tls", o.kafkaTLS != nil, "sasl", o.kafkaSASL != nil)
	if o.busReady != nil {
		o.busReady <- b.Brokers()
	}
	return b, nil
}

// background is what serve runs besides the HTTP server: it ends when stop cancels ctx, and
// stop returns once every part has ended, in the reverse order of their start.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger *slog.Logger
	// closers run after ctx is cancelled, last first.
	closers []func()
}

func (bg *background) onStop(f func()) { bg.closers = append(bg.closers, f) }

func (bg *background) stop() {
	bg.cancel()
	for i := len(bg.closers) - 1; i >= 0; i-- {
		bg.closers[i]()
	}
	bg.wg.Wait()
}

// startSimulator starts, with --simulate, a simulated back office for every department the
// connectors file does not configure, and returns the restpush configuration that reaches each.
// With authentication each simulated department gets an API key of its own, and every
// delivery to it is signed with a secret of its own; both are made for this run and never
// written anywhere.
func startSimulator(o serveOptions, in *inputs, bg *background) (map[string]restpush.Config, error) {
	simulated := map[string]restpush.Config{}
	if !o.simulate {
		return simulated, nil
	}
	names := map[string]string{}
	secrets := map[string]string{}
	var hubKeys map[string]string
	if in.clients != nil {
		hubKeys = map[string]string{}
	}
	for _, d := range in.cat.Departments {
		names[d.Code] = d.Name
		secrets[d.Code] = signing.NewSecret()
		if hubKeys != nil {
			key, hash := auth.NewKey()
			in.clients.Add(auth.Client{Name: "simulated-" + d.Code, Role: auth.RoleDepartment, Department: d.Code}, hash)
			hubKeys[d.Code] = key
		}
	}
	callbacks, err := simulatorClient(in.tls)
	if err != nil {
		return nil, err
	}
	sim, err := deptsim.New(in.simCfg, deptsim.WithLogger(bg.logger.With("component", "simulator")), deptsim.WithDepartmentNames(names),
		deptsim.WithHubKeys(hubKeys), deptsim.WithSigningSecrets(secrets), deptsim.WithHTTPClient(callbacks))
	if err != nil {
		return nil, err
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = sim.Close()
		return nil, fmt.Errorf("simulator listener: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	bg.onStop(func() { _ = sim.Close(); _ = simSrv.Close() })
	var codes []string
	for _, d := range in.cat.Departments {
		if in.conns != nil {
			if _, ok := in.conns.Departments[d.Code]; ok {
				continue
			}
		}
		simulated[d.Code] = restpush.Config{Department: d.Code, Endpoint: "http://" + simLn.Addr().String() + "/departments/" + d.Code + "/subcases",
			Breaker: restpush.BreakerConfig{OpenTimeout: 2 * time.Second}, SigningSecret: secrets[d.Code]}
		codes = append(codes, d.Code)
	}
	sort.Strings(codes)
	bg.logger.Warn("SIMULATED department back offices: cases for these departments are decided by the simulator, not by a real system",
		"departments", strings.Join(codes, ","), "simulator", "http://"+simLn.Addr().String())
	if o.simulator != nil {
		o.simulator <- sim
	}
	return simulated, nil
}

// startConnectors runs the connectors of the connectors file and of the simulated departments,
// warns of departments that have none, and, with a connectors file, watches it: reload applies
// it again (nil without one).
func startConnectors(o serveOptions, in *inputs, deps connectors.Deps, simulated map[string]restpush.Config, bg *background) (*connectors.Manager, func() error, error) {
	manager := connectors.NewManager(deps)
	if err := manager.Start(bg.ctx, connectors.Specs(in.conns, deps, simulated)); err != nil {
		return nil, nil, err
	}
	bg.onStop(manager.Wait)
	running := map[string]bool{}
	for _, n := range manager.Names() {
		if _, target, ok := strings.Cut(n, ":"); ok {
			running[target] = true
		}
	}
	var unconnected []string
	for _, d := range in.cat.Departments {
		if !running[d.Code] {
			unconnected = append(unconnected, d.Code)
		}
	}
	if len(unconnected) > 0 {
		bg.logger.Warn("departments without a connector: their sub-cases wait on Kafka until one is configured",
			"departments", strings.Join(unconnected, ","))
	}
	if o.connectorsFile == "" {
		return manager, nil, nil
	}
	reload := func() error {
		f, err := connectors.LoadChecked(o.connectorsFile, departmentCodes(in.cat))
		if err != nil {
			bg.logger.Warn("connectors file not applied", "file", o.connectorsFile, "error", err)
			return err
		}
		if err := manager.Apply(connectors.Specs(f, deps, simulated)); err != nil {
			return err
		}
		in.kinds.set(f)
		bg.logger.Info("connectors file applied", "file", o.connectorsFile)
		return nil
	}
	watchFile(bg.ctx, &bg.wg, o.connectorsFile, bg.logger, reload)
	return manager, reload, nil
}

// watchClients applies the clients file again when it changes.
func watchClients(o serveOptions, in *inputs, bg *background) {
	if o.clientsFile == "" {
		return
	}
	watchFile(bg.ctx, &bg.wg, o.clientsFile, bg.logger, func() error {
		f, err := auth.Load(o.clientsFile, departmentCodes(in.cat))
		if err != nil {
			bg.logger.Warn("clients file not applied", "file", o.clientsFile, "error", err)
			return err
		}
		in.clients.Replace(f)
		bg.logger.Info("clients file applied", "file", o.clientsFile, "clients", f.Len())
		return nil
	})
}

// httpHandler is the HTTP API on the services, with the operators' metrics (GET /metrics, on a
// registry of this hub's own, read when scraped), readiness checks of the store and broker, and
// with console the operator console at /ui/.
func httpHandler(in *inputs, limits api.Limits, feedMaxWait time.Duration, console bool, svc *hub.Services, manager *connectors.Manager, reload func() error, st *store.Store, b *bus.Bus, logger *slog.Logger) (http.Handler, error) {
	mets, err := metrics.New(metrics.Config{Store: st, Connectors: manager, DeadLetters: svc.DeadLetters, Kafka: b, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var uiHandler http.Handler
	if console {
		if uiHandler, err = ui.New(); err != nil {
			return nil, err
		}
	}
	h, err := api.New(api.Config{
		Catalogue:   in.cat,
		Cases:       svc.Cases,
		Forms:       svc.Forms,
		Sharing:     svc.Sharing,
		Reform:      svc.Reform,
		Licences:    svc.Licences,
		Audit:       svc.Audit,
		Pseudonyms:  svc.Pseudonyms,
		Connectors:  manager,
		Reload:      reload,
		DeadLetters: svc.DeadLetters,
		Inbox:       svc.Inbox,
		Clients:     in.clients,
		Logger:      logger,
		Checks:      []api.Check{{Name: "store", Ping: st.Ping}, {Name: "broker", Ping: b.Ping}, {Name: "consumers", Ping: b.Joined}},
		Warnings: func() []string {
			if w := svc.Calendar.CoverageWarning(time.Now()); w != "" {
				return []string{w}
			}
			return nil
		},
		Metrics:     mets.Handler(),
		Instrument:  mets.Middleware,
		Limits:      limits,
		FeedMaxWait: feedMaxWait,
		UI:          uiHandler,
		Uploads:     svc.Uploads,
		Blobs:       svc.Blobs,
		LinkKeys:    svc.LinkKeys,
	})
	if err != nil {
		return nil, err
	}
	// Outermost, so that every route's spans (intake, a department's callback) continue the
	// caller's traceparent.
	return tracing.Middleware(h), nil
}

// serveHTTP serves handler on ln until ctx ends, then shuts the server down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler, o serveOptions, publicURL string, logger *slog.Logger) error {
	srv := api.NewHTTPServer(handler, o.serverLimits, logger)
	lln := api.LimitListener(ln, srv, o.serverLimits)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lln) }()
	logger.Info("yjshub serving", "url", listenURL(o.tls, ln), "public_url", publicURL)
	if o.ready != nil {
		o.ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	defer lln.Close()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// loadClients reads the clients file, or, without one, checks that serving without
// authentication is allowed: on a loopback address, or with --no-auth.
func loadClients(o serveOptions, cat *catalogue.Catalogue, logger *slog.Logger) (*auth.Clients, error) {
	if o.clientsFile != "" {
		cs, err := auth.Load(o.clientsFile, departmentCodes(cat))
		if err != nil {
			return nil, err
		}
		logger.Info("API clients loaded", "file", o.clientsFile, "clients", cs.Len())
		return cs, nil
	}
	if !o.noAuth && !loopback(o.addr) {
		return nil, fmt.Errorf("serving on %s without authentication: give the API clients file (--clients, YJSHUB_CLIENTS), "+
			"or --no-auth to serve an open API there anyway", o.addr)
	}
	logger.Warn("the API does not authenticate its clients: every route is open (give --clients to authenticate)", "addr", o.addr)
	return nil, nil
}

// loopback reports whether addr (host:port) listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func departmentCodes(cat *catalogue.Catalogue) []string {
	codes := make([]string, len(cat.Departments))
	for i, d := range cat.Departments {
		codes[i] = d.Code
	}
	return codes
}

// watchFile applies a file (connectors, clients) again when it changes (checked every two seconds) or
// when the process receives SIGHUP. A file with problems is reported and not applied.
func watchFile(ctx context.Context, wg *sync.WaitGroup, path string, logger *slog.Logger, apply func() error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	modTime := func() time.Time {
		fi, err := os.Stat(path)
		if err != nil {
			return time.Time{}
		}
		return fi.ModTime()
	}
	last := modTime()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer signal.Stop(hup)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			case <-t.C:
				if m := modTime(); m.Equal(last) {
					continue
				} else {
					last = m
				}
			}
			_ = apply()
		}
	}()
}
