// Package event defines the messages the hub exchanges with departments and platforms: the
// CloudEvents envelope, the dispatched sub-case, and the events a department reports back.
// connectors/CONTRACT.md describes them for departmental IT; their JSON Schemas are under
// schemas/events.
package event

import (
	"encoding/json"
	"time"
)

// SpecVersion is the CloudEvents version of every envelope.
const SpecVersion = "1.0"

// Source is the CloudEvents source of messages the hub emits.
const Source = "yjshub"

// ContentType is the media type of an envelope in structured JSON mode, as the HTTP binding
// of CloudEvents names it: what a REST push delivery carries.
const ContentType = "application/cloudevents+json; charset=utf-8"

// Event types.
const (
	TypeSubcaseDispatched = "cn.yjshub.subcase.dispatched"
	TypeCaseUpdated       = "cn.yjshub.case.updated"
	TypeSubcaseUpdated    = "cn.yjshub.subcase.updated"
	// TypeSubcaseEvent carries a DepartmentEvent that a department publishes to the results
	// topic (yjs.result) instead of posting it; the subject is the sub-case id.
	TypeSubcaseEvent = "cn.yjshub.subcase.event"
	// TypeSubcaseResubmitted carries to a department what the applicant sent in answer to its
	// supplement request (补正): the new materials and the corrected fields, for the items it
	// asked for only.
	TypeSubcaseResubmitted = "cn.yjshub.subcase.resubmitted"
	// TypeSubcaseWithdrawn tells a department that the applicant withdrew the sub-case (撤件)
	// before its decision: it is to stop handling it.
	TypeSubcaseWithdrawn = "cn.yjshub.subcase.withdrawn"
)

// Envelope is a CloudEvents 1.0 message in structured JSON mode.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`

	// TraceParent is the CloudEvents distributed tracing extension: the W3C traceparent of the
	// case's intake, on a dispatched sub-case, so that a department's system can continue the
	// case's trace whatever transport brought the message (a restpull item, a front-end
	// database row). A department's event may carry its own. Empty: none.
	TraceParent string `json:"traceparent,omitempty"`
}

// New returns an envelope around data.
func New(id, typ, subject string, at time.Time, data any) (Envelope, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{SpecVersion: SpecVersion, ID: id, Type: typ, Source: Source, Subject: subject,
		Time: at.UTC(), DataContentType: "application/json", Data: b}, nil
}

// BundleRef names a bundle.
type BundleRef struct {
	Seq  int    `json:"seq"`
	Code string `json:"code"`
	Name string `json:"name"`
}

// MatterRef names a matter and what it issues.
type MatterRef struct {
	Code   string    `json:"code"`
	Name   string    `json:"name"`
	Result ResultRef `json:"result"`
}

// ResultRef is the kind (licence, filing, decision, payment, record) and name of a matter's
// result.
type ResultRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// LicenceTypeCode is the e-licence type's code when the result is an e-licence: the one
	// the department's licence is to carry (national, or LOCAL-… of the hub's namespace).
	LicenceTypeCode string `json:"licence_type_code,omitempty"`
}

// MaterialRef is a material supplied once for a case and referenced by every sub-case that
// needs it. A material given as an e-licence of the hub's library (免交) carries the licence
// file as filename, sha256 and uri, its size when the issuer gave it, and Licence.
//
// A material the hub holds (uploaded to it, named by its id) carries in URI a link to the hub
// signed for the receiving department, case and sub-case, and LinkExpiresAt: the link, not the
// material, expires, and a department that missed it asks for a fresh one (the restpull inbox
// signs afresh at each read). Without LinkExpiresAt, URI is where the applicant's platform
// keeps the file, on a host the hub allows.
type MaterialRef struct {
	Type     string           `json:"type"`
	Name     string           `json:"name"`
	Filename string           `json:"filename"`
	SHA256   string           `json:"sha256"`
	Size     int64            `json:"size"`
	URI      string           `json:"uri"`
	Licence  *LicenceMaterial `json:"licence,omitempty"`
	// ContentType is the type the hub sniffed from the bytes of a material it holds; empty
	// for the others.
	ContentType string `json:"content_type,omitempty"`
	// LinkExpiresAt is when the link in URI stops working, for a material the hub holds; nil
	// otherwise.
	LinkExpiresAt *time.Time `json:"link_expires_at,omitempty"`
}

// LicenceMaterial is the e-licence a material was given as, and what the hub found when it
// verified it against its library: status valid, expired or revoked, at VerifiedAt.
type LicenceMaterial struct {
	Type       string    `json:"type"`
	Number     string    `json:"number"`
	Status     string    `json:"status"`
	VerifiedAt time.Time `json:"verified_at"`
}

