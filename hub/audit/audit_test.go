package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/audit"
	"yjshub/hub/pseudonym"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

func each(t *testing.T, fn func(t *testing.T, st *store.Store, log *audit.Log)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			fn(t, st, audit.New(st, nil))
		})
	}
}

// keys makes the tests' pseudonyms.
var keys = pseudonym.Ephemeral()

func appendN(t *testing.T, log *audit.Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := log.AppendAlone(context.Background(), audit.Entry{Kind: "prefill", Outcome: audit.Granted,
			Subject: keys.Of("91350100M000100Y43"), Detail: map[string]any{"fields": []string{"enterprise.name"}, "n": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTheChainVerifiesAndAnyTamperingIsFound(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		wantSeq int64
	}{
		{"a changed detail", `UPDATE audit_log SET detail = '{"fields":[]}' WHERE seq = 2`, 2},
		{"a changed outcome", `UPDATE audit_log SET outcome = 'refused' WHERE seq = 3`, 3},
		{"a changed time", `UPDATE audit_log SET at = at + 1 WHERE seq = 1`, 1},
		{"a row removed from the middle", `DELETE FROM audit_log WHERE seq = 2`, 3},
		{"the last row removed", `DELETE FROM audit_log WHERE seq = 4`, 4},
		{"a row rewritten with a fresh hash of its own", `UPDATE audit_log SET subject = '', hash = 'x' || hash WHERE seq = 2`, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			each(t, func(t *testing.T, st *store.Store, log *audit.Log) {
				ctx := context.Background()
				appendN(t, log, 4)
				n, err := log.Verify(ctx)
				if err != nil || n != 4 {
					t.Fatalf("untouched chain: %d rows, %v", n, err)
				}
				if _, err := st.DB().ExecContext(ctx, c.tamper); err != nil {
					t.Fatal(err)
				}
				_, err = log.Verify(ctx)
				var te *audit.TamperError
				if !errors.As(err, &te) || !errors.Is(err, audit.ErrTampered) {
					t.Fatalf("tampering not detected: %v", err)
				}
				if te.Seq != c.wantSeq {
					t.Fatalf("broken at seq %d, want %d: %v", te.Seq, c.wantSeq, err)
				}
			})
		})
	}
}

func TestConcurrentAppendsMakeOneUnbrokenChain(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, log *audit.Log) {
		const writers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if _, err := log.AppendAlone(context.Background(), audit.Entry{Kind: "prefill", Outcome: audit.Refused, Detail: map[string]string{"reason": "consent_missing"}}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, err := log.Verify(context.Background())
		if err != nil || n != writers*each {
			t.Fatalf("%d rows verified, want %d: %v", n, writers*each, err)
		}
	})
}

func TestEntriesReturnsTheRowsOfAKindInOrder(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, log *audit.Log) {
		ctx := context.Background()
		appendN(t, log, 2)
		if _, err := log.AppendAlone(ctx, audit.Entry{Kind: "consent", Outcome: audit.Granted}); err != nil {
			t.Fatal(err)
		}
		if _, err := log.AppendAlone(ctx, audit.Entry{Kind: "prefill", Outcome: audit.Refused}); err != nil {
			t.Fatal(err)
		}
		got, err := log.Entries(ctx, "prefill", audit.Granted)
		if err != nil || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || got[1].PrevHash != got[0].Hash {
			t.Fatalf("granted prefills: %+v %v", got, err)
		}
		if got[0].At.IsZero() || got[0].At.After(time.Now()) {
			t.Fatalf("time %v", got[0].At)
		}
		all, _ := log.Entries(ctx, "prefill", "")
		if len(all) != 3 {
			t.Fatalf("%d prefill rows, want 3", len(all))
		}
		if _, err := log.AppendAlone(ctx, audit.Entry{Kind: "prefill", Outcome: "maybe"}); err == nil {
			t.Fatal("an entry with an unknown outcome was appended")
		}
		sum := sha256.Sum256([]byte("91350100M000100Y43"))
		for _, subject := range []string{"91350100M000100Y43", hex.EncodeToString(sum[:]), "k1:" + hex.EncodeToString(sum[:8])} {
			if _, err := log.AppendAlone(ctx, audit.Entry{Kind: "prefill", Outcome: audit.Granted, Subject: subject}); err == nil || strings.Contains(err.Error(), subject) {
				t.Errorf("an entry whose subject is not a keyed pseudonym: %v", err)
			}
		}
		if all, _ := log.Entries(ctx, "prefill", ""); len(all) != 3 {
			t.Errorf("%d prefill rows after the refused appends, want 3", len(all))
		}
	})
}

// forge rewrites the row seq with subject as its new subject and gives it the hash the
// package doc defines, SHA-256(prev_hash || content), content being the JSON array
// [seq, at in microseconds, kind, outcome, subject, detail]: its own hash then checks out,
// and only its link to the next row can give the forgery away.
func forge(t *testing.T, st *store.Store, seq int64, subject string) {
	t.Helper()
	ctx := context.Background()
	db := st.DB()
	var r struct {
		Seq      int64  `db:"seq"`
		At       int64  `db:"at"` // microseconds since the epoch, as the store keeps times
		Kind     string `db:"kind"`
		Outcome  string `db:"outcome"`
		Subject  string `db:"subject"`
		Detail   string `db:"detail"`
		PrevHash string `db:"prev_hash"`
		Hash     string `db:"hash"`
	}
	if err := db.GetContext(ctx, &r, db.Rebind(`SELECT seq, at, kind, outcome, subject, detail, prev_hash, hash FROM audit_log WHERE seq = ?`), seq); err != nil {
		t.Fatal(err)
	}
	hash := func(subject string) string {
		content, err := json.Marshal([]any{r.Seq, r.At, r.Kind, r.Outcome, subject, r.Detail})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append([]byte(r.PrevHash), content...))
		return hex.EncodeToString(sum[:])
	}
	// The test's hash must be the log's own, or the forgery below proves nothing.
	if got := hash(r.Subject); got != r.Hash {
		t.Fatalf("the documented algorithm gives %s for row %d, the log stored %s", got, seq, r.Hash)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE audit_log SET subject = ?, hash = ? WHERE seq = ?`), subject, hash(subject), seq); err != nil {
		t.Fatal(err)
	}
}

// A forger who rewrites a row and recomputes its hash passes the row's own check; the chain
// gives it away at the next row, whose prev_hash no longer names the row before it.
func TestARowRewrittenWithItsHashRecomputedBreaksTheChainAtTheNextRow(t *testing.T) {
	cases := []struct {
		name    string
		forged  int64
		wantSeq int64
	}{
		{"the first row", 1, 2},
		{"a middle row", 2, 3},
		{"the row before the last", 3, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			each(t, func(t *testing.T, st *store.Store, log *audit.Log) {
				ctx := context.Background()
				appendN(t, log, 4)
				forge(t, st, c.forged, keys.Of("someone else"))
				_, err := log.Verify(ctx)
				var te *audit.TamperError
				if !errors.As(err, &te) || !errors.Is(err, audit.ErrTampered) {
					t.Fatalf("a rewritten row with a recomputed hash was not detected: %v", err)
				}
				if te.Seq != c.wantSeq {
					t.Fatalf("broken at seq %d, want %d, the row after the forged one: %v", te.Seq, c.wantSeq, err)
				}
			})
		})
	}
}
