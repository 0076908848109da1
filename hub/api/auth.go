package api

import (
	"net/http"
	"strings"

	"yjshub/hub/auth"
)

// CodeUnauthenticated is the error code of a request without a known API key (401).
const CodeUnauthenticated = "unauthenticated"

// Who may call which routes when the API authenticates (Config.Clients set):
//
//	public      /healthz, /readyz, the catalogue (bundles, matters, departments, one forms) and openapi.json
//	platform    cases (submit, follow its own), consents, prefill, a holder's licences, verification
//	department  its own sub-cases' events, its own inbox and deadlines, verification, revoking its own licences
//	operator    cases (read, personal data masked unless granted), connectors, dead letters, deadlines, reports, the audit log, a holder's licences, verification, /metrics
//
// Only a platform submits an application (forApplicants): an operator follows cases but does
// not apply on anyone's behalf.
var (
	forPlatforms   = []auth.Role{auth.RolePlatform, auth.RoleOperator}
	forDepartments = []auth.Role{auth.RoleDepartment}
	forOperators   = []auth.Role{auth.RoleOperator}
	forVerifiers   = []auth.Role{auth.RolePlatform, auth.RoleDepartment, auth.RoleOperator}
	forApplicants  = []auth.Role{auth.RolePlatform}
)

// allow lets a request through when the API runs without authentication, or when the client
// the guard authenticated is of one of the roles. No key is 401 (an unknown one the guard
// refused already), a client of another role 403.
func (s *Server) allow(roles ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.cfg.Clients == nil {
				next.ServeHTTP(w, r)
				return
			}
			c, ok := auth.FromContext(r.Context()) // the guard authenticated the key
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="yjshub"`)
				writeError(w, http.StatusUnauthorized, CodeUnauthenticated, "this route needs an API key: Authorization: Bearer <key>")
				return
			}
			if !roleIn(c.Role, roles) {
				writeError(w, http.StatusForbidden, CodeForbidden,
					"this route is for "+roleList(roles)+" clients; "+c.Name+" is a "+string(c.Role)+" client")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearer returns the key of an "Authorization: Bearer <key>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

func roleIn(r auth.Role, roles []auth.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func roleList(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// ownDepartment reports whether the request's client may act for department dept: any client
// when the API does not authenticate, a department client only for its own department. When
// not, it writes 403 naming what was asked.
func (s *Server) ownDepartment(w http.ResponseWriter, r *http.Request, dept, what string) bool {
	c, ok := auth.FromContext(r.Context())
	if !ok || c.Role != auth.RoleDepartment || c.Department == dept {
		return true
	}
	writeError(w, http.StatusForbidden, CodeForbidden, what+" belongs to another department than "+c.Name+"'s ("+c.Department+")")
	return false
}
