package uploads_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

// vanishingBlobs answers its first Put as a store that has the bytes already, without keeping
// them: as if the retention sweeper deleted them between that Put and the material's row.
type vanishingBlobs struct {
	*memBlobs
	vanished atomic.Bool
}

func (b *vanishingBlobs) Put(ctx context.Context, sum string, size int64, ct string, r io.Reader) (bool, error) {
	if b.vanished.CompareAndSwap(false, true) {
		return false, nil
	}
	return b.memBlobs.Put(ctx, sum, size, ct, r)
}

// A finished upload whose bytes a retention removal deleted after the upload's Put found them
// stored puts them again before it answers: a material is never recorded without its bytes.
func TestRetentionAFinishedUploadPutsItsBytesAgainWhenARemovalDeletedThemMeanwhile(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		var vb *vanishingBlobs
		e := newEnv(t, open, fl, func(c *uploads.Config) {
			vb = &vanishingBlobs{memBlobs: c.Blobs.(*memBlobs)}
			c.Blobs = vb
		})
		data := pdf(20_000)
		loc := e.create(keyAlpha, len(data), pdfMeta())
		resp := e.patch(keyAlpha, loc, 0, data, nil)
		id := resp.Header.Get(uploads.HeaderMaterialID)
		if resp.StatusCode != http.StatusNoContent || id == "" {
			t.Fatalf("completing PATCH: %d, material %q", resp.StatusCode, id)
		}
		sum := sha256.Sum256(data)
		if !vb.vanished.Load() || !slices.Equal(e.blobs.keys(), []string{hex.EncodeToString(sum[:])}) {
			t.Fatalf("the blob store holds %v after the finish; want the material's bytes, put again", e.blobs.keys())
		}
	})
}

// A material's record says when retention removed it.
func TestRetentionTheRecordOfARemovedMaterialSaysWhen(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite, flightStores[0], nil)
	data := pdf(5_000)
	loc := e.create(keyAlpha, len(data), pdfMeta())
	id := e.patch(keyAlpha, loc, 0, data, nil).Header.Get(uploads.HeaderMaterialID)
	if _, m := e.material(keyAlpha, id); m["removed_at"] != nil {
		t.Fatalf("a kept material's record says removed_at %v", m["removed_at"])
	}
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	db := e.store.DB()
	if _, err := db.Exec(db.Rebind(`UPDATE materials_uploaded SET expires_at = ?, removed_at = ? WHERE id = ?`), store.NewTimestamp(at), store.NewTimestamp(at), id); err != nil {
		t.Fatal(err)
	}
	status, m := e.material(keyAlpha, id)
	if status != http.StatusOK || m["removed_at"] != at.Format(time.RFC3339) || m["expires_at"] != at.Format(time.RFC3339) {
		t.Fatalf("the removed material's record: %d %v; want removed_at and expires_at %s", status, m, at.Format(time.RFC3339))
	}
}
