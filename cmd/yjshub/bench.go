package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/procfs"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"yjshub/catalogue"
	"yjshub/deptsim"
	"yjshub/hub/api"
)

// benchOptions are the settings of `yjshub bench`.
type benchOptions struct {
	target      string
	rate        float64
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	drain       time.Duration
	mix         string
	asJSON      bool
	quiet       bool
	verbose     bool
	keep        bool
	dataDir     string
	simConfig   string
	pid         int
	brokers     string
	rawMessages int
	until       string // completed | delivered: what settles a case
}

// Concurrency when --concurrency is not given: an open loop needs room for the requests its
// rate keeps in flight; a closed loop's concurrency is its load.
const (
	defaultOpenConcurrency   = 256
	defaultClosedConcurrency = 8
)

func benchCommand() *cobra.Command {
	var o benchOptions
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Put a hub under load with distinct applicants' cases and report throughput, latencies, memory and the cost over raw Kafka",
		Long: `Put a hub under load and measure it.

The load is the example applications (yjshub bench --mix; default: 开酒吧 the most, then the
other shop openings, the social-security bundles and the rarer enterprise bundles), each case
with identifiers of its own — resident ID numbers, unified social credit codes and mobile numbers
that pass the hub's checks — so that every case is a distinct applicant. Each is POSTed to
/api/v1/cases with an Idempotency-Key, and followed on the change feed (GET /api/v1/events)
until it completes.

Open loop (--rate N): a case is due every 1/N s whatever became of the ones before, and its
latencies count from when it was due, so that a slow hub shows as latency, not as a slower
schedule. Closed loop (no --rate): --concurrency workers submit one case after another.

Without --target the hub runs in this process on a temporary data directory (removed
afterwards unless --keep) with simulated departments that approve at once (--simulator-config
to change that), on SQLite and the embedded broker — or on PostgreSQL and Kafka when
YJSHUB_DATABASE_URL and YJSHUB_KAFKA_BROKERS are set, as for serve. With --target URL it drives a
running hub; the API key of a platform is read from YJSHUB_API_KEY and an operator's, for
/metrics, from YJSHUB_OPERATOR_API_KEY (else YJSHUB_API_KEY): never flags, which show in the
process list. The target's per-client rate (serve --client-rate) holds the bench as it holds
any platform: answers 429 count as errors.

It reports, for the cases due after --warmup:
  cases/s       cases completed within the window, by the bench's clock
  latencies     p50/p90/p99/max from the intended send to: the answer to the submission; the
                last sub-case dispatched, and delivered (hub times, read from the case once
                the run is over); the case completed; and each sub-case's dispatched →
                delivered (both hub times)
  errors        submissions refused or unanswered, and cases not completed within --drain
  SQL           statements per case, when the hub's /metrics has yjshub_db_statements_total
  RSS           the hub's largest resident set: the kernel's high-water mark in process (the
                load generator's share included), /proc/PID/status with --pid, else the hub's
                process_resident_memory_bytes
Hub times against the bench's clock assume the two agree: run on the hub's host, or keep the
clocks in sync. Then, on the same broker (the in-process hub's, or --brokers), it measures plain
kafka-go produce → consume, with messages the size of a dispatched sub-case, and prints the
hub's cost as ratios. A broker that wants TLS or SASL is not measured.

With --json the last line of the output is one JSON object with these figures
(cases_per_second, p50_delivered_ms, p99_delivered_ms, p99_completed_ms, p99_submit_ms, errors,
max_rss_mb and more). A progress line is shown on a terminal unless --quiet.

Examples:
  yjshub bench --rate 100 --duration 20s
  yjshub bench --concurrency 16 --duration 1m --warmup 10s --json
  YJSHUB_API_KEY=yjk_… yjshub bench --target https://hub.example:8443 --rate 50 --brokers kafka-1:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue("")
			if err != nil {
				return fmt.Errorf("loading the catalogue: %w", err)
			}
			runID := uuid.NewString()[:8]
			h := fnv.New64a()
			_, _ = h.Write([]byte(runID))
			mix, err := o.check(cat, h.Sum64()%(1<<32))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return runBench(ctx, o, mix, runID, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the hub's too, in process) to this file, for go tool pprof")
	f.StringVar(&o.target, "target", "", "the URL of a running hub to drive (default: a hub in this process)")
	f.Float64Var(&o.rate, "rate", 0, "cases a second, open loop (default: closed loop)")
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("requests in flight at most; the load itself in a closed loop (default %d closed, %d open)", defaultClosedConcurrency, defaultOpenConcurrency))
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long cases are submitted")
	f.DurationVar(&o.warmup, "warmup", 0, "the first part of --duration whose cases are not measured")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "how long after the last submission cases may take to complete")
	f.StringVar(&o.mix, "mix", defaultBenchMix, "example applications and their weights, NAME=WEIGHT,…")
	f.BoolVar(&o.asJSON, "json", false, "end with one line of JSON holding the figures")
	f.BoolVar(&o.quiet, "quiet", false, "no progress line")
	f.BoolVar(&o.verbose, "verbose", false, "in process: show the hub's log at info level (default: errors only)")
	f.BoolVar(&o.keep, "keep", false, "in process: keep the temporary data directory")
	f.StringVar(&o.dataDir, "data-dir", "", "in process: the data directory to run on (default: a temporary one)")
	f.StringVar(&o.simConfig, "simulator-config", "", "in process: YAML configuration of the simulated departments (default: approve at once)")
	f.IntVar(&o.pid, "pid", 0, "with --target on this machine: the hub's process id, whose memory /proc tells")
	f.StringVar(&o.brokers, "brokers", "", "with --target: the Kafka brokers the hub uses, host:port,… (env YJSHUB_KAFKA_BROKERS), for the raw baseline")
	f.StringVar(&o.until, "until", "completed", "what a case is followed to: completed (办结, every department calling back) or delivered (to every department's system; in process the simulated departments then take their pushes and call back only a day later)")
	f.IntVar(&o.rawMessages, "raw-messages", 5000, "messages of the raw kafka-go baseline's burst; 0 skips the baseline")
	hubTLSFlags(cmd, new(hubTLSOptions))
	return cmd
}

// check names every problem of the flags at once, fills in the defaults, and returns the
// load's mix.
func (o *benchOptions) check(cat *catalogue.Catalogue, seed uint64) (*benchMix, error) {
	var errs []error
	if math.IsNaN(o.rate) || math.IsInf(o.rate, 0) || o.rate < 0 {
		errs = append(errs, fmt.Errorf("--rate %v: must be cases a second above 0, or 0 for a closed loop", o.rate))
	}
	if o.concurrency < 0 {
		errs = append(errs, fmt.Errorf("--concurrency %d: must be 1 or more", o.concurrency))
	}
	if o.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration %s: must be more than 0", o.duration))
	}
	if o.warmup < 0 || o.duration > 0 && o.warmup >= o.duration {
		errs = append(errs, fmt.Errorf("--warmup %s: must be from 0 to less than --duration (%s)", o.warmup, o.duration))
	}
	if o.drain < 0 {
		errs = append(errs, fmt.Errorf("--drain %s: must not be negative", o.drain))
	}
	if o.rawMessages < 0 {
		errs = append(errs, fmt.Errorf("--raw-messages %d: must not be negative", o.rawMessages))
	}
	if o.until != "completed" && o.until != "delivered" {
		errs = append(errs, fmt.Errorf("--until %q: must be completed or delivered", o.until))
	}
	if o.pid < 0 {
		errs = append(errs, fmt.Errorf("--pid %d: not a process id", o.pid))
	}
	if o.target != "" {
		if u, err := url.Parse(o.target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--target %q: not an http or https URL", o.target))
		}
		if o.keep || o.dataDir != "" || o.simConfig != "" || o.verbose {
			errs = append(errs, errors.New("--keep, --data-dir, --simulator-config and --verbose are for the in-process hub, not with --target"))
		}
	} else {
		if o.pid != 0 {
			errs = append(errs, errors.New("--pid is for --target: the in-process hub is this process"))
		}
		if o.brokers != "" {
			errs = append(errs, errors.New("--brokers is for --target: the in-process hub's own broker is measured"))
		}
	}
	mix, err := parseBenchMix(o.mix, cat, seed)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	if o.concurrency == 0 {
		o.concurrency = defaultClosedConcurrency
		if o.rate > 0 {
			o.concurrency = defaultOpenConcurrency
		}
	}
	return mix, nil
}

// benchHub is the hub a bench drives.
type benchHub struct {
	base    string
	brokers []string
	sim     *deptsim.Simulator // nil for --target
	proc    *procfs.Proc       // the process whose memory is read; nil: the hub's /metrics
	useHWM  bool
	stop    func() error
	backend string
}

// startBenchHub runs serve --simulate in this process, on a temporary data directory unless
// --data-dir names one.
func startBenchHub(ctx context.Context, o benchOptions, stderr io.Writer) (*benchHub, error) {
	dir, temp := o.dataDir, false
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "yjshub-bench-"); err != nil {
			return nil, err
		}
		temp = true
	}
	level := slog.LevelError
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ready, simc, busc := make(chan string, 1), make(chan *deptsim.Simulator, 1), make(chan []string, 1)
	simConfig := o.simConfig
	if simConfig == "" && o.until == "delivered" {
		// The departments take each push and call back a day later: the run measures delivery.
		simConfig = filepath.Join(dir, "simulator-delivered.yaml")
		if err := os.WriteFile(simConfig, []byte("default:\n  delay: 24h\n"), 0o600); err != nil {
			return nil, err
		}
	}
	so := serveOptions{
		addr: "127.0.0.1:0", dataDir: dir, simulate: true, simConfig: simConfig,
		databaseURL: os.Getenv("YJSHUB_DATABASE_URL"), brokers: splitList(os.Getenv("YJSHUB_KAFKA_BROKERS")),
		namespace: os.Getenv("YJSHUB_KAFKA_NAMESPACE"),
		// The load is the point: no per-client rate, and room for every request in flight.
		limits:       api.Limits{Unlimited: true, MaxInFlight: 4096},
		serverLimits: api.ServerLimits{MaxConns: 8192},
		feedMaxWait:  api.DefaultFeedMaxWait,
		ready:        ready, simulator: simc, busReady: busc,
	}
	so.kafkaTLS, so.kafkaSASL = kafkaSecurityFromEnv()
	// The hub outlives an interrupted load: the report is still read from it.
	hctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(hctx, so, logger) }()
	cleanup := func() error {
		cancel()
		err := <-errc
		if temp && !o.keep {
			err = errors.Join(err, os.RemoveAll(dir))
		}
		return err
	}
	select {
	case addr := <-ready:
		self, err := procfs.Self()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("reading this process in /proc: %w", err), cleanup())
		}
		backend := "SQLite"
		if so.databaseURL != "" {
			backend = "PostgreSQL"
		}
		if len(so.brokers) > 0 {
			backend += " + Kafka"
		} else {
			backend += " + the embedded broker"
		}
		if o.keep && temp {
			fmt.Fprintf(stderr, "the hub's data stays in %s\n", dir)
		}
		return &benchHub{base: "http://" + addr, brokers: <-busc, sim: <-simc, proc: &self, useHWM: true, stop: cleanup,
			backend: backend}, nil
	case err := <-errc:
		cancel()
		if temp && !o.keep {
			_ = os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("the in-process hub did not start: %w", err)
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), cleanup())
	}
}

// targetHub is the hub of --target.
func targetHub(o benchOptions) (*benchHub, error) {
	h := &benchHub{base: strings.TrimRight(o.target, "/"), stop: func() error { return nil }, backend: o.target}
	brokers := o.brokers
	if brokers == "" {
		brokers = os.Getenv("YJSHUB_KAFKA_BROKERS")
	}
	h.brokers = splitList(brokers)
	if o.pid != 0 {
		p, err := procfs.NewProc(o.pid)
		if err != nil {
			return nil, fmt.Errorf("--pid %d: %w", o.pid, err)
		}
		h.proc = &p
	}
	return h, nil
}

// benchHTTPClient keeps a connection for every request that may be in flight; --ca, --cert and
// --key apply as to the other commands.
func benchHTTPClient(ctx context.Context, conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if c := tlsHTTPClient(ctx); c != nil {
		if ct, ok := c.Transport.(*http.Transport); ok {
			t = ct.Clone()
		}
	}
	t.MaxIdleConns, t.MaxIdleConnsPerHost = conns, conns
	return &http.Client{Timeout: 30 * time.Second, Transport: t}
}

// isTerminal reports whether w is a terminal, where a progress line can be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
