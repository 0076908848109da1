package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/mapping"
	"yjshub/problem"
)

// Notice is the one-time notice (一次告知) of a bundle for an applicant type and a choice of
// matters: everything an applicant must know before filling in the one form, once. Version is
// the SHA-256 of the rest of the notice and the catalogue version; it is the ETag.
type Notice struct {
	Version          string           `json:"version"`
	CatalogueVersion string           `json:"catalogue_version"`
	Bundle           BundleRef        `json:"bundle"`
	ApplicantType    string           `json:"applicant_type"`
	Matters          []NoticeMatter   `json:"matters"`
	Materials        []NoticeMaterial `json:"materials"`
	// CaseNumber tells the applicant how the number of the case they are about to open will
	// read, so that they recognise it in the hub's answer and in every message about it.
	CaseNumber NoticeCaseNumber `json:"case_number"`
}

// NoticeCaseNumber is how a case number (办件编号) of the bundle reads: Pattern with this
// deployment's division code and the bundle's seq filled in, YYYYMMDD the day of submission,
// NNNNN the day's sequence and C the check character.
type NoticeCaseNumber struct {
	Pattern string `json:"pattern"`
}

// NoticeMatter is a matter of the notice: who handles it, how long it may take, what it costs
// and what it issues.
type NoticeMatter struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Optional bool   `json:"optional"`
	// Conditional is true for an optional matter offered but not chosen.
	Conditional    bool            `json:"conditional"`
	Department     DepartmentRef   `json:"department"`
	StatutoryLimit catalogue.Limit `json:"statutory_limit"`
	PromisedLimit  catalogue.Limit `json:"promised_limit"`
	Fee            *catalogue.Fee  `json:"fee"` // unknown: true where no source was found
	// Codes are the matter's GB/T 39554.1 codes (or unknown).
	Codes catalogue.Codes `json:"codes"`
	// Commitment and TolerantAcceptance say whether 告知承诺 and 容缺受理 are allowed; omitted
	// where they are not.
	Commitment         *catalogue.Allowance `json:"commitment,omitempty"`
	TolerantAcceptance *catalogue.Allowance `json:"tolerant_acceptance,omitempty"`
	Result             catalogue.Result     `json:"result"`
}

// NoticeMaterial is a material of the notice, listed once for every matter that asks for it.
type NoticeMaterial struct {
	mapping.MaterialItem
	// Exempt is true when a valid e-licence of a SatisfiedBy type may be given instead (免交).
	Exempt bool `json:"exempt_with_licence"`
}

// formSelection reads the applicant type and the matters of the form and notice routes and
// checks them as intake would check an application: no matters (the parameter absent or
// empty) is the whole bundle, its optional matters offered; a choice must keep every
// required matter, name each matter once, and hold only the bundle's matters open to the
// applicant type. It returns the one form.
func (s *Server) formSelection(r *http.Request, b *catalogue.Bundle) (*mapping.OneForm, error) {
	q := r.URL.Query()
	at := q.Get("applicant_type")
	if at == "" {
		at = s.onlyApplicantType(b)
	}
	var matters []string
	for _, m := range strings.Split(q.Get("matters"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			matters = append(matters, m)
		}
	}
	selected := matters
	if matters == nil {
		if p := mapping.CheckApplicantType(at, mapping.QueryPaths); p != nil {
			return nil, problem.New(*p)
		}
	} else {
		var problems problem.List
		if selected, problems = mapping.CheckSelection(s.cfg.Catalogue, b, at, matters, mapping.QueryPaths); len(problems) > 0 {
			return nil, problems.Err()
		}
	}
	if s.cfg.Forms != nil {
		return s.cfg.Forms.Get(b, at, selected)
	}
	return mapping.BuildOneForm(s.cfg.Catalogue, b, at, selected)
}

// onlyApplicantType returns the one applicant type a bundle serves (some matter of it is open
// to it), or "" when it serves both or none: asking a platform to name the only possible type
// would turn every form request of a single-type bundle into a 422 for no reason, while a
// bundle open to both needs the platform's answer.
func (s *Server) onlyApplicantType(b *catalogue.Bundle) string {
	var only string
	for _, t := range []string{catalogue.Enterprise, catalogue.Individual} {
		for _, e := range b.Matters {
			if m, ok := s.cfg.Catalogue.Matter(e.Matter); ok && m.Handles(t) {
				if only != "" {
					return ""
				}
				only = t
				break
			}
		}
	}
	return only
}

