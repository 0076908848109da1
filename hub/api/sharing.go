package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/audit"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/sharing"
	"yjshub/hub/store"
	"yjshub/problem"
)

// CodeForbidden is the error code of a request its caller may not make: a department acting on
// another's licence, a prefill without the applicant's consent.
const CodeForbidden = "forbidden"

// maxSharingBody bounds the bodies of the sharing routes.
const maxSharingBody = 64 << 10

// sharingRoutes serves the e-licence library, consents, prefill, the reuse report and the
// audit log.
type sharingRoutes struct {
	srv   *Server
	svc   *sharing.Service
	lib   *licences.Library
	audit *audit.Log
}

// mountSharing adds the shared-data routes.
func (s *Server) mountSharing(r chi.Router) {
	h := &sharingRoutes{srv: s, svc: s.cfg.Sharing, lib: s.cfg.Licences, audit: s.cfg.Audit}
	r.With(s.allow(forPlatforms...)).Get("/licences", h.listLicences)
	r.With(s.allow(forVerifiers...)).Get("/licences/{type}/{number}", h.verifyLicence)
	r.With(s.allow(forDepartments...)).Post("/licences/{type}/{number}/events", h.licenceEvent)
	r.With(s.allow(forApplicants...)).Post("/consents", h.grantConsent)
	r.With(s.allow(forApplicants...)).Delete("/consents/{id}", h.withdrawConsent)
	r.With(s.allow(forApplicants...)).Post("/prefill", h.prefill)
	r.With(s.allow(forOperators...)).Get("/reports/reuse", h.reuseReport)
	r.With(s.allow(forOperators...)).Get("/audit", h.listAudit)
	r.With(s.allow(forOperators...)).Get("/audit/verify", h.verifyAudit)
}

