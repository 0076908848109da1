package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
)

func TestParallelIntakesGetDistinctNumbersOfTheDay(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-enterprise")
		const n = 12
		views := make([]*cases.CaseView, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				views[i], _, errs[i] = svc.Submit(ctx, app, hash, "")
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		// testNow is 2026-11-27 09:30 UTC, 17:30 in China: the same day.
		prefix := fmt.Sprintf("320707-20261127-%02d-", views[0].Bundle.Seq)
		seen := map[string]string{}
		seqs := map[string]bool{}
		for _, v := range views {
			if !strings.HasPrefix(v.Number, prefix) || !cases.ValidCaseNumber(v.Number) {
				t.Fatalf("case %s has number %q, want %s<seq>-<check> with its check character right", v.ID, v.Number, prefix)
			}
			if other, ok := seen[v.Number]; ok {
				t.Fatalf("cases %s and %s share number %s", other, v.ID, v.Number)
			}
			seen[v.Number] = v.ID
			seqs[strings.Split(v.Number, "-")[3]] = true
		}
		for i := 1; i <= n; i++ {
			if !seqs[fmt.Sprintf("%05d", i)] {
				t.Errorf("the day's sequence has a gap: no %05d among %v", i, seqs)
			}
		}
		for number, id := range seen {
			got, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Number != number {
				t.Errorf("case %s reads back with number %q, intake answered %q", id, got.Number, number)
			}
			list, err := svc.List(ctx, cases.CaseQuery{AllOwners: true, Number: strings.ToLower(number)})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].Number != number {
				t.Errorf("searching number %s finds %+v, want case %s alone", number, list.Items, id)
			}
		}
		// The messages about each case carry its number.
		pending, err := st.PendingOutbox(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		carried := map[string]int{}
		for _, m := range pending {
			var env event.Envelope
			if err := json.Unmarshal(m.Payload, &env); err != nil {
				t.Fatal(err)
			}
			var data struct {
				CaseID     string `json:"case_id"`
				CaseNumber string `json:"case_number"`
			}
			if err := json.Unmarshal(env.Data, &data); err != nil {
				t.Fatal(err)
			}
			if want := views0(views, data.CaseID); data.CaseNumber != want {
				t.Errorf("a %s message about case %s carries number %q, want %q", env.Type, data.CaseID, data.CaseNumber, want)
			}
			carried[env.Type]++
		}
		if carried[event.TypeCaseUpdated] != n || carried[event.TypeSubcaseDispatched] == 0 {
			t.Errorf("messages checked: %v, want %d case.updated and the dispatches", carried, n)
		}
	})
}

func views0(views []*cases.CaseView, id string) string {
	for _, v := range views {
		if v.ID == id {
			return v.Number
		}
	}
	return "no such case"
}

func TestASearchByAMisspeltNumberIsRefused(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		_, err := svc.List(context.Background(), cases.CaseQuery{AllOwners: true, Number: "320707-20261127-07-00001-0-"})
		var pe *problem.Error
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "number" {
			t.Fatalf("a malformed number: %v, want one problem at number", err)
		}
	})
}

func TestTheDepartmentsOwnNumberIsKeptOnceGiven(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		for _, alone := range []bool{false, true} {
			t.Run(fmt.Sprintf("alone=%v", alone), func(t *testing.T) {
				apply := func(scID string, ev event.DepartmentEvent) error {
					if alone {
						return svc.ApplyEventAlone(ctx, scID, ev).Err
					}
					_, _, err := svc.ApplyEvent(ctx, scID, ev)
					return err
				}
				app, hash := example(t, "open-drink-shop-enterprise")
				v, _, err := svc.Submit(ctx, app, hash, "")
				if err != nil {
					t.Fatal(err)
				}
				var sc cases.SubcaseView
				for _, s := range v.Subcases {
					if s.State == cases.StateDispatched {
						sc = s
					}
				}
				ref := "苏市监受〔2026〕第0042号"
				received := departmentEvent("r1", event.Received, 1)
				if err := apply(sc.ID, received); err != nil {
					t.Fatal(err)
				}
				accepted := departmentEvent("a1", event.Accepted, 2)
				accepted.DepartmentRef = ref
				if err := apply(sc.ID, accepted); err != nil {
					t.Fatal(err)
				}
				got, err := svc.Get(ctx, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if r := subcaseOf(t, got, sc.MatterCode).DepartmentRef; r != ref {
					t.Fatalf("the sub-case shows department_ref %q, want %q", r, ref)
				}
				// The same number again is no change; another number is a conflict.
				again := departmentEvent("s1", event.Suspended, 3)
				again.DepartmentRef = ref
				if err := apply(sc.ID, again); err != nil {
					t.Fatalf("the same number again: %v", err)
				}
				other := departmentEvent("m1", event.Resumed, 4)
				other.DepartmentRef = "另一个号"
				err = apply(sc.ID, other)
				var ce *cases.ConflictError
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, ref) {
					t.Fatalf("another number: %v, want a conflict naming the kept one", err)
				}
				got, _ = svc.Get(ctx, v.ID)
				if s := subcaseOf(t, got, sc.MatterCode); s.DepartmentRef != ref || s.State != cases.StateSuspended {
					t.Errorf("after the refused event the sub-case is %s with %q", s.State, s.DepartmentRef)
				}
			})
		}
	})
}

func TestADepartmentsNumberMustBePrintableAndShort(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		for name, ref := range map[string]string{"a line break": "受理\n123", "a tab": "A\t1", "65 characters": strings.Repeat("号", 65)} {
			ev := departmentEvent("bad-"+name, event.Received, 1)
			ev.DepartmentRef = ref
			_, _, err := svc.ApplyEvent(ctx, v.Subcases[0].ID, ev)
			var pe *problem.Error
			if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "/department_ref" {
				t.Errorf("%s: %v, want one problem at /department_ref", name, err)
			}
		}
	})
}

func TestAnotherDivisionNumbersTheCasesAndABadOneIsRefused(t *testing.T) {
	open := storetest.Backends()["sqlite"]
	st := storetest.Migrated(open)(t)
	if _, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Division: "32070X"}); err == nil || !strings.Contains(err.Error(), "Division") {
		t.Fatalf("a division of five digits and a letter: %v, want an error naming Division", err)
	}
	hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Division: "320703", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	app, hash := example(t, "open-drink-shop-enterprise")
	v, _, err := hs.Cases.Submit(context.Background(), app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.Number, "320703-20261127-") || !cases.ValidCaseNumber(v.Number) {
		t.Errorf("number %q, want it to begin with the configured division 320703", v.Number)
	}
}
