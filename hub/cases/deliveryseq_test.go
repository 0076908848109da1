package cases_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/store"
)

// A sub-case's first delivery step takes the timeline number reserved for it when it was
// dispatched, so recording a delivery does not take the case's row: on PostgreSQL it completes
// while another transaction holds the case as the hub's own case work does. A later message to
// the same sub-case (a second delivery) is numbered from the case. Every number stays unique and
// the steps read in the order they happened for each sub-case.
func TestADeliveryTakesItsReservedNumberNotTheCasesRow(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		dispatchedSeq := map[string]int{}
		last := 0
		for _, e := range v.Timeline {
			if e.Type == cases.StateDispatched {
				dispatchedSeq[e.SubcaseID] = e.Seq
			}
			last = max(last, e.Seq)
		}
		if len(dispatchedSeq) != len(v.Subcases) {
			t.Fatalf("%d dispatched steps for %d sub-cases", len(dispatchedSeq), len(v.Subcases))
		}
		var seqBefore int
		if err := st.DB().Get(&seqBefore, st.DB().Rebind(`SELECT event_seq FROM cases WHERE id = ?`), v.ID); err != nil {
			t.Fatal(err)
		}
		if want := last + len(v.Subcases); seqBefore != want {
			t.Fatalf("the case's event_seq is %d after intake: its %d steps and %d reserved numbers make %d", seqBefore, last, len(v.Subcases), want)
		}

		// Another transaction holds the case, as a batch of department events does.
		var hold interface{ Rollback() error }
		if st.Dialect() == store.DialectPostgres {
			tx, err := st.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`SELECT id FROM cases WHERE id = $1 FOR NO KEY UPDATE`, v.ID); err != nil {
				t.Fatal(err)
			}
			hold = tx
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for i, sc := range v.Subcases {
			d := connector.Delivery{EventID: fmt.Sprintf("ev_first_%d", i), CaseID: v.ID, SubcaseID: sc.ID, Department: sc.Department.Code, Status: 202, Attempts: 1}
			if err := svc.RecordDelivered(rctx, d); err != nil {
				t.Fatalf("a delivery while the case is held: %v", err)
			}
		}
		cancel()
		if hold != nil {
			if err := hold.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
		var seqAfter int
		if err := st.DB().Get(&seqAfter, st.DB().Rebind(`SELECT event_seq FROM cases WHERE id = ?`), v.ID); err != nil {
			t.Fatal(err)
		}
		if seqAfter != seqBefore {
			t.Fatalf("recording the first deliveries moved the case's event_seq from %d to %d", seqBefore, seqAfter)
		}
		// A second message to a sub-case: its step is numbered from the case.
		sc0 := v.Subcases[0]
		if err := svc.RecordDelivered(ctx, connector.Delivery{EventID: "ev_second", CaseID: v.ID, SubcaseID: sc0.ID, Department: sc0.Department.Code, Status: 202, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		delivered := map[string][]int{}
		for _, e := range got.Timeline {
			if seen[e.Seq] {
				t.Fatalf("timeline number %d twice", e.Seq)
			}
			seen[e.Seq] = true
			if e.Type == cases.StepDelivered {
				delivered[e.SubcaseID] = append(delivered[e.SubcaseID], e.Seq)
			}
		}
		for _, sc := range v.Subcases {
			ds := delivered[sc.ID]
			want := 1
			if sc.ID == sc0.ID {
				want = 2
			}
			if len(ds) != want {
				t.Fatalf("sub-case %s has %d delivery steps, want %d", sc.MatterCode, len(ds), want)
			}
			if ds[0] <= dispatchedSeq[sc.ID] || ds[0] > seqBefore {
				t.Errorf("sub-case %s: first delivery step %d is not a number reserved after its dispatch (%d) and within the case's (%d)", sc.MatterCode, ds[0], dispatchedSeq[sc.ID], seqBefore)
			}
			if sc.ID == sc0.ID && ds[1] != seqBefore+1 {
				t.Errorf("the second delivery step is %d, want the case's next, %d", ds[1], seqBefore+1)
			}
		}
	})
}
