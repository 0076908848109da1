package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/format"
)

// progress writes what the kit does as it does it: a line when a check starts, one when it
// ends, and the time waited so far during every wait longer than every. It is safe
// for concurrent use; nil writes nothing.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	every time.Duration
}

func newProgress(w io.Writer, start time.Time, every time.Duration) *progress {
	if w == nil {
		return nil
	}
	return &progress{w: w, start: start, every: every}
}

func (p *progress) printf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// check runs one check: it says the check has started, runs judge, says how it ended and
// adds it to the report.
func (k *kit) check(c Check, judge func() (result, reason string)) {
	k.progress.printf("…    %s", c.Title)
	c.Result, c.Reason = judge()
	k.add(c)
}

// add adds a finished check to the report and says how it ended.
func (k *kit) add(c Check) {
	k.progress.printf("%-4s %s: %s", c.Result, c.Title, c.Reason)
	k.report.add(c)
}

// waiting says, every Config.ProgressEvery until stop is called, how long the kit has been waiting
// for what, out of limit (0: no limit known).
func (k *kit) waiting(what string, limit time.Duration) (stop func()) {
	if k.progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(k.progress.every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				waited := time.Since(start).Round(time.Second)
				if limit > 0 {
					k.progress.printf("     still waiting for %s: %v of at most %v", what, waited, limit)
				} else {
					k.progress.printf("     still waiting for %s: %v", what, waited)
				}
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// TargetReason is the reason a target gives in a JSON answer, "message" or "error" (or
// error.message), followed by the problems it lists (error.problems or problems: path and
// message), on one line, digits of personal data masked and bounded in length. It is empty
// when the body says nothing the kit can read.
func TargetReason(body []byte) string {
	reason := delivery.ReceiverMessage(body)
	var doc struct {
		Problems []problemJSON `json:"problems"`
		Error    json.RawMessage
	}
	if json.Unmarshal(body, &doc) != nil {
		return reason
	}
	var nested struct {
		Problems []problemJSON `json:"problems"`
	}
	_ = json.Unmarshal(doc.Error, &nested)
	var parts []string
	for _, p := range append(doc.Problems, nested.Problems...) {
		text := strings.TrimSpace(p.Message)
		if text == "" {
			text = p.Rule
		}
		if p.Path != "" {
			text = p.Path + ": " + text
		}
		parts = append(parts, delivery.OneLine(format.MaskDigits(text)))
		if len(parts) == 3 {
			break
		}
	}
	if len(parts) > 0 {
		if reason != "" {
			reason += ": "
		}
		reason += strings.Join(parts, "; ")
	}
	return delivery.Truncate(reason, 2*delivery.MaxReason)
}

type problemJSON struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}
