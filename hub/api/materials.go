package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
)

// MaterialView is a material of the catalogue as the API shows it: its catalogue entry, how
// many files an application may carry, its form in Chinese and the matters that ask for it.
type MaterialView struct {
	*catalogue.Material
	MaxFiles  int    `json:"max_files"`
	FormLabel string `json:"form_label,omitempty"`
	// Matters are the codes of the matters that list the material, in catalogue order.
	Matters []string `json:"matters"`
}

func (s *Server) materialView(m *catalogue.Material) MaterialView {
	v := MaterialView{Material: m, MaxFiles: m.Files(), FormLabel: m.FormLabel(), Matters: []string{}}
	for _, mt := range s.cfg.Catalogue.Matters {
		for _, need := range mt.Materials {
			if need.Material == m.Code {
				v.Matters = append(v.Matters, mt.Code)
				break
			}
		}
	}
	return v
}

// listMaterials answers GET /api/v1/materials.
func (s *Server) listMaterials(w http.ResponseWriter, r *http.Request) {
	out := make([]MaterialView, 0, len(s.cfg.Catalogue.Materials))
	for _, m := range s.cfg.Catalogue.Materials {
		out = append(out, s.materialView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "materials": out})
}

// getMaterial answers GET /api/v1/materials/{code}.
func (s *Server) getMaterial(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	m, ok := s.cfg.Catalogue.Material(code)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no material with code "+quote(code))
		return
	}
	writeJSON(w, http.StatusOK, s.materialView(m))
}
