package retention_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"yjshub/hub"
	"yjshub/hub/audit"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/hubtest"
	"yjshub/hub/links"
	"yjshub/hub/retention"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
	"yjshub/schemas"
)

// clock is the settable clock of every service of an env.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// start is when every env's clock starts.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// owner is the platform client that uploads the materials and submits the cases.
const owner = "platform-a"

// env is a hub with a disk blob store and retention rules, on one SQL backend, on a clock the
// test moves.
type env struct {
	t     *testing.T
	st    *store.Store
	hs    *hub.Services
	clock *clock
	disk  *blobs.Disk
	n     int
}

// each runs test on every SQL backend with a hub keeping materials by rules (nil: the
// defaults).
func each(t *testing.T, rules *retention.Rules, test func(t *testing.T, e *env)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			e := &env{t: t, st: storetest.Migrated(open)(t), clock: &clock{t: start}}
			disk, err := blobs.NewDisk(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			e.disk = disk
			e.hs, err = hub.New(hub.Config{Catalogue: hubtest.Catalogue(t), Store: e.st, Now: e.clock.Now, CallbackBase: "http://hub.test",
				Blobs: disk, UploadDir: t.TempDir(), Retention: rules, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			test(t, e)
		})
	}
}

// upload makes a material object as a finished upload leaves it, created now: the bytes in the
// blob store under their sha256 and the row in materials_uploaded.
func (e *env) upload(holder, typ string, content []byte) (id, sum string) {
	e.t.Helper()
	raw := sha256.Sum256(content)
	sum = hex.EncodeToString(raw[:])
	if _, err := e.disk.Put(context.Background(), sum, int64(len(content)), "application/pdf", bytes.NewReader(content)); err != nil {
		e.t.Fatal(err)
	}
	e.n++
	id = fmt.Sprintf("mo_%032x", e.n)
	db := e.st.DB()
	if _, err := db.Exec(db.Rebind(`INSERT INTO materials_uploaded (id, sha256, size, content_type, filename, type, owner, holder, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), id, sum, len(content), "application/pdf", typ+".pdf", typ, owner, holder, store.NewTimestamp(e.clock.Now())); err != nil {
		e.t.Fatal(err)
	}
	return id, sum
}

// application is the example of a bar with every material given as an upload of the owner's;
// content makes each file's bytes from its type.
func (e *env) application(content func(typ string) []byte) (cases.Application, string, map[string]string) {
	e.t.Helper()
	app, hash := hubtest.Example(e.t, "open-bar-enterprise")
	holder, _ := app.Form["enterprise.uscc"].(string)
	ids := map[string]string{}
	for i, m := range app.Materials {
		id, _ := e.upload(holder, m.Type, content(m.Type))
		app.Materials[i] = cases.MaterialInput{Type: m.Type, ID: id}
		ids[m.Type] = id
	}
	app.ExternalRef = ""
	return app, hash, ids
}

func ownFiles(typ string) []byte { return []byte("%PDF-1.7 " + typ + " " + hubtest.RandomHex(8)) }

func (e *env) submit(app cases.Application, hash string) *cases.CaseView {
	e.t.Helper()
	v, _, err := e.hs.Cases.SubmitAs(context.Background(), owner, app, hash+hubtest.RandomHex(4), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) withdraw(caseID string) {
	e.t.Helper()
	if _, _, err := e.hs.Cases.Withdraw(context.Background(), caseID, cases.Withdrawal{Reason: "申请人撤回"}); err != nil {
		e.t.Fatal(err)
	}
}

// sweep sweeps at t.
func (e *env) sweep(at time.Time) retention.Result {
	e.t.Helper()
	e.clock.Set(at)
	res, err := e.hs.Retention.Sweep(context.Background())
	if err != nil {
		e.t.Fatalf("Sweep at %s: %v", at, err)
	}
	return res
}

// documented checks the case's materials, as JSON, against the API's CaseMaterial schema.
func documented(t *testing.T, v *cases.CaseView) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(schemas.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["CaseMaterial"]
	for _, m := range v.Materials {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var value any
		if err := json.Unmarshal(b, &value); err != nil {
			t.Fatal(err)
		}
		if err := ref.Value.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
			t.Fatalf("material %s does not match components/schemas/CaseMaterial: %v", b, err)
		}
	}
}

// object is a material object's row as the sweeper leaves it.
type object struct {
	ExpiresAt store.Timestamp `db:"expires_at"`
	RemovedAt store.Timestamp `db:"removed_at"`
}

func (e *env) object(id string) object {
	e.t.Helper()
	var o object
	db := e.st.DB()
	if err := db.Get(&o, db.Rebind(`SELECT expires_at, removed_at FROM materials_uploaded WHERE id = ?`), id); err != nil {
		e.t.Fatalf("material %s: %v", id, err)
	}
	return o
}

// held reports whether the blob store still has the bytes of sum.
func (e *env) held(sum string) bool {
	e.t.Helper()
	_, err := e.disk.Stat(context.Background(), sum)
	if err != nil && !errors.Is(err, blobs.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *env) sumOf(id string) string {
	e.t.Helper()
	var sum string
	db := e.st.DB()
	if err := db.Get(&sum, db.Rebind(`SELECT sha256 FROM materials_uploaded WHERE id = ?`), id); err != nil {
		e.t.Fatal(err)
	}
	return sum
}

// removals are the audit log's material_removed rows.
func (e *env) removals() []retention.Removal {
	e.t.Helper()
	rows, err := e.hs.Audit.Entries(context.Background(), audit.KindMaterialRemoved, "")
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]retention.Removal, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Detail, &out[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func sameInstant(ts store.Timestamp, t time.Time) bool {
	return !ts.IsZero() && ts.UnixMicro() == t.UnixMicro()
}

func TestRetentionRemovesAMaterialNoCaseNamedItsUnlinkedPeriodAfterItsUpload(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		id, sum := e.upload("91350100M000100Y43", "business-licence", []byte("%PDF-1.7 never named"))
		keptID, keptSum := e.upload("91350100M000100Y43", "business-licence", []byte("%PDF-1.7 uploaded a day later"))
		db := e.st.DB()
		if _, err := db.Exec(db.Rebind(`UPDATE materials_uploaded SET created_at = ? WHERE id = ?`), store.NewTimestamp(start.Add(retention.Day)), keptID); err != nil {
			t.Fatal(err)
		}
		due := start.Add(retention.DefaultUnlinked)

		res := e.sweep(due.Add(-time.Second))
		if res.Removed != 0 || res.Checked != 2 || res.Scheduled != 2 {
			t.Fatalf("a second before it is due: %+v; want 2 checked, 2 scheduled, none removed", res)
		}
		if o := e.object(id); !sameInstant(o.ExpiresAt, due) || !o.RemovedAt.IsZero() {
			t.Fatalf("before it is due the row is %+v; want expires_at %s, not removed", o, due)
		}
		if res := e.sweep(due.Add(-time.Second)); res.Scheduled != 0 {
			t.Errorf("a sweep again records %d due times, want 0: nothing changed", res.Scheduled)
		}

		res = e.sweep(due)
		if res.Removed != 1 || res.BlobsDeleted != 1 || res.RemovedBytes != int64(len("%PDF-1.7 never named")) {
			t.Fatalf("when it is due: %+v; want 1 removed, its blob deleted", res)
		}
		if o := e.object(id); !sameInstant(o.RemovedAt, due) || !sameInstant(o.ExpiresAt, due) {
			t.Errorf("the removed row is %+v; want removed_at and expires_at %s (the row is kept)", o, due)
		}
		if e.held(sum) {
			t.Error("the removed material's blob is still stored")
		}
		if !e.held(keptSum) || !e.object(keptID).RemovedAt.IsZero() {
			t.Error("the material uploaded a day later was removed with it")
		}
		rs := e.removals()
		if len(rs) != 1 || rs[0].Object != id || rs[0].SHA256 != sum || !rs[0].BlobDeleted || rs[0].Cases != 0 || !rs[0].Due.Equal(due) || rs[0].Type != "business-licence" {
			t.Fatalf("audit rows %+v; want one for %s, blob deleted", rs, id)
		}
		if _, err := e.hs.Audit.Verify(context.Background()); err != nil {
			t.Fatalf("the audit chain: %v", err)
		}
		if res := e.sweep(due.Add(time.Hour)); res.Removed != 0 || res.Checked != 1 {
			t.Errorf("the next sweep: %+v; want the removed one no longer looked at", res)
		}
	})
}

func TestRetentionKeepsAMaterialWhileItsCaseIsOpenAndRemovesItAfterCaseAfterTheCaseEnded(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		app, hash, ids := e.application(ownFiles)
		v := e.submit(app, hash)
		id := ids["business-licence"]
		sum := e.sumOf(id)
		// Long past the unlinked period, the open case keeps every one of its materials.
		if res := e.sweep(start.Add(2 * retention.DefaultAfterCase)); res.Removed != 0 {
			t.Fatalf("with the case open: %+v removed", res)
		}
		if o := e.object(id); !o.ExpiresAt.IsZero() {
			t.Fatalf("with the case open expires_at is %s; want none", o.ExpiresAt.Time)
		}
		view, err := e.hs.Cases.Get(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range view.Materials {
			if m.MaterialRetention == nil || m.RetainedUntil != nil || m.RemovedAt != nil {
				t.Fatalf("with the case open material %s shows %+v; want retained_until null", m.Type, m.MaterialRetention)
			}
		}
		b, _ := json.Marshal(view.Materials[0])
		if !bytes.Contains(b, []byte(`"retained_until":null`)) || bytes.Contains(b, []byte(`"removed_at"`)) {
			t.Fatalf("the material's JSON %s does not say retained_until null, or says removed_at", b)
		}
		documented(t, view)

		ended := start.Add(2*retention.DefaultAfterCase + time.Hour)
		e.clock.Set(ended)
		e.withdraw(v.ID)
		due := ended.Add(retention.DefaultAfterCase)
		if res := e.sweep(ended.Add(time.Minute)); res.Removed != 0 || res.Scheduled != len(ids) {
			t.Fatalf("after the case ended: %+v; want %d due times recorded, none removed", res, len(ids))
		}
		view, err = e.hs.Cases.Get(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range view.Materials {
			if m.RetainedUntil == nil || !m.RetainedUntil.Equal(due) || m.RemovedAt != nil {
				t.Fatalf("after the case ended material %s shows %+v; want retained until %s", m.Type, m.MaterialRetention, due)
			}
		}

		// A department's link to the bytes: served until they are removed, then 410.
		link, err := e.hs.LinkKeys.SignLink(links.Link{Method: http.MethodGet, SHA256: sum, Department: "amr", Case: v.ID, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		files := links.Handler(e.hs.Blobs, e.hs.LinkKeys, func(context.Context, links.Read) error { return nil })
		get := func() int {
			rec := httptest.NewRecorder()
			files.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, link, nil))
			return rec.Code
		}
		if code := get(); code != http.StatusOK {
			t.Fatalf("the link before the removal: %d, want 200", code)
		}
		if res := e.sweep(due.Add(-time.Second)); res.Removed != 0 {
			t.Fatalf("a second before after_case passed: %+v removed", res)
		}
		res := e.sweep(due)
		if res.Removed != len(ids) || res.BlobsDeleted != len(ids) {
			t.Fatalf("once after_case passed: %+v; want all %d removed with their blobs", res, len(ids))
		}
		if code := get(); code != http.StatusGone {
			t.Fatalf("the link after the removal: %d, want 410", code)
		}
		view, err = e.hs.Cases.Get(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range view.Materials {
			if m.RemovedAt == nil || !m.RemovedAt.Equal(due) || m.RetainedUntil == nil || !m.RetainedUntil.Equal(due) {
				t.Fatalf("after the removal material %s shows %+v; want removed_at and retained_until %s", m.Type, m.MaterialRetention, due)
			}
		}
		documented(t, view)
		for _, r := range e.removals() {
			if r.Cases != 1 {
				t.Errorf("audit row %+v: want cases 1", r)
			}
		}
	})
}

func TestRetentionKeepsATypeByItsOwnPeriodAfterTheCase(t *testing.T) {
	rules := retention.Default()
	rules.Types = map[string]time.Duration{"legal-rep-id-card": 90 * retention.Day}
	each(t, &rules, func(t *testing.T, e *env) {
		app, hash, ids := e.application(ownFiles)
		v := e.submit(app, hash)
		e.withdraw(v.ID)
		res := e.sweep(start.Add(90 * retention.Day))
		if res.Removed != 1 {
			t.Fatalf("90 days after the case: %+v; want only the ID card removed", res)
		}
		if e.object(ids["legal-rep-id-card"]).RemovedAt.IsZero() {
			t.Error("the ID card, kept 90 days after the case, is still there")
		}
		if o := e.object(ids["business-licence"]); !o.RemovedAt.IsZero() || !sameInstant(o.ExpiresAt, start.Add(retention.DefaultAfterCase)) {
			t.Errorf("the business licence: %+v; want kept until %s", o, start.Add(retention.DefaultAfterCase))
		}
	})
}

func TestRetentionKeepsSharedBytesWhileAnyCaseOrMaterialNeedsThem(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		// One set of bytes uploaded twice (two material objects) for two cases, and one object
		// named by both cases.
		same := func(typ string) []byte { return []byte("%PDF-1.7 the same " + typ) }
		app1, hash, ids1 := e.application(same)
		v1 := e.submit(app1, hash)
		app2, _, ids2 := e.application(same)
		app2.Materials[0].ID = ids1[app2.Materials[0].Type] // the first object, named by both
		v2 := e.submit(app2, hash)
		twice, first, second := ids1[app2.Materials[0].Type], ids1["business-licence"], ids2["business-licence"]
		sum := e.sumOf(first)
		if e.sumOf(second) != sum {
			t.Fatal("the two uploads do not share their bytes")
		}

		e.withdraw(v1.ID)
		due1 := start.Add(retention.DefaultAfterCase)
		e.sweep(due1)
		if e.object(first).RemovedAt.IsZero() {
			t.Fatal("the first case's own object is kept past its retention")
		}
		if !e.held(sum) {
			t.Fatal("the bytes were deleted while the second case, open, uses them through its own object")
		}
		if !e.object(twice).RemovedAt.IsZero() || !e.object(twice).ExpiresAt.IsZero() {
			t.Fatal("the object both cases name was removed, or given a due time, while the second case is open")
		}
		for _, r := range e.removals() {
			if r.Object == first && r.BlobDeleted {
				t.Errorf("audit row %+v says the shared bytes were deleted", r)
			}
		}

		ended2 := due1.Add(retention.Day)
		e.clock.Set(ended2)
		e.withdraw(v2.ID)
		due2 := ended2.Add(retention.DefaultAfterCase)
		e.sweep(due2.Add(-time.Second))
		if !e.held(sum) || !e.object(second).RemovedAt.IsZero() {
			t.Fatal("the second case's material went before its retention ended")
		}
		if o := e.object(twice); !sameInstant(o.ExpiresAt, due2) {
			t.Fatalf("the object both cases name is due %s; want the later case's end plus after_case, %s", o.ExpiresAt.Time, due2)
		}
		e.sweep(due2)
		if e.held(sum) || e.object(second).RemovedAt.IsZero() || e.object(twice).RemovedAt.IsZero() {
			t.Fatal("once nothing needs them the bytes and the objects are still there")
		}
	})
}

func TestRetentionKeepsBytesAnELicenceUses(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		id, sum := e.upload("91350100M000100Y43", "business-licence", []byte("%PDF-1.7 the licence's file too"))
		db := e.st.DB()
		if _, err := db.Exec(db.Rebind(`INSERT INTO licences (id, case_id, subcase_id, matter_code, type, number, holder, holder_id, holder_id_type,
			issuer, issued_at, valid_from, file_sha256, file_uri, file_format, created_at) VALUES (?, '', '', '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			"lc_1", "营业执照", "N1", "某某酒吧", "91350100M000100Y43", "uscc", "某区市场监管局", "2026-03-01", "2026-03-01", sum, "", "pdf",
			store.NewTimestamp(start)); err != nil {
			t.Fatal(err)
		}
		if res := e.sweep(start.Add(retention.DefaultUnlinked)); res.Removed != 1 || res.BlobsDeleted != 0 {
			t.Fatalf("sweep: %+v; want the material removed and its bytes kept", res)
		}
		if !e.held(sum) || e.object(id).RemovedAt.IsZero() {
			t.Fatal("the e-licence's bytes were deleted, or the material kept")
		}
	})
}

