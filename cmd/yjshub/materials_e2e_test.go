package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/connectors"
	"yjshub/deptsim"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/links"
)

// The departments of the bar (开酒吧, enterprise): the catalogue's largest bundle by
// departments, four of them with the optional outdoor-advertising approval applied for; and
// one department the case does not reach, whose key must not open another's link.
var (
	barDepartments = []string{"admin-approval", "urban-management", "tobacco", "fire-rescue"}
	outsider       = "market-regulation"
)

// One set of materials, uploaded once per case with yjshub submit, reaches every department of
// the bar through links of its own: on each SQL backend (SQLite + the embedded broker, and
// PostgreSQL + Kafka) and each blob store (disk, S3), three cases are submitted from
// examples/files, each run of submit uploading the fourteen files afresh (no upload state
// shared). Every simulated department fetches each material its sub-case needs through the
// link in its message and checks the sha256 before it approves; every read is in the audit log
// and in the case view, naming the department, the sub-case and the connector kind (restpush);
// the same file used by the three cases is stored once; a link used by another department, or
// altered, or expired, is 403.
func TestEveryDepartmentOfACaseFetchesItsMaterialsThroughItsOwnLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("three cases through four simulated departments on each backend")
	}
	const nCases = 3
	for sqlName, sqlOpts := range serveBackends(t) {
		for fileName, files := range fileBackends(t) {
			t.Run(sqlName+"/"+fileName, func(t *testing.T) {
				o := sqlOpts
				o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
				names := []string{"platform", "operator", "department:" + outsider}
				for _, d := range barDepartments {
					names = append(names, "department:"+d)
				}
				keys := writeClients(t, o.clientsFile, names...)
				o.files, o.dataDir = files, t.TempDir()
				o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
				hub, sim := startSimulatedHub(t, o)
				t.Setenv("YJSHUB_API_KEY", keys["platform"])

				var ids []string
				start := time.Now()
				for i := range nCases {
					state := filepath.Join(t.TempDir(), "uploads.json")
					code, out, stderr := runCLI(t, "submit", "--hub", hub, "--upload-state", state, "--quiet", filesExample)
					if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "cs_") {
						t.Fatalf("submit %d: exit %d: %s\n%s", i, code, out, stderr)
					}
					ids = append(ids, strings.Fields(out)[0])
				}
				views := make([]cases.CaseView, len(ids))
				for i, id := range ids {
					views[i] = waitCaseAs(t, hub, id, keys["operator"], func(v cases.CaseView) bool { return v.State == cases.CaseCompleted })
				}
				t.Logf("%s: %d cases of %d materials uploaded, dispatched, fetched by every department and approved in %s",
					t.Name(), nCases, len(views[0].Materials), time.Since(start).Round(time.Millisecond))

				fetches := sim.Fetches()
				for _, f := range fetches {
					if !f.OK() {
						t.Errorf("%s's fetch of a %s for %s: %d, %s", f.Department, f.Type, f.SubcaseID, f.Status, f.Problem)
					}
				}
				distinct := map[string]int64{}
				var naive int64
				for i, v := range views {
					checkReadsOfCase(t, v, fetches)
					for _, m := range v.Materials {
						if m.Object == "" {
							t.Errorf("case %d: material %s is not an uploaded object", i, m.Type)
						}
						distinct[m.SHA256] = m.Size
						naive += m.Size
					}
				}
				// The simulated departments upload each e-licence's file before they approve: the
				// store holds those too, once each.
				licenceFiles := map[string]int64{}
				for _, v := range views {
					for _, l := range v.Licences {
						if l.File.ObjectID != "" {
							licenceFiles[l.File.SHA256] = l.File.Size
						}
					}
				}
				var stored, licenceBytes int64
				for _, size := range distinct {
					stored += size
				}
				for _, size := range licenceFiles {
					licenceBytes += size
				}
				if files.blobStore != blobStoreS3 {
					// On disk, what the store holds is counted file by file.
					n, bytes := diskBlobs(t, filepath.Join(o.dataDir, "blobs"))
					if n != len(distinct)+len(licenceFiles) || bytes != stored+licenceBytes {
						t.Errorf("the disk store holds %d files of %d bytes; want %d files (one per distinct material, and %d e-licence files) of %d bytes",
							n, bytes, len(distinct)+len(licenceFiles), len(licenceFiles), stored+licenceBytes)
					}
				} else {
					st, err := blobs.NewS3(context.Background(), files.s3)
					if err != nil {
						t.Fatal(err)
					}
					for _, set := range []map[string]int64{distinct, licenceFiles} {
						for sum, size := range set {
							if info, err := st.Stat(context.Background(), sum); err != nil || info.Size != size {
								t.Errorf("blob %s on S3: %+v %v; want %d bytes", sum, info, err, size)
							}
							t.Cleanup(func() { _ = st.Delete(context.Background(), sum) })
						}
					}
				}
				t.Logf("%s: %d cases name %d material files (%d bytes); the store keeps %d files, %d bytes, and %d e-licence files",
					t.Name(), nCases, nCases*len(views[0].Materials), naive, len(distinct), stored, len(licenceFiles))
				if len(distinct) != len(views[0].Materials) || stored*nCases != naive {
					t.Errorf("%d distinct files of %d bytes among the cases; want the %d of one case, shared by the %d (%d bytes named)",
						len(distinct), stored, len(views[0].Materials), nCases, naive)
				}

				checkForeignLinks(t, hub, keys, o.files.linkKeys, views[0])
			})
		}
	}
}

