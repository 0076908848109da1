package cases_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/links"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
	"yjshub/schemas"
	"yjshub/seeds"
)

// filesBase is the hub's public URL in these tests: links are relative to it.
const filesBase = "https://hub.test"

// linkedHub is a case service that signs links, over a store, with a blob store of its own and
// the hub's audit log.
type linkedHub struct {
	st    *store.Store
	hs    *hub.Services
	svc   *cases.Service
	keys  *links.Keyring
	blobs *blobs.Disk
	n     int
}

// eachLinked runs fn on every store backend with a service over cat that signs links for the
// departments (via kafka) with a keyring whose clock is the service's.
func eachLinked(t *testing.T, cat *catalogue.Catalogue, fn func(t *testing.T, h *linkedHub)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			now := func() time.Time { return testNow }
			hs, err := hub.New(hub.Config{Catalogue: cat, Store: st, CallbackBase: "http://hub.test", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			keys := links.Ephemeral().WithClock(now)
			svc, err := cases.New(cases.Config{Catalogue: cat, Store: st, Licences: hs.Licences, Forms: hs.Forms, CallbackBase: "http://hub.test",
				Now: now, Audit: hs.Audit, Links: keys, FilesBase: filesBase + "/", LinkVia: func(string) string { return "kafka" }})
			if err != nil {
				t.Fatal(err)
			}
			bs, err := blobs.NewDisk(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			fn(t, &linkedHub{st: st, hs: hs, svc: svc, keys: keys, blobs: bs})
		})
	}
}

// upload makes a material object as a finished upload leaves it: the bytes in the blob store
// under their sha256 and the row in materials_uploaded.
func (h *linkedHub) upload(t testing.TB, owner, holder, typ string, content []byte) (id, sum string) {
	t.Helper()
	ctx := context.Background()
	raw := sha256.Sum256(content)
	sum = hex.EncodeToString(raw[:])
	if _, err := h.blobs.Put(ctx, sum, int64(len(content)), "application/pdf", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	h.n++
	id = fmt.Sprintf("mo_%032x", h.n)
	db := h.st.DB()
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO materials_uploaded (id, sha256, size, content_type, filename, type, owner, holder, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), id, sum, len(content), "application/pdf", typ+".pdf", typ, owner, holder, store.NewTimestamp(testNow)); err != nil {
		t.Fatal(err)
	}
	return id, sum
}

// byIDs uploads, as owner, a file for every material of app given as a file and names it by
// its id instead; it returns the material objects by type.
func (h *linkedHub) byIDs(t testing.TB, app *cases.Application, owner string) map[string]string {
	t.Helper()
	holder, _ := app.Form["enterprise.uscc"].(string)
	if holder == "" {
		t.Fatal("the example names no enterprise")
	}
	ids := map[string]string{}
	for i, m := range app.Materials {
		if m.Licence != nil {
			continue
		}
		id, _ := h.upload(t, owner, holder, m.Type, []byte(fmt.Sprintf("%%PDF-1.7 %s %d", m.Type, i)))
		app.Materials[i] = cases.MaterialInput{Type: m.Type, ID: id}
		ids[m.Type] = id
	}
	app.ExternalRef = ""
	return ids
}

