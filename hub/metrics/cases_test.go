package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/metrics"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

var testCatalogue = func() *catalogue.Catalogue {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		panic(err)
	}
	return cat
}()

// submitBar submits examples/open-bar-enterprise.json and returns its sub-cases by matter.
func submitBar(t *testing.T, svc *cases.Service) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "examples", "open-bar-enterprise.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	app, hash, err := cases.DecodeApplication(f)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := svc.Submit(t.Context(), app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	byMatter := map[string]string{}
	for _, sc := range v.Subcases {
		byMatter[sc.MatterCode] = sc.ID
	}
	return byMatter
}

// report posts a department's events on a sub-case, in order.
func report(t *testing.T, svc *cases.Service, subcaseID string, types ...string) {
	t.Helper()
	for i, typ := range types {
		ev := event.DepartmentEvent{EventID: fmt.Sprintf("%s-%d", typ, i), Type: typ}
		if typ == event.Rejected {
			ev.Reason = "材料不符合要求"
		}
		if _, _, err := svc.ApplyEvent(t.Context(), subcaseID, ev); err != nil {
			t.Fatalf("%s on %s: %v", typ, subcaseID, err)
		}
	}
}

// The case collector counts, on every backend, cases by state, sub-cases by department and
// state, and the sub-cases past their deadlines whose clock runs. Two 开酒吧 cases submitted on
// Friday 2026-11-27: the first approved throughout; in the second, tobacco accepted, fire-rescue
// suspended, urban management rejected, the food licence received. Their deadlines (promised,
// statutory): every promise 12-04 (5 working days); the food licence and the fire inspection
// 12-11 (10 working days), outdoor advertising 12-25 (20 working days), the tobacco licence
// 12-17 (20 calendar days — as working days it would be 12-25).
func TestTheCaseCollectorCountsCasesAndOverdueSubcases(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			submitted := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: func() time.Time { return submitted }})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			for _, id := range submitBar(t, svc) {
				report(t, svc, id, event.Received, event.Approved)
			}
			second := submitBar(t, svc)
			report(t, svc, second["tobacco-retail-licence"], event.Accepted)
			report(t, svc, second["public-venue-fire-safety-inspection"], event.Accepted, event.Suspended)
			report(t, svc, second["outdoor-advertising-approval"], event.Rejected)
			report(t, svc, second["food-business-licence"], event.Received)

			// Deadlines are dates in China: 00:30 on 5 December there is still 4 December in UTC,
			// yet the promised date (4 December) has passed.
			for _, tc := range []struct {
				name string
				now  time.Time
				want string
			}{
				{"on 4 December", time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC), overdue(map[string][2]int{
					"admin-approval": {0, 0}, "fire-rescue": {0, 0}, "tobacco": {0, 0}, "urban-management": {0, 0}})},
				{"just after midnight in China on 5 December", time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC), overdue(map[string][2]int{
					"admin-approval": {1, 0}, "fire-rescue": {0, 0}, "tobacco": {1, 0}, "urban-management": {0, 0}})},
				// The fire inspection's statutory date has passed too, but its clock stands
				// still while suspended; the rejected advertising approval is decided.
				{"on 14 December", time.Date(2026, 12, 14, 2, 0, 0, 0, time.UTC), overdue(map[string][2]int{
					"admin-approval": {1, 1}, "fire-rescue": {0, 0}, "tobacco": {1, 0}, "urban-management": {0, 0}})},
				// The tobacco licence's 20 calendar days ended on 17 December.
				{"on 18 December", time.Date(2026, 12, 18, 2, 0, 0, 0, time.UTC), overdue(map[string][2]int{
					"admin-approval": {1, 1}, "fire-rescue": {0, 0}, "tobacco": {1, 1}, "urban-management": {0, 0}})},
			} {
				c := metrics.NewCaseCollector(st, func() time.Time { return tc.now }, 10*time.Second)
				if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want), "yjshub_subcases_overdue"); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
			}

			c := metrics.NewCaseCollector(st, func() time.Time { return submitted }, 10*time.Second)
			want := `
# HELP yjshub_cases Cases (办件) by state: in_progress, completed, withdrawn.
# TYPE yjshub_cases gauge
yjshub_cases{state="completed"} 1
yjshub_cases{state="in_progress"} 1
yjshub_cases{state="withdrawn"} 0
`
			if err := testutil.CollectAndCompare(c, strings.NewReader(want), "yjshub_cases"); err != nil {
				t.Error(err)
			}
			subcases := map[string]map[string]int{
				"admin-approval":   {cases.StateApproved: 1, cases.StateReceived: 1},
				"fire-rescue":      {cases.StateApproved: 1, cases.StateSuspended: 1},
				"tobacco":          {cases.StateApproved: 1, cases.StateAccepted: 1},
				"urban-management": {cases.StateApproved: 1, cases.StateRejected: 1},
			}
			if err := testutil.CollectAndCompare(c, strings.NewReader(bySubcaseState(subcases)), "yjshub_subcases"); err != nil {
				t.Error(err)
			}
			lint(t, c)
		})
	}
}

