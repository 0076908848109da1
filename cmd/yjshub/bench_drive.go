package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"yjshub/hub/cases"
)

// benchCase is what the bench learns of one case it submits.
type benchCase struct {
	n        uint64
	example  string
	intended time.Time // when the schedule meant to send it: latencies start here
	answered time.Time // when the hub's answer to the submission arrived
	failure  string    // why the submission failed, in words without personal data; "" if taken
	caseID   string

	// From the change feed: the hub's time of the case's completed step, and when the bench
	// saw it (its own clock, for rates).
	completed, completedSeen time.Time
	ended                    string // a final state other than completed (withdrawn)

	// From the case, read after the run: the last sub-case's dispatch and delivery (hub
	// times), and each sub-case's dispatched → delivered.
	dispatched, delivered time.Time
	hops                  []time.Duration
	subcases              int
	department            string // of its first sub-case

	// With --until delivered: the sub-cases dispatched at intake, and the delivered steps the
	// feed has shown so far and the last one's time.
	expect, deliveries int
	lastDelivered      time.Time
}

// benchDriver submits the load to a hub and follows the cases through its change feed.
type benchDriver struct {
	base   string // the hub's URL, without a trailing /
	key    string // the API key of the platform the load comes from ("" without authentication)
	client *http.Client
	mix    *benchMix
	// prefix starts the external reference and the Idempotency-Key of every case of the run:
	// the feed's entries are matched to cases by it.
	prefix string
	// untilDelivered settles a case once every sub-case dispatched at intake is delivered
	// (the operators' feed shows the delivery steps), rather than at its completed step.
	untilDelivered bool

	mu        sync.Mutex
	cases     map[uint64]*benchCase
	scheduled int
	accepted  int
	failed    int
	completed int
	ended     int
	// settled counts the accepted cases that have completed or otherwise ended: the drain
	// waits for it to reach accepted.
	settled int
	feedErr error // the last error of the feed, while it lasts
}

func (d *benchDriver) newCase(n uint64, intended time.Time) *benchCase {
	c := &benchCase{n: n, intended: intended}
	d.mu.Lock()
	d.cases[n] = c
	d.scheduled++
	d.mu.Unlock()
	return c
}

// openLoop sends cases at rate a second from start until end, each at its own time whatever
// became of the ones before: a slow hub does not slow the schedule, so the latency of a case
// that waited for a free worker counts from when it was due (no coordinated omission). It
// returns when every case due has been answered or ctx has ended.
func (d *benchDriver) openLoop(ctx context.Context, rate float64, workers int, start, end time.Time) {
	jobs := make(chan *benchCase, 1024)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				d.submit(ctx, c)
			}
		}()
	}
	interval := float64(time.Second) / rate
	for n := uint64(0); ; n++ {
		at := start.Add(time.Duration(float64(n) * interval))
		if !at.Before(end) || sleepUntil(ctx, at) != nil {
			break
		}
		c := d.newCase(n, at)
		select {
		case jobs <- c:
			continue
		case <-ctx.Done():
			d.answer(c, time.Now(), "", "not sent: the run ended first")
		}
		break
	}
	close(jobs)
	wg.Wait()
}

// closedLoop has workers send cases one after the other, each as soon as the last was
// answered, until end.
func (d *benchDriver) closedLoop(ctx context.Context, workers int, end time.Time) {
	var next atomic.Uint64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				d.submit(ctx, d.newCase(next.Add(1)-1, now))
			}
		}()
	}
	wg.Wait()
}

func (d *benchDriver) ref(n uint64) string { return d.prefix + strconv.FormatUint(n, 10) }

