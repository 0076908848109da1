package inbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/hub/connector"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// clock is a test clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// records keeps what the inbox recorded; failNext makes the next Failed call fail.
type records struct {
	mu         sync.Mutex
	deliveries []connector.Delivery
	failures   []connector.Failure
	failNext   atomic.Bool
}

func (r *records) recorder() connector.Recorder {
	return connector.RecorderFuncs{
		DeliveredFunc: func(_ context.Context, d connector.Delivery) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.deliveries = append(r.deliveries, d)
			return nil
		},
		FailedFunc: func(_ context.Context, f connector.Failure) error {
			if r.failNext.CompareAndSwap(true, false) {
				return errors.New("dead-letter store unavailable")
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.failures = append(r.failures, f)
			return nil
		},
	}
}

func (r *records) snapshot() ([]connector.Delivery, []connector.Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries), slices.Clone(r.failures)
}

// inboxFixture is an inbox on a fresh store of one backend, serving one department.
type inboxFixture struct {
	t     *testing.T
	st    *store.Store
	in    *Inbox
	clock *clock
	rec   *records
	dept  string
	cfg   Settings
}

func onEachStore(t *testing.T, test func(t *testing.T, f *inboxFixture)) {
	t.Helper()
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			f := &inboxFixture{t: t, st: st, clock: newClock(), rec: &records{}, dept: "rsj"}
			f.in = f.newInbox(st)
			// The restpull connector's defaults, but for MaxAttempts.
			f.cfg = Settings{Department: f.dept, Connector: "restpull:" + f.dept, MaxAttempts: 3,
				DefaultVisibility: 30 * time.Second, MaxVisibility: 5 * time.Minute, AckedRetention: 7 * 24 * time.Hour}
			f.in.Serve(f.cfg)
			test(t, f)
		})
	}
}

func (f *inboxFixture) newInbox(st *store.Store) *Inbox {
	f.t.Helper()
	in, err := New(st, f.rec.recorder(), WithClock(f.clock.now))
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return in
}

// put stores n items with ids <prefix>-0 …, each of its own case cs-<id>, one second apart.
func (f *inboxFixture) put(prefix string, n int) []string {
	f.t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		f.putCase("cs-"+id, id, int64(i))
		ids = append(ids, id)
	}
	return ids
}

// putCase stores the item id of case caseID at offset of partition 1, a second after the last.
func (f *inboxFixture) putCase(caseID, id string, offset int64) {
	f.t.Helper()
	fresh, err := f.in.Put(f.t.Context(), f.dept, Entry{ID: id, CaseID: caseID, SubcaseID: "sc-" + id,
		Payload: []byte(`{"id":"` + id + `","data":{"form":{"SFZHM":"11010519491231002X"}}}`),
		Topic:   "yjs.subcase." + f.dept, Partition: 1, Offset: offset, Key: []byte(caseID)})
	if err != nil || !fresh {
		f.t.Fatalf("put %s: fresh %v, err %v", id, fresh, err)
	}
	f.clock.advance(time.Second)
}

func (f *inboxFixture) lease(max int, visibility time.Duration) []Item {
	f.t.Helper()
	items, err := f.in.Lease(f.t.Context(), f.dept, max, visibility)
	if err != nil {
		f.t.Fatalf("Lease(%d, %v): %v", max, visibility, err)
	}
	return items
}

