package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"yjshub/catalogue"
)

// DepartmentRef names a department in API answers.
type DepartmentRef struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// LeadView is a lead department with its condition.
type LeadView struct {
	Department    DepartmentRef `json:"department"`
	ApplicantType string        `json:"applicant_type,omitempty"`
	Stage         string        `json:"stage,omitempty"`
}

// BundleMatterView is a matter as a bundle lists it, with its handling department(s).
type BundleMatterView struct {
	Name       string `json:"name"`
	MatterCode string `json:"matter_code"`
	Optional   bool   `json:"optional"`
	Stage      string `json:"stage,omitempty"`
	// OneOf is the bundle's either-or group the matter belongs to.
	OneOf string `json:"one_of,omitempty"`
	// Department handles the matter by default; ByApplicantType lists where it differs
	// (食品经营许可: enterprise → 区行政审批局, individual → 区市场监管局).
	Department      DepartmentRef            `json:"department"`
	ByApplicantType map[string]DepartmentRef `json:"department_by_applicant_type,omitempty"`
	ApplicantTypes  []string                 `json:"applicant_types"`
	StatutoryLimit  catalogue.Limit          `json:"statutory_limit"`
	PromisedLimit   catalogue.Limit          `json:"promised_limit"`
	Result          catalogue.Result         `json:"result"`
}

// LawPartyView is a department a provision makes a party to a bundle.
type LawPartyView struct {
	Department DepartmentRef `json:"department"`
	Basis      string        `json:"basis"`
}

// BundleView is a bundle as the API shows it.
type BundleView struct {
	Seq         int             `json:"seq"`
	Code        string          `json:"code"`
	Name        string          `json:"name"`
	Phase       string          `json:"phase"`
	Leads       []LeadView      `json:"leads"`
	Cooperating []DepartmentRef `json:"cooperating"`
	// CooperatingByLaw are the departments the law makes a party beyond the plan's table.
	CooperatingByLaw []LawPartyView     `json:"cooperating_by_law,omitempty"`
	Matters          []BundleMatterView `json:"matters"`
	// OneOf are the bundle's either-or groups.
	OneOf []catalogue.OneOfGroup `json:"one_of,omitempty"`
}

func (s *Server) dept(code string) DepartmentRef {
	ref := DepartmentRef{Code: code}
	if d, ok := s.cfg.Catalogue.Department(code); ok {
		ref.Name = d.Name
	}
	return ref
}

func (s *Server) bundleView(b *catalogue.Bundle) BundleView {
	v := BundleView{Seq: b.Seq, Code: b.Code, Name: b.Name, Phase: b.Phase,
		Leads: []LeadView{}, Cooperating: []DepartmentRef{}, Matters: []BundleMatterView{}, OneOf: b.OneOf}
	for _, l := range b.Leads {
		v.Leads = append(v.Leads, LeadView{Department: s.dept(l.Department), ApplicantType: l.ApplicantType, Stage: l.Stage})
	}
	for _, p := range b.CooperatingByLaw {
		v.CooperatingByLaw = append(v.CooperatingByLaw, LawPartyView{Department: s.dept(p.Department), Basis: p.Basis})
	}
	for _, c := range b.Cooperating {
		v.Cooperating = append(v.Cooperating, s.dept(c))
	}
	for _, e := range b.Matters {
		m, _ := s.cfg.Catalogue.Matter(e.Matter)
		mv := BundleMatterView{Name: e.Name, MatterCode: e.Matter, Optional: e.Optional, Stage: e.Stage, OneOf: e.OneOf,
			Department: s.dept(m.Department.Default), ApplicantTypes: m.ApplicantTypes,
			StatutoryLimit: m.StatutoryLimit, PromisedLimit: m.PromisedLimit, Result: m.Result}
		for t, d := range m.Department.ByApplicantType {
			if d == m.Department.Default {
				continue
			}
			if mv.ByApplicantType == nil {
				mv.ByApplicantType = map[string]DepartmentRef{}
			}
			mv.ByApplicantType[t] = s.dept(d)
		}
		v.Matters = append(v.Matters, mv)
	}
	return v
}