// submit posts the case's application with its reference as Idempotency-Key.
func (d *benchDriver) submit(ctx context.Context, c *benchCase) {
	body, example, err := d.mix.application(c.n, d.ref(c.n))
	c.example = example
	if err != nil {
		d.answer(c, time.Now(), "", "not sent: "+err.Error())
		return
	}
	var v struct {
		ID       string `json:"id"`
		Subcases []struct {
			State string `json:"state"`
		} `json:"subcases"`
	}
	_, err = d.call(ctx, http.MethodPost, "/api/v1/cases", body, map[string]string{"Idempotency-Key": d.ref(c.n)}, &v)
	if err != nil {
		d.answer(c, time.Now(), "", err.Error())
		return
	}
	expect := 0
	for _, sc := range v.Subcases {
		if sc.State == cases.StateDispatched {
			expect++
		}
	}
	d.mu.Lock()
	c.expect = expect
	if d.untilDelivered && expect > 0 && c.deliveries >= expect && c.completed.IsZero() {
		c.completed, c.completedSeen = c.lastDelivered, time.Now() // the feed was quicker than the answer
		d.completed++
	}
	d.mu.Unlock()
	d.answer(c, time.Now(), v.ID, "")
}

func (d *benchDriver) answer(c *benchCase, at time.Time, caseID, failure string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c.answered, c.failure = at, failure
	if caseID != "" {
		c.caseID = caseID
	}
	if failure != "" {
		d.failed++
		return
	}
	d.accepted++
	if !c.completed.IsZero() || c.ended != "" {
		d.settled++ // the feed was quicker than the answer
	}
}

// call sends one request to the hub and decodes a 2xx answer into out. Its error names the
// status and the hub's error code, or why there was no answer — never the body, which may
// quote personal data.
func (d *benchDriver) call(ctx context.Context, method, path string, body []byte, headers map[string]string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.key != "" {
		req.Header.Set("Authorization", "Bearer "+d.key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, noAnswer(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("answer cut short: HTTP %d", resp.StatusCode)
	}
	if resp.StatusCode/100 != 2 {
		var ae apiError
		if json.Unmarshal(b, &ae) == nil && ae.Error.Code != "" {
			if len(ae.Error.Problems) > 0 {
				return resp.StatusCode, fmt.Errorf("HTTP %d %s at %s", resp.StatusCode, ae.Error.Code, ae.Error.Problems[0].Path)
			}
			return resp.StatusCode, fmt.Errorf("HTTP %d %s", resp.StatusCode, ae.Error.Code)
		}
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("HTTP %d with an answer that is not the JSON expected", resp.StatusCode)
		}
	}
	return resp.StatusCode, nil
}

// noAnswer names why a request got no answer in a few words, the same for every request that
// failed alike, so that the report counts them together rather than by port or address.
func noAnswer(err error) error {
	var ne net.Error
	why := ""
	switch {
	case errors.Is(err, context.Canceled):
		why = "the run ended first"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		why = "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = "connection closed"
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the same for every request
		}
		why = err.Error()
	}
	return errors.New("no answer: " + why)
}

// feedTail reads the change feed to its end and returns the cursor there, so that following
// it from there sees this run's cases and not the hub's past.
func (d *benchDriver) feedTail(ctx context.Context) (string, error) {
	cursor := "0"
	for {
		var f cases.Feed
		if _, err := d.call(ctx, http.MethodGet, "/api/v1/events?limit=1000&after="+cursor, nil, nil, &f); err != nil {
			return "", fmt.Errorf("reading the change feed: %w", err)
		}
		if len(f.Items) == 0 {
			return cursor, nil
		}
		cursor = f.Next
	}
}

// followFeed long-polls the change feed from cursor until ctx ends, noting each of the run's
// cases that completes. An error is kept for the report and the feed is asked again.
func (d *benchDriver) followFeed(ctx context.Context, cursor string) {
	for ctx.Err() == nil {
		var f cases.Feed
		path := "/api/v1/events?limit=1000&wait=5&after=" + cursor
		if d.untilDelivered {
			path += "&steps=all"
		}
		_, err := d.call(ctx, http.MethodGet, path, nil, nil, &f)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.mu.Lock()
			d.feedErr = err
			d.mu.Unlock()
			_ = sleepUntil(ctx, time.Now().Add(500*time.Millisecond))
			continue
		}
		seen := time.Now()
		d.mu.Lock()
		d.feedErr = nil
		for _, e := range f.Items {
			d.noteLocked(e, seen)
		}
		d.mu.Unlock()
		cursor = f.Next
	}
}

