package cases_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// Department events reported at about the same time are recorded together, in one transaction
// (eventbatch.go). This test holds that to what one event's own transaction does: the same
// script of events — new, repeated, refused for each reason there is, left for later, for a
// sub-case that does not exist, one that completes its case — is applied once as one batch to
// two cases and once event by event to two other cases alike, and every answer, every case's
// rows, timeline, e-licences and case.updated messages must come out the same.
func TestEventsRecordedTogetherEqualEventsRecordedAlone(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		submit := func() *cases.CaseView {
			v, _, err := svc.Submit(ctx, app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range v.Subcases {
				if sc.State != cases.StateDispatched {
					t.Fatalf("sub-case %s is %s: the script wants every one dispatched", sc.MatterCode, sc.State)
				}
			}
			return v
		}
		// A licence the library holds already, from another case.
		held := submit()
		for i, sc := range held.Subcases {
			approve(t, svc, held, sc, i)
		}
		got, err := svc.Get(ctx, held.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Licences) == 0 {
			t.Fatal("the first case issued no e-licence")
		}
		var heldLicences []event.Licence
		for _, l := range got.Licences {
			heldLicences = append(heldLicences, l.Licence)
		}

		together := script(t, submit(), submit(), "T", heldLicences)
		alone := script(t, submit(), submit(), "A", heldLicences)
		if len(together.events) != len(alone.events) {
			t.Fatal("the two scripts differ in length")
		}
		outTogether := svc.ApplyEventsTogether(together.events)
		outAlone := make([]cases.EventOutcome, len(alone.events))
		for i, e := range alone.events {
			outAlone[i] = svc.ApplyEventAlone(ctx, e.SubcaseID, e.Event)
		}
		applied, refused := 0, map[string]int{}
		for i := range outTogether {
			a, b := outcomeOf(outTogether[i], together), outcomeOf(outAlone[i], alone)
			if a != b {
				t.Errorf("event %d (%s): together %s, alone %s", i, together.what[i], a, b)
			}
			if !strings.HasPrefix(a, "ok") {
				refused[strings.Fields(a)[0]]++
			} else {
				applied++
			}
		}
		// The script reaches every kind of answer, or it proves less than it says.
		for _, kind := range []string{"conflict", "problem", "not-found"} {
			if refused[kind] == 0 {
				t.Errorf("no event was refused as %s: %v", kind, refused)
			}
		}
		if applied < 15 {
			t.Errorf("only %d events were applied", applied)
		}
		// Five days later, while the second case's supplement request holds its sub-case's
		// clock, its other sub-cases move on: their events recompute every deadline of the
		// case, the paused one's too.
		setClock(t, svc, testNow.Add(5*24*time.Hour))
		second := func(s *scripted) []cases.SubcaseEvent {
			b := s.cases[1]
			var out []cases.SubcaseEvent
			for i, sc := range b.Subcases {
				if i >= 2 {
					out = append(out, cases.SubcaseEvent{SubcaseID: sc.ID, Event: event.DepartmentEvent{EventID: "later-" + sc.MatterCode, Type: event.Received}})
				}
			}
			return out
		}
		outTogether = svc.ApplyEventsTogether(second(together))
		for i, e := range second(alone) {
			a, b := outcomeOf(outTogether[i], together), outcomeOf(svc.ApplyEventAlone(ctx, e.SubcaseID, e.Event), alone)
			if a != b {
				t.Errorf("later event %d: together %s, alone %s", i, a, b)
			}
		}
		for k := range together.cases {
			a, b := caseDigest(t, ctx, svc, st, together.cases[k], together), caseDigest(t, ctx, svc, st, alone.cases[k], alone)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("case %d differs:\ntogether %v\nalone    %v", k, a, b)
			}
			if k == 0 && a.state != cases.CaseCompleted {
				t.Errorf("the first case is %s: the script completes it", a.state)
			}
		}
	})
}

// scripted is a script of events about two cases, with what each event is and how to name a
// case's sub-cases by position.
type scripted struct {
	events []cases.SubcaseEvent
	what   []string
	cases  []*cases.CaseView
	pos    map[string]string // sub-case id → "case/position"
}

