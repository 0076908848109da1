package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/deptsim"
	"yjshub/hub/cases"
	"yjshub/hub/store"
)

// Statement and transaction budgets per case, over everything the hub does for it: intake, the
// outbox, five deliveries with their records, and (for the full flow) the fifteen department
// callbacks with their results and the case's completion. The figures include what a platform
// costs the hub while it follows the cases (the change feed) and one read of each case at the
// end.
//
// Both flows keep to the target of 60 statements and 8 transactions a case. Deliveries and
// department events reported at about the same time are each written in one transaction
// (deliverybatch.go, eventbatch.go), so the figures are those of a hub under load: a hundred
// cases submitted twenty at a time, with departments that answer at once. About 26–38
// statements and 3–6 transactions a case were measured for the delivered flow, 35–47 and
// 4.5–6 for the full flow, on both backends. A hub that is idle between events writes each
// on its own, at about ten statements a batch.
const (
	maxStatementsPerCase   = 60
	maxTransactionsPerCase = 8
)

// The hub's database work per case is counted, not estimated: the store counts every
// statement and transaction it sends (yjshub_db_statements_total and
// yjshub_db_transactions_total on /metrics), and the test divides the growth over a batch of
// 开酒吧 cases by their number, on each backend. Two flows: delivered to every department
// (departments that take their time to answer), and the full flow to 办结.
func TestStatementsAndTransactionsPerCase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the hub with simulated departments")
	}
	const n = 100
	for _, flow := range []string{"delivered", "full"} {
		// Each flow on its own database schema and Kafka namespace.
		for name, o := range serveBackends(t) {
			t.Run(flow+"/"+name, func(t *testing.T) {
				if flow == "delivered" {
					// Departments take the push and answer an hour later.
					o.simConfig = filepath.Join(t.TempDir(), "sim.yaml")
					if err := os.WriteFile(o.simConfig, []byte("default:\n  delay: 1h\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				o.limits.Unlimited = true // one client makes all the requests
				// Hundreds of sub-cases' callbacks at once, and the platform's long poll among them.
				o.limits.MaxInFlight = 4096
				hub, sim := startSimulatedHub(t, o)
				before := dbCounts(t, hub)
				ids := submitCases(t, hub, n)
				switch flow {
				case "delivered":
					waitDeliveries(t, sim, exampleMatters(t, "open-bar-enterprise")*n)
					for _, id := range ids {
						waitCase(t, hub, id, "delivered to every department", func(v cases.CaseView) bool {
							for _, sc := range v.Subcases {
								if sc.DeliveredAt == nil {
									return false
								}
							}
							return true
						})
					}
				case "full":
					followFeedUntilCompleted(t, hub, ids)
					for _, id := range ids {
						waitCompletedAndDelivered(t, hub, id)
					}
				}
				got := dbCounts(t, hub).Sub(before)
				perStmt, perTx := float64(got.Statements)/n, float64(got.Transactions)/n
				t.Logf("%s, %s: %d cases, %.1f statements and %.1f transactions a case", name, flow, n, perStmt, perTx)
				maxS, maxT := maxStatementsPerCase, maxTransactionsPerCase
				if perStmt > float64(maxS) || perTx > float64(maxT) {
					t.Errorf("%.1f statements and %.1f transactions a case; the budget is %d and %d", perStmt, perTx, maxS, maxT)
				}
			})
		}
	}
}

// dbCounts reads the hub's statement and transaction counters from /metrics.
func dbCounts(t *testing.T, hub string) store.Counts {
	t.Helper()
	res, err := http.Get(hub + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c store.Counts
	found := 0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != "yjshub_db_statements_total" && name != "yjshub_db_transactions_total") {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		found++
		if name == "yjshub_db_statements_total" {
			c.Statements = uint64(f)
		} else {
			c.Transactions = uint64(f)
		}
	}
	if found != 2 {
		t.Fatalf("/metrics has %d of the two database counters", found)
	}
	return c
}

// submitCases submits n enterprise 开酒吧 applications, twenty at a time, and returns their ids.
func submitCases(t *testing.T, hub string, n int) []string {
	t.Helper()
	body := readExample(t, "open-bar-enterprise")
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest(http.MethodPost, hub+"/api/v1/cases", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("count-%d-%d", time.Now().UnixNano(), i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			var v cases.CaseView
			if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("submit %d: HTTP %d (%v)", i, res.StatusCode, err)
				return
			}
			ids[i] = v.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// waitDeliveries waits until the simulated departments have taken want pushes.
func waitDeliveries(t *testing.T, sim *deptsim.Simulator, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		got := 0
		for _, s := range sim.Stats().Subcases {
			got += min(s.Deliveries, 1)
		}
		if got >= want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d sub-cases delivered within 60s", got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// followFeedUntilCompleted reads the change feed, as a platform does, until each case has
// its 办结 step.
func followFeedUntilCompleted(t *testing.T, hub string, ids []string) {
	t.Helper()
	open := map[string]bool{}
	for _, id := range ids {
		open[id] = true
	}
	after := "0"
	deadline := time.Now().Add(90 * time.Second)
	for len(open) > 0 {
		if time.Now().After(deadline) {
			for id := range open {
				var v cases.CaseView
				getJSON(t, hub+"/api/v1/cases/"+id, &v)
				states := []string{}
				for _, sc := range v.Subcases {
					states = append(states, sc.MatterCode+":"+sc.State)
				}
				t.Fatalf("%d cases not completed within 90s; %s is %s with %s", len(open), id, v.State, strings.Join(states, " "))
			}
		}
		var f cases.Feed
		if code := getJSON(t, hub+"/api/v1/events?limit=1000&wait=5&after="+after, &f); code != 200 {
			t.Fatalf("feed: HTTP %d", code)
		}
		for _, e := range f.Items {
			if e.Type == cases.CaseCompleted {
				delete(open, e.CaseID)
			}
		}
		after = f.Next
	}
}

// exampleMatters counts the matters an example applies for: its sub-cases.
func exampleMatters(t *testing.T, name string) int {
	t.Helper()
	var app struct{ Matters []string }
	if err := json.Unmarshal(readExample(t, name), &app); err != nil || len(app.Matters) == 0 {
		t.Fatalf("%s: matters %v (%v)", name, app.Matters, err)
	}
	return len(app.Matters)
}