// checkReadsOfCase holds the case view's reads to the departments' fetches: every material
// a sub-case needs was read by that sub-case's department, through restpush, for that sub-case,
// and nothing else was read.
func checkReadsOfCase(t *testing.T, v cases.CaseView, fetches []deptsim.Fetch) {
	t.Helper()
	dept := map[string]string{}
	var depts []string
	for _, sc := range v.Subcases {
		dept[sc.ID] = sc.Department.Code
		depts = append(depts, sc.Department.Code)
	}
	slices.Sort(depts)
	want := slices.Clone(barDepartments)
	slices.Sort(want)
	if !slices.Equal(depts, want) {
		t.Errorf("case %s reaches %v; want %v", v.ID, depts, want)
	}
	fetched := map[string]bool{}
	for _, f := range fetches {
		if f.OK() {
			fetched[f.SubcaseID+" "+f.SHA256] = true
		}
	}
	for _, m := range v.Materials {
		var got []string
		for _, r := range m.Reads {
			if r.Via != connectors.KindRestPush || r.Range != "" || dept[r.Subcase] != r.Department {
				t.Errorf("case %s, %s: read %+v; want a whole read through restpush by the sub-case's own department", v.ID, m.Type, r)
			}
			got = append(got, r.Subcase)
		}
		slices.Sort(got)
		used := slices.Clone(m.UsedBy)
		slices.Sort(used)
		if !slices.Equal(got, used) {
			t.Errorf("case %s, %s: read for sub-cases %v; want once for each that needs it, %v", v.ID, m.Type, got, used)
		}
		for _, sc := range m.UsedBy {
			if !fetched[sc+" "+m.SHA256] {
				t.Errorf("case %s, %s: the simulator of %s did not fetch it for %s", v.ID, m.Type, dept[sc], sc)
			}
		}
	}
}

