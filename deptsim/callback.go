package deptsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"yjshub/format"
	"yjshub/hub/event"
)

// china is Asia/Shanghai, which has kept UTC+8 without daylight saving since 1991; a fixed
// zone needs no tzdata on the host.
var china = time.FixedZone("CST", 8*60*60)

// Callback retries: network errors and 5xx are retried for DefaultCallbackRetry, waiting
// callbackBackoff, doubled each time, at most callbackMaxBackoff. The hub may be restarting
// (`make run`, Ctrl-C, `make run`), which takes longer than a few seconds; a callback given up
// then leaves its case open for ever, since nothing sends the event again.
const (
	DefaultCallbackRetry = 2 * time.Minute
	callbackBackoff      = 20 * time.Millisecond
	callbackMaxBackoff   = 2 * time.Second
)

// sequence is the plan for calling back one accepted sub-case, fixed when it is accepted.
type sequence struct {
	dept     string
	decision string
	delay    time.Duration
	data     dispatched
	// afterSupplement: the applicant answered a supplement request; only the decision is left.
	afterSupplement bool
	// reason, when set, is the reason of a rejection the department decided on its own (a
	// material it could not check).
	reason string
}

// plan fixes the callbacks of an accepted sub-case. s.mu is held.
func (s *Simulator) plan(code string, d *deptState, data dispatched) sequence {
	return sequence{dept: code, decision: d.cfg.Decision, delay: d.cfg.Delay, data: data}
}

// outcome is how one callback ended.
type outcome int

const (
	delivered outcome = iota // 2xx
	refused                  // 4xx other than 409: this event is given up, the sequence goes on
	conflict                 // 409: the hub finds the transition illegal; the sequence ends
	exhausted                // network errors or 5xx for the whole retry budget; the sequence ends
	stopped                  // the simulator was closed
)

// run sends the planned events one after the other.
func (s *Simulator) run(seq sequence) {
	defer s.finish(seq.data.SubcaseID)
	final := map[string]string{
		DecisionApprove:    event.Approved,
		DecisionReject:     event.Rejected,
		DecisionSupplement: event.SupplementRequested,
	}[seq.decision]
	steps := []string{event.Received, event.Accepted, final}
	if seq.afterSupplement {
		steps = []string{final}
	}
	for _, typ := range steps {
		if !s.wait(seq.delay) || s.withdrawn(seq.data.SubcaseID) {
			return
		}
		if typ == final && !seq.afterSupplement {
			// The department reads what it was sent before it decides.
			if problems := s.checkMaterials(seq); len(problems) > 0 {
				typ, seq.reason = event.Rejected, rejectionReason(problems)
			}
		}
		ev := s.buildEvent(seq, typ)
		switch s.deliver(seq, ev) {
		case delivered, refused:
		default:
			return
		}
	}
}

// finish ends a callback sequence of sub-case sc: once none runs for it, it is settled, and
// once decided its data goes, since no supplement can follow a decision.
func (s *Simulator) finish(sc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.subcases[sc]; st != nil {
		st.running--
		if st.decided {
			st.data = dispatched{}
		}
		s.touch(sc, st)
	}
	s.inflight--
	if s.inflight == 0 {
		close(s.idle)
	}
}

