package cases

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"yjshub/format"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/jsonstrict"
	"yjshub/mapping"
	"yjshub/problem"
)

// Kinds of agent (帮办代办人, the plan's §三(七)).
const (
	// AgentAssistance is 帮办: the agent helps an applicant who still signs the application
	// himself, so no authorisation is needed.
	AgentAssistance = "assistance"
	// AgentProxy is 代办: the agent acts for the applicant, which needs the applicant's
	// authorisation: its 授权委托书 (AuthorisationMaterial), its scope and its last valid day.
	AgentProxy = "proxy"
)

// AgentKindLabels name the kinds of agent in Chinese.
var AgentKindLabels = map[string]string{AgentAssistance: "帮办", AgentProxy: "代办"}

// AuthorisationMaterial is the material code of the 授权委托书 a proxy (代办) needs: a
// material of the case that belongs to no single matter, so every sub-case carries it.
const AuthorisationMaterial = "agent-authorisation"

// Identity document types an agent may give. A resident ID is checked as GB 11643 says; a
// passport number only for its shape, for no national check exists.
const (
	AgentIDResident = "resident_id"
	AgentIDPassport = "passport"
)

// Rules of the problems with an agent (besides the shared ones).
const (
	// RuleAgentAuthorisation: a proxy (代办) without the applicant's authorisation, or with
	// one whose validity ended.
	RuleAgentAuthorisation = "agent_authorisation"
	// RuleControlCharacter: a text with a control character (a line break included); the
	// rule of the strict JSON reader (jsonstrict), for the applicant it is the same mistake.
	RuleControlCharacter = jsonstrict.RuleControl
)

// Agent is the agent acting for the applicant (帮办代办人). Name, IDNumber and Phone are
// personal data, treated as the applicant's are: masked for operators without the
// personal_data grant, never logged.
type Agent struct {
	// Kind is AgentAssistance (帮办) or AgentProxy (代办).
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	IDType       string `json:"id_type"`
	IDNumber     string `json:"id_number"`
	Phone        string `json:"phone"`
	Organisation string `json:"organisation,omitempty"` // e.g. 区政务服务中心帮办服务队
	// Authorisation is the applicant's authorisation of a proxy; a 帮办 agent has none.
	Authorisation *Authorisation `json:"authorisation,omitempty"`
}

// Authorisation is what an applicant authorised a proxy (代办) to do, until when, and the
// signed 授权委托书 that says so.
type Authorisation struct {
	// Scope says which matters or acts the proxy may do, in the applicant's words.
	Scope string `json:"scope"`
	// ValidUntil is the authorisation's last valid day (YYYY-MM-DD, China); it must not have
	// passed when the application is submitted.
	ValidUntil string `json:"valid_until"`
	// Material is the 授权委托书's file.
	Material *FileRef `json:"material"`
}

// FileRef is a file referenced by its name, hash, size and location, as a material's file is.
type FileRef struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	URI      string `json:"uri"`
}

// AgentView is a case's agent as the API shows it.
type AgentView struct {
	Kind         string `json:"kind"`
	KindLabel    string `json:"kind_label"`
	Name         string `json:"name"`
	IDType       string `json:"id_type"`
	IDNumber     string `json:"id_number"`
	Phone        string `json:"phone"`
	Organisation string `json:"organisation,omitempty"`
	// Scope and ValidUntil are the proxy's authorisation; its 授权委托书 is among the case's
	// materials (AuthorisationMaterial).
	Scope      string `json:"scope,omitempty"`
	ValidUntil string `json:"valid_until,omitempty"`
}

// MaskPersonalData masks the agent's personal data for a reader without the grant: the name
// keeps its first character, the ID number its first three and last two, the phone its first
// three and last four.
func (a *AgentView) MaskPersonalData() {
	if rs := []rune(a.Name); len(rs) > 0 {
		a.Name = string(rs[0]) + strings.Repeat("*", len(rs)-1)
	}
	a.IDNumber = keepEnds(a.IDNumber, 3, 2)
	a.Phone = keepEnds(a.Phone, 3, 4)
}

