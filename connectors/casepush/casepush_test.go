package casepush_test

import (
	"testing"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/connectors/delivery"
	"yjshub/hub/store/storetest"
)

func TestTheLedgerRecordsEachStepOnce(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			ctx := t.Context()
			l := casepush.NewLedger(st, "platform:jiangsu")
			other := casepush.NewLedger(st, "supervision:platform")
			a := casepush.Step{Key: "platform:jiangsu:cs_1:accepted", CaseID: "cs_1", Name: "accepted"}
			b := casepush.Step{Key: "platform:jiangsu:cs_1:completed", CaseID: "cs_1", Name: "completed"}
			if err := l.Mark(ctx, a, casepush.StatePushed, delivery.Result{Status: 200, Attempts: 2}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := l.Mark(ctx, b, casepush.StateRefused, delivery.Result{Status: 422, Attempts: 1, Reason: "HTTP 422"}, time.Now()); err != nil {
				t.Fatal(err)
			}
			// A replay that got through turns refused into pushed.
			if err := l.Mark(ctx, b, casepush.StatePushed, delivery.Result{Status: 200, Attempts: 1}, time.Now()); err != nil {
				t.Fatal(err)
			}
			got, err := l.States(ctx, []string{a.Key, b.Key, "unknown"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[a.Key] != casepush.StatePushed || got[b.Key] != casepush.StatePushed {
				t.Errorf("States = %v", got)
			}
			if got, _ := other.States(ctx, []string{a.Key}); len(got) != 0 {
				t.Errorf("another connector sees %v", got)
			}
			counts, err := l.Counts(ctx)
			if err != nil || counts[casepush.StatePushed] != 2 {
				t.Errorf("Counts = %v, %v", counts, err)
			}
			var attempts int
			db := st.DB()
			if err := db.GetContext(ctx, &attempts, db.Rebind(`SELECT attempts FROM connector_pushes WHERE push_key = ?`), b.Key); err != nil || attempts != 2 {
				t.Errorf("attempts = %d, %v; want both attempts counted", attempts, err)
			}
		})
	}
}
