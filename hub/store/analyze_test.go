package store_test

import (
	"testing"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// Migrating analyses the tables, so that a fresh database's first cases are planned with
// statistics: SQLite has its sqlite_stat1, PostgreSQL's reltuples is no longer -1 ("never").
func TestMigratingAnalysesTheTables(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			db := st.DB()
			q := `SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'`
			if st.Dialect() == store.DialectPostgres {
				q = `SELECT COUNT(*) FROM pg_class WHERE relname = 'cases' AND relnamespace = to_regnamespace(current_schema()) AND reltuples >= 0`
			}
			var n int
			if err := db.GetContext(t.Context(), &n, q); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("after migrating, the tables were not analysed (%s)", q)
			}
		})
	}
}