func (f *inboxFixture) counts() map[string]int64 {
	f.t.Helper()
	c, err := f.in.Counts(f.t.Context(), f.dept)
	if err != nil {
		f.t.Fatalf("Counts: %v", err)
	}
	return c
}

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestAPollLeasesOldestFirstAndHidesItemsUntilTheLeaseRunsOut(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		all := f.put("a", 3)
		first := f.lease(2, 10*time.Second)
		if !slices.Equal(ids(first), all[:2]) {
			t.Fatalf("first poll leased %q, want %q", ids(first), all[:2])
		}
		for _, it := range first {
			if it.Lease == "" || it.Lease != first[0].Lease || it.Attempts != 1 ||
				!it.LeaseUntil.Equal(f.clock.now().Add(10*time.Second)) {
				t.Errorf("item %+v: want one lease for the poll, attempt 1, until now+10s", it)
			}
			if !strings.Contains(string(it.Message), `"id":"`+it.ID+`"`) {
				t.Errorf("item %s message = %s, want the stored envelope", it.ID, it.Message)
			}
		}
		if second := f.lease(10, 0); !slices.Equal(ids(second), all[2:]) {
			t.Fatalf("second poll leased %q, want only %q", ids(second), all[2:])
		} else if want := f.clock.now().Add(f.cfg.DefaultVisibility); !second[0].LeaseUntil.Equal(want) {
			t.Errorf("visibility 0 leased until %v, want the default %v later", second[0].LeaseUntil, f.cfg.DefaultVisibility)
		}
		if third := f.lease(10, 0); len(third) != 0 {
			t.Fatalf("a poll while everything is leased got %q, want nothing", ids(third))
		}
		if c := f.counts(); c["pending"] != 0 || c["leased"] != 3 {
			t.Errorf("counts = %v, want 3 leased", c)
		}

		f.clock.advance(10 * time.Second) // the first lease runs out, the second not
		again := f.lease(10, 0)
		if !slices.Equal(ids(again), all[:2]) {
			t.Fatalf("after the first lease ran out the poll got %q, want %q", ids(again), all[:2])
		}
		if again[0].Lease == first[0].Lease || again[0].Attempts != 2 {
			t.Errorf("re-leased item %+v: want a new lease and attempt 2", again[0])
		}
	})
}

func TestAckAcknowledgesOnceAndRecordsTheDelivery(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		f.put("b", 2)
		items := f.lease(2, time.Minute)
		it := items[0]

		if err := f.in.Ack(ctx, f.dept, it.ID, "ls_not-the-lease"); !errors.Is(err, ErrStaleLease) {
			t.Errorf("ack with another lease: %v, want ErrStaleLease", err)
		}
		if err := f.in.Ack(ctx, f.dept, "no-such-item", it.Lease); !errors.Is(err, ErrNotFound) {
			t.Errorf("ack of an unknown item: %v, want ErrNotFound", err)
		}
		if err := f.in.Ack(ctx, "other", it.ID, it.Lease); !errors.Is(err, ErrUnknownDepartment) {
			t.Errorf("ack for a department without a connector: %v, want ErrUnknownDepartment", err)
		}
		if err := f.in.Ack(ctx, f.dept, it.ID, it.Lease); err != nil {
			t.Fatalf("ack: %v", err)
		}
		if err := f.in.Ack(ctx, f.dept, it.ID, it.Lease); err != nil {
			t.Errorf("repeated ack: %v, want success", err)
		}
		deliveries, _ := f.rec.snapshot()
		if len(deliveries) != 2 {
			t.Fatalf("recorded %d deliveries, want 2 (the repeat is recorded again, as the same one)", len(deliveries))
		}
		d := deliveries[0]
		if d.Connector != "restpull:rsj" || d.EventID != it.ID || d.CaseID != "cs-"+it.ID || d.SubcaseID != "sc-"+it.ID ||
			d.Department != f.dept || d.Attempts != 1 || !d.At.Equal(f.clock.now()) || deliveries[1] != d {
			t.Errorf("deliveries = %+v", deliveries)
		}

		// A lease that ran out and was replaced is stale; the lease that is current works even
		// after it ran out, as long as nobody leased the item again.
		f.clock.advance(2 * time.Minute)
		other := items[1]
		re := f.lease(1, time.Minute)
		if len(re) != 1 || re[0].ID != other.ID {
			t.Fatalf("re-lease got %q, want %s", ids(re), other.ID)
		}
		if err := f.in.Ack(ctx, f.dept, other.ID, other.Lease); !errors.Is(err, ErrStaleLease) {
			t.Errorf("ack under the replaced lease: %v, want ErrStaleLease", err)
		}
		f.clock.advance(2 * time.Minute)
		if err := f.in.Ack(ctx, f.dept, other.ID, re[0].Lease); err != nil {
			t.Errorf("ack under the current, expired lease: %v", err)
		}
		if c := f.counts(); c["acked"] != 2 || c["pending"] != 0 || c["leased"] != 0 {
			t.Errorf("counts = %v, want 2 acked", c)
		}
		if s := f.in.Counters(f.dept).Snapshot(); s.Delivered != 2 {
			t.Errorf("counters delivered = %d, want 2 (the repeat not counted)", s.Delivered)
		}
		if got := f.lease(10, 0); len(got) != 0 {
			t.Errorf("acknowledged items leased again: %q", ids(got))
		}
	})
}

