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
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/hub/api"
	"yjshub/hub/bus"
	"yjshub/hub/store"
)

// serveOptions are the settings of `yjshub serve`.
type serveOptions struct {
	addr        string
	dataDir     string
	seeds       string
	databaseURL string
	brokers     []string
	// ready, when set, receives the listener's address once the hub serves.
	ready chan<- string
}

func serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: the HTTP API, the store and the Kafka bus",
		Long: `Run the hub.

With YJSHUB_DATABASE_URL and YJSHUB_KAFKA_BROKERS unset the hub is self-contained: SQLite and an
embedded Kafka-protocol broker keep their data under --data-dir. Set YJSHUB_DATABASE_URL
(postgres://…) and YJSHUB_KAFKA_BROKERS (host:port,host:port) to use PostgreSQL and Apache Kafka.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.databaseURL = os.Getenv("YJSHUB_DATABASE_URL")
			o.brokers = splitList(os.Getenv("YJSHUB_KAFKA_BROKERS"))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			return serve(ctx, o, logger)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "./data", "where the embedded database and broker keep their data")
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

// serve runs the hub until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, o serveOptions, logger *slog.Logger) error {
	cat, err := loadCatalogue(o.seeds)
	if err != nil {
		return fmt.Errorf("loading the catalogue: %w", err)
	}
	logger.Info("catalogue loaded", "version", cat.Version[:12], "bundles", len(cat.Bundles), "matters", len(cat.Matters), "departments", len(cat.Departments))

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
	logger.Info("store ready", "backend", st.Dialect(), "url", store.RedactURL(dbURL))

	b, err := bus.Open(ctx, bus.Config{Brokers: o.brokers, DataDir: o.dataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.EnsureTopics(ctx, hubTopics(cat)...); err != nil {
		return err
	}
	logger.Info("bus ready", "embedded", b.Embedded(), "brokers", strings.Join(b.Brokers(), ","))

	handler := api.New(api.Config{
		Catalogue: cat,
		Logger:    logger,
		Checks: []api.Check{
			{Name: "store", Ping: st.Ping},
			{Name: "broker", Ping: b.Ping},
		},
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("yjshub serving", "url", "http://"+ln.Addr().String())
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