func keepEnds(s string, head, tail int) string {
	if len(s) <= head+tail {
		return strings.Repeat("*", len(s))
	}
	return s[:head] + strings.Repeat("*", len(s)-head-tail) + s[len(s)-tail:]
}

type agentRow struct {
	CaseID       string          `db:"case_id"`
	Kind         string          `db:"kind"`
	Name         string          `db:"name"`
	IDType       string          `db:"id_type"`
	IDNumber     string          `db:"id_number"`
	Phone        string          `db:"phone"`
	Organisation string          `db:"organisation"`
	Scope        string          `db:"scope"`
	ValidUntil   string          `db:"valid_until"`
	SubmittedAt  store.Timestamp `db:"submitted_at"`
}

// ref is the agent as a department's message names it; nil without one.
func (r *agentRow) ref() *event.AgentRef {
	if r == nil {
		return nil
	}
	return &event.AgentRef{Kind: r.Kind, Name: r.Name, IDType: r.IDType, IDNumber: r.IDNumber, Phone: r.Phone,
		Organisation: r.Organisation, Scope: r.Scope, ValidUntil: r.ValidUntil}
}

func (r *agentRow) view() *AgentView {
	if r == nil {
		return nil
	}
	return &AgentView{Kind: r.Kind, KindLabel: label(AgentKindLabels, r.Kind), Name: r.Name, IDType: r.IDType, IDNumber: r.IDNumber,
		Phone: r.Phone, Organisation: r.Organisation, Scope: r.Scope, ValidUntil: r.ValidUntil}
}

// Length limits of an agent's texts, in characters.
const (
	maxAgentName         = 50
	maxAgentOrganisation = 100
	maxAuthorisedScope   = 500
)

var passportRE = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)