// notice answers GET /api/v1/bundles/{code}/notice, as JSON or, asked for text/html (Accept,
// or ?format=html), as a printable page.
func (s *Server) notice(w http.ResponseWriter, r *http.Request) {
	b, ok := s.cfg.Catalogue.Bundle(chi.URLParam(r, "code"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no bundle with code or seq "+quote(chi.URLParam(r, "code")))
		return
	}
	of, err := s.formSelection(r, b)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the selection has problems", pe.Problems...)
			return
		}
		writeError(w, http.StatusInternalServerError, CodeInternal, "the notice could not be built")
		return
	}
	n := s.buildNotice(b, of)
	etag := `"` + n.Version + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, n)
		return
	}
	var buf bytes.Buffer
	names := map[string]string{}
	for _, m := range n.Matters {
		names[m.Code] = m.Name
	}
	if err := noticePage.Execute(&buf, noticeView{Notice: n, Title: b.Name + " 一次告知", Names: names}); err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "the notice page could not be rendered")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) buildNotice(b *catalogue.Bundle, of *mapping.OneForm) *Notice {
	cat := s.cfg.Catalogue
	n := &Notice{CatalogueVersion: cat.Version, Bundle: BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name},
		ApplicantType: of.ApplicantType, Matters: []NoticeMatter{}, Materials: []NoticeMaterial{},
		CaseNumber: NoticeCaseNumber{Pattern: cases.CaseNumberPattern(s.division(), b.Seq)}}
	for _, sm := range of.Matters {
		m, _ := cat.Matter(sm.Code)
		n.Matters = append(n.Matters, NoticeMatter{Code: m.Code, Name: sm.Name, Optional: sm.Optional, Conditional: sm.Conditional,
			Department: s.dept(sm.Department), StatutoryLimit: m.StatutoryLimit, PromisedLimit: m.PromisedLimit, Fee: m.Fee, Codes: m.Codes,
			Commitment: allowed(m.Commitment), TolerantAcceptance: allowed(m.TolerantAcceptance), Result: m.Result})
	}
	for _, mi := range of.Materials {
		n.Materials = append(n.Materials, NoticeMaterial{MaterialItem: mi, Exempt: len(mi.SatisfiedBy) > 0})
	}
	body, _ := json.Marshal(n) // Version still empty: the hash covers everything else
	h := sha256.New()
	h.Write([]byte(cat.Version + "\x00"))
	h.Write(body)
	n.Version = hex.EncodeToString(h.Sum(nil))
	return n
}

// wantsHTML reports whether a request asks for the notice as a page: ?format=html, or an Accept
// header that names text/html before (or without) application/json.
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "html":
		return true
	case "json":
		return false
	}
	accept := r.Header.Get("Accept")
	h, j := strings.Index(accept, "text/html"), strings.Index(accept, "application/json")
	return h >= 0 && (j < 0 || h < j)
}

// etagMatches reports whether an If-None-Match header names etag (weakly compared) or is *.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

type noticeView struct {
	*Notice
	Title string
	Names map[string]string // matter code → name as the bundle lists it
}

//go:embed notice.html.tmpl
var noticeFiles embed.FS

var noticePage = template.Must(template.New("notice.html.tmpl").Funcs(template.FuncMap{
	"applicant": func(t string) string {
		if t == catalogue.Individual {
			return "个人（个体工商户）"
		}
		return "企业"
	},
	"join": strings.Join,
	"inc":  func(i int) int { return i + 1 },
}).ParseFS(noticeFiles, "notice.html.tmpl"))

// allowed returns a when it allows something, else nil: a notice says what the applicant may do.
func allowed(a *catalogue.Allowance) *catalogue.Allowance {
	if a == nil || !a.Allowed {
		return nil
	}
	return a
}

// division is the division code of the hub's case numbers: its case service's, or the default
// when the server runs the catalogue routes alone.
func (s *Server) division() string {
	if s.cfg.Cases != nil {
		return s.cfg.Cases.Division()
	}
	return cases.DefaultDivision
}
