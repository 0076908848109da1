package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"yjshub/deptsim"
)

func deptsimCommand() *cobra.Command {
	var addr, configFile, seedsDir, hubKeysFile string
	cmd := &cobra.Command{
		Use:   "deptsim",
		Short: "Run a SIMULATED department back office that speaks the REST push contract",
		Long: `Run a simulated back office for every department: it takes sub-cases at
POST /departments/{dept}/subcases (the REST push contract of connectors/CONTRACT.md), then calls the hub
back with received, accepted and a decision (approve by default, with an e-licence for matters whose
result is a licence). GET /stats shows deliveries per sub-case, duplicates included.

Point a restpush connector at it, e.g. endpoint: http://127.0.0.1:8090/departments/tobacco/subcases.
--config takes YAML: default: {decision: approve, delay: 1s, failure_rate: 0.1, failure_status: 503}
and departments: {tobacco: {decision: reject}}.

When the hub authenticates its clients, --hub-keys names a YAML file with each simulated
department's API key (a department client of the hub's clients file): {tobacco: yjk_…, …}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg deptsim.Config
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return err
				}
				c, err := deptsim.ParseConfig(b)
				if err != nil {
					return fmt.Errorf("%s: %w", configFile, err)
				}
				cfg = c
			}
			cat, err := loadCatalogue(seedsDir)
			if err != nil {
				return fmt.Errorf("loading the catalogue: %w", err)
			}
			names := map[string]string{}
			for _, d := range cat.Departments {
				names[d.Code] = d.Name
			}
			keys, err := loadHubKeys(hubKeysFile, names)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			sim, err := deptsim.New(cfg, deptsim.WithLogger(logger), deptsim.WithDepartmentNames(names), deptsim.WithHubKeys(keys),
				deptsim.WithHTTPClient(tlsHTTPClient(cmd.Context())))
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			logger.Warn("SIMULATED department back offices serving", "url", "http://"+ln.Addr().String())
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = sim.Close()
			if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	cmd.Flags().StringVar(&configFile, "config", "", "YAML: decisions, delays and failure rates per department")
	cmd.Flags().StringVar(&hubKeysFile, "hub-keys", os.Getenv("YJSHUB_DEPTSIM_HUB_KEYS"), "YAML file: department code → the API key it calls the hub back with (env YJSHUB_DEPTSIM_HUB_KEYS)")
	hubTLSFlags(cmd, new(hubTLSOptions))
	seedsFlag(cmd, &seedsDir)
	return cmd
}

// loadHubKeys reads the simulator's hub keys file: department code → API key. Every unknown
// department and empty key is reported; the keys never appear in an error.
func loadHubKeys(path string, departments map[string]string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hub keys: %w", err)
	}
	var keys map[string]string
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&keys); err != nil {
		return nil, fmt.Errorf("hub keys %s: not a map of department code to key: %w", path, err)
	}
	var errs []error
	for _, d := range slices.Sorted(maps.Keys(keys)) {
		if _, ok := departments[d]; !ok {
			errs = append(errs, fmt.Errorf("%s: not a department of the catalogue", d))
		}
		if strings.TrimSpace(keys[d]) == "" {
			errs = append(errs, fmt.Errorf("%s: empty key", d))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("hub keys %s: %w", path, err)
	}
	return keys, nil
}