func (s *Server) listBundles(w http.ResponseWriter, r *http.Request) {
	out := make([]BundleView, 0, len(s.cfg.Catalogue.Bundles))
	for _, b := range s.cfg.Catalogue.Bundles {
		out = append(out, s.bundleView(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"catalogue_version": s.cfg.Catalogue.Version,
		"count":             len(out),
		"bundles":           out,
	})
}

func (s *Server) getBundle(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	b, ok := s.cfg.Catalogue.Bundle(code)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no bundle with code or seq "+quote(code))
		return
	}
	writeJSON(w, http.StatusOK, s.bundleView(b))
}

// MatterView is a matter definition with department names and the bundles that list it.
type MatterView struct {
	*catalogue.Matter
	Departments map[string]DepartmentRef `json:"departments"`
	Inputs      []string                 `json:"canonical_fields"`
	Bundles     []BundleRef              `json:"bundles"`
}

// BundleRef names a bundle in API answers.
type BundleRef struct {
	Seq  int    `json:"seq"`
	Code string `json:"code"`
	Name string `json:"name"`
}

func (s *Server) matterView(m *catalogue.Matter) MatterView {
	v := MatterView{Matter: m, Departments: map[string]DepartmentRef{}, Inputs: m.Inputs(), Bundles: []BundleRef{}}
	for _, t := range m.ApplicantTypes {
		v.Departments[t] = s.dept(m.Department.For(t))
	}
	for _, b := range s.cfg.Catalogue.BundlesUsing(m.Code) {
		v.Bundles = append(v.Bundles, BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name})
	}
	return v
}

func (s *Server) listMatters(w http.ResponseWriter, r *http.Request) {
	out := make([]MatterView, 0, len(s.cfg.Catalogue.Matters))
	for _, m := range s.cfg.Catalogue.Matters {
		out = append(out, s.matterView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "matters": out})
}

func (s *Server) getMatter(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	m, ok := s.cfg.Catalogue.Matter(code)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no matter with code "+quote(code))
		return
	}
	writeJSON(w, http.StatusOK, s.matterView(m))
}

// DepartmentView is a department with what it handles and leads.
type DepartmentView struct {
	*catalogue.Department
	Topic      string      `json:"topic"`
	Handles    []string    `json:"matters_handled"`
	Leads      []BundleRef `json:"bundles_led"`
	Cooperates []BundleRef `json:"bundles_cooperating"`
}

func (s *Server) listDepartments(w http.ResponseWriter, r *http.Request) {
	cat := s.cfg.Catalogue
	out := make([]DepartmentView, 0, len(cat.Departments))
	for _, d := range cat.Departments {
		v := DepartmentView{Department: d, Topic: "yjs.subcase." + d.Code, Handles: []string{}, Leads: []BundleRef{}, Cooperates: []BundleRef{}}
		for _, m := range cat.Matters {
			for _, t := range m.ApplicantTypes {
				if m.Department.For(t) == d.Code {
					v.Handles = append(v.Handles, m.Code)
					break
				}
			}
		}
		for _, b := range cat.Bundles {
			ref := BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}
			for _, l := range b.Leads {
				if l.Department == d.Code {
					v.Leads = append(v.Leads, ref)
					break
				}
			}
			for _, c := range b.Cooperating {
				if c == d.Code {
					v.Cooperates = append(v.Cooperates, ref)
				}
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "departments": out})
}

func (s *Server) catalogueInfo(w http.ResponseWriter, r *http.Request) {
	cat := s.cfg.Catalogue
	writeJSON(w, http.StatusOK, map[string]any{
		"version":     cat.Version,
		"departments": len(cat.Departments),
		"fields":      len(cat.Fields),
		"materials":   len(cat.Materials),
		"matters":     len(cat.Matters),
		"bundles":     len(cat.Bundles),
	})
}

// quote quotes a path parameter for an error message, cut to 80 characters.
func quote(s string) string {
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return strconv.Quote(s)
}
