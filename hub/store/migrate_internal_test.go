package store

import (
	"strings"
	"testing"
)

func TestEveryDialectVariantHasATwinForEveryDialect(t *testing.T) {
	t.Parallel()
	dialects := []string{DialectPostgres, DialectSQLite}
	variants := map[string]map[string]bool{} // NNNNN_name → dialects
	for _, name := range migrationNames() {
		d := variantDialect(name)
		if d == "" {
			continue
		}
		if _, ok := gooseDialects[d]; !ok {
			t.Errorf("%s: unknown dialect %q", name, d)
		}
		stem := strings.TrimSuffix(strings.TrimSuffix(name, ".sql"), "."+d)
		if variants[stem] == nil {
			variants[stem] = map[string]bool{}
		}
		variants[stem][d] = true
	}
	for stem, have := range variants {
		for _, d := range dialects {
			if !have[d] {
				t.Errorf("migration %s has no %s variant", stem, d)
			}
		}
	}
}
