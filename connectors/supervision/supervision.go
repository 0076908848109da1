package supervision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"yjshub/catalogue"
	"yjshub/connectors/casepush"
	"yjshub/connectors/delivery"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/store"
)

// Kind is the connector kind's name; Name the connector's name in the status API.
const (
	Kind = "supervision"
	Name = Kind + ":platform"
)

// cst is China Standard Time.
var cst = time.FixedZone("CST", 8*3600)

// Cases is what the connector needs of the case service; *cases.Service has it.
type Cases interface {
	Get(ctx context.Context, caseID string) (*cases.CaseView, error)
	Holder(ctx context.Context, caseID string) (event.ApplicantRef, error)
}

// Deps are what the connector needs of the hub, each passed in explicitly; all are required.
type Deps struct {
	// Bus carries the case events the connector follows; Store keeps its pushes; Catalogue
	// names the supervising departments and matters; Cases gives each case and its holder;
	// Recorder keeps its dead letters.
	Bus       *bus.Bus
	Store     *store.Store
	Catalogue *catalogue.Catalogue
	Cases     Cases
	Recorder  connector.Recorder
}

// Option changes how New builds a Connector.
type Option func(*options)

type options struct {
	log  *slog.Logger
	http *http.Client
}

// WithLogger sends the connector's logs to l. Default: nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHTTPClient makes requests with a copy of hc.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.http = hc } }

// Connector pushes supervision records. It is safe for concurrent use.
type Connector struct {
	cfg    Config
	cases  Cases
	cat    *catalogue.Catalogue
	client *delivery.Client
	runner *casepush.Runner
}

