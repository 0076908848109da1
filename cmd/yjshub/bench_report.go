package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// benchReport is what a run measured.
type benchReport struct {
	mode, backend    string
	loop             string
	until            string // completed | delivered: what settled a case
	rate             float64
	concurrency      int
	duration, warmup time.Duration

	scheduled, accepted, completed int
	errorKinds                     map[string]int
	mix                            map[string]int // cases per example application

	casesPerSecond, acceptedPerSecond, subcasesPerSecond float64
	// settledPerSecond is every case settled over the time from the start to the last one
	// settled: what the hub sustained, backlog included, where casesPerSecond counts the
	// window only.
	settledPerSecond float64

	submit, dispatched, delivered, completedLat, hop latencies

	statementsPerCase *float64
	statementsNote    string // why there is no figure
	maxRSSMB          *float64
	rssNote           string // how the figure was taken, or why there is none
	heapLiveMB        *float64
	simRetained       *int

	raw     *rawResult
	rawNote string // why the baseline was not run
}

func (r *benchReport) errors() int {
	n := 0
	for _, v := range r.errorKinds {
		n += v
	}
	return n
}

// summarise fills the report from the cases: figures of the measured window, which starts
// after the warm-up, and errors of the whole run.
func (r *benchReport) summarise(cs map[uint64]*benchCase, start time.Time) {
	from, end := start.Add(r.warmup), start.Add(r.duration)
	window := end.Sub(from).Seconds()
	r.errorKinds, r.mix = map[string]int{}, map[string]int{}
	var submit, dispatched, delivered, completed, hops []time.Duration
	var subcasesDone int
	var lastSettled time.Time
	for _, c := range cs {
		r.scheduled++
		if c.example != "" {
			r.mix[c.example]++
		}
		switch {
		case c.failure != "":
			r.errorKinds[c.failure]++
			continue
		case c.ended != "":
			r.errorKinds["case "+c.ended]++
		case c.completed.IsZero():
			r.errorKinds["not "+r.until+" before the drain ended"]++
		default:
			r.completed++
			lastSettled = later(lastSettled, c.completedSeen)
			if !c.completedSeen.Before(from) && !c.completedSeen.After(end) {
				r.casesPerSecond++
				subcasesDone += c.subcases
			}
		}
		r.accepted++
		if c.intended.Before(from) || !c.intended.Before(end) {
			continue // warm-up
		}
		r.acceptedPerSecond++
		submit = append(submit, c.answered.Sub(c.intended))
		if !c.completed.IsZero() {
			completed = append(completed, c.completed.Sub(c.intended))
		}
		if !c.dispatched.IsZero() {
			dispatched = append(dispatched, c.dispatched.Sub(c.intended))
		}
		if !c.delivered.IsZero() {
			delivered = append(delivered, c.delivered.Sub(c.intended))
		}
		hops = append(hops, c.hops...)
	}
	r.casesPerSecond /= window
	if d := lastSettled.Sub(start).Seconds(); d > 0 {
		r.settledPerSecond = float64(r.completed) / d
	}
	r.acceptedPerSecond /= window
	r.subcasesPerSecond = float64(subcasesDone) / window
	r.submit, r.dispatched, r.delivered, r.completedLat, r.hop = summarise(submit), summarise(dispatched), summarise(delivered), summarise(completed), summarise(hops)
}

