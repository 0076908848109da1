package catalogue

import (
	"regexp"
	"strconv"

	"github.com/expr-lang/expr/vm"
)

// Applicant types. A bundle's lead department and a matter's handling department may depend on
// whether the applicant is an enterprise (企业) or an individual (个体/自然人).
const (
	Enterprise = "enterprise"
	Individual = "individual"
)

// Department is a government department that handles matters (部门).
type Department struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	FullName string   `json:"full_name,omitempty"`
	Aliases  []string `json:"aliases,omitempty"`
}

// Named reports whether name is the department's name, full name or one of its aliases.
func (d *Department) Named(name string) bool {
	return name != "" && (d.Name == name || d.FullName == name || contains(d.Aliases, name))
}

// Field is a canonical field of the data dictionary (数据元): something an applicant may be
// asked, with its type and checks.
type Field struct {
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Format      string   `json:"format,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	MinLength   *int     `json:"min_length,omitempty"`
	MaxLength   *int     `json:"max_length,omitempty"`
	Minimum     *float64 `json:"minimum,omitempty"`
	Maximum     *float64 `json:"maximum,omitempty"`
	Values      []string `json:"values,omitempty"`
	Personal    bool     `json:"personal,omitempty"`
	Example     any      `json:"example"`
	Description string   `json:"description,omitempty"`
	// FromLicence says that the field holds a result field of an e-licence the applicant may
	// already hold (a licence number, say), so that shared data can fill it in (免填).
	FromLicence *LicenceSource `json:"from_licence,omitempty"`
	// Labels gives an enum value the words a form shows for it (values that are codes, such
	// as SYB创业培训, read better as 创业意识培训（SYB）); a value without a label shows as itself.
	Labels map[string]string `json:"labels,omitempty"`
	// FormatBy replaces Format for a field whose check depends on another field of the same
	// form: an identity number is checked by the rule of the document type the applicant chose.
	FormatBy *FormatBy `json:"format_by,omitempty"`
	// RequiredWhen makes the field required on a one form that asks it while another field has
	// a value: an individual business's credit code once the applicant says it is one.
	RequiredWhen *FieldValue `json:"required_when,omitempty"`
	pattern      *regexp.Regexp
}

// FormatBy chooses a field's format by the value of another field, an enum: the identity
// number (applicant.id_number) by the document type (applicant.id_type). Every value of the
// enum has its format, so that no choice leaves the number unchecked.
type FormatBy struct {
	// Field is the code of the enum field whose value chooses.
	Field string `json:"field"`
	// Formats maps each value of Field to a format name of package format.
	Formats map[string]string `json:"formats"`
	// Default is the value taken while the form does not have Field at all: forms written
	// before the field existed (and matters that never ask it) meant a resident ID.
	Default string `json:"default"`
}

// FieldValue is a value of an enum field, the condition of RequiredWhen.
type FieldValue struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// LicenceSource names a result field (one of ResultFields) of an e-licence type, by the
// licence's name as matters issue it (e.g. 食品经营许可证).
type LicenceSource struct {
	Type  string `json:"type"`
	Field string `json:"field"`
}

// Field types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeDate    = "date"
	TypeEnum    = "enum"
)

// Material is a type of supporting document (材料).
type Material struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Form is original (原件), copy (复印件), electronic (电子件) or any (any of them).
	Form string `json:"form,omitempty"`
	// Copies is how many copies (份数) a paper submission takes; 0 when the guide does not say.
	Copies int `json:"copies,omitempty"`
	// Spec is the material's 材料规范: what a valid document looks like (signatures, seals,
	// validity), where the guide states it.
	Spec string `json:"spec,omitempty"`
	// MaxFiles is how many files of this material one application may carry (the health
	// certificates of every employee, say); 0 means DefaultMaxFiles. The catalogue refuses a
	// value below 1.
	MaxFiles int `json:"max_files,omitempty"`
	// SatisfiedBy names the e-licence types (by licence name, e.g. 食品经营许可证) of which a
	// valid e-licence held by the applicant may be given instead of an upload (免交).
	SatisfiedBy []string `json:"satisfied_by,omitempty"`
}

// DefaultMaxFiles is how many files of a material an application carries unless the material
// says otherwise: one.
const DefaultMaxFiles = 1

// Files returns how many files of the material one application may carry.
func (m *Material) Files() int {
	if m.MaxFiles < 1 {
		return DefaultMaxFiles
	}
	return m.MaxFiles
}

// Material forms (Material.Form) and the words a notice uses for them.
var materialForms = map[string]string{
	"original":   "原件",
	"copy":       "复印件",
	"electronic": "电子件",
	"any":        "原件、复印件或电子件均可",
}

// FormLabel says the material's form in Chinese; empty when the catalogue gives none.
func (m *Material) FormLabel() string { return materialForms[m.Form] }

// SatisfiedByLicence reports whether a valid e-licence of type licenceType may stand in for
// the material.
func (m *Material) SatisfiedByLicence(licenceType string) bool {
	for _, t := range m.SatisfiedBy {
		if t == licenceType {
			return true
		}
	}
	return false
}

// Matter is an administrative matter (事项) as one department handles it; a matter is defined
// once and may appear in several bundles under its name or an alias.
type Matter struct {
	Code           string         `json:"code"`
	Name           string         `json:"name"`
	Aliases        []string       `json:"aliases,omitempty"`
	Kind           string         `json:"kind"`
	ApplicantTypes []string       `json:"applicant_types"`
	Department     HandlingRule   `json:"department"`
	Variants       []Variant      `json:"variants,omitempty"`
	StatutoryLimit Limit          `json:"statutory_limit"`
	PromisedLimit  Limit          `json:"promised_limit"`
	Result         Result         `json:"result"`
	Prerequisites  []string       `json:"prerequisites,omitempty"`
	Materials      []MaterialNeed `json:"materials"`
	Form           []FormField    `json:"form"`
	// Codes are the matter's GB/T 39554.1 codes, or CodeUnknown.
	Codes Codes `json:"codes"`
	// Fee is what the matter costs the applicant (收费标准); every matter states one, or says
	// it is unknown.
	Fee *Fee `json:"fee"`
	// Commitment says whether 告知承诺 is allowed: the applicant commits in writing to meet a
	// condition instead of proving it. Nil: not allowed.
	Commitment *Allowance `json:"commitment,omitempty"`
	// TolerantAcceptance says whether 容缺受理 is allowed: an application missing a
	// non-essential material is accepted and the material is supplied later. Nil: not allowed.
	TolerantAcceptance *Allowance          `json:"tolerant_acceptance,omitempty"`
	Description        string              `json:"description,omitempty"`
	programs           map[int]*vm.Program // compiled expressions by form index
	inputs             []string            // canonical fields the form reads, sorted
}

// HandlingRule says which department handles a matter, by applicant type where it differs.
type HandlingRule struct {
	Default         string            `json:"default"`
	ByApplicantType map[string]string `json:"by_applicant_type,omitempty"`
}

// For returns the handling department's code for an applicant type.
func (h HandlingRule) For(applicantType string) string {
	if d, ok := h.ByApplicantType[applicantType]; ok {
		return d
	}
	return h.Default
}

// Variant is a case (情形) of a matter: 核发/换发/年审, 个人/单位 …
type Variant struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Fee is a matter's charge (收费标准): Amount in yuan (0: 不收费) and Basis, the provision it
// rests on; or Unknown, with a Note saying why, where no source could be checked. The
// catalogue states one for every matter, so that "free" is a fact and not a silence.
type Fee struct {
	Amount  float64 `json:"amount"`
	Basis   string  `json:"basis,omitempty"`
	Unknown bool    `json:"unknown,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// Limit kinds (Limit.Kind).
const (
	// LimitHandling is a handling limit of so many days (办理时限) the authority must keep.
	LimitHandling = "handling"
	// LimitOnTheSpot is a matter decided on the spot (当场办结/即时办结): due the day it starts.
	LimitOnTheSpot = "on_the_spot"
	// LimitNone says that no rule sets the authority a limit: nothing is due by law, so only a
	// promised limit is watched. It is what the catalogue writes instead of guessing.
	LimitNone = "none"
)

// Limit units (Limit.Unit): a law says either 工作日 or 日, and the two are counted differently.
const (
	// UnitWorking counts working days of the official calendar (工作日).
	UnitWorking = "working"
	// UnitCalendar counts calendar days (日/自然日); a limit that ends on a day off ends on the
	// next working day instead (《民法典》第二百零三条).
	UnitCalendar = "calendar"
)

// Limit is a time limit as its rule states it: its kind, its number of days in its unit (with
// the extension the rule allows, if any), the legal provision it rests on and a note on the
// source. Days and Unit are set only for LimitHandling.
type Limit struct {
	Kind          string `json:"kind"`
	Days          int    `json:"days,omitempty"`
	Unit          string `json:"unit,omitempty"`
	ExtensionDays int    `json:"extension_days,omitempty"`
	Basis         string `json:"basis,omitempty"`
	Note          string `json:"note,omitempty"`
}

// Set reports whether the limit makes something due: a handling limit or an on-the-spot one.
func (l Limit) Set() bool { return l.Kind == LimitHandling || l.Kind == LimitOnTheSpot }

// Count returns the days the limit runs and the unit they are counted in: 0 working days for
// an on-the-spot matter (due the day it starts); 0 and "" when no limit is set.
func (l Limit) Count() (days int, unit string) {
	switch l.Kind {
	case LimitHandling:
		return l.Days, l.Unit
	case LimitOnTheSpot:
		return 0, UnitWorking
	}
	return 0, ""
}

// Label says the limit in Chinese as a notice shows it: 10个工作日, 20日, 当场办结, 无法定时限.
func (l Limit) Label() string {
	switch l.Kind {
	case LimitHandling:
		s := strconv.Itoa(l.Days) + "个工作日"
		if l.Unit == UnitCalendar {
			s = strconv.Itoa(l.Days) + "日"
		}
		if l.ExtensionDays > 0 {
			ext := strconv.Itoa(l.ExtensionDays) + "个工作日"
			if l.Unit == UnitCalendar {
				ext = strconv.Itoa(l.ExtensionDays) + "日"
			}
			s += "（可延长" + ext + "）"
		}
		return s
	case LimitOnTheSpot:
		return "当场办结"
	}
	return "无法定时限"
}

// Codes are a matter's codes as GB/T 39554.1 (全国一体化政务服务平台 政务服务事项基本目录及实施清单)
// gives them: the basic code (基本编码) of the national matter and the implementation code
// (实施编码) of the local one. Either is CodeUnknown where no public source gave it: a code is
// never made up.
type Codes struct {
	Basic          string `json:"basic"`
	Implementation string `json:"implementation"`
	// Source says where the codes were read, or that none was found.
	Source string `json:"source"`
}

// CodeUnknown is the matter code written where no public source gives it.
const CodeUnknown = "unknown"

// Allowance says whether the law lets a matter be handled a certain way (告知承诺, 容缺受理),
// and on what basis.
type Allowance struct {
	Allowed bool   `json:"allowed"`
	Basis   string `json:"basis,omitempty"`
}

// Result is what a matter issues: an e-licence, a filing record, a decision, a payment or a
// record.
type Result struct {
	Kind string `json:"kind"`
	// Name is the e-licence's type (licence name, e.g. 食品经营许可证) when Kind is licence,
	// else the name of the document issued.
	Name string `json:"name"`
	// LicenceTypeCode is the e-licence type's code where known; only with Kind licence.
	LicenceTypeCode string `json:"licence_type_code,omitempty"`
}

// ResultLicence is the result kind of a matter that issues an e-licence (电子证照).
const ResultLicence = "licence"

// LicenceType is an e-licence type as the catalogue knows it: the licence's name, which is the
// type licences and materials' satisfied_by write, and its code where known.
type LicenceType struct {
	Name string `json:"name"`
	Code string `json:"code,omitempty"`
}

// LicenceTypes returns the e-licence types an approval of the matter issues: its result's when
// the result is an e-licence, none otherwise. A department may attach to its approval of the
// matter e-licences of these types only.
func (m *Matter) LicenceTypes() []LicenceType {
	if m.Result.Kind != ResultLicence {
		return nil
	}
	return []LicenceType{{Name: m.Result.Name, Code: m.Result.LicenceTypeCode}}
}

// MaterialNeed is a material a matter requires.
type MaterialNeed struct {
	Material       string   `json:"material"`
	Optional       bool     `json:"optional,omitempty"`
	ApplicantTypes []string `json:"applicant_types,omitempty"`
	// When makes the need conditional: an expr-lang expression over the canonical fields (and
	// applicant_type), compiled when the catalogue loads; the material is required exactly
	// when it is true for the submitted form (告知承诺: fire.commitment == true).
	When       string      `json:"when,omitempty"`
	Note       string      `json:"note,omitempty"`
	when       *vm.Program // compiled When
	whenInputs []string    // canonical fields When reads, sorted
}

// FormField is one field of a department's own form, with where its value comes from:
// exactly one of From (a canonical field), Const, Expr (an expr-lang expression over the
// canonical fields) or FromResult (a prerequisite's result).
type FormField struct {
	Field      string     `json:"field"`
	Title      string     `json:"title"`
	Required   bool       `json:"required,omitempty"`
	From       string     `json:"from,omitempty"`
	Const      any        `json:"const,omitempty"`
	Expr       string     `json:"expr,omitempty"`
	FromResult *ResultRef `json:"from_result,omitempty"`
	// ApplicantTypes limits the field to those applicant types; empty: every type the matter
	// handles. A field asked of one type only (经营者证件号码 of an individual, its 法定代表人's
	// on another line for an enterprise) is then required of that type alone, where an
	// expression folding to nothing for the other would leave a required field empty.
	ApplicantTypes []string `json:"applicant_types,omitempty"`
}

// AskedOf reports whether the field is part of the department's form for an applicant type.
func (ff *FormField) AskedOf(applicantType string) bool {
	return len(ff.ApplicantTypes) == 0 || contains(ff.ApplicantTypes, applicantType)
}

// ResultRef names a field of a prerequisite matter's result.
type ResultRef struct {
	Matter string `json:"matter"`
	Field  string `json:"field"`
}

// Result fields that a form may take from a prerequisite's result.
var ResultFields = []string{"licence_number", "licence_name", "issued_at", "valid_until", "issuer", "decision_number"}

// Bundle is a 一件事: several matters applied for once.
type Bundle struct {
	Seq         int      `json:"seq"`
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Phase       string   `json:"phase"`
	Leads       []Lead   `json:"leads"`
	Cooperating []string `json:"cooperating"`
	// CooperatingByLaw are departments the law makes a party to the bundle beyond the plan's
	// table (Cooperating is the table's), each with the provision that does.
	CooperatingByLaw []LawParty    `json:"cooperating_by_law,omitempty"`
	Matters          []BundleEntry `json:"matters"`
	// OneOf are the bundle's either-or choices: the matters an entry names by group, of
	// which an application takes exactly one (a food licence, or the filing for those who only
	// sell pre-packaged food).
	OneOf       []OneOfGroup `json:"one_of,omitempty"`
	Description string       `json:"description,omitempty"`
}

// LawParty is a department a provision makes a party to a bundle, with that provision.
type LawParty struct {
	Department string `json:"department"`
	Basis      string `json:"basis"`
}

// OneOfGroup is an either-or choice of a bundle: exactly one of the entries whose OneOf names
// Code is applied for. Note says why, in the law's words, and is shown with a refusal.
type OneOfGroup struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Note string `json:"note,omitempty"`
}

// Group returns the one-of group named code and its entries, in the bundle's order; false when
// the bundle has no such group.
func (b *Bundle) Group(code string) (OneOfGroup, []BundleEntry, bool) {
	for _, g := range b.OneOf {
		if g.Code == code {
			var entries []BundleEntry
			for _, e := range b.Matters {
				if e.OneOf == code {
					entries = append(entries, e)
				}
			}
			return g, entries, true
		}
	}
	return OneOfGroup{}, nil, false
}

// Lead is a lead department (牵头单位) with the condition under which it leads.
type Lead struct {
	Department    string `json:"department"`
	ApplicantType string `json:"applicant_type,omitempty"`
	Stage         string `json:"stage,omitempty"`
}

// BundleEntry is a matter as a bundle lists it.
type BundleEntry struct {
	Name     string `json:"name"`
	Matter   string `json:"matter"`
	Optional bool   `json:"optional,omitempty"`
	Stage    string `json:"stage,omitempty"`
	// OneOf names the bundle's one-of group the matter belongs to: the applicant takes it or
	// another of the group, never both, never none. "" for a matter of its own.
	OneOf string `json:"one_of,omitempty"`
}
