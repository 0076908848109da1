package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
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
			// Sent, not yet confirmed by the departments' systems: apart from the on-track.
			for _, it := range w.Items {
				if it.Standing != cases.StandingUndelivered || it.Delivery != cases.DeliveryPending {
					t.Errorf("%s before its delivery: standing %s, delivery %s; want undelivered, pending", it.Matter.Code, it.Standing, it.Delivery)
				}
			}
			for i, sc := range v.Subcases {
				d := connector.Delivery{EventID: fmt.Sprintf("dv%d", i), CaseID: v.ID, SubcaseID: sc.ID, Department: sc.Department.Code, Status: 202, Attempts: 1}
				if err := svc.RecordDelivered(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			if w, err = svc.Deadlines(ctx, cases.DeadlineQuery{All: true}); err != nil {
				t.Fatal(err)
			}
			for _, it := range w.Items {
				if it.Delivery != cases.DeliveryDelivered {
					t.Errorf("%s after its delivery: delivery %s", it.Matter.Code, it.Delivery)
				}
				if it.StatutoryUnit == cases.UnitNone {
					if it.StatutoryDaysLeft != nil || it.Deadlines.Statutory != "" {
						t.Errorf("%s has no statutory limit, yet %v days left to %q", it.Matter.Code, *it.StatutoryDaysLeft, it.Deadlines.Statutory)
					}
					continue
				}
				sdue, _ := time.ParseInLocation(time.DateOnly, it.Deadlines.Statutory, deadline.China)
				if want := cal.WorkingDaysBetween(clock.now(), sdue); it.StatutoryDaysLeft == nil || *it.StatutoryDaysLeft != want {
					t.Errorf("%s: %v working days left to the statutory limit, want %d", it.Matter.Code, it.StatutoryDaysLeft, want)
				}
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

			// Tobacco suspends its matter (特别程序); another department decides its matter (the
			// filing: any but the one whose statutory limit ends last, and fire-rescue's, watched
			// below).
			var tobacco, filing, longest cases.DeadlineItem
			for _, it := range w.Items {
				if it.Department.Code == "tobacco" {
					tobacco = it
				} else if it.Deadlines.Statutory > longest.Deadlines.Statutory { // dates compare as strings
					longest = it
				}
			}
			for _, it := range w.Items {
				if it.Department.Code != "tobacco" && it.Department.Code != "fire-rescue" && it.SubcaseID != longest.SubcaseID {
					filing = it
				}
			}
			if tobacco.SubcaseID == "" || filing.SubcaseID == "" {
				t.Fatalf("no tobacco or other sub-case to decide in %+v", w.Items)
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

			// A second case: one matter refused for good by its department's system, one being
			// retried. The refused one leads the watch even past every limit; the retried one is
			// apart from the on-track.
			clock.set(time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC))
			v2, _, err := svc.Submit(ctx, app, hash, "second")
			if err != nil {
				t.Fatal(err)
			}
			refused, retried := v2.Subcases[0], v2.Subcases[1]
			if err := svc.RecordFailed(ctx, connector.Delivery{EventID: "rf", CaseID: v2.ID, SubcaseID: refused.ID, Department: refused.Department.Code, Status: 400, Attempts: 1}, "HTTP 400", "dl_x"); err != nil {
				t.Fatal(err)
			}
			if err := svc.RecordRetrying(ctx, connector.Retry{Delivery: connector.Delivery{EventID: "rt", CaseID: v2.ID, SubcaseID: retried.ID, Department: retried.Department.Code, Status: 503, Attempts: 2}, Reason: "HTTP 503", NextAt: clock.now().Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			for _, at := range []time.Time{clock.now(), statutory.AddDate(0, 1, 0)} {
				clock.set(at)
				w, err = svc.Deadlines(ctx, cases.DeadlineQuery{})
				if err != nil {
					t.Fatal(err)
				}
				if len(w.Items) == 0 || w.Items[0].SubcaseID != refused.ID || w.Items[0].Standing != cases.StandingDeliveryFailed || w.Counts[cases.StandingDeliveryFailed] != 1 {
					t.Errorf("as of %s the refused sub-case does not lead the watch: %+v", w.AsOf, w.Items)
				}
				for _, it := range w.Items {
					if it.SubcaseID == retried.ID && it.Delivery != cases.DeliveryRetrying {
						t.Errorf("the retried sub-case: delivery %s", it.Delivery)
					}
				}
			}
			clock.set(time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC))
			if got := standings(must(svc.Deadlines(ctx, cases.DeadlineQuery{})))[retried.ID]; got != cases.StandingUndelivered {
				t.Errorf("the retried sub-case, on its first day: %s, want undelivered", got)
			}
		})
	}
}

// chinaDay is a time of day on a date in China.
func chinaDay(y int, m time.Month, d, hour, min int) time.Time {
	return time.Date(y, m, d, hour, min, 0, 0, deadline.China)
}

