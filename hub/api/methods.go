package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// A path that is a route of its own, without parameters (/api/v1/connectors/reload), is served
// only with its own methods, as OpenAPI matches paths: concrete paths before templated ones.
// chi does otherwise: finding no handler for a method on a static route, it falls back to a
// parameter route beside it, so GET /api/v1/connectors/reload reached GET
// /api/v1/connectors/{name} (a 404 for a connector named "reload") and a method neither serves
// was told "Allow: GET, POST" although the path serves only POST.

// concreteRoutes returns the methods of every route pattern without parameters that router
// serves.
func concreteRoutes(router chi.Routes) (map[string][]string, error) {
	routes := map[string][]string{}
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.Contains(route, "{") {
			routes[route] = append(routes[route], method)
		}
		return nil
	})
	for _, methods := range routes {
		slices.Sort(methods)
	}
	return routes, err
}

// concretePathsFirst answers 405 to a method that a concrete route's path does not serve,
// before the router can hand the request to a parameter route beside it.
func (s *Server) concretePathsFirst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if methods, ok := s.concrete[r.URL.Path]; ok && !slices.Contains(methods, r.Method) {
			s.methodNotAllowed(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers 405 with an Allow header listing the methods the path serves: a
// concrete route's own, else every method a route matches the path with.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed, ok := s.concrete[r.URL.Path]
	if !ok {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if s.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
	}
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+list)
}