// validateAgent checks the application's agent and returns its row and, for a proxy, its
// 授权委托书 as a planned material; every problem is at /agent/…, and none repeats a value.
func (s *Service) validateAgent(ctx context.Context, a *Agent, holderID string) (*agentRow, *plannedMaterial, []problem.Problem, error) {
	if a == nil {
		return nil, nil, nil, nil
	}
	var ps problem.List
	text := func(path, v string, max int, required bool) {
		n := utf8.RuneCountInString(v)
		switch {
		case strings.TrimSpace(v) == "" && required:
			ps.Add(path, problem.RuleRequired, "is required")
		case n > max:
			ps.Add(path, problem.RuleMaxLength, "must be at most %d characters", max)
		case strings.ContainsFunc(v, unicode.IsControl):
			ps.Add(path, RuleControlCharacter, "must not contain control characters")
		}
	}
	switch a.Kind {
	case AgentAssistance, AgentProxy:
	case "":
		ps.Add("/agent/kind", problem.RuleRequired, "say whether the agent helps (assistance, 帮办) or acts for the applicant (proxy, 代办)")
	default:
		ps.Add("/agent/kind", problem.RuleEnum, "must be assistance (帮办) or proxy (代办)")
	}
	text("/agent/name", a.Name, maxAgentName, true)
	switch a.IDType {
	case AgentIDResident, AgentIDPassport:
	case "":
		ps.Add("/agent/id_type", problem.RuleRequired, "name the agent's identity document: resident_id or passport")
	default:
		ps.Add("/agent/id_type", problem.RuleEnum, "must be resident_id or passport")
	}
	switch {
	case a.IDNumber == "":
		ps.Add("/agent/id_number", problem.RuleRequired, "is required")
	case a.IDType == AgentIDResident && format.CheckResidentID(a.IDNumber) != nil:
		ps.Add("/agent/id_number", format.GB11643, "must be a valid resident ID number (GB 11643)")
	case a.IDType == AgentIDPassport && !passportRE.MatchString(a.IDNumber):
		ps.Add("/agent/id_number", problem.RulePattern, "must be a passport number: 5 to 20 capital letters and digits")
	}
	switch {
	case a.Phone == "":
		ps.Add("/agent/phone", problem.RuleRequired, "is required")
	case format.CheckMobile(a.Phone) != nil && format.CheckPhone(a.Phone) != nil:
		ps.Add("/agent/phone", format.Mobile, "must be a mobile number (11 digits) or a fixed-line number")
	}
	text("/agent/organisation", a.Organisation, maxAgentOrganisation, false)
	if holderID != "" && a.IDNumber == holderID {
		ps.Add("/agent/id_number", problem.RuleConflict, "is the applicant's own: an agent is someone else")
	}
	row := &agentRow{Kind: a.Kind, Name: a.Name, IDType: a.IDType, IDNumber: a.IDNumber, Phone: a.Phone, Organisation: a.Organisation}
	var pm *plannedMaterial
	au := a.Authorisation
	switch {
	case a.Kind == AgentAssistance && au != nil:
		ps.Add("/agent/authorisation", problem.RuleNotAllowed, "a 帮办 (assistance) agent helps an applicant who signs himself: give no authorisation, or make the agent a proxy (代办)")
	case a.Kind == AgentProxy && au == nil:
		for _, f := range []string{"material", "scope", "valid_until"} {
			ps = append(ps, problem.Problem{Path: "/agent/authorisation/" + f, Rule: RuleAgentAuthorisation,
				Message: "a proxy (代办) acts with the applicant's authorisation: its " + authorisationParts[f] + " is missing"})
		}
	case a.Kind == AgentProxy:
		text("/agent/authorisation/scope", au.Scope, maxAuthorisedScope, true)
		switch d, err := time.ParseInLocation(time.DateOnly, au.ValidUntil, deadline.China); {
		case au.ValidUntil == "":
			ps.Add("/agent/authorisation/valid_until", problem.RuleRequired, "is required: the authorisation's last valid day")
		case err != nil:
			ps.Add("/agent/authorisation/valid_until", problem.RuleDate, "must be a date written YYYY-MM-DD")
		case d.Before(dayOf(s.now())):
			ps.Add("/agent/authorisation/valid_until", RuleAgentAuthorisation, "the authorisation's validity has ended: a new one is needed")
		}
		if au.Material == nil {
			ps = append(ps, problem.Problem{Path: "/agent/authorisation/material", Rule: RuleAgentAuthorisation, Material: AuthorisationMaterial,
				Message: "a proxy (代办) acts with the applicant's authorisation: its " + authorisationParts["material"] + " is missing"})
		} else {
			cm, _ := s.cat.Material(AuthorisationMaterial)
			in := MaterialInput{Type: AuthorisationMaterial, Filename: au.Material.Filename, SHA256: au.Material.SHA256, Size: au.Material.Size, URI: au.Material.URI}
			var err error
			var mps []problem.Problem
			pm, mps, err = s.checkMaterialInput(ctx, nil, "/agent/authorisation/material", in, mapping.MaterialItem{Code: cm.Code, Name: cm.Name, MaxFiles: 1}, holderID)
			if err != nil {
				return nil, nil, nil, err
			}
			ps = append(ps, mps...)
		}
		row.Scope, row.ValidUntil = au.Scope, au.ValidUntil
	}
	if len(ps) > 0 {
		return nil, nil, ps, nil
	}
	return row, pm, nil, nil
}

// authorisationParts name the parts of a proxy's authorisation, for the problems that say one
// is missing.
var authorisationParts = map[string]string{
	"material":    "授权委托书 (material " + AuthorisationMaterial + ")",
	"scope":       "scope (which matters or acts the proxy may do)",
	"valid_until": "last valid day (valid_until)",
}

// dayOf is the day of t in China, at midnight.
func dayOf(t time.Time) time.Time {
	y, m, d := t.In(deadline.China).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, deadline.China)
}

// addAgent adds to w the statement that stores a case's agent.
func addAgent(w *store.Writes, caseID string, a *agentRow, ts store.Timestamp) {
	if a == nil {
		return
	}
	w.InsertRows("case_agents", []string{"case_id", "kind", "name", "id_type", "id_number", "phone", "organisation", "scope", "valid_until", "submitted_at"},
		[][]any{{caseID, a.Kind, a.Name, a.IDType, a.IDNumber, a.Phone, a.Organisation, a.Scope, a.ValidUntil, ts}})
}

// loadAgent reads a case's agent; nil when it has none.
func loadAgent(ctx context.Context, tx *sqlx.Tx, caseID string) (*agentRow, error) {
	var rows []agentRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT * FROM case_agents WHERE case_id = ?`), caseID); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}