func TestACasesItemsAreHandedOutOneAtATimeInOrder(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		// Case A's items at offsets 1, 3, 5; case B's at 2 and 4; an item without a case.
		f.putCase("cs-A", "a1", 1)
		f.putCase("cs-B", "b1", 2)
		f.putCase("cs-A", "a2", 3)
		f.putCase("cs-B", "b2", 4)
		f.putCase("cs-A", "a3", 5)
		f.putCase("", "x1", 6)
		f.putCase("", "x2", 7)

		first := f.lease(10, time.Minute)
		if got := ids(first); !slices.Equal(got, []string{"a1", "b1", "x1", "x2"}) {
			t.Fatalf("first poll %q, want the head of each case and the items without one", got)
		}
		if got := f.lease(10, time.Minute); len(got) != 0 {
			t.Fatalf("a poll while the heads are leased got %q, want nothing", ids(got))
		}
		if err := f.in.Ack(ctx, f.dept, "b1", first[1].Lease); err != nil {
			t.Fatal(err)
		}
		if got := ids(f.lease(10, time.Minute)); !slices.Equal(got, []string{"b2"}) {
			t.Fatalf("after b1's ack the poll got %q, want b2", got)
		}
		// a1's lease runs out: it is handed out again before a2.
		f.clock.advance(time.Minute)
		again := f.lease(10, time.Minute)
		if got := ids(again); !slices.Equal(got, []string{"a1", "b2", "x1", "x2"}) {
			t.Fatalf("after the leases ran out the poll got %q, want a1 (not a2), b2, x1, x2", got)
		}
		if err := f.in.Ack(ctx, f.dept, "a1", again[0].Lease); err != nil {
			t.Fatal(err)
		}
		if got := ids(f.lease(10, time.Minute)); !slices.Equal(got, []string{"a2"}) {
			t.Fatalf("after a1's ack the poll got %q, want a2", got)
		}
	})
}

func TestPutIgnoresAnIDAlreadyStoredOrAcknowledged(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		f.put("c", 1)
		e := Entry{ID: "c-0", Payload: []byte(`{"id":"c-0","changed":true}`)}
		if fresh, err := f.in.Put(ctx, f.dept, e); err != nil || fresh {
			t.Fatalf("put of a stored id: fresh %v, err %v; want not fresh", fresh, err)
		}
		it := f.lease(1, 0)[0]
		if strings.Contains(string(it.Message), "changed") {
			t.Errorf("the repeat replaced the stored envelope: %s", it.Message)
		}
		if err := f.in.Ack(ctx, f.dept, it.ID, it.Lease); err != nil {
			t.Fatal(err)
		}
		if fresh, err := f.in.Put(ctx, f.dept, e); err != nil || fresh {
			t.Fatalf("put of an acknowledged id: fresh %v, err %v; want not fresh", fresh, err)
		}
		if got := f.lease(1, 0); len(got) != 0 {
			t.Errorf("the repeat of an acknowledged item is leased again: %q", ids(got))
		}
		// The same id for another department is another item.
		if fresh, err := f.in.Put(ctx, "other", e); err != nil || !fresh {
			t.Errorf("put for another department: fresh %v, err %v; want fresh", fresh, err)
		}
	})
}

