package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/metrics"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// The material collector shows, on every backend, the material objects kept and those
// retention removed, each with their sizes.
func TestTheMaterialCollectorCountsMaterialsHeldAndRemoved(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			c := metrics.NewMaterialCollector(st, 10*time.Second)
			check := func(held, heldBytes, removed, removedBytes string) {
				t.Helper()
				want := `
# HELP yjshub_materials_held Material objects (uploaded files) the hub keeps.
# TYPE yjshub_materials_held gauge
yjshub_materials_held ` + held + `
# HELP yjshub_materials_held_bytes Sizes of the material objects the hub keeps, in bytes (bytes shared by several objects count for each).
# TYPE yjshub_materials_held_bytes gauge
yjshub_materials_held_bytes ` + heldBytes + `
# HELP yjshub_materials_removed_bytes_total Sizes of the material objects removed when their retention ended, in bytes.
# TYPE yjshub_materials_removed_bytes_total counter
yjshub_materials_removed_bytes_total ` + removedBytes + `
# HELP yjshub_materials_removed_total Material objects removed when their retention ended.
# TYPE yjshub_materials_removed_total counter
yjshub_materials_removed_total ` + removed + `
`
				if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
					t.Fatal(err)
				}
			}
			check("0", "0", "0", "0")
			now := store.NewTimestamp(time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC))
			db := st.DB()
			for i, size := range []int{1000, 250, 4000} {
				var removed any
				if i == 2 {
					removed = now
				}
				if _, err := db.Exec(db.Rebind(`INSERT INTO materials_uploaded (id, sha256, size, content_type, filename, type, owner, holder, created_at, removed_at)
					VALUES (?, ?, ?, 'application/pdf', 'f.pdf', 'id-card', 'platform-a', 'h', ?, ?)`), "mo_"+string(rune('a'+i)), strings.Repeat("ab", 32), size, now, removed); err != nil {
					t.Fatal(err)
				}
			}
			check("2", "1250", "1", "4000")
		})
	}
}
