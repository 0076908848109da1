package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/pseudonym"
	"yjshub/hub/reform"
	"yjshub/hub/sharing"
	"yjshub/hub/uploads"
	"yjshub/mapping"
)

// Check is a readiness check: a named dependency (the store, the broker) and how to reach it.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Config wires the API to the hub's parts.
type Config struct {
	// Catalogue is the loaded catalogue the read API serves. Optional: without it the
	// catalogue routes are not mounted. Required with Cases or Sharing.
	Catalogue *catalogue.Catalogue
	// Cases runs the case flow: intake, case state, department events, the deadline watch.
	// Optional: without it those routes are not mounted. With it, Forms is required.
	Cases *cases.Service
	// Forms caches the one forms (GET /bundles/{code}/form): the case service's own.
	Forms *mapping.Forms
	// Connectors runs the connectors: the status, pause and resume routes. Optional.
	Connectors ConnectorAdmin
	// Reload applies the connectors file again. Optional.
	Reload func() error
	// DeadLetters serves the dead-letter routes. Optional.
	DeadLetters DeadLetters
	// Inbox serves the inbox that restpull departments poll (lease and ack). Optional.
	Inbox Inbox
	// Sharing serves consents, prefill and the reuse report. Optional: without it the
	// shared-data routes are not mounted. With it, Licences and Audit are required.
	Sharing *sharing.Service
	// Reform makes the report of the reform's results (GET /api/v1/reports/reform, for
	// operators). Optional: without it the route is not mounted.
	Reform *reform.Service
	// Licences is the e-licence library the licence routes list, verify and revoke in.
	Licences *licences.Library
	// Audit is the audit log the audit routes list and verify, and operators' reads of
	// personal data are written to.
	Audit *audit.Log
	// Pseudonyms makes the holder references of audit rows. Without it (or Audit), operators
	// see personal data masked whatever their grant.
	Pseudonyms *pseudonym.Keyring
	// Clients are the API clients and their roles (hub/auth). Nil: the API does not
	// authenticate, and every route is open (for a hub on a loopback address).
	Clients *auth.Clients
	// Checks are run by /readyz. Default: none (always ready).
	Checks []Check
	// Warnings, when set, returns what /readyz reports besides its checks without making the
	// hub unready: an official holiday schedule about to end, say.
	Warnings func() []string
	// Logger receives request errors. Default: slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds each readiness check. Default: 2s.
	ReadyTimeout time.Duration
	// Metrics serves GET /metrics, the Prometheus exposition of the hub's metrics (hub/metrics),
	// for operators. Optional: without it the route is not mounted.
	Metrics http.Handler
	// Instrument wraps every request before any other middleware, so that it sees the route
	// pattern the request matched (hub/metrics' HTTP middleware). Optional.
	Instrument func(http.Handler) http.Handler
	// Limits bound requests in flight and each client's rate. The zero value takes the defaults.
	Limits Limits
	// FeedMaxWait is the longest a long poll of the change feed is held (GET /api/v1/events
	// ?wait=): a wait beyond it ends then, with what there is. Default (0): DefaultFeedMaxWait.
	// Lower it for proxies that cut idle requests sooner.
	FeedMaxWait time.Duration
	// UI serves the operator console (hub/ui) at /ui and below /ui/. Optional. Its pages are
	// public, as the catalogue is: they hold no data and call the API with the operator's key.
	UI http.Handler
	// Uploads serves the resumable uploads at /api/v1/uploads (tus) and the records of the
	// material objects they become at /api/v1/material-objects/{id} (files.go). Optional: without it
	// those routes are not mounted.
	Uploads *uploads.Service
	// Blobs and LinkKeys serve the materials' files through signed links at
	// /api/v1/files/{sha256}, each read written to Audit. Optional, together: without them the
	// route is not mounted.
	Blobs    blobs.Store
	LinkKeys *links.Keyring
	// LinkTTL is how long a link to an e-licence's file in the library's answers lives.
	// Default and most links.MaxTTL (7 days), as the links in the departments' messages.
	LinkTTL time.Duration
}

// DefaultFeedMaxWait is the longest a long poll is held by default: short of the server's 60s
// bound on an answer (ServerLimits.WriteTimeout), so that the answer is always written.
const DefaultFeedMaxWait = 50 * time.Second

// Server is the hub's HTTP handler.
type Server struct {
	cfg      Config
	router   chi.Router
	limits   Limits
	inFlight chan struct{}
	buckets  *buckets
	// concrete holds the methods of each route without parameters (methods.go).
	concrete map[string][]string
}

