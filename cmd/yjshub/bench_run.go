package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/schollz/progressbar/v3"

	"yjshub/hub/bus"
)

// runBench drives the hub with the load, waits for its cases to complete, reads what it needs
// from the hub, measures raw Kafka on the hub's broker, and prints the report.
func runBench(ctx context.Context, o benchOptions, mix *benchMix, runID string, stdout, stderr io.Writer) (err error) {
	var hub *benchHub
	if o.target == "" {
		hub, err = startBenchHub(ctx, o, stderr)
	} else {
		hub, err = targetHub(o)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, hub.stop()) }()

	client := benchHTTPClient(ctx, o.concurrency+16)
	d := &benchDriver{base: hub.base, key: os.Getenv(apiKeyEnv), client: client, mix: mix, untilDelivered: o.until == "delivered",
		prefix: "bench-" + runID + "-", cases: map[uint64]*benchCase{}}
	opKey := os.Getenv("YJSHUB_OPERATOR_API_KEY")
	if opKey == "" {
		opKey = d.key
	}
	scrapeHub := func(ctx context.Context) (map[string]*dto.MetricFamily, error) {
		return scrape(ctx, client, hub.base, opKey)
	}
	stmtsBefore, stmtsErr := statements(ctx, scrapeHub)
	cursor, err := d.feedTail(ctx)
	if err != nil {
		return err
	}

	// What runs beside the load: the memory sampler and the feed follower. Both outlive an
	// interrupted load, whose cases are still reported.
	rss := &rssSampler{proc: hub.proc, useHWM: hub.useHWM, scrape: scrapeHub, every: 250 * time.Millisecond}
	if hub.proc == nil {
		rss.every = 2 * time.Second // a scrape costs the hub a few queries
	}
	sampling, stopSampling := context.WithCancel(context.WithoutCancel(ctx))
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() { defer sampled.Done(); rss.run(sampling) }()
	following, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	followed := make(chan struct{})
	go func() { defer close(followed); d.followFeed(following, cursor) }()

	start := time.Now()
	end := start.Add(o.duration)
	stopProgress := showProgress(o, d, stderr, start)
	load, stopLoad := context.WithDeadline(ctx, end.Add(o.drain))
	if o.rate > 0 {
		d.openLoop(load, o.rate, o.concurrency, start, end)
	} else {
		d.closedLoop(load, o.concurrency, end)
	}
	stopLoad()
	for drained := time.Now().Add(o.drain); !d.drained() && time.Now().Before(drained); {
		if sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) != nil {
			break
		}
	}
	stopProgress()
	stopSampling()
	sampled.Wait()

	// The rest reads the hub, even after an interrupt, within bounds of its own.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	stmtsAfter, stmtsAfterErr := statements(after, scrapeHub)
	stopFollowing()
	<-followed
	if d.feedErr != nil {
		fmt.Fprintf(stderr, "the change feed failed at the end: %v\n", d.feedErr)
	}
	if err := d.readCases(after, 8); err != nil {
		fmt.Fprintf(stderr, "some completed cases could not be read: %v\n", err)
	}

	rep := &benchReport{mode: "in-process", backend: hub.backend, loop: "closed", rate: o.rate, concurrency: o.concurrency, duration: o.duration, warmup: o.warmup,
		until: o.until}
	if o.target != "" {
		rep.mode = "target"
	}
	if o.rate > 0 {
		rep.loop = "open"
	}
	rep.summarise(d.cases, start)
	switch {
	case stmtsErr != nil:
		rep.statementsNote = stmtsErr.Error()
	case stmtsAfterErr != nil:
		rep.statementsNote = stmtsAfterErr.Error()
	case rep.accepted > 0:
		v := math.Round((stmtsAfter-stmtsBefore)/float64(rep.accepted)*10) / 10
		rep.statementsPerCase = &v
	default:
		rep.statementsNote = "no case was accepted"
	}
	rep.maxRSSMB, rep.rssNote = rss.result()
	if hub.sim != nil {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		heap := math.Round(float64(m.HeapAlloc)/(1<<20)*10) / 10
		retained := len(hub.sim.Stats().Subcases)
		rep.heapLiveMB, rep.simRetained = &heap, &retained
	}
	rawBaseline(after, o, hub, d, runID, rep)
	if rep.raw != nil {
		d.mu.Lock()
		rep.raw.HubBusy = d.accepted - d.settled
		d.mu.Unlock()
	}

	rep.writeText(stdout)
	if o.asJSON {
		return writeJSONLine(stdout, rep.json())
	}
	return nil
}

