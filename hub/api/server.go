package api

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/hub/sharing"
)

// Check is a readiness check: a named dependency (the store, the broker) and how to reach it.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Config wires the API to the hub's parts.
type Config struct {
	// Catalogue is the loaded catalogue the read API serves. Required.
	Catalogue *catalogue.Catalogue
	// Cases runs the case flow: one form, intake, case state, department events. Required for
	// those routes; without it they are not mounted.
	Cases *cases.Service
	// Connectors runs the connectors: the status, pause and resume routes. Optional.
	Connectors ConnectorAdmin
	// Reload applies the connectors file again. Optional.
	Reload func() error
	// DeadLetters serves the dead-letter routes. Optional.
	DeadLetters DeadLetters
	// Inbox serves the inbox that restpull departments poll (lease and ack). Optional.
	Inbox Inbox
	// Sharing serves the e-licence library, consents, prefill and the reuse report (mounted
	// with the case routes). Default: one built on Cases.
	Sharing *sharing.Service
	// Clients are the API clients and their roles (hub/auth). Nil: the API does not
	// authenticate, and every route is open (for a hub on a loopback address).
	Clients *auth.Clients
	// Checks are run by /readyz. Default: none (always ready).
	Checks []Check
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
}

// Server is the hub's HTTP handler.
type Server struct {
	cfg    Config
	router chi.Router
}

// New returns the HTTP handler of the hub.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	s := &Server{cfg: cfg}
	r := chi.NewRouter()
	if cfg.Instrument != nil {
		r.Use(cfg.Instrument)
	}
	r.Use(s.recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such path: "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, req.Method+" is not allowed on "+req.URL.Path+"; allowed: "+strings.Join(allowed, ", "))
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if cfg.Metrics != nil {
		r.With(s.allow(forOperators...)).Get("/metrics", cfg.Metrics.ServeHTTP)
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/bundles", s.listBundles)
		r.Get("/bundles/{code}", s.getBundle)
		r.Get("/matters", s.listMatters)
		r.Get("/matters/{code}", s.getMatter)
		r.Get("/departments", s.listDepartments)
		r.Get("/catalogue", s.catalogueInfo)
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
			platforms := r.With(s.allow(forPlatforms...))
			platforms.Post("/cases", s.submitCase)
			platforms.Get("/cases/{id}", s.getCase)
			r.With(s.allow(auth.RoleDepartment, auth.RoleOperator)).Get("/deadlines", s.deadlines)
			depts.Post("/subcases/{id}/events", s.subcaseEvent)
			s.mountSharing(r)
		}
	})
	s.router = r
	return s
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
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
}
