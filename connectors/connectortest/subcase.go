package connectortest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"yjshub/hub/bus"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// PersonalData is an applicant's personal data as the suite's sub-cases carry it.
type PersonalData struct {
	Name     string
	IDNumber string // resident ID number (GB 11643), check digit valid
	Mobile   string
	Address  string
}

// Secrets lists what must never reach an error, a log line or a status, for [leaktest.AssertNoLeak].
func (p PersonalData) Secrets() []string {
	return []string{p.Name, p.IDNumber, p.Mobile, p.Address}
}

// Personal is the applicant of every sub-case the suite publishes: realistic (a valid resident
// ID number, a mobile number, a home address), so that a leak check finds real leaks.
var Personal = PersonalData{
	Name:     "李秀英",
	IDNumber: "11010519491231002X",
	Mobile:   "13912345678",
	Address:  "江苏省连云港市赣榆区青口镇黄海路88号3幢2单元501室",
}

// Subcase is a dispatched sub-case as the suite publishes it.
type Subcase struct {
	// ID is the envelope id: the idempotency key of every delivery of it.
	ID        string
	CaseID    string
	SubcaseID string
	// Data is what the envelope carries.
	Data event.SubcaseDispatched
	// Raw is the envelope as published.
	Raw []byte
}

// NewSubcase returns a sub-case of the case caseID for department dept: 开酒吧's food business
// licence for an individual applicant ([Personal]), with its mapped form and two material
// references. seq numbers the sub-case within its case (it appears in the form).
func NewSubcase(dept, caseID string, seq int) Subcase {
	sc := Subcase{ID: uuid.Must(uuid.NewV7()).String(), CaseID: caseID, SubcaseID: "sc_" + hubtest.RandomHex(8)}
	now := time.Now().UTC().Truncate(time.Millisecond)
	sc.Data = event.SubcaseDispatched{
		CaseID:        caseID,
		SubcaseID:     sc.SubcaseID,
		Bundle:        event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
		Matter:        event.MatterRef{Code: "food-business-licence", Name: "食品经营许可（新设）", Result: event.ResultRef{Kind: "licence", Name: "食品经营许可证"}},
		Department:    dept,
		ApplicantType: "individual",
		Applicant:     &event.ApplicantRef{Name: Personal.Name, ID: Personal.IDNumber, IDType: "resident_id"},
		Form: map[string]any{
			"SQRXM": Personal.Name,
			"SFZHM": Personal.IDNumber,
			"LXDH":  Personal.Mobile,
			"JYCS":  Personal.Address,
			"ZTLX":  "个体工商户",
			"JYXM":  []any{"预包装食品销售", "热食类食品制售"},
			"JYMJ":  86.5,
			"XH":    seq,
		},
		Materials: []event.MaterialRef{
			material("id-card", "居民身份证", "sfz.pdf", 81233),
			material("premises-proof", "经营场所使用证明", "cszm.pdf", 240117),
		},
		Deadlines:   event.Deadlines{Promised: now.AddDate(0, 0, 10).Format(time.DateOnly), Statutory: now.AddDate(0, 0, 20).Format(time.DateOnly)},
		SubmittedAt: now,
		Callback:    "https://yjshub.example/api/v1/subcases/" + sc.SubcaseID + "/events",
	}
	env, err := event.New(sc.ID, event.TypeSubcaseDispatched, sc.SubcaseID, now, sc.Data)
	if err != nil {
		panic(err) // every field marshals
	}
	if sc.Raw, err = json.Marshal(env); err != nil {
		panic(err)
	}
	return sc
}

// Message is the sub-case as a bus message: on the department's topic, keyed by the case id.
func (s Subcase) Message() bus.Message {
	return bus.Message{Topic: bus.SubcaseTopic(s.Data.Department), Key: []byte(s.CaseID), Value: s.Raw}
}

// material references a stored material by its hash, as every sub-case needing it does.
func material(typ, name, file string, size int64) event.MaterialRef {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %s %d", typ, file, size))
	h := hex.EncodeToString(sum[:])
	return event.MaterialRef{Type: typ, Name: name, Filename: file, SHA256: h, Size: size,
		URI: "https://files.yjshub.example/materials/" + h}
}