func TestAMaterialNamedByItsIDIsTheSubmittingClientsOwnUploadForTheApplicant(t *testing.T) {
	eachLinked(t, testCatalogue, func(t *testing.T, h *linkedHub) {
		ctx := context.Background()
		t.Run("the platform's own uploads for the applicant are taken, with the file as uploaded", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			ids := h.byIDs(t, &app, "platform-a")
			v, _, err := h.svc.SubmitAs(ctx, "platform-a", app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Materials) != len(ids) {
				t.Fatalf("%d materials stored, want %d", len(v.Materials), len(ids))
			}
			for _, m := range v.Materials {
				var o struct{ SHA256, Filename string }
				db := h.st.DB()
				if err := db.Get(&o, db.Rebind(`SELECT sha256, filename FROM materials_uploaded WHERE id = ?`), m.Object); err != nil {
					t.Fatalf("%s: object %q: %v", m.Type, m.Object, err)
				}
				if m.Object != ids[m.Type] || m.SHA256 != o.SHA256 || m.Filename != o.Filename || m.ContentType != "application/pdf" || m.Size == 0 || m.URI != "" {
					t.Fatalf("material %+v, want object %s with sha256 %s", m, ids[m.Type], o.SHA256)
				}
			}
		})

		t.Run("another client's, another applicant's, another type's and an unknown id are refused at once", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			h.byIDs(t, &app, "platform-a")
			holder := app.Form["enterprise.uscc"].(string)
			theirs, _ := h.upload(t, "platform-b", holder, app.Materials[0].Type, []byte("%PDF-1.7 platform b's"))
			otherHolder, _ := h.upload(t, "platform-a", "91320707MA00000000", app.Materials[2].Type, []byte("%PDF-1.7 someone else's"))
			otherType, _ := h.upload(t, "platform-a", holder, app.Materials[4].Type, []byte("%PDF-1.7 of another type"))
			app.Materials[0].ID = theirs
			app.Materials[1].ID = "mo_00000000000000000000000000000fff"
			app.Materials[2].ID = otherHolder
			app.Materials[3].ID = otherType
			app.Materials[5].URI = "https://files.example.org/x.pdf"
			before := count(t, h.st, "cases")
			_, _, err := h.svc.SubmitAs(ctx, "platform-a", app, hash, "")
			got := map[string]string{}
			msgs := map[string]string{}
			for _, p := range refusal(t, err) {
				got[p.Path] = p.Rule
				msgs[p.Path] = p.Message
				if strings.Contains(p.Message, holder) {
					t.Errorf("%s: the message names the applicant's credit code: %s", p.Path, p.Message)
				}
			}
			want := map[string]string{"/materials/0/id": cases.RuleMaterialObject, "/materials/1/id": cases.RuleMaterialObject,
				"/materials/2/id": cases.RuleMaterialHolder, "/materials/3/id": cases.RuleMaterialType, "/materials/5": problem.RuleOneOf}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("problems %v, want %v", got, want)
			}
			// Another client's object is refused exactly as one that does not exist.
			if a, b := strings.ReplaceAll(msgs["/materials/0/id"], theirs, "ID"), strings.ReplaceAll(msgs["/materials/1/id"], app.Materials[1].ID, "ID"); a != b {
				t.Fatalf("another client's id is told apart from an unknown one:\n%s\n%s", a, b)
			}
			if n := count(t, h.st, "cases"); n != before {
				t.Fatalf("%d cases stored by a refused application", n-before)
			}
		})

		t.Run("an id named twice is refused", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			h.byIDs(t, &app, "platform-a")
			app.Materials = append(app.Materials, app.Materials[0])
			_, _, err := h.svc.SubmitAs(ctx, "platform-a", app, hash, "")
			ps := refusal(t, err)
			if len(ps) != 1 || ps[0].Path != fmt.Sprintf("/materials/%d/id", len(app.Materials)-1) || ps[0].Rule != problem.RuleDuplicate {
				t.Fatalf("problems %+v", ps)
			}
		})

		t.Run("a case without an owner can name no upload", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			h.byIDs(t, &app, "")
			_, _, err := h.svc.Submit(ctx, app, hash, "")
			for _, p := range refusal(t, err) {
				if p.Rule != cases.RuleMaterialObject {
					t.Fatalf("problem %+v, want only %s", p, cases.RuleMaterialObject)
				}
			}
		})
	})
}

func TestOneUploadUsedByTwoCasesIsStoredOnceAndLinkedByEach(t *testing.T) {
	eachLinked(t, testCatalogue, func(t *testing.T, h *linkedHub) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		ids := h.byIDs(t, &app, "platform-a")
		var caseIDs []string
		for i := range 2 {
			v, _, err := h.svc.SubmitAs(ctx, "platform-a", app, fmt.Sprint(hash, i), "")
			if err != nil {
				t.Fatal(err)
			}
			caseIDs = append(caseIDs, v.ID)
		}
		id := ids["business-licence"]
		db := h.st.DB()
		var sum string
		if err := db.Get(&sum, db.Rebind(`SELECT sha256 FROM materials_uploaded WHERE id = ?`), id); err != nil {
			t.Fatal(err)
		}
		var objects int
		if err := db.Get(&objects, db.Rebind(`SELECT COUNT(*) FROM materials_uploaded WHERE sha256 = ?`), sum); err != nil {
			t.Fatal(err)
		}
		var linkedBy []string
		if err := db.Select(&linkedBy, db.Rebind(`SELECT case_id FROM case_materials WHERE object_id = ? AND sha256 = ? ORDER BY case_id`), id, sum); err != nil {
			t.Fatal(err)
		}
		slices.Sort(caseIDs)
		if objects != 1 || !slices.Equal(linkedBy, caseIDs) {
			t.Fatalf("%d objects, linked by cases %v: want 1, linked once by each of %v", objects, linkedBy, caseIDs)
		}
		var files int
		err := fs.WalkDir(os.DirFS(h.blobs.Dir()), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, sum) && !strings.HasSuffix(p, ".json") {
				files++
			}
			return err
		})
		if err != nil || files != 1 {
			t.Fatalf("%d blob files hold the material (%v), want 1", files, err)
		}
	})
}