// checkForeignLinks signs, with the hub's own keyring, a link for one department of the case,
// and checks that the department reads through it while another department's key, an altered
// link and an expired one are each refused with the same 403.
func checkForeignLinks(t *testing.T, hub string, keys map[string]string, keyring string, v cases.CaseView) {
	t.Helper()
	ring, err := links.Load(keyring)
	if err != nil {
		t.Fatal(err)
	}
	sc := v.Subcases[0]
	var sum string
	for _, m := range v.Materials {
		if slices.Contains(m.UsedBy, sc.ID) {
			sum = m.SHA256
			break
		}
	}
	link, err := ring.Sign(http.MethodGet, sum, sc.Department.Code, v.ID, sc.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := tusRequest(t, http.MethodGet, hub+link, keys["department:"+sc.Department.Code], nil, nil); res.StatusCode != http.StatusOK || res.Header.Get("ETag") != `"`+sum+`"` {
		t.Errorf("%s's own link: %d ETag %q; want 200 and the sha256", sc.Department.Code, res.StatusCode, res.Header.Get("ETag"))
	}
	other := outsider
	for _, d := range barDepartments {
		if d != sc.Department.Code {
			other = d
			break
		}
	}
	expired, err := ring.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }).Sign(http.MethodGet, sum, sc.Department.Code, v.ID, sc.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sig := link[strings.LastIndex(link, "sig=")+4:]
	flipped := []byte(sig)
	flipped[0] ^= 1
	for _, c := range []struct{ what, link, key string }{
		{"another department of the case (" + other + ")", link, keys["department:"+other]},
		{"a department outside the case (" + outsider + ")", link, keys["department:"+outsider]},
		{"the link signed for another sub-case's department", strings.Replace(link, "dept="+sc.Department.Code, "dept="+other, 1), keys["department:"+other]},
		{"the link with its signature altered", strings.TrimSuffix(link, sig) + string(flipped), ""},
		{"the link of another file", strings.Replace(link, sum, strings.Repeat("0", 64), 1), ""},
		{"the link expired an hour ago", expired, keys["department:"+sc.Department.Code]},
	} {
		res, b := tusRequest(t, http.MethodGet, hub+c.link, c.key, nil, nil)
		var body struct {
			Error struct{ Code, Message string }
		}
		if res.StatusCode != http.StatusForbidden || json.Unmarshal(b, &body) != nil || body.Error.Code != "forbidden" || strings.Contains(string(b), sum) {
			t.Errorf("%s: %d %s; want 403 forbidden, the same whoever asks and saying nothing of the file", c.what, res.StatusCode, b)
		}
	}
}

// waitCaseAs polls the case with key until done says so, for at most a minute.
func waitCaseAs(t *testing.T, hub, id, key string, done func(cases.CaseView) bool) cases.CaseView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // polling, as a platform does
	defer tick.Stop()
	for {
		var v cases.CaseView
		res, b := tusRequest(t, http.MethodGet, hub+"/api/v1/cases/"+id, key, nil, nil)
		if res.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if done(v) {
				return v
			}
		} else if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("GET case %s: %d %s", id, res.StatusCode, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %s not done within a minute: %s", id, v.State)
		}
		<-tick.C
	}
}

// diskBlobs counts the blobs under the disk store's directory and their bytes, leaving out
// the store's temporary files and the sidecars of content types.
func diskBlobs(t *testing.T, dir string) (n int, size int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// Temporary files of a Put begin with "."; each blob has a sidecar <sha256>.json.
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), ".json") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n++
		size += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, size
}

// A hub whose API does not authenticate (no clients file, on a loopback address) has one
// caller: the uploads it takes are that caller's, and a case it submits may name them. The
// case's departments read them through links naming no client.
func TestAHubWithoutClientsLetsItsCasesNameItsUploads(t *testing.T) {
	var o serveOptions
	o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
	hub, _ := startSimulatedHub(t, o)
	t.Setenv("YJSHUB_API_KEY", "")
	code, out, stderr := runCLI(t, "submit", "--hub", hub, "--upload-state", filepath.Join(t.TempDir(), "uploads.json"), "--quiet", filesExample)
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "cs_") {
		t.Fatalf("submit to a hub without clients: exit %d: %s\n%s", code, out, stderr)
	}
	v := waitCaseAs(t, hub, strings.Fields(out)[0], "", func(v cases.CaseView) bool { return v.State == cases.CaseCompleted })
	for _, m := range v.Materials {
		if !strings.HasPrefix(m.Object, "mo_") || len(m.Reads) != len(m.UsedBy) {
			t.Errorf("%s: object %q, %d reads for %d sub-cases; want an upload read by each", m.Type, m.Object, len(m.Reads), len(m.UsedBy))
		}
	}
}