// statements reads the hub's count of SQL statements from its /metrics.
func statements(ctx context.Context, scrapeHub func(context.Context) (map[string]*dto.MetricFamily, error)) (float64, error) {
	fams, err := scrapeHub(ctx)
	if err != nil {
		return 0, fmt.Errorf("the hub's /metrics could not be read: %w", err)
	}
	v, ok := sum(fams, metricStatements)
	if !ok {
		return 0, errors.New("the hub's /metrics has no " + metricStatements)
	}
	return v, nil
}

// rawBaseline measures raw kafka-go on the hub's broker, at the hub's own rate of sub-cases for
// latency and flat out for throughput, or notes in rep why it could not.
func rawBaseline(ctx context.Context, o benchOptions, hub *benchHub, d *benchDriver, runID string, rep *benchReport) {
	if tlsCfg, saslCfg := kafkaSecurityFromEnv(); o.rawMessages == 0 || len(hub.brokers) == 0 || tlsCfg != nil || saslCfg != nil {
		switch {
		case o.rawMessages == 0:
			rep.rawNote = "--raw-messages 0"
		case len(hub.brokers) == 0:
			rep.rawNote = "no broker address: give --brokers or YJSHUB_KAFKA_BROKERS"
		default:
			rep.rawNote = "the brokers want TLS or SASL, which the baseline does not speak"
		}
		return
	}
	ns := os.Getenv("YJSHUB_KAFKA_NAMESPACE")
	size, sizeFrom := 0, "assumed: no dispatched sub-case could be read"
	if dept := d.someDepartment(); dept != "" {
		topic := ns + bus.SubcaseTopic(dept)
		if size = dispatchedSize(ctx, hub.brokers, topic); size > 0 {
			sizeFrom = "the last message on " + topic
		}
	}
	if size == 0 {
		size = 2048
	}
	// Latency at the hub's rate of sub-cases for about three seconds: at least 20 messages.
	pace := rep.subcasesPerSecond
	if pace < 1 {
		pace = 100
	}
	cfg := rawConfig{brokers: hub.brokers, topic: ns + "yjshub-bench-raw-" + runID, group: ns + "yjshub-bench-raw-" + runID,
		size: size, pace: pace, paced: min(o.rawMessages, max(int(pace*3), 20)), burst: o.rawMessages}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	res, err := rawKafka(ctx, cfg)
	if err != nil {
		rep.rawNote = "failed: " + err.Error()
		return
	}
	res.SizeFrom = sizeFrom
	rep.raw = &res
}

// someDepartment is the department of a sub-case the hub dispatched in this run.
func (d *benchDriver) someDepartment() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cases {
		if c.department != "" {
			return c.department
		}
	}
	return ""
}

// showProgress redraws a progress line on stderr while the load runs and drains, unless
// --quiet or stderr is not a terminal; the returned function clears it.
func showProgress(o benchOptions, d *benchDriver, stderr io.Writer, start time.Time) (stop func()) {
	if o.quiet || !isTerminal(stderr) {
		return func() {}
	}
	total := o.duration.Milliseconds()
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(false))
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case <-t.C:
			}
			elapsed := time.Since(start).Milliseconds()
			p := d.progress()
			phase := "load"
			if elapsed >= total {
				phase = "drain"
			}
			bar.Describe(fmt.Sprintf("%s: %d submitted, %d completed, %d errors", phase, p.accepted+p.failed, p.completed, p.failed))
			_ = bar.Set64(min(elapsed, total))
		}
	}()
	return func() { close(done); <-finished }
}