// noteLocked takes one feed entry. d.mu is held.
func (d *benchDriver) noteLocked(e cases.FeedEntry, seen time.Time) {
	num, ok := strings.CutPrefix(e.ExternalRef, d.prefix)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(num, 10, 64)
	c := d.cases[n]
	if err != nil || c == nil {
		return
	}
	if c.caseID == "" {
		c.caseID = e.CaseID // the hub took it though its answer was lost
	}
	wasOpen := c.completed.IsZero() && c.ended == ""
	switch {
	case d.untilDelivered && e.Type == cases.StepDelivered && c.completed.IsZero():
		c.deliveries++
		c.lastDelivered = later(c.lastDelivered, e.At)
		if c.expect > 0 && c.deliveries >= c.expect {
			c.completed, c.completedSeen = c.lastDelivered, seen
			d.completed++
		}
	case !d.untilDelivered && e.Type == cases.CaseCompleted && c.completed.IsZero():
		c.completed, c.completedSeen = e.At, seen
		d.completed++
	case e.Type == cases.CaseWithdrawn && c.ended == "":
		c.ended = e.Type
		d.ended++
	}
	if wasOpen && (!c.completed.IsZero() || c.ended != "") && !c.answered.IsZero() && c.failure == "" {
		d.settled++
	}
}

// progress is the counts the progress line shows.
type progress struct{ scheduled, accepted, failed, completed int }

func (d *benchDriver) progress() progress {
	d.mu.Lock()
	defer d.mu.Unlock()
	return progress{d.scheduled, d.accepted, d.failed, d.completed + d.ended}
}

// drained reports whether every case the hub took has completed or otherwise ended.
func (d *benchDriver) drained() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settled >= d.accepted
}

// readCases reads each completed case once the run is over, for the times the feed does not
// carry (a sub-case's delivery is the operators', shown only in the case). A department may
// call back, and so complete the case, before the hub has recorded the answer to its
// delivery, so a case with a delivery not yet recorded is read again a few times.
func (d *benchDriver) readCases(ctx context.Context, workers int) error {
	d.mu.Lock()
	var todo []*benchCase
	for _, c := range d.cases {
		if !c.completed.IsZero() && c.caseID != "" {
			todo = append(todo, c)
		}
	}
	d.mu.Unlock()
	jobs := make(chan *benchCase)
	errc := make(chan error, workers)
	for range workers {
		go func() {
			var first error
			for c := range jobs {
				if err := d.readCase(ctx, c); err != nil && first == nil {
					first = err
				}
			}
			errc <- first
		}()
	}
	for _, c := range todo {
		jobs <- c
	}
	close(jobs)
	var errs []error
	for range workers {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

func (d *benchDriver) readCase(ctx context.Context, c *benchCase) error {
	for attempt := 1; ; attempt++ {
		var v cases.CaseView
		if _, err := d.call(ctx, http.MethodGet, "/api/v1/cases/"+url.PathEscape(c.caseID), nil, nil, &v); err != nil {
			return fmt.Errorf("reading a completed case: %w", err)
		}
		var hops []time.Duration
		var dispatched, delivered time.Time
		all := len(v.Subcases) > 0
		for _, sc := range v.Subcases {
			if sc.DispatchedAt == nil {
				continue // never sent (waiting for a prerequisite, cancelled): nothing to deliver
			}
			dispatched = later(dispatched, *sc.DispatchedAt)
			if sc.DeliveredAt == nil {
				all = false
				continue
			}
			delivered = later(delivered, *sc.DeliveredAt)
			if sc.DispatchedAt != nil {
				hops = append(hops, sc.DeliveredAt.Sub(*sc.DispatchedAt))
			}
		}
		if all || attempt == 5 {
			d.mu.Lock()
			c.dispatched, c.hops, c.subcases = dispatched, hops, len(v.Subcases)
			if all {
				c.delivered = delivered
			}
			if len(v.Subcases) > 0 {
				c.department = v.Subcases[0].Department.Code
			}
			d.mu.Unlock()
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(200*time.Millisecond)); err != nil {
			return err
		}
	}
}