// ratios compare the hub with raw kafka-go: its sub-cases a second as a share of raw messages
// a second, and its median dispatched → delivered as a multiple of raw produce → consume.
func (r *benchReport) ratios() (throughput, latency *float64) {
	if r.raw == nil {
		return nil, nil
	}
	if r.raw.MsgsPerSecond > 0 {
		v := round3(r.subcasesPerSecond / r.raw.MsgsPerSecond)
		throughput = &v
	}
	if r.hop.P50 != nil && r.raw.Latency.P50 != nil && *r.raw.Latency.P50 > 0 {
		v := round3(*r.hop.P50 / *r.raw.Latency.P50)
		latency = &v
	}
	return throughput, latency
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// stages are the latencies reported, by the name the JSON keys carry.
func (r *benchReport) stages() []struct {
	name, label string
	l           latencies
} {
	return []struct {
		name, label string
		l           latencies
	}{
		{"submit", "submit (answer)", r.submit},
		{"dispatched", "dispatched (last sub-case)", r.dispatched},
		{"delivered", "delivered (last sub-case)", r.delivered},
		{"completed", r.settledLabel(), r.completedLat},
		{"hop", "sub-case dispatched → delivered", r.hop},
	}
}

// settledLabel names the stage that settles a case: its completion, or with --until delivered
// its last delivery (the JSON keeps the key completed for both, with until saying which).
func (r *benchReport) settledLabel() string {
	if r.until == "delivered" {
		return "every department delivered"
	}
	return "completed"
}

// json is the report as one object: the figures a script compares between runs.
func (r *benchReport) json() map[string]any {
	o := map[string]any{
		"mode": r.mode, "backend": r.backend, "loop": r.loop, "concurrency": r.concurrency,
		"duration_s": r.duration.Seconds(), "warmup_s": r.warmup.Seconds(),
		"submitted": r.scheduled, "accepted": r.accepted, "completed": r.completed, "until": r.until,
		"errors": r.errors(), "error_kinds": r.errorKinds, "mix": r.mix,
		"cases_per_second": round3(r.casesPerSecond), "accepted_per_second": round3(r.acceptedPerSecond),
		"subcases_per_second":     round3(r.subcasesPerSecond),
		"settled_per_second":      round3(r.settledPerSecond),
		"sql_statements_per_case": r.statementsPerCase,
		"max_rss_mb":              r.maxRSSMB, "rss_source": r.rssNote,
	}
	if r.loop == "open" {
		o["rate"] = r.rate
	}
	if r.statementsNote != "" {
		o["sql_statements_note"] = r.statementsNote
	}
	for _, s := range r.stages() {
		o["p50_"+s.name+"_ms"], o["p90_"+s.name+"_ms"], o["p99_"+s.name+"_ms"], o["max_"+s.name+"_ms"] = s.l.P50, s.l.P90, s.l.P99, s.l.Max
	}
	if r.heapLiveMB != nil {
		o["heap_live_mb"] = r.heapLiveMB
	}
	if r.simRetained != nil {
		o["simulator_retained_subcases"] = *r.simRetained
	}
	if r.raw != nil {
		o["raw_kafka"] = map[string]any{"paced_messages": r.raw.Paced, "burst_messages": r.raw.Burst, "message_bytes": r.raw.MessageBytes, "size_from": r.raw.SizeFrom, "paced_rate": round3(r.raw.PacedRate),
			"msgs_per_second": round3(r.raw.MsgsPerSecond), "p50_ms": r.raw.Latency.P50, "p99_ms": r.raw.Latency.P99,
			"hub_busy_cases": r.raw.HubBusy}
		o["hub_throughput_ratio"], o["hub_latency_ratio_p50"] = r.ratios()
	} else {
		o["raw_kafka_skipped"] = r.rawNote
	}
	return o
}

// writeText prints the report as a table for a reader.
func (r *benchReport) writeText(w io.Writer) {
	loop := fmt.Sprintf("closed loop, %d at a time", r.concurrency)
	if r.loop == "open" {
		loop = fmt.Sprintf("open loop at %g cases/s", r.rate)
	}
	fmt.Fprintf(w, "yjshub bench: %s hub (%s); %s for %s (warm-up %s)\n", r.mode, r.backend, loop, r.duration, r.warmup)
	fmt.Fprintf(w, "cases: %d submitted, %d accepted, %d %s, %d errors\n", r.scheduled, r.accepted, r.completed, r.until, r.errors())
	for _, k := range slices.Sorted(maps.Keys(r.errorKinds)) {
		fmt.Fprintf(w, "  %6d  %s\n", r.errorKinds[k], k)
	}
	var mix []string
	for _, k := range slices.Sorted(maps.Keys(r.mix)) {
		mix = append(mix, fmt.Sprintf("%s %d", k, r.mix[k]))
	}
	fmt.Fprintf(w, "mix: %s\n", strings.Join(mix, ", "))
	fmt.Fprintf(w, "throughput: %.1f cases/s %s within the run, %.1f sub-cases/s, %.1f submissions/s accepted; %.1f cases/s over the time to the last one %s\n\n",
		r.casesPerSecond, r.until, r.subcasesPerSecond, r.acceptedPerSecond, r.settledPerSecond, r.until)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency from the intended send (ms)\tn\tp50\tp90\tp99\tmax\t")
	for _, s := range r.stages() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", s.label, s.l.N, ms(s.l.P50), ms(s.l.P90), ms(s.l.P99), ms(s.l.Max))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	if r.statementsPerCase != nil {
		fmt.Fprintf(w, "SQL statements per case: %.1f\n", *r.statementsPerCase)
	} else {
		fmt.Fprintf(w, "SQL statements per case: n/a (%s)\n", r.statementsNote)
	}
	if r.maxRSSMB != nil {
		fmt.Fprintf(w, "hub RSS, largest: %.1f MB (%s)\n", *r.maxRSSMB, r.rssNote)
	} else {
		fmt.Fprintf(w, "hub RSS: n/a (%s)\n", r.rssNote)
	}
	if r.heapLiveMB != nil {
		fmt.Fprintf(w, "live heap after the run: %.1f MB", *r.heapLiveMB)
		if r.simRetained != nil {
			fmt.Fprintf(w, "; the simulated departments remember %d sub-cases", *r.simRetained)
		}
		fmt.Fprintln(w)
	}
	if r.raw == nil {
		fmt.Fprintf(w, "raw kafka-go: not measured (%s)\n", r.rawNote)
		return
	}
	fmt.Fprintln(w, "raw kafka-go on the same broker, one topic read by one group member that commits each message as a hub connector does:")
	fmt.Fprintf(w, "  messages of %d bytes (%s); %.0f msgs/s in a burst of %d; p50 %s ms, p99 %s ms at %.1f msgs/s\n",
		r.raw.MessageBytes, r.raw.SizeFrom, r.raw.MsgsPerSecond, r.raw.Burst, ms(r.raw.Latency.P50), ms(r.raw.Latency.P99), r.raw.PacedRate)
	if r.raw.HubBusy > 0 {
		fmt.Fprintf(w, "  (the hub was still at work on %d cases while the baseline ran: it shared the broker and the machine)\n", r.raw.HubBusy)
	}
	tp, lat := r.ratios()
	if tp != nil {
		fmt.Fprintf(w, "hub cost: its %.1f sub-cases/s are %.3f of raw kafka-go's msgs/s", r.subcasesPerSecond, *tp)
		if r.loop == "open" {
			fmt.Fprint(w, " (an open loop's rate is the one asked for, not the hub's most)")
		}
		fmt.Fprintln(w)
	}
	if lat != nil {
		fmt.Fprintf(w, "hub cost: a sub-case's median dispatched → delivered is %.1f× raw kafka-go's median produce → consume\n", *lat)
	}
}

func ms(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

// writeJSONLine writes v as one line.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
