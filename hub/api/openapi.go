package api

import (
	"net/http"

	"yjshub/schemas"
)

// openAPIDocument returns the handler of GET /api/v1/openapi.json: the OpenAPI document of this
// API (schemas/openapi.yaml), converted to JSON once, here, when the server is built. The
// document is embedded and its tests convert it, so a failure is a broken build; it is logged
// and answered as 500 rather than stopping the hub.
func (s *Server) openAPIDocument() http.HandlerFunc {
	doc, err := schemas.OpenAPIJSON()
	if err != nil {
		s.cfg.Logger.Error("the OpenAPI document is not served", "error", err)
		return func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc)
	}
}
