package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
)

// Metric families the bench reads from the hub's GET /metrics.
const (
	metricStatements = "yjshub_db_statements_total"    // SQL statements run, if the hub counts them
	metricRSS        = "process_resident_memory_bytes" // the process collector's
)

// latencies summarises durations in milliseconds; nil fields when there were none.
type latencies struct {
	P50, P90, P99, Max *float64
	N                  int
}

// summarise sorts ds and reads its percentiles by the nearest-rank method, so that every
// figure is one that was measured.
func summarise(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	slices.Sort(ds)
	at := func(p float64) *float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return msOf(ds[max(i, 0)])
	}
	return latencies{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: msOf(ds[len(ds)-1]), N: len(ds)}
}

// msOf is d in milliseconds, to the microsecond the hub's timestamps keep.
func msOf(d time.Duration) *float64 {
	v := math.Round(float64(d)/float64(time.Microsecond)) / 1000
	return &v
}

// scrape reads the hub's GET /metrics. key is the operator's API key ("" when the hub does not
// authenticate); a hub that refuses it, or has no /metrics, is an error.
func scrape(ctx context.Context, client *http.Client, base, key string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sum adds up the samples of a counter or gauge family; ok is false when the hub has none.
func sum(families map[string]*dto.MetricFamily, name string) (v float64, ok bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, true
}

// rssSampler follows the hub's resident memory while the load runs, from where it can see it:
// the kernel's figures for a process on this machine (the in-process hub, or --pid), else the
// hub's own process_resident_memory_bytes.
type rssSampler struct {
	// proc is the process to read, nil to scrape instead.
	proc *procfs.Proc
	// useHWM reads the kernel's high-water mark (VmHWM) at the end: right for a process that
	// started with the run, as the in-process hub did; a hub that ran before has its own past
	// in it, so its samples are taken instead.
	useHWM bool
	scrape func(context.Context) (map[string]*dto.MetricFamily, error)
	every  time.Duration

	mu      sync.Mutex
	maxRSS  uint64
	lastErr error // why the last sample could not be taken
}

func (s *rssSampler) sample(ctx context.Context) {
	rss, err := s.read(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return
	}
	s.maxRSS = max(s.maxRSS, rss)
}

func (s *rssSampler) read(ctx context.Context) (uint64, error) {
	if s.proc != nil {
		st, err := s.proc.NewStatus()
		if err != nil {
			return 0, fmt.Errorf("reading /proc/%d/status: %w", s.proc.PID, err)
		}
		return st.VmRSS, nil
	}
	fams, err := s.scrape(ctx)
	if err != nil {
		return 0, fmt.Errorf("the hub's /metrics could not be read: %w", err)
	}
	v, ok := sum(fams, metricRSS)
	if !ok {
		return 0, fmt.Errorf("the hub's /metrics has no %s", metricRSS)
	}
	return uint64(v), nil
}

// run samples until ctx ends.
func (s *rssSampler) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// result returns the largest resident set seen, in MB, and how it was taken; nil, and why,
// when it could not be.
func (s *rssSampler) result() (*float64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var how string
	switch {
	case s.proc != nil && s.useHWM:
		if st, err := s.proc.NewStatus(); err == nil {
			s.maxRSS = max(s.maxRSS, st.VmHWM)
		}
		how = fmt.Sprintf("VmHWM of process %d, the load generator's share included", s.proc.PID)
	case s.proc != nil:
		how = fmt.Sprintf("largest VmRSS of process %d, sampled every %s", s.proc.PID, s.every)
	default:
		how = fmt.Sprintf("largest %s of the hub's /metrics, sampled every %s", metricRSS, s.every)
	}
	if s.maxRSS == 0 {
		why := "no sample"
		if s.lastErr != nil {
			why = s.lastErr.Error()
		}
		return nil, why
	}
	mb := math.Round(float64(s.maxRSS)/(1<<20)*10) / 10
	return &mb, how
}