// The ack clears the payload at once; Sweep deletes acknowledged rows past AckedRetention and
// leaves younger acknowledged rows and unacknowledged ones, whatever their age.
func TestAcknowledgedItemsLoseTheirPayloadAndAreSweptAfterTheRetention(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		payload := func(id string) string {
			t.Helper()
			var p string
			if err := f.st.DB().GetContext(ctx, &p, f.st.DB().Rebind(`SELECT payload FROM restpull_inbox WHERE department = ? AND id = ?`), f.dept, id); err != nil {
				t.Fatalf("payload of %s: %v", id, err)
			}
			return p
		}
		f.put("old", 2)
		items := f.lease(2, time.Minute)
		if err := f.in.Ack(ctx, f.dept, items[0].ID, items[0].Lease); err != nil {
			t.Fatal(err)
		}
		if p := payload(items[0].ID); p != "" {
			t.Errorf("an acknowledged item keeps its payload (%d bytes)", len(p))
		}
		if p := payload(items[1].ID); !strings.Contains(p, "SFZHM") {
			t.Errorf("an unacknowledged item lost its payload: %q", p)
		}
		f.clock.advance(f.cfg.AckedRetention - time.Second)
		f.put("young", 1)
		// old-1's lease ran out long ago: the poll hands it out again with young-0.
		again := f.lease(10, time.Minute)
		if !slices.Equal(ids(again), []string{"old-1", "young-0"}) {
			t.Fatalf("lease got %q, want old-1 and young-0", ids(again))
		}
		if err := f.in.Ack(ctx, f.dept, "young-0", again[1].Lease); err != nil {
			t.Fatal(err)
		}
		if n, err := f.in.Sweep(ctx, f.dept); err != nil || n != 0 {
			t.Fatalf("Sweep before the retention ran out: %d, %v; want 0", n, err)
		}
		f.clock.advance(2 * time.Second)
		if n, err := f.in.Sweep(ctx, f.dept); err != nil || n != 1 {
			t.Fatalf("Sweep after the retention: %d, %v; want 1", n, err)
		}
		if c := f.counts(); c["acked"] != 1 || c["pending"]+c["leased"] != 1 {
			t.Errorf("counts after the sweep = %v, want young-0 acked and old-1 waiting", c)
		}
		if _, err := f.in.Sweep(ctx, "other"); !errors.Is(err, ErrUnknownDepartment) {
			t.Errorf("Sweep of a department without a connector: %v", err)
		}
	})
}

func TestAnItemLeasedMaxAttemptsTimesWithoutAnAckBecomesADeadLetter(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		f.put("d", 2)
		var last []Item
		for attempt := 1; attempt <= f.cfg.MaxAttempts; attempt++ {
			last = f.lease(1, time.Second)
			if len(last) != 1 || last[0].ID != "d-0" || last[0].Attempts != attempt {
				t.Fatalf("lease %d: %+v, want d-0 at attempt %d", attempt, last, attempt)
			}
			f.clock.advance(time.Second)
		}
		f.rec.failNext.Store(true) // the first try at recording the dead letter fails
		if got := f.lease(1, time.Second); len(got) != 1 || got[0].ID != "d-1" {
			t.Fatalf("poll after the last lease of d-0 ran out: %q, want d-1", ids(got))
		}
		if _, failures := f.rec.snapshot(); len(failures) != 0 {
			t.Fatalf("recorded %d failures although recording failed", len(failures))
		}
		if c := f.counts(); c["leased"] != 2 {
			t.Errorf("counts = %v; want d-0 held while its dead letter is pending, and d-1 leased", c)
		}
		if got := f.lease(1, time.Second); len(got) != 0 {
			t.Fatalf("d-0 was leased again while held for its dead letter: %q", ids(got))
		}

		f.clock.advance(deadLetterHold)
		f.lease(1, time.Minute) // d-1 again; d-0 is recorded now
		_, failures := f.rec.snapshot()
		if len(failures) != 1 {
			t.Fatalf("recorded %d failures, want 1", len(failures))
		}
		fl := failures[0]
		if fl.Connector != "restpull:rsj" || fl.EventID != "d-0" || fl.CaseID != "cs-d-0" || fl.SubcaseID != "sc-d-0" ||
			fl.Department != f.dept || fl.Attempts != f.cfg.MaxAttempts || fl.Reason != "not acknowledged after 3 leases" ||
			fl.Topic != "yjs.subcase.rsj" || fl.Partition != 1 || fl.Offset != 0 || string(fl.Key) != "cs-d-0" ||
			!strings.Contains(string(fl.Payload), `"id":"d-0"`) {
			t.Errorf("failure = %+v (payload %s)", fl.Delivery, fl.Payload)
			t.Errorf("reason %q topic %s partition %d offset %d key %q", fl.Reason, fl.Topic, fl.Partition, fl.Offset, fl.Key)
		}
		if err := f.in.Ack(ctx, f.dept, "d-0", last[0].Lease); !errors.Is(err, ErrNotFound) {
			t.Errorf("ack of the dead-lettered item: %v, want ErrNotFound (it left the inbox)", err)
		}
		if c := f.counts(); c["pending"]+c["leased"]+c["acked"] != 1 {
			t.Errorf("counts = %v, want only d-1 left", c)
		}
		if s := f.in.Counters(f.dept).Snapshot(); s.Failed != 1 || s.LastErrorMessage != "not acknowledged after 3 leases" {
			t.Errorf("counters = %+v", s)
		}
	})
}