// New returns the supervision connector after applying cfg's defaults and validating it (the
// supervising departments and matters must be the catalogue's); the error lists every problem.
func New(cfg Config, deps Deps, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	b, st, svc, rec, cat := deps.Bus, deps.Store, deps.Cases, deps.Recorder, deps.Catalogue
	for _, dep := range []struct {
		name    string
		missing bool
	}{{"bus", b == nil}, {"store", st == nil}, {"catalogue", cat == nil}, {"cases", svc == nil}, {"recorder", rec == nil}} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%s: required", dep.name))
		}
	}
	if cat != nil {
		for _, matter := range sortedKeys(cfg.Supervising) {
			if _, ok := cat.Matter(matter); !ok {
				errs = append(errs, fmt.Errorf("supervising: %s is not a matter of the catalogue", matter))
			}
			if _, ok := cat.Department(cfg.Supervising[matter]); !ok {
				errs = append(errs, fmt.Errorf("supervising.%s: %s is not a department of the catalogue", matter, cfg.Supervising[matter]))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("supervision: invalid configuration: %w", err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	client, err := delivery.NewClient(delivery.ClientConfig{Endpoint: cfg.Endpoint, Timeout: cfg.Timeout, Headers: cfg.Headers,
		Retry: cfg.Retry, UserAgent: "yjshub-supervision", SigningSecret: cfg.SigningSecret}, o.http)
	if err != nil {
		return nil, fmt.Errorf("supervision: %w", err)
	}
	c := &Connector{cfg: cfg, cases: svc, cat: cat, client: client}
	c.runner, err = casepush.NewRunner(casepush.RunnerConfig{Name: Name, GroupID: cfg.GroupID, Concurrency: cfg.Concurrency}, b, client,
		casepush.NewLedger(st, Name), rec, planner{c}, o.log.With("connector", Name))
	if err != nil {
		return nil, fmt.Errorf("supervision: %w", err)
	}
	return c, nil
}

// Run pushes records until ctx ends (then it returns nil) or recording fails (then it returns
// the error; the manager runs it again).
func (c *Connector) Run(ctx context.Context) error { return c.runner.Run(ctx) }

// Status reports the connector: its group on yjs.case.event (the manager fills in the lag),
// records pushed, retries and dead letters.
func (c *Connector) Status() connector.Status {
	s := c.runner.Stats()
	return connector.Status{
		Name: Name, Kind: Kind, Topic: bus.TopicCaseEvent, Group: c.cfg.GroupID,
		Delivered: s.Delivered, Retries: s.Retries, Failed: s.Failed, DeadLetters: s.Failed, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"endpoint": c.client.Endpoint(), "mask_holder_id": c.cfg.masked()},
	}
}

// RecordID is the id of the supervision record of an approved sub-case; it is also the
// Idempotency-Key of its push.
func RecordID(subcaseID string) string { return "yjshub:" + subcaseID + ":approved" }

// planner turns case events into supervision records.
type planner struct{ c *Connector }

// Steps: one record per approved sub-case.
func (p planner) Steps(_ context.Context, ev cases.CaseUpdated) ([]casepush.Step, error) {
	var steps []casepush.Step
	for _, sc := range ev.Subcases {
		if sc.State == cases.StateApproved {
			steps = append(steps, casepush.Step{Key: RecordID(sc.ID), CaseID: ev.CaseID, Name: "record", Subject: sc.ID})
		}
	}
	return steps, nil
}

// Build reads the case and its holder and builds the records.
func (p planner) Build(ctx context.Context, ev cases.CaseUpdated, steps []casepush.Step) ([]casepush.Push, error) {
	v, err := p.c.cases.Get(ctx, ev.CaseID)
	if err != nil {
		return nil, err
	}
	holder, err := p.c.cases.Holder(ctx, ev.CaseID)
	if err != nil {
		return nil, err
	}
	cat := p.c.cat
	var pushes []casepush.Push
	for _, s := range steps {
		i := slices.IndexFunc(v.Subcases, func(sc cases.SubcaseView) bool { return sc.ID == s.Subject })
		if i < 0 || v.Subcases[i].State != cases.StateApproved {
			continue
		}
		sc := v.Subcases[i]
		approvedAt := v.SubmittedAt
		for _, e := range v.Timeline {
			if e.SubcaseID == sc.ID && e.Type == cases.StateApproved {
				approvedAt = e.At
			}
		}
		numbers := []string{}
		licences := []map[string]any{}
		for _, l := range v.Licences {
			if l.SubcaseID == sc.ID {
				numbers = append(numbers, l.Number)
				licences = append(licences, map[string]any{"type": l.Type, "type_code": l.TypeCode, "number": l.Number,
					"valid_from": l.ValidFrom, "valid_until": l.ValidUntil})
			}
		}
		supervising := sc.Department.Code
		if d, ok := p.c.cfg.Supervising[sc.MatterCode]; ok {
			supervising = d
		}
		matter := map[string]any{"code": sc.MatterCode, "name": sc.MatterName}
		if m, ok := cat.Matter(sc.MatterCode); ok {
			matter["result_kind"], matter["result_name"] = m.Result.Kind, m.Result.Name
		}
		id, masked := holder.ID, false
		if event.Personal(holder.IDType) && p.c.cfg.masked() {
			id, masked = MaskID(holder.ID), true
		}
		record := map[string]any{
			"record_id": RecordID(sc.ID), "case_id": v.ID, "subcase_id": sc.ID,
			"bundle":     map[string]any{"seq": v.Bundle.Seq, "code": v.Bundle.Code, "name": v.Bundle.Name},
			"matter":     matter,
			"department": department(cat, sc.Department.Code),
			"holder": map[string]any{"name": holder.Name, "id_type": holder.IDType, "id_number": id, "id_masked": masked,
				"applicant_type": v.ApplicantType},
			"decision_number":        sc.DecisionNumber,
			"licence_numbers":        numbers,
			"licences":               licences,
			"approved_at":            approvedAt.In(cst).Format(time.RFC3339),
			"supervising_department": department(cat, supervising),
		}
		body, err := json.Marshal(record)
		if err != nil {
			return nil, err
		}
		pushes = append(pushes, casepush.Push{Step: s, Body: body})
	}
	return pushes, nil
}

func department(cat *catalogue.Catalogue, code string) map[string]any {
	out := map[string]any{"code": code, "name": code}
	if d, ok := cat.Department(code); ok {
		out["name"] = d.Name
		if d.FullName != "" {
			out["name"] = d.FullName
		}
	}
	return out
}

// MaskID masks a resident ID number for a record: the region (first six characters) and the
// last four show, the birth date does not: 110105********002X. Anything shorter than ten
// characters is masked whole.
func MaskID(id string) string {
	if len(id) < 10 {
		return strings.Repeat("*", len(id))
	}
	return id[:6] + strings.Repeat("*", len(id)-10) + id[len(id)-4:]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
