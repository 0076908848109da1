package tusclient_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/hub/store/storetest"
	"yjshub/tusclient"
	"yjshub/tusclient/tustest"
)

// holder is an applicant's ID number, which must never reach an error string.
const holder = "11010519491231002X"

func eachBackend(t *testing.T, test func(t *testing.T, name string, open storetest.Opener)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) { test(t, name, open) })
	}
}

func pdfOf(t *testing.T, size int) ([]byte, string) {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	copy(data, "%PDF-1.7\n")
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

func client(h *tustest.Hub, state *tusclient.State) *tusclient.Client {
	return &tusclient.Client{
		Endpoint:  h.Endpoint(),
		Header:    http.Header{"Authorization": {"Bearer " + tustest.Key}},
		State:     state,
		RetryWait: time.Millisecond,
	}
}

func fileOf(data []byte, sum string) tusclient.File {
	return tusclient.File{Body: bytes.NewReader(data), Size: int64(len(data)), SHA256: sum,
		Filename: "licence.pdf", Type: "licence", Holder: holder}
}

func TestAnUploadCutOffIsResumedByTheNextRunFromTheStateFile(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string, open storetest.Opener) {
		h := tustest.New(t, open, tustest.Options{})
		const size = 20_000_000
		data, sum := pdfOf(t, size)
		statePath := filepath.Join(t.TempDir(), "uploads.json")

		// The first run is stopped once three chunks (12 MiB) are through, as a user's ^C.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := client(h, tusclient.OpenState(statePath))
		_, err := c.Upload(ctx, fileOf(data, sum), func(sent int64) {
			if sent >= 3*tusclient.DefaultChunkSize {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the interrupted run: %v, want context.Canceled", err)
		}
		saved, err := os.ReadFile(statePath)
		if err != nil || !strings.Contains(string(saved), sum) {
			t.Fatalf("the state file after the interruption: %q, %v; want an entry of %s", saved, err, sum)
		}
		if strings.Contains(string(saved), holder) {
			t.Errorf("the state file holds the holder: %s", saved)
		}
		patchesBefore := h.Patches()

		// A second run, a new process as far as the client knows: a new Client on the file.
		start := time.Now()
		var last int64
		res, err := client(h, tusclient.OpenState(statePath)).Upload(t.Context(), fileOf(data, sum), func(sent int64) { last = sent })
		if err != nil {
			t.Fatalf("the resumed run: %v", err)
		}
		elapsed := time.Since(start)
		if res.ResumedAt < 2*tusclient.DefaultChunkSize || res.ResumedAt >= size {
			t.Errorf("resumed at %d, want at least the two chunks the first run finished (%d) and less than %d",
				res.ResumedAt, 2*tusclient.DefaultChunkSize, size)
		}
		if last != size {
			t.Errorf("the last progress is %d, want %d", last, size)
		}
		// 20 MB from at least 8 MiB in chunks of 4 MiB: three PATCHes at most.
		if n := h.Patches() - patchesBefore; n > 3 {
			t.Errorf("the resumed run sent %d PATCHes, want 3 at most (it started over?)", n)
		}
		m := h.Material(res.MaterialID)
		if m.SHA256 != sum || m.Size != size || m.ContentType != "application/pdf" {
			t.Errorf("material = %s %d %s, want %s %d application/pdf", m.SHA256, m.Size, m.ContentType, sum, size)
		}
		saved, err = os.ReadFile(statePath)
		if err != nil || strings.Contains(string(saved), sum) {
			t.Errorf("the state file after the upload: %q, %v; want no entry of %s", saved, err, sum)
		}
		t.Logf("%s: %.1f MB/s for the resumed %d of %d bytes", backend,
			float64(size-res.ResumedAt)/1e6/elapsed.Seconds(), size-res.ResumedAt, size)
	})
}

func TestAChunkTheHubCannotTakeIsSentAgainWithinTheRun(t *testing.T) {
	h := tustest.New(t, storetest.OpenSQLite, tustest.Options{})
	h.FailPatch = func(n int) bool { return n == 2 || n == 3 }
	data, sum := pdfOf(t, 10_000_000)
	res, err := client(h, nil).Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if m := h.Material(res.MaterialID); m.SHA256 != sum {
		t.Errorf("material sha256 %s, want %s", m.SHA256, sum)
	}
	// Three chunks and the two refused sends.
	if h.Patches() != 5 {
		t.Errorf("%d PATCHes, want 5", h.Patches())
	}
}

func TestAChunkRefusedMoreOftenThanRetriesEndsTheRunAndIsKeptForTheNext(t *testing.T) {
	h := tustest.New(t, storetest.OpenSQLite, tustest.Options{})
	h.FailPatch = func(n int) bool { return n >= 2 && n <= 5 }
	data, sum := pdfOf(t, 5_000_000)
	statePath := filepath.Join(t.TempDir(), "uploads.json")
	_, err := client(h, tusclient.OpenState(statePath)).Upload(t.Context(), fileOf(data, sum), nil)
	var he *tusclient.Error
	if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable {
		t.Fatalf("Upload: %v, want the hub's 503", err)
	}
	res, err := client(h, tusclient.OpenState(statePath)).Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil {
		t.Fatalf("the next run: %v", err)
	}
	if res.ResumedAt != tusclient.DefaultChunkSize {
		t.Errorf("resumed at %d, want %d", res.ResumedAt, tusclient.DefaultChunkSize)
	}
}

func TestARememberedUploadTheHubNoLongerHasIsStartedOver(t *testing.T) {
	h := tustest.New(t, storetest.OpenSQLite, tustest.Options{})
	data, sum := pdfOf(t, 100_000)
	statePath := filepath.Join(t.TempDir(), "uploads.json")
	stale := `{"` + sum + ` ` + h.Endpoint() + `": {"endpoint": "` + h.Endpoint() + `", "url": "` + h.Endpoint() + `/0123456789abcdef", "size": 100000}}`
	if err := os.WriteFile(statePath, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := client(h, tusclient.OpenState(statePath)).Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if res.ResumedAt != -1 || h.Material(res.MaterialID).SHA256 != sum {
		t.Errorf("resumed at %d, material %s; want a new upload of %s", res.ResumedAt, res.MaterialID, sum)
	}
}

func TestARefusedUploadSaysWhyWithoutTheMetadata(t *testing.T) {
	h := tustest.New(t, storetest.OpenSQLite, tustest.Options{})
	data, sum := pdfOf(t, 1000)
	f := fileOf(data, sum)
	f.Type = "no-such-type"
	_, err := client(h, nil).Upload(t.Context(), f, nil)
	var he *tusclient.Error
	if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity || he.Op != "create" {
		t.Fatalf("Upload: %v, want create refused with 422", err)
	}
	if !strings.Contains(err.Error(), "type") {
		t.Errorf("the error %q does not name the type", err)
	}
	if strings.Contains(err.Error(), holder) {
		t.Errorf("the error carries the holder: %q", err)
	}

	// A file whose bytes are not the sha256 declared is refused when it completes.
	f = fileOf(data, strings.Repeat("0", 64))
	_, err = client(h, nil).Upload(t.Context(), f, nil)
	if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity {
		t.Fatalf("Upload with a wrong sha256: %v, want 422", err)
	}
}

func TestAFinishedUploadIsReusedWhenReuseSaysTheMaterialWillDo(t *testing.T) {
	h := tustest.New(t, storetest.OpenSQLite, tustest.Options{})
	data, sum := pdfOf(t, 6_000_000)
	statePath := filepath.Join(t.TempDir(), "uploads.json")
	var asked []string
	fits := true
	c := client(h, tusclient.OpenState(statePath))
	c.Reuse = func(_ context.Context, id string, f tusclient.File) bool {
		asked = append(asked, id)
		return fits && f.SHA256 == sum
	}
	first, err := c.Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil || first.Reused {
		t.Fatalf("first upload: %+v, %v", first, err)
	}
	patches := h.Patches()

	again, err := c.Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil || !again.Reused || again.MaterialID != first.MaterialID || h.Patches() != patches {
		t.Fatalf("second upload: %+v, %v, %d PATCHes more; want %s reused and nothing sent", again, err, h.Patches()-patches, first.MaterialID)
	}
	if len(asked) != 1 || asked[0] != first.MaterialID {
		t.Errorf("Reuse asked about %v, want [%s]", asked, first.MaterialID)
	}

	// A material that will not do (gone, or of another type) is made anew.
	fits = false
	third, err := c.Upload(t.Context(), fileOf(data, sum), nil)
	if err != nil || third.Reused || third.MaterialID == first.MaterialID || h.Patches() == patches {
		t.Fatalf("third upload: %+v, %v; want a new material, sent", third, err)
	}
	if m := h.Material(third.MaterialID); m.SHA256 != sum {
		t.Errorf("material %s, want %s", m.SHA256, sum)
	}
}