// A 50 MB file uploaded to the hub is cut off after 20 MB, resumed from the offset the hub
// reports, and completes with the right sha256; the department reads it back whole through its
// link. On each SQL backend and each blob store; the upload and download rates are logged (they
// are figures, measured here, not asserted).
func TestAFiftyMBUploadCutOffAndResumedIsStoredWholeOnEveryBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB through the hub on each backend")
	}
	const size, cut = 50_000_000, 20_000_000
	for sqlName, sqlOpts := range serveBackends(t) {
		for fileName, files := range fileBackends(t) {
			t.Run(sqlName+"/"+fileName, func(t *testing.T) {
				o := sqlOpts
				o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
				keys := writeClients(t, o.clientsFile, "platform", "department:tobacco")
				o.files = files
				o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
				hub, _ := startSimulatedHub(t, o)
				platform := keys["platform"]

				data := samplePDF(size)
				sum := sha256.Sum256(data)
				want := hex.EncodeToString(sum[:])
				if files.blobStore == blobStoreS3 {
					t.Cleanup(func() {
						if st, err := blobs.NewS3(context.Background(), files.s3); err == nil {
							_ = st.Delete(context.Background(), want)
						}
					})
				}
				start := time.Now()
				res, b := tusRequest(t, http.MethodPost, hub+"/api/v1/uploads", platform, nil, map[string]string{
					"Upload-Length":   strconv.Itoa(size),
					"Upload-Metadata": tusMetadata("filename", "plan.pdf", "type", "fire-facility-plan", "holder", "91350100M000100Y43", "sha256", want),
				})
				if res.StatusCode != http.StatusCreated {
					t.Fatalf("creating the upload: %d %s", res.StatusCode, b)
				}
				upload := hub + strings.TrimPrefix(res.Header.Get("Location"), hub)
				sent := cutPatch(t, upload, platform, data, cut)

				// The hub keeps what it received of the cut request; HEAD says how much once
				// that request has ended on the hub's side.
				var offset int
				deadline := time.Now().Add(30 * time.Second)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for offset == 0 && time.Now().Before(deadline) {
					res, _ = tusRequest(t, http.MethodHead, upload, platform, nil, nil)
					offset, _ = strconv.Atoi(res.Header.Get("Upload-Offset"))
					if offset == 0 {
						<-tick.C
					}
				}
				if offset == 0 || offset > sent {
					t.Fatalf("after the cut, Upload-Offset %d; want in (0, %d]", offset, sent)
				}
				resumedAt := offset
				var material string
				for offset < size {
					end := min(offset+8_000_000, size)
					res, b = tusRequest(t, http.MethodPatch, upload, platform, data[offset:end], map[string]string{
						"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(offset)})
					if res.StatusCode != http.StatusNoContent {
						t.Fatalf("PATCH at %d: %d %s", offset, res.StatusCode, b)
					}
					material, offset = res.Header.Get("Upload-Material-Id"), end
				}
				uploadTook := time.Since(start)
				var rec struct{ SHA256, ContentType string }
				getAs(t, hub+"/api/v1/material-objects/"+material, platform, http.StatusOK, &rec)
				if rec.SHA256 != want {
					t.Fatalf("the material's sha256 %s; want %s", rec.SHA256, want)
				}

				ring, err := links.Load(o.files.linkKeys)
				if err != nil {
					t.Fatal(err)
				}
				link, err := ring.Sign(http.MethodGet, want, "tobacco", "cs_"+strings.Repeat("0", 32), "", time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				readStart := time.Now()
				res, got := tusRequest(t, http.MethodGet, hub+link, keys["department:tobacco"], nil, nil)
				readTook := time.Since(readStart)
				gotSum := sha256.Sum256(got)
				if res.StatusCode != http.StatusOK || hex.EncodeToString(gotSum[:]) != want {
					t.Fatalf("reading it back: %d, %d bytes of sha256 %x; want 200 and %s", res.StatusCode, len(got), gotSum, want)
				}
				t.Logf("%s/%s: 50 MB cut at %d bytes sent, resumed from %d: uploaded in %s (%.0f MB/s), read back through its link in %s (%.0f MB/s)",
					sqlName, fileName, sent, resumedAt, uploadTook.Round(time.Millisecond), size/1e6/uploadTook.Seconds(),
					readTook.Round(time.Millisecond), size/1e6/readTook.Seconds())
			})
		}
	}
}

// cutPatch sends a PATCH of all of data from offset 0 on a connection of its own and closes the
// connection after cut bytes of the body, as a link that fails mid-upload; it returns the
// bytes written.
func cutPatch(t *testing.T, upload, key string, data []byte, cut int) int {
	t.Helper()
	u, err := url.Parse(upload)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"+
		"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, key, len(data))
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Write(data[:cut])
	if err != nil {
		t.Fatalf("writing the first part: %v", err)
	}
	return n
}