// Deadlines are a sub-case's deadlines as dates (YYYY-MM-DD, Asia/Shanghai).
type Deadlines struct {
	Promised string `json:"promised"`
	// Statutory is "" where no rule sets the matter a statutory limit (nothing is due by law).
	Statutory string `json:"statutory"`
	// Provisional is true when a deadline falls in a year whose official holiday schedule is
	// not known yet: it was counted with Monday–Friday as the working days and may move when
	// the State Council publishes the year's schedule.
	Provisional bool `json:"provisional,omitempty"`
}

// SubcaseDispatched is the data of a TypeSubcaseDispatched envelope: what a department
// receives.
type SubcaseDispatched struct {
	CaseID string `json:"case_id"`
	// CaseNumber is the case number (办件编号) the applicant and the lead department read;
	// absent for cases submitted before case numbers.
	CaseNumber    string        `json:"case_number,omitempty"`
	SubcaseID     string        `json:"subcase_id"`
	Bundle        BundleRef     `json:"bundle"`
	Matter        MatterRef     `json:"matter"`
	Department    string        `json:"department"`
	ApplicantType string        `json:"applicant_type"`
	Applicant     *ApplicantRef `json:"applicant,omitempty"`
	// Agent is who acts for the applicant (帮办代办), when someone does: the department's
	// 受理 records the 代办人 with the application.
	Agent       *AgentRef      `json:"agent,omitempty"`
	Form        map[string]any `json:"form"`
	Materials   []MaterialRef  `json:"materials"`
	Deadlines   Deadlines      `json:"deadlines"`
	SubmittedAt time.Time      `json:"submitted_at"`
	Callback    string         `json:"callback,omitempty"`
}

// SubcaseResubmitted is the data of a TypeSubcaseResubmitted envelope: the applicant's answer
// to the department's supplement request (补正). Asked repeats the request; Materials are the
// new files of the materials it asked for, Fields the corrected canonical fields it asked for,
// and Form the department's form mapped again with the corrections.
type SubcaseResubmitted struct {
	CaseID       string         `json:"case_id"`
	SubcaseID    string         `json:"subcase_id"`
	SupplementID string         `json:"supplement_id"`
	Matter       MatterRef      `json:"matter"`
	Department   string         `json:"department"`
	Asked        []Missing      `json:"asked"`
	Materials    []MaterialRef  `json:"materials"`
	Fields       map[string]any `json:"fields"`
	Form         map[string]any `json:"form"`
	Note         string         `json:"note,omitempty"`
	Callback     string         `json:"callback,omitempty"`
}

// SubcaseWithdrawn is the data of a TypeSubcaseWithdrawn envelope: the applicant withdrew the
// sub-case (撤件) before its decision, for Reason.
type SubcaseWithdrawn struct {
	CaseID      string    `json:"case_id"`
	SubcaseID   string    `json:"subcase_id"`
	Matter      MatterRef `json:"matter"`
	Department  string    `json:"department"`
	Reason      string    `json:"reason"`
	WithdrawnAt time.Time `json:"withdrawn_at"`
}

// ApplicantRef identifies the applicant (the holder of any licence issued): the enterprise or
// individual business by its unified social credit code, or the person by the number of the
// identity document they hold.
type ApplicantRef struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	IDType string `json:"id_type"` // IDUSCC or one of PersonalIDTypes' kinds
}

// AgentRef is who acts for the applicant (帮办代办人): kind assistance (帮办: helps an applicant
// who still signs) or proxy (代办: acts under the applicant's authorisation, whose scope and last
// day are given; the 授权委托书 is among the materials as agent-authorisation).
type AgentRef struct {
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	IDType       string `json:"id_type"`
	IDNumber     string `json:"id_number"`
	Phone        string `json:"phone"`
	Organisation string `json:"organisation,omitempty"`
	Scope        string `json:"scope,omitempty"`
	ValidUntil   string `json:"valid_until,omitempty"`
}

// Kinds of a holder's number (ApplicantRef.IDType, Licence.HolderIDType): a unified social
// credit code, or a natural person's identity document. A platform's holder code and the
// masking of personal data follow the kind, so a passport holder is never called a resident ID
// holder.
const (
	IDUSCC                     = "uscc"                       // 统一社会信用代码 (GB 32100)
	IDResident                 = "resident_id"                // 居民身份证 (GB 11643)
	IDResidencePermitHMT       = "residence_permit_hmt"       // 港澳台居民居住证
	IDForeignPermanentResident = "foreign_permanent_resident" // 外国人永久居留身份证
	IDPassport                 = "passport"                   // 护照
)

// PersonalIDTypes maps the one form's identity document types (applicant.id_type) to the holder
// kinds.
var PersonalIDTypes = map[string]string{
	"居民身份证": IDResident, "港澳台居民居住证": IDResidencePermitHMT, "外国人永久居留身份证": IDForeignPermanentResident, "护照": IDPassport,
}

// HolderIDTypes lists every holder kind, the credit code first.
var HolderIDTypes = []string{IDUSCC, IDResident, IDResidencePermitHMT, IDForeignPermanentResident, IDPassport}