// An empty store still shows every case state, at 0; no sub-case, no department.
func TestTheCaseCollectorOnAnEmptyStore(t *testing.T) {
	t.Parallel()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	c := metrics.NewCaseCollector(st, time.Now, time.Second)
	want := `
# HELP yjshub_cases Cases (办件) by state: in_progress, completed, withdrawn.
# TYPE yjshub_cases gauge
yjshub_cases{state="completed"} 0
yjshub_cases{state="in_progress"} 0
yjshub_cases{state="withdrawn"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	lint(t, c)
}

// A store that fails is an error of the scrape, not a panic and not zeros.
func TestTheCaseCollectorReportsAFailingStore(t *testing.T) {
	t.Parallel()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	c := metrics.NewCaseCollector(st, time.Now, time.Second)
	closeStore(t, st)
	if _, err := testutil.CollectAndLint(c); err == nil || !strings.Contains(err.Error(), "counting cases") {
		t.Fatalf("collecting from a closed store: %v", err)
	}
}

func closeStore(t *testing.T, st *store.Store) {
	t.Helper()
	if err := st.DB().Close(); err != nil {
		t.Fatal(err)
	}
}

func overdue(byDept map[string][2]int) string {
	var b strings.Builder
	b.WriteString("# HELP yjshub_subcases_overdue Sub-cases whose clock runs at their department (dispatched, received, accepted, resubmitted) and whose promised or statutory deadline date has passed in China, by department and deadline (promised, statutory).\n")
	b.WriteString("# TYPE yjshub_subcases_overdue gauge\n")
	for dept, n := range byDept {
		fmt.Fprintf(&b, "yjshub_subcases_overdue{deadline=\"promised\",department=%q} %d\n", dept, n[0])
		fmt.Fprintf(&b, "yjshub_subcases_overdue{deadline=\"statutory\",department=%q} %d\n", dept, n[1])
	}
	return b.String()
}

// bySubcaseState writes the expected sub-case series: every state of every department, 0 where
// none is.
func bySubcaseState(byDept map[string]map[string]int) string {
	var b strings.Builder
	b.WriteString("# HELP yjshub_subcases Sub-cases (子件) by department and state.\n# TYPE yjshub_subcases gauge\n")
	for dept, byState := range byDept {
		for _, state := range []string{cases.StateWaiting, cases.StateDispatched, cases.StateReceived, cases.StateAccepted,
			cases.StateSupplementRequested, cases.StateResubmitted, cases.StateSuspended, cases.StateApproved,
			cases.StateRejected, cases.StateCancelled, cases.StateWithdrawn} {
			fmt.Fprintf(&b, "yjshub_subcases{department=%q,state=%q} %d\n", dept, state, byState[state])
		}
	}
	return b.String()
}