func script(t *testing.T, a, b *cases.CaseView, tag string, held []event.Licence) *scripted {
	t.Helper()
	s := &scripted{cases: []*cases.CaseView{a, b}, pos: map[string]string{}}
	for k, v := range s.cases {
		for i, sc := range v.Subcases {
			s.pos[sc.ID] = fmt.Sprintf("%d/%d", k, i)
		}
	}
	add := func(what string, sc cases.SubcaseView, ev event.DepartmentEvent) {
		s.events = append(s.events, cases.SubcaseEvent{SubcaseID: sc.ID, Event: ev})
		s.what = append(s.what, what)
	}
	licence := func(sc cases.SubcaseView, number string) []event.Licence {
		m, _ := testCatalogue.Matter(sc.MatterCode)
		if m.Result.Kind != "licence" {
			return nil
		}
		return []event.Licence{{Type: m.Result.Name, Number: number, Holder: "申请人", HolderID: "91350100M000100Y43", HolderIDType: "uscc",
			Issuer: sc.Department.Name, IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
			File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/l.ofd", Format: "ofd"}}}
	}
	var withLicence []int // the sub-cases that issue e-licences, by position
	for i, sc := range a.Subcases {
		if licence(sc, "x") != nil {
			withLicence = append(withLicence, i)
		}
	}
	if len(withLicence) < 2 || len(a.Subcases) < 4 || len(b.Subcases) < 2 {
		t.Fatalf("the script wants a case of four sub-cases, two of them issuing e-licences: %d and %d", len(a.Subcases), len(withLicence))
	}
	ev := func(id, typ string) event.DepartmentEvent {
		return event.DepartmentEvent{EventID: id, Type: typ, Time: testNow.Add(-time.Hour)}
	}
	a0, a1 := a.Subcases[0], a.Subcases[1]
	add("received", a0, ev("e1", event.Received))
	add("received again: a replay", a0, ev("e1", event.Received))
	add("the event id of received, as accepted", a0, ev("e1", event.Accepted))
	add("approved before received", a1, ev("e2", event.Approved))
	add("received", a1, ev("e3", event.Received))
	add("accepted", a1, ev("e4", event.Accepted))
	future := ev("e5", event.Received)
	future.Time = testNow.Add(time.Hour) // ahead of the hub's clock: taken at the hub's time
	add("received from a clock ahead", a.Subcases[2], future)
	// Approving a licence matter with a licence the library holds, then with a new one.
	l0 := a.Subcases[withLicence[0]]
	if l0.ID != a0.ID && l0.ID != a.Subcases[2].ID {
		add("received", l0, ev("e6", event.Received))
	}
	m0, _ := testCatalogue.Matter(l0.MatterCode)
	for _, h := range held {
		if h.Type == m0.Result.Name {
			add("approved with a licence issued before", l0, event.DepartmentEvent{EventID: "e7", Type: event.Approved, Licences: licence(l0, h.Number)})
		}
	}
	wrongHolder := licence(l0, tag+"-wrong")
	wrongHolder[0].HolderID = "11010519491231002X"
	wrongHolder[0].HolderIDType = "resident_id"
	add("approved with a licence to someone else", l0, event.DepartmentEvent{EventID: "e8", Type: event.Approved, Licences: wrongHolder})
	for _, sc := range a.Subcases {
		if sc.ID != a0.ID && sc.ID != a1.ID && sc.ID != a.Subcases[2].ID && sc.ID != l0.ID {
			add("received", sc, ev("r-"+sc.MatterCode, event.Received))
		}
	}
	add("approved", l0, event.DepartmentEvent{EventID: "e9", Type: event.Approved, DecisionNumber: "赣审〔2026〕9号", Licences: licence(l0, tag+"-L0")})
	// Every sub-case of the first case decided: it completes in the batch.
	for i, sc := range a.Subcases {
		if sc.ID == l0.ID {
			continue
		}
		e := event.DepartmentEvent{EventID: "d-" + sc.MatterCode, Type: event.Approved, Licences: licence(sc, fmt.Sprintf("%s-L%d", tag, i+1))}
		if i == 3 {
			e = event.DepartmentEvent{EventID: "d-" + sc.MatterCode, Type: event.Rejected, Reason: "不符合条件", DecisionNumber: "赣审驳〔2026〕1号"}
		}
		add("decided", sc, e)
	}
	add("received after the case completed: a replay", a0, ev("e1", event.Received))
	// The second case: an approval issuing the number the first case's approval just issued
	// is refused; a supplement request is left for later, with what follows it.
	bl := b.Subcases[withLicence[0]]
	add("received", bl, ev("b1", event.Received))
	add("approved with the number just issued", bl, event.DepartmentEvent{EventID: "b2", Type: event.Approved, Licences: licence(bl, tag+"-L0")})
	var others []cases.SubcaseView
	for _, sc := range b.Subcases {
		if sc.ID != bl.ID {
			others = append(others, sc)
		}
	}
	b0, b1 := others[0], others[1]
	add("received", b0, ev("b3", event.Received))
	req := ev("b4", event.SupplementRequested)
	req.Missing = []event.Missing{{Material: b0.Materials[0], Note: "缺页"}}
	add("supplement requested: left for later", b0, req)
	add("received after it: later too", b1, ev("b5", event.Received))
	add("accepted after it: later too", bl, ev("b6", event.Accepted))
	add("a sub-case that does not exist", cases.SubcaseView{ID: "sc_" + tag + "nothing"}, ev("n1", event.Received))
	return s
}

// outcomeOf describes an answer without its ids and times.
func outcomeOf(o cases.EventOutcome, s *scripted) string {
	var pe *problem.Error
	switch {
	case errors.Is(o.Err, cases.ErrConflict):
		return "conflict " + strings.NewReplacer("T-", "X-", "A-", "X-").Replace(o.Err.Error())
	case errors.As(o.Err, &pe):
		return "problem " + pe.Error()
	case errors.Is(o.Err, cases.ErrNotFound):
		return "not-found"
	case o.Err != nil:
		return "error " + o.Err.Error()
	}
	r := o.Result
	return fmt.Sprintf("ok replayed=%v clamped=%v case=%s/%s sub=%s %s %s/%s paused=%v materials=%v", o.Replayed, r.TimeClamped, r.Case.State, r.Case.Outcome,
		s.pos[r.Subcase.ID], r.Subcase.State, r.Subcase.Deadlines.Promised, r.Subcase.Deadlines.Statutory, r.Subcase.Paused, r.Subcase.Materials)
}

type digest struct {
	state, outcome, due string
	subs                []string
	timeline            []string
	licences            []string
	updates             int
	events              int
}

// caseDigest is what a case holds, without its ids: its rows as the API shows them, its
// timeline, its e-licences, its case.updated messages and its department events.
func caseDigest(t *testing.T, ctx context.Context, svc *cases.Service, st *store.Store, v *cases.CaseView, s *scripted) digest {
	t.Helper()
	got, err := svc.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := digest{state: got.State, outcome: got.Outcome, due: got.Deadline.Promised + "/" + got.Deadline.Statutory}
	for _, sc := range got.Subcases {
		d.subs = append(d.subs, fmt.Sprintf("%s %s %s %s %s/%s paused=%v missing=%v", s.pos[sc.ID], sc.State, sc.DecisionNumber, sc.Reason,
			sc.Deadlines.Promised, sc.Deadlines.Statutory, sc.Paused, sc.Missing))
	}
	for _, e := range got.Timeline {
		d.timeline = append(d.timeline, fmt.Sprintf("%d %s %s %s | %s", e.Seq, s.pos[e.SubcaseID], e.Type, e.Text, e.Detail))
	}
	for _, l := range got.Licences {
		d.licences = append(d.licences, s.pos[l.SubcaseID]+" "+l.Type+" "+strings.TrimPrefix(strings.TrimPrefix(l.Number, "T-"), "A-"))
	}
	if err := st.DB().Get(&d.updates, st.DB().Rebind(`SELECT COUNT(*) FROM outbox WHERE msg_key = ? AND topic = 'yjs.case.event'`), v.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().Get(&d.events, st.DB().Rebind(`SELECT COUNT(*) FROM department_events e JOIN subcases s ON s.id = e.subcase_id WHERE s.case_id = ?`), v.ID); err != nil {
		t.Fatal(err)
	}
	return d
}