// wait waits d, or less if the simulator is closed; it reports whether to go on.
func (s *Simulator) wait(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// buildEvent returns the event of type typ. Its id depends only on the sub-case and the type,
// so the hub recognises it if it arrives twice. The licence of an approval has its file
// uploaded to the hub first, where the hub keeps files (uploadLicenceFile).
func (s *Simulator) buildEvent(seq sequence, typ string) event.DepartmentEvent {
	now := s.now().In(china)
	ev := event.DepartmentEvent{EventID: "sim-" + seq.data.SubcaseID + "-" + typ, Type: typ, Time: now}
	switch typ {
	case event.Received:
		ev.Comment = "（模拟）已收件"
	case event.Accepted:
		ev.Comment = "（模拟）已受理"
		// Its own acceptance number (受理号), as a department's system gives one.
		ev.DepartmentRef = departmentRef(seq.dept, seq.data.SubcaseID)
	case event.Approved:
		ev.Comment = "（模拟）准予许可"
		ev.DecisionNumber = fmt.Sprintf("模拟%s〔%s〕号", initials(seq.dept), serial(seq.data.SubcaseID))
		if seq.data.Matter.Result.Kind == "licence" {
			l := s.licence(seq, now)
			s.uploadLicenceFile(seq, &l)
			ev.Licences = []event.Licence{l}
		}
	case event.Rejected:
		ev.Reason = "（模拟）申请不符合法定条件，不予许可"
		if seq.reason != "" {
			ev.Reason = seq.reason
		}
	case event.SupplementRequested:
		ev.Comment = "（模拟）材料需补正"
		ev.Missing = []event.Missing{missing(seq.data)}
	}
	return ev
}

// licence is the e-licence an approval issues, dated today in China and valid five years.
func (s *Simulator) licence(seq sequence, now time.Time) event.Licence {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, china)
	number := licenceNumber(seq.dept, seq.data.SubcaseID)
	l := event.Licence{
		Type:         seq.data.Matter.Result.Name,
		Number:       number,
		Holder:       "申请人",
		HolderIDType: idTypeFor(seq.data.ApplicantType),
		Issuer:       seq.dept,
		IssuedAt:     today.Format(time.DateOnly),
		ValidFrom:    today.Format(time.DateOnly),
		ValidUntil:   today.AddDate(5, 0, -1).Format(time.DateOnly),
	}
	if l.Type == "" {
		l.Type = seq.data.Matter.Name
	}
	if a := seq.data.Applicant; a != nil {
		if a.Name != "" {
			l.Holder = a.Name
		}
		l.HolderID = a.ID
		if a.IDType != "" {
			l.HolderIDType = a.IDType
		}
	}
	if name := s.names[seq.dept]; name != "" {
		l.Issuer = name
	}
	// The type code the hub's dispatch names, the issuer's credit code, the licence's own face
	// item and the seal on its file, as a department's licence system gives them; the hub
	// builds the identifier (证照标识) of these.
	l.TypeCode = seq.data.Matter.Result.LicenceTypeCode
	l.IssuerCode = creditCode(seq.dept)
	l.Items = map[string]string{"许可事项": seq.data.Matter.Name}
	l.Seal = &event.Seal{Name: l.Issuer + "电子印章（模拟）", Algorithm: "SM2"}
	sum := sha256.Sum256([]byte("yjshub simulated e-licence\n" + number + "\n" + seq.data.SubcaseID + "\n"))
	l.File = event.LicenceFile{SHA256: hex.EncodeToString(sum[:]), URI: "sim://licences/" + number + ".ofd", Format: "ofd"}
	return l
}

// idTypeFor guesses the kind of the holder's id from the applicant type, for when the hub
// does not say.
func idTypeFor(applicantType string) string {
	if applicantType == "individual" {
		return "resident_id"
	}
	return "uscc"
}

// missing names what a supplement request asks for: the sub-case's first material, else its
// first form field (by name), else the application as a whole.
func missing(d dispatched) event.Missing {
	if len(d.Materials) > 0 {
		m := d.Materials[0]
		name := m.Name
		if name == "" {
			name = m.Type
		}
		return event.Missing{Material: m.Type, Note: "（模拟）请补正：" + name}
	}
	if len(d.Form) > 0 {
		keys := make([]string, 0, len(d.Form))
		for k := range d.Form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return event.Missing{Field: keys[0], Note: "（模拟）请补正该字段"}
	}
	return event.Missing{Field: "application", Note: "（模拟）请补正申请"}
}

// licenceNumber is the number of the e-licence issued for sub-case sc of department dept. It
// is derived from the sub-case rather than counted, so that it stays unique when the simulator
// restarts (the hub refuses a number already issued for another holder) and is the same when
// the hub delivers the sub-case again (which the hub then takes as a repeat).
func licenceNumber(dept, sc string) string {
	return "SIM" + initials(dept) + serial(sc)
}

