package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
	"yjshub/mapping"
	"yjshub/problem"
)

// BundleCoverage is the answer of GET /api/v1/bundles/{code}/coverage: how the bundle's one
// form fills each of its matters' department forms, per applicant type.
type BundleCoverage struct {
	Bundle           BundleRef `json:"bundle"`
	CatalogueVersion string    `json:"catalogue_version"`
	// Coverage has one entry per applicant type asked for: the one given, or every type some
	// matter of the bundle is open to.
	Coverage []*mapping.BundleCoverage `json:"coverage"`
}

// bundleCoverage answers GET /api/v1/bundles/{code}/coverage?applicant_type=: for each matter
// of the bundle, its department form's fields and how the one form fills them (mapping's own
// plan of each field), with totals and percentages per form.
func (s *Server) bundleCoverage(w http.ResponseWriter, r *http.Request) {
	b, ok := s.cfg.Catalogue.Bundle(chi.URLParam(r, "code"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no bundle with code or seq "+quote(chi.URLParam(r, "code")))
		return
	}
	types := []string{catalogue.Enterprise, catalogue.Individual}
	asked := r.URL.Query().Get("applicant_type")
	if asked != "" {
		types = []string{asked}
	}
	answer := BundleCoverage{Bundle: BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, CatalogueVersion: s.cfg.Catalogue.Version,
		Coverage: []*mapping.BundleCoverage{}}
	for _, t := range types {
		of, err := s.oneFormOf(b, t)
		var pe *problem.Error
		switch {
		case errors.As(err, &pe) && asked == "":
			continue // no matter of the bundle is open to this type
		case errors.As(err, &pe):
			writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the applicant type has problems", pe.Problems...)
			return
		case err != nil:
			s.writeCaseError(w, r, err)
			return
		}
		c, err := mapping.CoverageOf(s.cfg.Catalogue, of)
		if err != nil {
			s.writeCaseError(w, r, err)
			return
		}
		answer.Coverage = append(answer.Coverage, c)
	}
	writeJSON(w, http.StatusOK, answer)
}

// oneFormOf returns the one form of a bundle offering every matter open to an applicant type:
// the cached one when the server has the forms cache.
func (s *Server) oneFormOf(b *catalogue.Bundle, applicantType string) (*mapping.OneForm, error) {
	if s.cfg.Forms != nil {
		return s.cfg.Forms.Get(b, applicantType, nil)
	}
	return mapping.BuildOneForm(s.cfg.Catalogue, b, applicantType, nil)
}