// Personal reports whether a holder kind is a natural person's document: its number is
// personal data.
func Personal(idType string) bool { return idType != IDUSCC }

// Department event types (what a department reports about a sub-case).
const (
	Received            = "received"
	Accepted            = "accepted"
	SupplementRequested = "supplement_requested"
	Resubmitted         = "resubmitted"
	Suspended           = "suspended"
	Resumed             = "resumed"
	Approved            = "approved"
	Rejected            = "rejected"
)

// DepartmentEvent is what a department posts to /api/v1/subcases/{id}/events.
type DepartmentEvent struct {
	EventID string    `json:"event_id"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Missing []Missing `json:"missing,omitempty"`
	// Deadline is the last day (YYYY-MM-DD, China) by which the applicant is to supplement;
	// only with a supplement request, and optional.
	Deadline       string    `json:"deadline,omitempty"`
	DecisionNumber string    `json:"decision_number,omitempty"`
	Licences       []Licence `json:"licences,omitempty"`
	// DepartmentRef is the department's own number for the sub-case (受理号/办件号), 1 to 64
	// printable characters, on any event. The hub keeps the first one given; a later event
	// that gives another is refused (409), one that gives the same or none is not.
	DepartmentRef string `json:"department_ref,omitempty"`
}

// MaxDepartmentRef is the most characters a department's own number may have.
const MaxDepartmentRef = 64

// Missing names what a supplement request (补正) asks for.
type Missing struct {
	Material string `json:"material,omitempty"`
	Field    string `json:"field,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Licence is an e-licence (电子证照) with the metadata of GB/T 36901–36906: its type and type
// code (GB/T 36902), its identifier (证照标识, GB/T 36904), its face items (照面信息, GB/T
// 36903: holder, holder id type and number, issuer, issued and valid dates, and the type's own
// Items) and the seal the issuer put on its file (签章).
type Licence struct {
	Type string `json:"type"`
	// TypeCode is the licence type's code: the catalogue's (result.licence_type_code), a
	// national one (GB/T 36902) or one of the hub's local namespace (LOCAL-…).
	TypeCode     string `json:"type_code,omitempty"`
	Number       string `json:"number"`
	Holder       string `json:"holder"`
	HolderID     string `json:"holder_id"`
	HolderIDType string `json:"holder_id_type"` // one of HolderIDTypes
	Issuer       string `json:"issuer"`
	// IssuerCode is the issuing department's unified social credit code (GB 32100).
	IssuerCode string      `json:"issuer_code,omitempty"`
	IssuedAt   string      `json:"issued_at"`             // YYYY-MM-DD
	ValidFrom  string      `json:"valid_from"`            // YYYY-MM-DD
	ValidUntil string      `json:"valid_until,omitempty"` // YYYY-MM-DD; empty = no expiry
	File       LicenceFile `json:"file"`
	// Identifier is the licence's identifier (证照标识, GB/T 36904; hub/licences/identifier.go).
	// A department may give its own; else the hub builds it when it has the type code and the
	// issuer's code. Empty: neither was known.
	Identifier string `json:"identifier,omitempty"`
	// Items are the face items (照面信息) of the licence's type beyond the common ones, by
	// their names on the licence (e.g. 经营场所, 主体业态), as the issuer printed them.
	Items map[string]string `json:"items,omitempty"`
	// Seal is the issuer's seal on the licence's file, as the issuer describes it; absent when
	// it gave none. The hub never makes one up.
	Seal *Seal `json:"seal,omitempty"`
}

// Seal describes the electronic seal (签章) on a licence's file: the seal's name (the issuer's
// seal, e.g. 连云港市赣榆区行政审批局行政审批专用章), the signature algorithm (e.g. SM2) and the
// signing certificate's serial number, when the issuer gives them. It describes a signature
// the file carries; it is not one.
type Seal struct {
	Name              string `json:"name"`
	Algorithm         string `json:"algorithm,omitempty"`
	CertificateSerial string `json:"certificate_serial,omitempty"`
}

// LicenceFile is the licence document (OFD or PDF) by hash and location.
type LicenceFile struct {
	SHA256 string `json:"sha256"`
	// URI is where the department keeps the file; optional when ObjectID names it.
	URI    string `json:"uri"`
	Format string `json:"format"`         // ofd | pdf
	Size   int64  `json:"size,omitempty"` // bytes; 0 = not given
	// ObjectID names the file the department uploaded to the hub ("mo_…", /api/v1/uploads or
	// PUT /api/v1/files/{sha256}); the hub fills SHA256, Size and Format from it.
	ObjectID string `json:"object_id,omitempty"`
	// Link is a link the hub signed for the reader to the file it holds (ObjectID), set in
	// the hub's answers and pushes only; a department's event that gives one is refused.
	Link string `json:"link,omitempty"`
}