// serial is 16 upper-case hex digits derived from sub-case sc: 64 bits make a collision
// between two sub-cases negligible even over millions of them.
func serial(sc string) string {
	sum := sha256.Sum256([]byte("yjshub simulated serial\n" + sc + "\n"))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// initials abbreviates a department code for numbers: admin-approval → AA.
func initials(code string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(code, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		r := part[0]
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteByte(r)
		}
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// deliver posts ev to the sub-case's callback, retrying network errors and 5xx.
func (s *Simulator) deliver(seq sequence, ev event.DepartmentEvent) outcome {
	body, err := json.Marshal(ev)
	if err != nil { // cannot happen: every field is marshalable
		panic(err)
	}
	log := s.log.With("department", seq.dept, "subcase_id", seq.data.SubcaseID, "event", ev.Type, "event_id", ev.EventID)
	backoff := s.callbackBackoff
	deadline := time.Now().Add(s.callbackRetry)
	for attempt := 1; ; attempt++ {
		status, hubErr, err := s.post(seq.data.Callback, seq.dept, body)
		switch {
		case s.ctx.Err() != nil:
			log.Info("callback abandoned: simulator closed")
			return stopped
		case err == nil && status >= 200 && status < 300:
			s.mu.Lock()
			s.depts[seq.dept].stats.CallbacksSent++
			st := s.subcases[seq.data.SubcaseID]
			st.eventsSent = append(st.eventsSent, ev.Type)
			st.decided = st.decided || ev.Type == event.Approved || ev.Type == event.Rejected
			s.mu.Unlock()
			log.Info("callback delivered", "status", status, "attempts", attempt)
			return delivered
		case err == nil && status == http.StatusConflict:
			s.failed(seq.dept)
			log.Warn("callback refused as an illegal transition: sequence stopped", "status", status, "hub_error", hubErr)
			return conflict
		case err == nil && status < 500:
			s.failed(seq.dept)
			log.Warn("callback refused: event given up", "status", status, "hub_error", hubErr)
			return refused
		}
		if !time.Now().Add(backoff).Before(deadline) {
			s.failed(seq.dept)
			log.Error("callback failed on every attempt: sequence stopped", "attempts", attempt, "retried_for", s.callbackRetry, "status", status, "error", errString(err))
			return exhausted
		}
		if attempt == 1 {
			// Once, not per attempt: the hub being down is worth a line, a retry is not.
			log.Warn("callback failed; retrying until the hub answers", "status", status, "error", errString(err), "retry_for", s.callbackRetry)
		}
		log.Debug("callback failed; retrying", "attempt", attempt, "status", status, "error", errString(err), "backoff", backoff)
		if !s.wait(backoff) {
			log.Info("callback abandoned: simulator closed")
			return stopped
		}
		backoff = min(2*backoff, s.callbackMaxBackoff)
	}
}

func (s *Simulator) failed(dept string) {
	s.mu.Lock()
	s.depts[dept].stats.CallbacksFailed++
	s.mu.Unlock()
}

// post sends one attempt. It returns the status, and for 4xx what the hub's error body says
// in structural terms only (code, problem paths and rules): messages may quote values.
func (s *Simulator) post(callback, dept string, body []byte) (int, string, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "yjshub-deptsim")
	req.Header.Set(HeaderSimulated, "true")
	if key := s.hubKeys[dept]; key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, summarizeHubError(raw), nil
}

// summarizeHubError reduces the hub's {"error": {...}} body to its code and problem paths.
func summarizeHubError(raw []byte) string {
	var b errorBody
	if json.Unmarshal(raw, &b) != nil || b.Error.Code == "" {
		return "(no error body in the hub's shape)"
	}
	parts := []string{b.Error.Code}
	for _, p := range b.Error.Problems {
		parts = append(parts, p.Path+":"+p.Rule)
	}
	return strings.Join(parts, " ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// departmentRef is the department's own acceptance number (受理号) of sub-case sc: derived from
// the sub-case, like the licence number, so that it is the same when the event is sent again.
func departmentRef(dept, sc string) string {
	return "模拟" + initials(dept) + "受字" + serial(sc)
}

// creditCode is the simulated department's unified social credit code: well-formed (GB 32100,
// its check character right) but made up for the simulation — 11 (an organ of government),
// 320707 and nine digits of the department code's hash — so that its licences get an
// identifier as a real department's would.
func creditCode(dept string) string {
	sum := sha256.Sum256([]byte("yjshub simulated credit code\n" + dept + "\n"))
	body := []byte("11320707")
	for _, c := range sum[:9] {
		body = append(body, '0'+c%10)
	}
	code, err := format.CompleteUSCC(string(body))
	if err != nil {
		panic("deptsim: a simulated credit code: " + err.Error()) // digits only: cannot fail
	}
	return code
}