// New returns the HTTP handler of the hub; the error names every part cfg lacks.
func New(cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	s := &Server{cfg: cfg, limits: cfg.Limits.withDefaults(), buckets: newBuckets(time.Now)}
	s.inFlight = make(chan struct{}, s.limits.MaxInFlight)
	r := chi.NewRouter()
	if cfg.Instrument != nil {
		r.Use(cfg.Instrument)
	}
	r.Use(s.labelProblems, s.recoverer, s.guard)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such path: "+r.URL.Path)
	})
	r.Use(s.concretePathsFirst)
	r.MethodNotAllowed(s.methodNotAllowed)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if cfg.UI != nil {
		r.Handle("/ui*", cfg.UI) // /ui redirects to /ui/; the console answers GET and HEAD itself
	}
	if cfg.Metrics != nil {
		r.With(s.allow(forOperators...)).Get("/metrics", cfg.Metrics.ServeHTTP)
	}
	r.Route("/api/v1", func(r chi.Router) {
		if cfg.Catalogue != nil {
			r.Get("/bundles", s.listBundles)
			r.Get("/bundles/{code}", s.getBundle)
			r.Get("/matters", s.listMatters)
			r.Get("/matters/{code}", s.getMatter)
			r.Get("/materials", s.listMaterials)
			r.Get("/materials/{code}", s.getMaterial)
			r.Get("/bundles/{code}/notice", s.notice)
			r.Get("/bundles/{code}/coverage", s.bundleCoverage)
			r.Get("/departments", s.listDepartments)
			r.Get("/catalogue", s.catalogueInfo)
		}
		s.mountFiles(r)
		r.Get("/openapi.json", s.openAPIDocument())
		ops := r.With(s.allow(forOperators...))
		if cfg.Connectors != nil {
			ops.Get("/connectors", s.listConnectors)
			ops.Post("/connectors/reload", s.reloadConnectors)
			ops.Get("/connectors/{name}", s.getConnector)
			ops.Post("/connectors/{name}/pause", s.connectorAction(cfg.Connectors.Pause))
			ops.Post("/connectors/{name}/resume", s.connectorAction(cfg.Connectors.Resume))
		}
		depts := r.With(s.allow(forDepartments...))
		if cfg.Inbox != nil {
			depts.Get("/departments/{dept}/inbox", s.leaseInbox)
			depts.Post("/departments/{dept}/inbox/{id}/ack", s.ackInbox)
		}
		if cfg.DeadLetters != nil {
			ops.Get("/dlq", s.listDeadLetters)
			ops.Get("/dlq/{id}", s.getDeadLetter)
			ops.Post("/dlq/{id}/replay", s.replayDeadLetter)
		}
		if cfg.Cases != nil {
			r.Get("/bundles/{code}/form", s.oneForm)
			r.With(s.allow(forApplicants...)).Post("/cases", s.submitCase)
			r.With(s.allow(forPlatforms...)).Get("/cases", s.listCases)
			r.With(s.allow(forPlatforms...)).Get("/cases/{id}", s.getCase)
			r.With(s.allow(forApplicants...)).Post("/cases/{id}/supplements", s.supplement)
			r.With(s.allow(forApplicants...)).Post("/cases/{id}/withdrawal", s.withdraw)
			r.With(s.allow(forPlatforms...)).Get("/events", s.events)
			r.With(s.allow(auth.RoleDepartment, auth.RoleOperator)).Get("/deadlines", s.deadlines)
			depts.Post("/subcases/{id}/events", s.subcaseEvent)
			// 好差评 and 帮办代办 (ratings.go, agents.go).
			r.With(s.allow(forApplicants...)).Post("/cases/{id}/ratings", s.rateCase)
			r.With(s.allow(forPlatforms...)).Get("/cases/{id}/ratings", s.caseRatings)
			r.With(s.allow(auth.RoleDepartment, auth.RoleOperator)).Get("/rectifications", s.rectifications)
			depts.Post("/ratings/{id}/response", s.respondToRating)
			ops.Get("/reports/ratings", s.ratingReport)
			ops.Get("/reports/agents", s.agentReport)
		}
		if cfg.Sharing != nil {
			s.mountSharing(r)
		}
		if cfg.Reform != nil {
			ops.Get("/reports/reform", s.reformReport)
		}
	})
	s.router = r
	concrete, err := concreteRoutes(r)
	if err != nil {
		return nil, err
	}
	s.concrete = concrete
	return s, nil
}

// check reports every part a route group needs and cfg lacks, so that a wiring mistake stops
// the start instead of showing up as 404s.
func (cfg Config) check() error {
	var errs []error
	if cfg.Catalogue == nil && (cfg.Cases != nil || cfg.Sharing != nil) {
		errs = append(errs, errors.New("api: Catalogue is required with Cases or Sharing"))
	}
	if cfg.Cases != nil && cfg.Forms == nil {
		errs = append(errs, errors.New("api: Forms is required with Cases"))
	}
	if cfg.Sharing != nil && cfg.Licences == nil {
		errs = append(errs, errors.New("api: Licences is required with Sharing"))
	}
	if cfg.Sharing != nil && cfg.Audit == nil {
		errs = append(errs, errors.New("api: Audit is required with Sharing"))
	}
	if (cfg.Blobs == nil) != (cfg.LinkKeys == nil) {
		errs = append(errs, errors.New("api: Blobs and LinkKeys go together"))
	}
	if cfg.LinkTTL < 0 || cfg.LinkTTL > links.MaxTTL {
		errs = append(errs, fmt.Errorf("api: LinkTTL %s: a link lives at most %s", cfg.LinkTTL, links.MaxTTL))
	}
	if cfg.LinkKeys != nil && cfg.Audit == nil {
		errs = append(errs, errors.New("api: Audit is required with LinkKeys: every read of a file is audited"))
	}
	return errors.Join(errs...)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every check concurrently and reports each; 503 when any fails.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	results := make([]result, len(s.cfg.Checks))
	done := make(chan struct{}, len(s.cfg.Checks))
	for i, c := range s.cfg.Checks {
		go func() {
			defer func() { done <- struct{}{} }()
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
			defer cancel()
			results[i] = result{Name: c.Name, OK: true}
			if err := c.Ping(ctx); err != nil {
				results[i] = result{Name: c.Name, Error: err.Error()}
			}
		}()
	}
	for range s.cfg.Checks {
		<-done
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	ready := true
	var failed []string
	for _, res := range results {
		if !res.OK {
			ready = false
			failed = append(failed, res.Name)
		}
	}
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable",
			"checks": results,
			"error": ErrorDetail{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
				Message: "not ready: " + strings.Join(failed, ", ") + " unreachable"},
		})
		return
	}
	answer := map[string]any{"status": "ready", "checks": results}
	if s.cfg.Warnings != nil {
		if ws := s.cfg.Warnings(); len(ws) > 0 {
			answer["warnings"] = ws
		}
	}
	writeJSON(w, http.StatusOK, answer)
}