// departmentClient is the client a department's system is authenticated as.
func departmentClient(dept string) auth.Client {
	return auth.Client{Name: dept + "-system", Role: auth.RoleDepartment, Department: dept}
}

// linkRequest is the request a department's system makes with a link, as the handler sees it.
func linkRequest(t *testing.T, uri string, as *auth.Client) *http.Request {
	t.Helper()
	path, ok := strings.CutPrefix(uri, filesBase)
	if !ok {
		t.Fatalf("link %q is not on %s", uri, filesBase)
	}
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if as != nil {
		r = r.WithContext(auth.WithClient(r.Context(), *as))
	}
	return r
}

// fiveDepartments is the catalogue with three of 海洋渔业产业链's matters moved to other
// departments, so that its case is dispatched to five at once.
var fiveDepartments = func() *catalogue.Catalogue {
	m := fstest.MapFS{}
	if err := fs.WalkDir(seeds.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(seeds.FS, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		panic(err)
	}
	f := m["matters/agriculture.yaml"]
	for matter, dept := range map[string]string{"aquatic-seed-production-licence": "health", "aquaculture-certificate": "housing", "fishing-vessel-quota-approval": "transport"} {
		at := bytes.Index(f.Data, []byte("code: "+matter+"\n"))
		rel := bytes.Index(f.Data[at:], []byte("default: agriculture"))
		if at < 0 || rel < 0 {
			panic("the seed of " + matter + " has moved")
		}
		f.Data = append(f.Data[:at+rel:at+rel], append([]byte("default: "+dept), f.Data[at+rel+len("default: agriculture"):]...)...)
	}
	cat, err := catalogue.Load(m, "seeds")
	if err != nil {
		panic(err)
	}
	return cat
}()

func TestEveryDepartmentOfACaseGetsLinksOfItsOwnThatNoOtherDepartmentCanUse(t *testing.T) {
	envelope, err := schemas.Compile("events/envelope.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	eachLinked(t, fiveDepartments, func(t *testing.T, h *linkedHub) {
		ctx := context.Background()
		app, hash := example(t, "marine-fishery-chain-enterprise")
		h.byIDs(t, &app, "platform-a")
		v, _, err := h.svc.SubmitAs(ctx, "platform-a", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		// Released sub-cases are dispatched later, by another path: approve until all are out.
		for i := 0; i < 4; i++ {
			cur, err := h.svc.Get(ctx, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range cur.Subcases {
				if sc.State == cases.StateDispatched {
					approve(t, h.svc, cur, sc, i)
				}
			}
		}
		pending, err := h.st.PendingOutbox(ctx, 10000)
		if err != nil {
			t.Fatal(err)
		}
		depts := map[string]bool{}
		dispatched := map[string]bool{}
		wantExp := testNow.Add(links.MaxTTL).Truncate(time.Second)
		var one struct {
			uri, dept, sha string
		}
		for _, m := range pending {
			if m.Headers["ce_type"] != event.TypeSubcaseDispatched {
				continue
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := envelope.Validate(doc); err != nil {
				t.Errorf("%s does not match the schema: %v", m.EventID, err)
			}
			var env event.Envelope
			var d event.SubcaseDispatched
			if err := json.Unmarshal(m.Payload, &env); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(env.Data, &d); err != nil {
				t.Fatal(err)
			}
			depts[d.Department], dispatched[d.SubcaseID] = true, true
			other := departmentClient("tobacco")
			if d.Department == "tobacco" {
				other = departmentClient("health")
			}
			if len(d.Materials) == 0 {
				t.Fatalf("%s: no materials", d.SubcaseID)
			}
			for _, ref := range d.Materials {
				if ref.LinkExpiresAt == nil || !ref.LinkExpiresAt.Equal(wantExp) {
					t.Fatalf("%s %s: link expires %v, want %v", d.SubcaseID, ref.Type, ref.LinkExpiresAt, wantExp)
				}
				own := departmentClient(d.Department)
				c, err := h.keys.Verify(linkRequest(t, ref.URI, &own))
				if err != nil {
					t.Fatalf("%s's own link to %s refused: %v", d.Department, ref.Type, err)
				}
				if c.Department != d.Department || c.Case != d.CaseID || c.Subcase != d.SubcaseID || c.SHA256 != ref.SHA256 || c.Via != "kafka" {
					t.Fatalf("link of %s for %s grants %+v", d.Department, d.SubcaseID, c)
				}
				if _, err := h.keys.Verify(linkRequest(t, ref.URI, &other)); !errors.Is(err, links.ErrForbidden) {
					t.Fatalf("%s used %s's link: err = %v", other.Department, d.Department, err)
				}
				one.uri, one.dept, one.sha = ref.URI, d.Department, ref.SHA256
			}
		}
		if len(depts) < 5 || len(dispatched) != len(v.Subcases) {
			t.Fatalf("%d departments, %d of %d sub-cases dispatched: the case should reach five departments and every sub-case", len(depts), len(dispatched), len(v.Subcases))
		}

		// A read through the link is in the audit log, and the case view lists it.
		handler := links.Handler(h.blobs, h.keys, func(ctx context.Context, r links.Read) error {
			_, err := h.hs.Audit.AppendAlone(ctx, r.Entry())
			return err
		})
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, linkRequest(t, one.uri, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("the link's read answered %d: %s", rec.Code, rec.Body)
		}
		got, err := h.svc.Get(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		reads := 0
		for _, m := range got.Materials {
			for _, r := range m.Reads {
				reads++
				if m.SHA256 != one.sha || r.Department != one.dept || r.Via != "kafka" || r.Subcase == "" || r.At.IsZero() {
					t.Fatalf("read %+v listed on %s", r, m.Type)
				}
			}
		}
		if reads != 1 {
			t.Fatalf("%d reads listed, want 1", reads)
		}
	})
}

func TestWithoutAKeyringMessagesCarryNoLink(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		h := &linkedHub{st: st}
		var err error
		if h.blobs, err = blobs.NewDisk(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		app, hash := example(t, "open-bar-enterprise")
		h.byIDs(t, &app, "platform-a")
		if _, _, err := svc.SubmitAs(context.Background(), "platform-a", app, hash, ""); err != nil {
			t.Fatal(err)
		}
		pending, err := st.PendingOutbox(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range pending {
			if m.Headers["ce_type"] != event.TypeSubcaseDispatched {
				continue
			}
			var env struct {
				Data event.SubcaseDispatched `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &env); err != nil {
				t.Fatal(err)
			}
			for _, ref := range env.Data.Materials {
				n++
				if ref.URI != "" || ref.LinkExpiresAt != nil || ref.ContentType != "application/pdf" {
					t.Fatalf("material %+v: want no link", ref)
				}
			}
		}
		if n == 0 {
			t.Fatal("no materials dispatched")
		}
	})
}

func TestASupplementNamesAnUploadByItsIDAndTheDepartmentGetsItsLink(t *testing.T) {
	eachLinked(t, testCatalogue, func(t *testing.T, h *linkedHub) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		h.byIDs(t, &app, "platform-a")
		holder := app.Form["enterprise.uscc"].(string)
		v, _, err := h.svc.SubmitAs(ctx, "platform-a", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		var sc cases.SubcaseView
		for _, s := range v.Subcases {
			for _, m := range s.Materials {
				if m == "premises-proof" && sc.ID == "" {
					sc = s
				}
			}
		}
		if sc.ID == "" {
			t.Fatal("no sub-case uses premises-proof")
		}
		for _, ev := range []event.DepartmentEvent{{EventID: "r", Type: event.Received},
			{EventID: "s", Type: event.SupplementRequested, Missing: []event.Missing{{Material: "premises-proof", Note: "租赁合同缺页"}}}} {
			if _, _, err := h.svc.ApplyEvent(ctx, sc.ID, ev); err != nil {
				t.Fatal(err)
			}
		}
		theirs, _ := h.upload(t, "platform-b", holder, "premises-proof", []byte("%PDF-1.7 platform b's lease"))
		_, _, err = h.svc.Supplement(ctx, "platform-a", v.ID, cases.Supplement{Materials: []cases.MaterialInput{{Type: "premises-proof", ID: theirs}}}, "h1", "")
		if ps := refusal(t, err); len(ps) != 1 || ps[0].Path != "/materials/0/id" || ps[0].Rule != cases.RuleMaterialObject {
			t.Fatalf("another client's upload in a supplement: %+v", ps)
		}
		mine, sum := h.upload(t, "platform-a", holder, "premises-proof", []byte("%PDF-1.7 the whole lease"))
		if _, _, err := h.svc.Supplement(ctx, "platform-a", v.ID, cases.Supplement{Materials: []cases.MaterialInput{{Type: "premises-proof", ID: mine}}}, "h2", ""); err != nil {
			t.Fatal(err)
		}
		pending, err := h.st.PendingOutbox(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, m := range pending {
			if m.Headers["ce_type"] != event.TypeSubcaseResubmitted {
				continue
			}
			var env struct {
				Data event.SubcaseResubmitted `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &env); err != nil {
				t.Fatal(err)
			}
			for _, ref := range env.Data.Materials {
				found++
				own := departmentClient(env.Data.Department)
				c, err := h.keys.Verify(linkRequest(t, ref.URI, &own))
				if err != nil || ref.SHA256 != sum || c.SHA256 != sum || c.Subcase != sc.ID || c.Case != v.ID || ref.LinkExpiresAt == nil {
					t.Fatalf("the resubmitted material %+v: claims %+v, %v", ref, c, err)
				}
			}
		}
		if found != 1 {
			t.Fatalf("%d resubmitted materials, want the one asked for", found)
		}
	})
}

// BenchmarkIntakeOfUploadsWithLinks measures the intake of 海洋渔业产业链 (23 materials) named
// by upload ids, with every dispatched sub-case's materials linked and signed, against the
// same case given as files on a platform's host, on SQLite.
func BenchmarkIntakeOfUploadsWithLinks(b *testing.B) {
	for _, byID := range []bool{false, true} {
		b.Run(fmt.Sprintf("by-id=%v", byID), func(b *testing.B) {
			// SQLite only: the PostgreSQL bench store is the shared database itself, not a
			// schema of its own (benchStore), and its migrations are not this tree's to run.
			for name, open := range storetest.Backends() {
				if name != "sqlite" {
					continue
				}
				b.Run(name, func(b *testing.B) {
					st := benchStore(b, name, open)
					now := func() time.Time { return testNow }
					hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: now})
					if err != nil {
						b.Fatal(err)
					}
					svc, err := cases.New(cases.Config{Catalogue: testCatalogue, Store: st, Licences: hs.Licences, Forms: hs.Forms, Now: now,
						Links: links.Ephemeral(), FilesBase: filesBase, Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					bs, err := blobs.NewDisk(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					h := &linkedHub{st: st, hs: hs, svc: svc, blobs: bs}
					f, err := os.Open("../../examples/marine-fishery-chain-enterprise.json")
					if err != nil {
						b.Fatal(err)
					}
					app, hash, err := cases.DecodeApplication(f)
					f.Close()
					if err != nil {
						b.Fatal(err)
					}
					if byID {
						h.byIDs(b, &app, "platform-a")
					}
					app.ExternalRef = ""
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, _, err := svc.SubmitAs(context.Background(), "platform-a", app, hash, ""); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
				})
			}
		})
	}
}

func TestALinkLivesAtMostSevenDays(t *testing.T) {
	st := storetest.Migrated(storetest.Backends()["sqlite"])(t)
	hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{-time.Second, links.MaxTTL + time.Second} {
		_, err := cases.New(cases.Config{Catalogue: testCatalogue, Store: st, Licences: hs.Licences, Forms: hs.Forms, Links: links.Ephemeral(), LinkTTL: ttl})
		if err == nil || !strings.Contains(err.Error(), "LinkTTL") {
			t.Errorf("LinkTTL %s: err = %v, want one naming LinkTTL", ttl, err)
		}
	}
}