func TestRetentionRaceACaseNamingAMaterialWhileTheSweeperRemovesIt(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		ctx := context.Background()
		due := start.Add(retention.DefaultUnlinked)

		t.Run("a case that named it between the sweep's finding it due and its removal keeps it", func(t *testing.T) {
			app, hash, ids := e.application(ownFiles)
			var v *cases.CaseView
			retention.SetBeforeRemove(e.hs.Retention, func(string) {
				if v == nil {
					v = e.submit(app, hash)
				}
			})
			defer retention.SetBeforeRemove(e.hs.Retention, nil)
			e.clock.Set(due)
			res, err := e.hs.Retention.Sweep(ctx)
			if err != nil || res.Removed != 0 || v == nil {
				t.Fatalf("Sweep = %+v, %v; want nothing removed, the case submitted meanwhile", res, err)
			}
			for typ, id := range ids {
				if o := e.object(id); !o.RemovedAt.IsZero() || !e.held(e.sumOf(id)) {
					t.Fatalf("%s was removed though the case named it first", typ)
				}
			}
			e.withdraw(v.ID) // its materials are kept after_case from now
		})

		t.Run("a case naming it after its removal is refused, naming each removed one", func(t *testing.T) {
			e.clock.Set(start)
			app, hash, ids := e.application(ownFiles)
			e.sweep(due)
			if e.object(ids["business-licence"]).RemovedAt.IsZero() {
				t.Fatal("not removed")
			}
			_, _, err := e.hs.Cases.SubmitAs(ctx, owner, app, hash+"x", "")
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("submitting removed materials: %v; want the problems", err)
			}
			if len(pe.Problems) != len(app.Materials) {
				t.Fatalf("%d problems, want one per material: %+v", len(pe.Problems), pe.Problems)
			}
			for i, p := range pe.Problems {
				if p.Rule != cases.RuleMaterialRemoved || p.Path != fmt.Sprintf("/materials/%d/id", i) {
					t.Fatalf("problem %+v; want %s at /materials/%d/id", p, cases.RuleMaterialRemoved, i)
				}
			}
		})

		t.Run("a case and the sweeper at once: the case is accepted and the material kept, or refused and removed", func(t *testing.T) {
			for round := range 6 {
				e.clock.Set(start)
				app, hash, ids := e.application(ownFiles)
				e.clock.Set(due)
				var wg sync.WaitGroup
				var subErr, sweepErr error
				wg.Add(2)
				go func() {
					defer wg.Done()
					_, _, subErr = e.hs.Cases.SubmitAs(ctx, owner, app, fmt.Sprint(hash, round), "")
				}()
				go func() {
					defer wg.Done()
					_, sweepErr = e.hs.Retention.Sweep(ctx)
				}()
				wg.Wait()
				if sweepErr != nil {
					t.Fatal(sweepErr)
				}
				removed := 0
				for _, id := range ids {
					if !e.object(id).RemovedAt.IsZero() {
						removed++
						if subErr == nil {
							t.Fatalf("round %d: the case was accepted and its material %s removed", round, id)
						}
					} else if !e.held(e.sumOf(id)) {
						t.Fatalf("round %d: material %s is kept without its bytes", round, id)
					}
				}
				var pe *problem.Error
				if subErr != nil && (!errors.As(subErr, &pe) || removed == 0) {
					t.Fatalf("round %d: the case was refused (%v) with %d materials removed", round, subErr, removed)
				}
				if subErr != nil {
					for _, p := range pe.Problems {
						if p.Rule != cases.RuleMaterialRemoved {
							t.Fatalf("round %d: problem %+v; want only %s", round, p, cases.RuleMaterialRemoved)
						}
					}
				}
			}
		})
	})
}

func TestRetentionSweepRemovesTheTemporaryFilesACrashLeft(t *testing.T) {
	each(t, nil, func(t *testing.T, e *env) {
		// The store's temporary files are aged by the file system's clock, the real one.
		written := time.Now().Add(-2 * time.Hour)
		e.clock.Set(written)
		_, sum := e.upload("91350100M000100Y43", "business-licence", []byte("%PDF-1.7 beside the crash"))
		left := filepath.Join(e.disk.Dir(), sum[0:2], sum[2:4], ".put-4242")
		if err := os.WriteFile(left, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(left, written, written); err != nil {
			t.Fatal(err)
		}
		if res := e.sweep(written.Add(30 * time.Minute)); res.TempFiles != 0 {
			t.Fatalf("half an hour after it was written: %+v; want it kept", res)
		}
		if res := e.sweep(written.Add(retention.TempMaxAge + time.Second)); res.TempFiles != 1 {
			t.Fatalf("an hour after it was written: %+v; want it removed", res)
		}
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Fatalf("the temporary file is still there: %v", err)
		}
		if !e.held(sum) {
			t.Fatal("the blob beside it went too")
		}
	})
}