// workingDaysBack lists due, if it is a working day, and the working days before it, latest
// first, n in all.
func workingDaysBack(cal *deadline.Calendar, due time.Time, n int) []time.Time {
	var out []time.Time
	for d := deadline.Date(due); len(out) < n; d = d.AddDate(0, 0, -1) {
		if cal.IsWorkday(d) {
			out = append(out, d)
		}
	}
	return out
}

// submitEndingOn submits open-drink-shop-individual on the day whose limit of days working days
// ends on due (limits count from the next day), at 09:30 in China, and returns the service, its
// clock and the food business licence's sub-case id.
func submitEndingOn(t *testing.T, open storetest.Opener, due time.Time, days int) (*cases.Service, *movableClock, string) {
	t.Helper()
	cal := deadline.New()
	day := workingDaysBack(cal, due, days)[days-1].AddDate(0, 0, -1)
	clock := &movableClock{t: chinaDay(day.Year(), day.Month(), day.Day(), 9, 30)}
	hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: storetest.Migrated(open)(t), Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	svc := hs.Cases
	app, hash := example(t, "open-drink-shop-individual")
	v, _, err := svc.Submit(context.Background(), app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	// Delivered: what these tests watch is the dates alone.
	for i, sc := range v.Subcases {
		if err := svc.RecordDelivered(context.Background(), connector.Delivery{EventID: fmt.Sprint("dv", i), CaseID: v.ID, SubcaseID: sc.ID,
			Department: sc.Department.Code, Status: 202, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, clock, subcaseOf(t, v, "food-business-licence").ID
}

// watched returns the sub-case's item on the deadline watch as of the clock's time.
func watched(t *testing.T, svc *cases.Service, q cases.DeadlineQuery, subcaseID string) cases.DeadlineItem {
	t.Helper()
	q.All = true
	w, err := svc.Deadlines(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range w.Items {
		if it.SubcaseID == subcaseID {
			return it
		}
	}
	t.Fatalf("sub-case %s is not on the watch as of %s", subcaseID, w.AsOf)
	return cases.DeadlineItem{}
}

// A limit's last working day is still within it: the sub-case is overdue only from the next
// working day, here one after a holiday or a weekend.
func TestASubcaseIsOverdueOnlyFromTheWorkingDayAfterItsLastLegalDay(t *testing.T) {
	m, ok := testCatalogue.Matter("food-business-licence")
	if !ok || m.PromisedLimit.Unit != catalogue.UnitWorking || m.StatutoryLimit.Unit != catalogue.UnitWorking || m.PromisedLimit.Days >= m.StatutoryLimit.Days {
		t.Fatalf("food-business-licence: want a promised limit shorter than the statutory one, got %+v", m)
	}
	cal := deadline.New()
	tests := []struct {
		name    string
		days    int
		lastDay time.Time
		// nextWorkingDay is the first working day after lastDay, from the official calendar.
		nextWorkingDay time.Time
		// statutory: the statutory limit is the one ending (the promised one has passed).
		statutory bool
	}{
		{"the promised limit, ending on the eve of National Day", m.PromisedLimit.Days,
			chinaDay(2026, 9, 30, 0, 0), chinaDay(2026, 10, 8, 0, 0), false},
		{"the statutory limit, ending on the eve of the Mid-Autumn Festival and a weekend", m.StatutoryLimit.Days,
			chinaDay(2026, 9, 24, 0, 0), chinaDay(2026, 9, 28, 0, 0), true},
	}
	for _, tc := range tests {
		for d := tc.lastDay.AddDate(0, 0, 1); d.Before(tc.nextWorkingDay); d = d.AddDate(0, 0, 1) {
			if cal.IsWorkday(d) {
				t.Fatalf("%s: %s is a working day; the case is meant to cross days off", tc.name, d.Format(time.DateOnly))
			}
		}
		if !cal.IsWorkday(tc.lastDay) || !cal.IsWorkday(tc.nextWorkingDay) {
			t.Fatalf("%s: %s and %s must be working days", tc.name, tc.lastDay.Format(time.DateOnly), tc.nextWorkingDay.Format(time.DateOnly))
		}
		for name, open := range storetest.Backends() {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				svc, clock, id := submitEndingOn(t, open, tc.lastDay, tc.days)

				// Late on the last day.
				clock.set(tc.lastDay.Add(17*time.Hour + 30*time.Minute))
				it := watched(t, svc, cases.DeadlineQuery{}, id)
				due := it.Deadlines.Promised
				want := cases.StandingDueSoon
				if tc.statutory {
					due, want = it.Deadlines.Statutory, cases.StandingOverduePromised
				}
				if due != tc.lastDay.Format(time.DateOnly) {
					t.Fatalf("the limit of %d working days ends on %s, want %s", tc.days, due, tc.lastDay.Format(time.DateOnly))
				}
				if it.Standing != want {
					t.Errorf("on its last day, %s: %s, want %s", due, it.Standing, want)
				}
				if !tc.statutory && it.DaysLeft != 0 {
					t.Errorf("on its last day: %d days left, want 0", it.DaysLeft)
				}

				// Early on the next working day.
				clock.set(tc.nextWorkingDay.Add(8*time.Hour + 30*time.Minute))
				it = watched(t, svc, cases.DeadlineQuery{}, id)
				want = cases.StandingOverduePromised
				if tc.statutory {
					want = cases.StandingOverdueStatutory
				}
				if it.Standing != want {
					t.Errorf("on the next working day, %s: %s, want %s", tc.nextWorkingDay.Format(time.DateOnly), it.Standing, want)
				}
				if !tc.statutory && it.DaysLeft != -1 {
					t.Errorf("one working day past: %d days left, want -1", it.DaysLeft)
				}
			})
		}
	}
}

// The due-soon window takes in its last day: a promised limit that ends exactly `within`
// working days from today is due soon, one that ends a working day later is on track.
func TestASubcaseWhosePromisedLimitEndsExactlyAtTheWindowsEdgeIsDueSoon(t *testing.T) {
	m, _ := testCatalogue.Matter("food-business-licence")
	cal := deadline.New()
	due := chinaDay(2026, 9, 30, 0, 0) // the eve of National Day; the window crosses the Mid-Autumn Festival
	for _, within := range []int{0, 2, 5} {
		window, name := within, fmt.Sprintf("a window of %d working days", within)
		if within == 0 {
			window, name = 3, "the default window of 3 working days"
		}
		days := workingDaysBack(cal, due, window+2)
		// days[window] has `window` working days after it up to the due date; days[window+1],
		// one more.
		atEdge, outside := days[window], days[window+1]
		for backend, open := range storetest.Backends() {
			t.Run(name+"/"+backend, func(t *testing.T) {
				svc, clock, id := submitEndingOn(t, open, due, m.PromisedLimit.Days)
				q := cases.DeadlineQuery{Within: within}

				clock.set(atEdge.Add(12 * time.Hour))
				it := watched(t, svc, q, id)
				if it.Deadlines.Promised != due.Format(time.DateOnly) {
					t.Fatalf("promised limit ends on %s, want %s", it.Deadlines.Promised, due.Format(time.DateOnly))
				}
				if it.DaysLeft != window || it.Standing != cases.StandingDueSoon {
					t.Errorf("on %s, %d working days before the limit ends: %d days left, %s; want %d, %s",
						atEdge.Format(time.DateOnly), window, it.DaysLeft, it.Standing, window, cases.StandingDueSoon)
				}

				clock.set(outside.Add(12 * time.Hour))
				it = watched(t, svc, q, id)
				if it.DaysLeft != window+1 || it.Standing != cases.StandingOnTrack {
					t.Errorf("on %s, %d working days before the limit ends: %d days left, %s; want %d, %s",
						outside.Format(time.DateOnly), window+1, it.DaysLeft, it.Standing, window+1, cases.StandingOnTrack)
				}
			})
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Every state change writes one log line that names its case, and none holds personal data.
func TestEachStateChangeLogsOneLineWithItsCase(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var buf syncBuffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: storetest.Migrated(open)(t), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			app, hash := example(t, "open-drink-shop-individual")
			v, _, err := hs.Cases.Submit(ctx, app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			sc := v.Subcases[0]
			for i, typ := range []string{event.Received, event.Accepted, event.Approved} {
				ev := event.DepartmentEvent{EventID: fmt.Sprint("e", i), Type: typ, DecisionNumber: "赣审〔2026〕1号"}
				if typ == event.Approved {
					ev.Licences = nil
				}
				if _, _, err := hs.Cases.ApplyEvent(ctx, sc.ID, ev); err != nil {
					t.Fatal(err)
				}
			}
			// A replay changes nothing and logs nothing.
			if _, _, err := hs.Cases.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e0", Type: event.Received}); err != nil {
				t.Fatal(err)
			}
			var changes []map[string]any
			submitted := 0
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not a JSON line: %q", line)
				}
				switch rec["msg"] {
				case "sub-case state changed":
					changes = append(changes, rec)
				case "case submitted":
					submitted++
					if rec["case_id"] != v.ID {
						t.Errorf("the submission's line: %v", rec)
					}
				}
			}
			if submitted != 1 || len(changes) != 3 {
				t.Fatalf("%d submission and %d state-change lines, want 1 and 3:\n%s", submitted, len(changes), buf.String())
			}
			for i, want := range []string{cases.StateReceived, cases.StateAccepted, cases.StateApproved} {
				if c := changes[i]; c["case_id"] != v.ID || c["subcase_id"] != sc.ID || c["state"] != want {
					t.Errorf("line %d: %v, want case %s, state %s", i, c, v.ID, want)
				}
			}
			if out := buf.String(); strings.Contains(out, v.HolderID()) || strings.Contains(out, app.Form["contact.mobile"].(string)) {
				t.Errorf("personal data in the log:\n%s", out)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
