package deptsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Puller makes a [Simulator] a department of the REST pull binding (connectors/CONTRACT.md,
// "REST pull"): it polls the hub's inbox of Department, hands every item's envelope to the
// simulator as a push of that department, and acknowledges the item once the simulator has it
// (2xx, or 409: already has it). A redelivered item has the same id, which the simulator
// recognises as the same Idempotency-Key: it is acknowledged again with no second effect.
// The simulator calls back at the envelope's data.callback as for a push. Pulled sub-cases
// carry no signature: the simulator must not be given a signing secret for Department.
type Puller struct {
	// Hub is the base URL of the hub's API (e.g. http://localhost:8080). Required.
	Hub string
	// Department is the department whose inbox is polled. Required.
	Department string
	// Sim takes the envelopes. Required.
	Sim *Simulator
	// APIKey, when set, is sent as "Authorization: Bearer <key>". Default none.
	APIKey string
	// Max is the most items a poll asks for. Default 10.
	Max int
	// Visibility is the lease asked for. Default 30s.
	Visibility time.Duration
	// Interval is the pause between polls that found nothing. Default 200ms.
	Interval time.Duration
	// Client makes the requests. Default: a client with a 10s timeout.
	Client *http.Client
}

// Run polls until ctx ends, and returns nil then. Failed polls and acks are retried at the
// next poll: the hub hands an item out again until it is acknowledged.
func (p *Puller) Run(ctx context.Context) error {
	if p.Hub == "" || p.Department == "" || p.Sim == nil {
		return errors.New("deptsim: a puller needs the hub's URL, a department and a simulator")
	}
	if p.Max == 0 {
		p.Max = 10
	}
	if p.Visibility == 0 {
		p.Visibility = 30 * time.Second
	}
	if p.Interval == 0 {
		p.Interval = 200 * time.Millisecond
	}
	if p.Client == nil {
		p.Client = &http.Client{Timeout: 10 * time.Second}
	}
	for {
		n, err := p.poll(ctx)
		if err != nil {
			p.Sim.log.Warn("inbox poll failed", "department", p.Department, "error", errString(err), "simulated", true)
		}
		if n > 0 && err == nil {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Interval):
		}
	}
}

// pulled is an inbox item as the hub serves it.
type pulled struct {
	ID      string          `json:"id"`
	Lease   string          `json:"lease"`
	Message json.RawMessage `json:"message"`
}

func (p *Puller) inbox() string {
	return strings.TrimSuffix(p.Hub, "/") + "/api/v1/departments/" + url.PathEscape(p.Department) + "/inbox"
}

// poll leases items, hands each to the simulator and acknowledges it; it returns how many
// items it leased.
func (p *Puller) poll(ctx context.Context) (int, error) {
	q := url.Values{"max": {fmt.Sprint(p.Max)}, "visibility": {p.Visibility.String()}}
	body, status, err := p.do(ctx, http.MethodGet, p.inbox()+"?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("poll answered %d", status)
	}
	var items []pulled
	if err := json.Unmarshal(body, &items); err != nil {
		return 0, fmt.Errorf("poll: %w", err)
	}
	var errs []error
	for _, it := range items {
		if !p.take(ctx, it) {
			continue // not taken: the hub hands it out again
		}
		ack, _ := json.Marshal(map[string]string{"lease": it.Lease})
		_, status, err := p.do(ctx, http.MethodPost, p.inbox()+"/"+url.PathEscape(it.ID)+"/ack", ack)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("ack: %w", err))
		case status == http.StatusConflict:
			// The lease ran out and the item was leased again: it comes back, with the same
			// id, and is acknowledged then.
		case status != http.StatusOK:
			errs = append(errs, fmt.Errorf("ack answered %d", status))
		}
	}
	return len(items), errors.Join(errs...)
}

// take hands an envelope to the simulator as a push of the department; true when the
// simulator has it.
func (p *Puller) take(ctx context.Context, it pulled) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/departments/"+url.PathEscape(p.Department)+"/subcases", bytes.NewReader(it.Message))
	if err != nil {
		return false
	}
	req.SetPathValue("dept", p.Department)
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	req.Header.Set("Idempotency-Key", it.ID)
	rec := &statusRecorder{header: http.Header{}}
	p.Sim.push(rec, req)
	return rec.status >= 200 && rec.status <= 299 || rec.status == http.StatusConflict
}

func (p *Puller) do(ctx context.Context, method, target string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.APIKey)
	}
	req.Header.Set("X-Yjshub-Simulated", "true")
	resp, err := p.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return b, resp.StatusCode, err
}

// statusRecorder keeps the status of an in-process push; the body is the simulator's answer,
// which the puller does not need.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
