package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/connectors"
	"yjshub/connectors/restpush"
	"yjshub/connectors/signing"
	"yjshub/deptsim"
	"yjshub/hub/api"
	"yjshub/hub/auth"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/inbox"
	"yjshub/hub/metrics"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
)

// serveOptions are the settings of `yjshub serve`.
type serveOptions struct {
	addr           string
	publicURL      string
	dataDir        string
	seeds          string
	connectorsFile string
	clientsFile    string
	noAuth         bool
	simulate       bool
	simConfig      string
	databaseURL    string
	brokers        []string
	namespace      string
	// ready, when set, receives the listener's address once the hub serves.
	ready chan<- string
	// simulator, when set, receives the in-process simulator (tests read its stats).
	simulator chan<- *deptsim.Simulator
}

func serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: the HTTP API, the store, the Kafka bus and the department connectors",
		Long: `Run the hub.

With YJSHUB_DATABASE_URL and YJSHUB_KAFKA_BROKERS unset the hub is self-contained: SQLite and an
embedded Kafka-protocol broker keep their data under --data-dir. Set YJSHUB_DATABASE_URL
(postgres://…) and YJSHUB_KAFKA_BROKERS (host:port,host:port) to use PostgreSQL and Apache Kafka;
YJSHUB_KAFKA_NAMESPACE prefixes every topic and consumer group, so that several hubs can share a
Kafka cluster.

--connectors names the deployment's connectors file (how each department is reached).
--clients names the API clients file (platforms, departments, operators and the SHA-256 of their
keys; 'yjshub clients new' makes a key). Without it the API does not authenticate, which serve
allows only on a loopback address unless --no-auth says so.
--simulate wires a simulated back office (see 'yjshub deptsim') into every department that the
connectors file does not configure, so cases complete without real department systems.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.databaseURL = os.Getenv("YJSHUB_DATABASE_URL")
			o.brokers = splitList(os.Getenv("YJSHUB_KAFKA_BROKERS"))
			o.namespace = os.Getenv("YJSHUB_KAFKA_NAMESPACE")
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
	cmd.Flags().BoolVar(&o.noAuth, "no-auth", false, "serve without authentication on a non-loopback address (never in production)")
	cmd.Flags().BoolVar(&o.simulate, "simulate", false, "simulate the back office of every department without a configured connector")
	cmd.Flags().StringVar(&o.simConfig, "simulator-config", "", "YAML configuration of the simulated departments (decisions, delays, failures)")
	seedsFlag(cmd, &o.seeds)
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

// hubTopics lists the topics the hub needs: one per department, results and case events.
func hubTopics(cat *catalogue.Catalogue) []bus.TopicSpec {
	specs := []bus.TopicSpec{{Name: bus.TopicResult}, {Name: bus.TopicCaseEvent}}
	for _, d := range cat.Departments {
		specs = append(specs, bus.TopicSpec{Name: bus.SubcaseTopic(d.Code)})
	}
	return specs
}

// hubRecorder records connector outcomes: deliveries in the case flow, failures there too and
// as dead letters.
func hubRecorder(svc *cases.Service, dlq *deadletter.Store) connector.Recorder {
	conv := func(d connector.Delivery) cases.Delivery {
		return cases.Delivery{EventID: d.EventID, CaseID: d.CaseID, SubcaseID: d.SubcaseID, Department: d.Department,
			Status: d.Status, Attempts: d.Attempts, At: d.At}
	}
	return connector.RecorderFuncs{
		DeliveredFunc: func(ctx context.Context, d connector.Delivery) error { return svc.RecordDelivered(ctx, conv(d)) },
		FailedFunc: func(ctx context.Context, f connector.Failure) error {
			if _, err := dlq.Add(ctx, f); err != nil {
				return err
			}
			if f.SubcaseID == "" {
				return nil
			}
			return svc.RecordFailed(ctx, conv(f.Delivery), f.Reason)
		},
	}
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

// serve runs the hub until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, o serveOptions, logger *slog.Logger) error {
	cat, err := loadCatalogue(o.seeds)
	if err != nil {
		return fmt.Errorf("loading the catalogue: %w", err)
	}
	logger.Info("catalogue loaded", "version", cat.Version[:12], "bundles", len(cat.Bundles), "matters", len(cat.Matters), "departments", len(cat.Departments))
	var conns *connectors.File
	if o.connectorsFile != "" {
		conns, err = connectors.Load(o.connectorsFile, func(d string) bool { _, ok := cat.Department(d); return ok })
		if err != nil {
			return err
		}
	}
	clients, err := loadClients(o, cat, logger)
	if err != nil {
		return err
	}
	var simCfg deptsim.Config
	if o.simConfig != "" {
		b, err := os.ReadFile(o.simConfig)
		if err != nil {
			return fmt.Errorf("simulator config: %w", err)
		}
		c, err := deptsim.ParseConfig(b)
		if err != nil {
			return fmt.Errorf("simulator config %s: %w", o.simConfig, err)
		}
		simCfg = c
	}

	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	dbURL := o.databaseURL
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(o.dataDir, "yjshub.db")
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	if err := st.RecordCatalogueVersion(ctx, store.CatalogueVersion{
		Version: cat.Version, Bundles: len(cat.Bundles), Matters: len(cat.Matters), Departments: len(cat.Departments),
	}); err != nil {
		return err
	}
	logger.Info("store ready", "backend", st.Dialect(), "url", store.RedactDatabaseURL(dbURL))

	b, err := bus.Open(ctx, bus.Config{Brokers: o.brokers, DataDir: o.dataDir, Namespace: o.namespace, Logger: logger})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.EnsureTopics(ctx, hubTopics(cat)...); err != nil {
		return err
	}
	logger.Info("bus ready", "embedded", b.Embedded(), "brokers", strings.Join(b.Brokers(), ","))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}

	relay := outbox.New(st, b, outbox.Config{Logger: logger})
	svc, err := cases.New(cases.Config{Catalogue: cat, Store: st, CallbackBase: publicURL, Notify: relay.Notify, Logger: logger})
	if err != nil {
		ln.Close()
		return err
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancelRun(); wg.Wait() }()
	supervise(runCtx, &wg, logger, "outbox relay", relay.Run)

	// Department connectors: those of the connectors file, and simulated back offices for the
	// rest when --simulate is set.
	simulated := map[string]restpush.Config{}
	if o.simulate {
		names := map[string]string{}
		for _, d := range cat.Departments {
			names[d.Code] = d.Name
		}
		// With authentication, each simulated department gets a key of its own, made for this
		// run and never written anywhere.
		var hubKeys map[string]string
		if clients != nil {
			hubKeys = map[string]string{}
			for _, d := range cat.Departments {
				key, hash := auth.NewKey()
				clients.Add(auth.Client{Name: "simulated-" + d.Code, Role: auth.RoleDepartment, Department: d.Code}, hash)
				hubKeys[d.Code] = key
			}
		}
		// Deliveries to the simulator are signed, as a real department should ask: a secret
		// per department, for this run.
		secrets := map[string]string{}
		for _, d := range cat.Departments {
			secrets[d.Code] = signing.NewSecret()
		}
		sim, err := deptsim.New(simCfg, deptsim.WithLogger(logger.With("component", "simulator")), deptsim.WithDepartmentNames(names),
			deptsim.WithHubKeys(hubKeys), deptsim.WithSigningSecrets(secrets))
		if err != nil {
			ln.Close()
			return err
		}
		simLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ln.Close()
			return fmt.Errorf("simulator listener: %w", err)
		}
		simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = simSrv.Serve(simLn) }()
		defer func() { _ = sim.Close(); _ = simSrv.Close() }()
		var simulatedCodes []string
		for _, d := range cat.Departments {
			if conns != nil {
				if _, ok := conns.Departments[d.Code]; ok {
					continue
				}
			}
			simulated[d.Code] = restpush.Config{Department: d.Code, Endpoint: "http://" + simLn.Addr().String() + "/departments/" + d.Code + "/subcases",
				Breaker: restpush.BreakerConfig{OpenTimeout: 2 * time.Second}, SigningSecret: secrets[d.Code]}
			simulatedCodes = append(simulatedCodes, d.Code)
		}
		sort.Strings(simulatedCodes)
		logger.Warn("SIMULATED department back offices: cases for these departments are decided by the simulator, not by a real system",
			"departments", strings.Join(simulatedCodes, ","), "simulator", "http://"+simLn.Addr().String())
		if o.simulator != nil {
			o.simulator <- sim
		}
	}
	dlq := deadletter.New(st, b)
	rec := hubRecorder(svc, dlq)
	polled, err := inbox.New(st, rec, inbox.WithLogger(logger))
	if err != nil {
		ln.Close()
		return err
	}
	deps := connectors.Deps{Bus: b, Store: st, Cases: svc, Recorder: rec, Inbox: polled, DeadLetters: dlq.Counts, DeadLetterTopic: deadletter.Topic, Logger: logger}
	manager := connectors.NewManager(deps)
	if err := manager.Start(runCtx, connectors.Specs(conns, deps, simulated)); err != nil {
		ln.Close()
		return err
	}
	defer func() { cancelRun(); manager.Wait() }()
	var unconnected []string
	running := map[string]bool{}
	for _, n := range manager.Names() {
		if _, target, ok := strings.Cut(n, ":"); ok {
			running[target] = true
		}
	}
	for _, d := range cat.Departments {
		if !running[d.Code] {
			unconnected = append(unconnected, d.Code)
		}
	}
	if len(unconnected) > 0 {
		logger.Warn("departments without a connector: their sub-cases wait on Kafka until one is configured",
			"departments", strings.Join(unconnected, ","))
	}
	var reload func() error
	if o.connectorsFile != "" {
		reload = func() error {
			f, err := connectors.Load(o.connectorsFile, func(d string) bool { _, ok := cat.Department(d); return ok })
			if err != nil {
				logger.Warn("connectors file not applied", "file", o.connectorsFile, "error", err)
				return err
			}
			if err := manager.Apply(connectors.Specs(f, deps, simulated)); err != nil {
				return err
			}
			logger.Info("connectors file applied", "file", o.connectorsFile)
			return nil
		}
		watchFile(runCtx, &wg, o.connectorsFile, logger, reload)
	}
	if o.clientsFile != "" {
		watchFile(runCtx, &wg, o.clientsFile, logger, func() error {
			f, err := auth.Load(o.clientsFile, departmentCodes(cat))
			if err != nil {
				logger.Warn("clients file not applied", "file", o.clientsFile, "error", err)
				return err
			}
			clients.Replace(f)
			logger.Info("clients file applied", "file", o.clientsFile, "clients", f.Len())
			return nil
		})
	}

	// Metrics for operators (GET /metrics), on a registry of this hub's own, read when scraped.
	mets, err := metrics.New(metrics.Config{Store: st, Connectors: manager, DeadLetters: dlq, Logger: logger})
	if err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	handler := api.New(api.Config{
		Catalogue:   cat,
		Cases:       svc,
		Connectors:  manager,
		Reload:      reload,
		DeadLetters: dlq,
		Inbox:       polled,
		Clients:     clients,
		Logger:      logger,
		Checks: []api.Check{
			{Name: "store", Ping: st.Ping},
			{Name: "broker", Ping: b.Ping},
		},
		Metrics:    mets.Handler(),
		Instrument: mets.Middleware,
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("yjshub serving", "url", "http://"+ln.Addr().String(), "public_url", publicURL)
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
