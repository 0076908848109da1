package cases_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
)

// movableClock is a clock the test sets.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func standings(w *cases.DeadlineWatch) map[string]string {
	out := map[string]string{}
	for _, it := range w.Items {
		out[it.SubcaseID] = it.Standing
	}
	return out
}

// The deadline watch ranks a case's open sub-cases against their limits as days pass: due soon
// and on track at first, a suspended one paused, then overdue against the promised and the
// statutory limit; decided ones drop out; a department sees its own.
func TestTheDeadlineWatchRanksOpenSubcasesAsDaysPass(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Migrated(open)(t)
			clock := &movableClock{t: time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)} // Friday 09:30 in China
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: clock.now})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			app, hash := example(t, "open-bar-enterprise")
			v, _, err := svc.Submit(ctx, app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			cal := deadline.New()

			w, err := svc.Deadlines(ctx, cases.DeadlineQuery{All: true})
			if err != nil {
				t.Fatal(err)
			}
			if w.AsOf != "2026-11-27" || w.Within != 3 || len(w.Items) != len(v.Subcases) {
				t.Fatalf("as of %s within %d: %d items, want the %d sub-cases", w.AsOf, w.Within, len(w.Items), len(v.Subcases))
			}
			for _, it := range w.Items {
				due, _ := time.ParseInLocation(time.DateOnly, it.Deadlines.Promised, deadline.China)
				if want := cal.WorkingDaysBetween(clock.now(), due); it.DaysLeft != want || it.DaysLeft != it.PromisedDays {
					t.Errorf("%s: %d days left, want %d (its whole promised limit of %d)", it.Matter.Code, it.DaysLeft, want, it.PromisedDays)
				}
				want := cases.StandingOnTrack
				if it.DaysLeft <= 3 {
					want = cases.StandingDueSoon
				}
				if it.Standing != want || it.Bundle.Name != "开酒吧" || it.Department.Name == "" {
					t.Errorf("%s: %+v, want %s", it.Matter.Code, it, want)
				}
			}

			// Tobacco suspends its matter (特别程序); admin-approval decides the filing.
			var tobacco, filing, longest cases.DeadlineItem
			for _, it := range w.Items {
				switch {
				case it.Department.Code == "tobacco":
					tobacco = it
				case it.Matter.Code == "prepackaged-food-sales-filing":
					filing = it
				}
				if it.Department.Code != "tobacco" && it.StatutoryDays > longest.StatutoryDays {
					longest = it
				}
			}
			if tobacco.SubcaseID == "" || filing.SubcaseID == "" {
				t.Fatalf("no tobacco or filing sub-case in %+v", w.Items)
			}
			for i, typ := range []string{event.Received, event.Accepted, event.Suspended} {
				if _, _, err := svc.ApplyEvent(ctx, tobacco.SubcaseID, event.DepartmentEvent{EventID: "tb" + string(rune('0'+i)), Type: typ, Comment: "现场核查"}); err != nil {
					t.Fatal(err)
				}
			}
			for i, typ := range []string{event.Received, event.Approved} {
				if _, _, err := svc.ApplyEvent(ctx, filing.SubcaseID, event.DepartmentEvent{EventID: "fl" + string(rune('0'+i)), Type: typ, DecisionNumber: "赣审备〔2026〕1号"}); err != nil {
					t.Fatal(err)
				}
			}

			// The day after the longest promised limit ends, before its statutory one.
			promised, _ := time.ParseInLocation(time.DateOnly, longest.Deadlines.Promised, deadline.China)
			statutory, _ := time.ParseInLocation(time.DateOnly, longest.Deadlines.Statutory, deadline.China)
			clock.set(promised.AddDate(0, 0, 1).Add(10 * time.Hour))
			if !clock.now().Before(statutory) {
				t.Fatalf("%s: promised %s, statutory %s: no day between them", longest.Matter.Code, promised, statutory)
			}
			w, err = svc.Deadlines(ctx, cases.DeadlineQuery{All: true})
			if err != nil {
				t.Fatal(err)
			}
			got := standings(w)
			if _, listed := got[filing.SubcaseID]; listed || len(w.Items) != len(v.Subcases)-1 {
				t.Errorf("the decided filing is still watched: %v", got)
			}
			if got[tobacco.SubcaseID] != cases.StandingPaused || got[longest.SubcaseID] != cases.StandingOverduePromised {
				t.Errorf("standings %v: want tobacco paused and %s overdue against its promise", got, longest.Matter.Code)
			}
			for _, it := range w.Items {
				if it.SubcaseID == longest.SubcaseID && it.DaysLeft >= 0 {
					t.Errorf("%s past its promised date has %d days left", it.Matter.Code, it.DaysLeft)
				}
			}
			if w.Items[len(w.Items)-1].Standing != cases.StandingPaused || w.Counts[cases.StandingPaused] != 1 {
				t.Errorf("the paused one should come last of these: %+v, counts %v", w.Items, w.Counts)
			}

			// Past every statutory limit: all but the paused one overdue; the default list
			// leaves the paused one out but counts it.
			clock.set(statutory.AddDate(0, 1, 0))
			w, err = svc.Deadlines(ctx, cases.DeadlineQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(w.Items) != len(v.Subcases)-2 || w.Counts[cases.StandingOverdueStatutory] != len(v.Subcases)-2 || w.Counts[cases.StandingPaused] != 1 {
				t.Errorf("a month past: %d items, counts %v", len(w.Items), w.Counts)
			}
			for _, it := range w.Items {
				if it.Standing != cases.StandingOverdueStatutory {
					t.Errorf("%s: %s a month past its statutory limit", it.Matter.Code, it.Standing)
				}
			}

			mine, err := svc.Deadlines(ctx, cases.DeadlineQuery{Department: "fire-rescue"})
			if err != nil || len(mine.Items) != 1 || mine.Items[0].Department.Code != "fire-rescue" || mine.Counts[cases.StandingPaused] != 0 {
				t.Errorf("fire-rescue's watch: %+v %v", mine, err)
			}
			var ve *problem.Error
			for _, q := range []cases.DeadlineQuery{{Department: "police"}, {Within: 61}, {Within: -1}} {
				if _, err := svc.Deadlines(ctx, q); !errors.As(err, &ve) {
					t.Errorf("%+v: %v, want a *problem.Error", q, err)
				}
			}
		})
	}
}