// pathParam returns a path parameter decoded: a licence type is Chinese and a number may hold
// an escaped slash.
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// writeSharingError maps the library's and the sharing service's errors to statuses.
func (h *sharingRoutes) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problem.Error
	var fe *licences.ForbiddenError
	var re *sharing.RefusedError
	var ce *licences.ConflictError
	switch {
	case errors.As(err, &pe):
		writeProblems(w, pe)
	case errors.As(err, &re):
		path := re.Path
		if path == "" {
			path = "/consent"
		}
		writeError(w, http.StatusForbidden, CodeForbidden, re.Reason+"; nothing was shared",
			problem.Problem{Path: path, Rule: re.Rule, Message: re.Reason})
	case errors.As(err, &fe) && fe.Rule != "":
		writeError(w, http.StatusForbidden, CodeForbidden, fe.Reason, problem.Problem{Path: fe.Path, Rule: fe.Rule, Message: fe.Reason})
	case errors.As(err, &fe):
		writeError(w, http.StatusForbidden, CodeForbidden, fe.Reason)
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, CodeConflict, ce.Reason)
	case errors.Is(err, licences.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "the e-licence library has no licence of that type and number")
	case errors.Is(err, sharing.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no consent with that id was obtained by this client")
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled")
	case store.Unavailable(err):
		h.srv.storeUnavailable(w, r, err)
	default:
		h.srv.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// listLicences answers GET /api/v1/licences?holder=USCC-or-resident-ID: with the holder's
// consent for the purpose licences in the header X-Consent-Token, with ?case= naming the
// holder's case the platform submitted, or to an operator; audited either way.
func (h *sharingRoutes) listLicences(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.HolderLicences(r.Context(), r.URL.Query().Get("holder"), r.Header.Get(sharing.ConsentHeader), r.URL.Query().Get("case"))
	var pe *problem.Error
	if errors.As(err, &pe) {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the holder is not valid; name it by USCC or resident ID number", pe.Problems...)
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for i := range list {
		h.srv.signLicenceFile(r, &list[i])
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"count": len(list), "licences": list})
}

// verifyLicence answers GET /api/v1/licences/{type}/{number}: the licence, its status today
// and its metadata, with a resident ID holder number masked.
func (h *sharingRoutes) verifyLicence(w http.ResponseWriter, r *http.Request) {
	lic, err := h.lib.Get(r.Context(), pathParam(r, "type"), pathParam(r, "number"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := lic.Masked()
	h.srv.signLicenceFile(r, &out)
	if out.File.Link != "" {
		w.Header().Set("Cache-Control", "no-store") // the link is the caller's own
	}
	writeJSON(w, http.StatusOK, out)
}

// licenceEvent answers POST /api/v1/licences/{type}/{number}/events: the issuing department
// revokes its licence.
func (h *sharingRoutes) licenceEvent(w http.ResponseWriter, r *http.Request) {
	var ev licences.Event
	if !decodeStrict(w, r, &ev) {
		return
	}
	if !h.srv.ownDepartment(w, r, ev.Department, "the event's department") {
		return
	}
	lic, replayed, err := h.lib.Revoke(r.Context(), pathParam(r, "type"), pathParam(r, "number"), ev)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	out := lic.Masked()
	h.srv.signLicenceFile(r, &out)
	if out.File.Link != "" {
		w.Header().Set("Cache-Control", "no-store") // the link is the caller's own
	}
	writeJSON(w, http.StatusOK, out)
}

// grantConsent answers POST /api/v1/consents.
func (h *sharingRoutes) grantConsent(w http.ResponseWriter, r *http.Request) {
	var req sharing.ConsentRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	c, err := h.svc.GrantConsent(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, c)
}

// withdrawConsent answers DELETE /api/v1/consents/{id}: the platform that obtained the consent
// withdraws it (204, again 204); for any other client it does not exist (404).
func (h *sharingRoutes) withdrawConsent(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.WithdrawConsent(r.Context(), chi.URLParam(r, "id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// prefill answers POST /api/v1/prefill.
func (h *sharingRoutes) prefill(w http.ResponseWriter, r *http.Request) {
	var req sharing.PrefillRequest
	if !decodeStrict(w, r, &req) {
		if err := h.svc.RefuseMalformedPrefill(r.Context()); err != nil {
			h.srv.cfg.Logger.Error("auditing a refused prefill", "error", err)
		}
		return
	}
	p, err := h.svc.Prefill(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, p)
}

// reuseReport answers GET /api/v1/reports/reuse.
// AuditVerification is the answer of GET /api/v1/audit/verify.
type AuditVerification struct {
	// Intact: every row links to the one before and matches its hash, and the head names the
	// last row.
	Intact bool `json:"intact"`
	// Rows counts the rows checked before the first break (all of them when intact).
	Rows int64 `json:"rows"`
	// BrokenAt is the sequence number where the chain breaks; Reason says how.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// verifyAudit answers GET /api/v1/audit/verify: the audit chain checked end to end.
func (h *sharingRoutes) verifyAudit(w http.ResponseWriter, r *http.Request) {
	n, err := h.audit.Verify(r.Context())
	var te *audit.TamperError
	switch {
	case errors.As(err, &te):
		writeJSON(w, http.StatusOK, AuditVerification{Rows: n, BrokenAt: te.Seq, Reason: te.Reason})
	case err != nil:
		h.writeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, AuditVerification{Intact: true, Rows: n})
	}
}

// listAudit answers GET /api/v1/audit?kind=prefill&outcome=granted|refused: the rows of one
// kind, oldest first. Rows name holders only by their keyed pseudonym.
func (h *sharingRoutes) listAudit(w http.ResponseWriter, r *http.Request) {
	kind, outcome := r.URL.Query().Get("kind"), r.URL.Query().Get("outcome")
	var problems []problem.Problem
	if kind == "" {
		problems = append(problems, problem.Problem{Path: "kind", Rule: problem.RuleRequired, Message: "name the kind of row: " + strings.Join([]string{sharing.KindPrefill, sharing.KindLicences, sharing.KindConsent, sharing.KindConsentWithdrawn,
			links.AuditKind, audit.KindMaterialRemoved}, ", ")})
	}
	if outcome != "" && outcome != audit.Granted && outcome != audit.Refused {
		problems = append(problems, problem.Problem{Path: "outcome", Rule: problem.RuleEnum, Message: "must be granted or refused"})
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	rows, err := h.audit.Entries(r.Context(), kind, outcome)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "entries": rows})
}

func (h *sharingRoutes) reuseReport(w http.ResponseWriter, r *http.Request) {
	period, problems := periodQuery(r)
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	rep, err := h.svc.ReuseReport(r.Context(), period)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
