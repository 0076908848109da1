package kafkaconn_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	kafkaconn "yjshub/connectors/kafka"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// A department whose producers partition a case differently puts its events on two
// partitions: the later one may be read first. It is tried again until its predecessor has
// been applied, and then applied; one whose predecessor never comes is a dead letter once the
// retry time has passed.
func TestAResultAheadOfItsPredecessorIsAppliedAfterIt(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		v := env.Submit("open-drink-shop-individual")
		sc := subcaseAt(t, v, dept)
		other := subcaseAt(t, v, "urban-management")
		res, err := kafkaconn.NewResults(kafkaconn.ResultsConfig{GroupID: env.Group("results"), ConflictRetry: 4 * time.Second},
			env.Bus, kafkaconn.CaseService(env.Cases), env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		env.Start(res)
		id := func(s string) string { return s + "-" + hubtest.RandomHex(4) }
		ahead := resultMessage(t, v.ID, sc.ID, dept, event.DepartmentEvent{EventID: id("suspended"), Type: event.Suspended, Reason: "现场核查"})
		orphan := resultMessage(t, v.ID, other.ID, "urban-management", event.DepartmentEvent{EventID: id("resumed"), Type: event.Resumed})
		if err := env.Bus.Publish(env.Ctx, ahead, orphan); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the early event to be tried again", func() bool {
			return strings.Contains(res.Status().LastErrorMessage, "tried again")
		})
		if got := state(env, v.ID, sc.ID); got != cases.StateDispatched {
			t.Fatalf("state %s before the predecessor arrived, want %s", got, cases.StateDispatched)
		}
		predecessor := resultMessage(t, v.ID, sc.ID, dept, event.DepartmentEvent{EventID: id("accepted"), Type: event.Accepted})
		if err := env.Bus.Publish(env.Ctx, predecessor); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the early event to be applied after its predecessor", func() bool { return state(env, v.ID, sc.ID) == cases.StateSuspended })
		// A conflict that no later event mends is a dead letter at once: an event id reused.
		reused := resultMessage(t, v.ID, sc.ID, dept, event.DepartmentEvent{EventID: predecessor.Headers["ce_id"], Type: event.Resumed})
		if err := env.Bus.Publish(env.Ctx, reused); err != nil {
			t.Fatal(err)
		}
		ours := func(f connector.Failure) bool { return string(f.Key) == v.ID }
		env.WaitFor("both to be dead letters", func() bool { return len(env.Rec.Failures(ours)) >= 2 })
		byID := map[string]string{}
		for _, f := range env.Rec.Failures(ours) {
			byID[f.EventID] = f.Reason
		}
		if got, want := byID[reused.Headers["ce_id"]], "conflict: event id "+strconv.Quote(reused.Headers["ce_id"])+" was already used for a accepted event"; got != want {
			t.Errorf("the reused event id's dead letter says %q, want %q (not retried)", got, want)
		}
		if got := byID[orphan.Headers["ce_id"]]; !strings.HasPrefix(got, "conflict: a resumed event cannot follow state dispatched") || !strings.HasSuffix(got, "(tried again for 4s)") {
			t.Errorf("the orphan's dead letter says %q, want a transition conflict tried again for 4s", got)
		}
		if len(byID) != 2 {
			t.Errorf("dead letters %v: want the reused id's and the orphan's alone", byID)
		}
		if got := state(env, v.ID, other.ID); got != cases.StateDispatched {
			t.Errorf("the orphan's sub-case is %s, want %s", got, cases.StateDispatched)
		}
	})
}

func TestTheConflictRetryIsTheLongestOfTheDepartmentsAndNeverNegative(t *testing.T) {
	rc, _ := kafkaconn.ResultsConfigOf([]kafkaconn.Config{
		{Department: "market-regulation", GroupID: "scjg", ResultsConflictRetry: 30 * time.Second},
		{Department: "tobacco", GroupID: "yc", ResultsConflictRetry: 5 * time.Minute},
		{Department: "health", GroupID: "wjw"},
	})
	if rc.ConflictRetry != 5*time.Minute {
		t.Errorf("conflict retry %v, want the longest, 5m", rc.ConflictRetry)
	}
	if rc, _ := kafkaconn.ResultsConfigOf([]kafkaconn.Config{{Department: "health", GroupID: "wjw"}}); rc.ConflictRetry != kafkaconn.DefaultConflictRetry {
		t.Errorf("conflict retry %v, want the default %v", rc.ConflictRetry, kafkaconn.DefaultConflictRetry)
	}
	err := (&kafkaconn.Config{Department: "health", GroupID: "wjw", ResultsConflictRetry: -time.Second}).Validate()
	if err == nil || !strings.Contains(err.Error(), "results_conflict_retry: -1s is negative") {
		t.Errorf("Validate: %v, want results_conflict_retry named", err)
	}
}