func TestLeaseRefusesParametersOutOfRange(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		ctx := t.Context()
		for _, tc := range []struct {
			name       string
			dept       string
			max        int
			visibility time.Duration
			param      string
		}{
			{"no items asked for", f.dept, 0, 0, "max"},
			{"more items than a poll may lease", f.dept, MaxLease + 1, 0, "max"},
			{"a visibility under a second", f.dept, 1, time.Millisecond, "visibility"},
			{"a visibility over the department's maximum", f.dept, 1, f.cfg.MaxVisibility + time.Second, "visibility"},
		} {
			_, err := f.in.Lease(ctx, tc.dept, tc.max, tc.visibility)
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Param != tc.param {
				t.Errorf("%s: %v, want an InvalidError on %s", tc.name, err, tc.param)
			}
		}
		if _, err := f.in.Lease(ctx, "other", 1, 0); !errors.Is(err, ErrUnknownDepartment) {
			t.Errorf("lease for a department without a connector: %v, want ErrUnknownDepartment", err)
		}
	})
}

// Two hub instances — two stores on one database — poll the same inbox at once, each with
// several pollers: every item is leased exactly once.
func TestConcurrentPollersNeverGetTheSameItem(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]func(t *testing.T) string{
		store.DialectSQLite:   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "hub.db") },
		store.DialectPostgres: storetest.PostgresSchemaURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := url(t)
			f := &inboxFixture{t: t, clock: newClock(), rec: &records{}, dept: "rsj"}
			var instances []*Inbox
			for i := range 2 {
				st, err := store.Open(t.Context(), u)
				if err != nil {
					t.Fatalf("open instance %d: %v", i, err)
				}
				t.Cleanup(func() { _ = st.Close() })
				if i == 0 {
					if err := st.Migrate(t.Context()); err != nil {
						t.Fatalf("migrate: %v", err)
					}
				}
				in := f.newInbox(st)
				in.Serve(Settings{Department: f.dept, Connector: "restpull:" + f.dept, MaxAttempts: 10, DefaultVisibility: time.Hour, MaxVisibility: time.Hour})
				instances = append(instances, in)
			}
			f.in = instances[0]
			const items = 300
			f.put("p", items)

			var mu sync.Mutex
			got := map[string]int{}
			var wg sync.WaitGroup
			// PostgreSQL: four pollers per instance. SQLite: one per instance — the file has one
			// writer at a time and its busy handler is not fair, so eight pollers hammering it
			// can starve one past the busy timeout on a loaded machine; two instances are
			// already more than an SQLite hub runs.
			pollers := 8
			if name == store.DialectSQLite {
				pollers = 2
			}
			errs := make(chan error, pollers)
			for w := range pollers {
				in := instances[w%2]
				wg.Go(func() {
					for {
						leased, err := in.Lease(t.Context(), f.dept, 7, 0)
						if err != nil {
							errs <- err
							return
						}
						if len(leased) == 0 {
							return
						}
						mu.Lock()
						for _, it := range leased {
							got[it.ID]++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("poller: %v", err)
			}
			if len(got) != items {
				t.Errorf("%d distinct items leased, want %d", len(got), items)
			}
			for id, n := range got {
				if n != 1 {
					t.Errorf("item %s leased %d times", id, n)
				}
			}
		})
	}
}
