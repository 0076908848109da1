package catalogue_test

import (
	"testing"

	"yjshub/format"
	"yjshub/problem"
)

// The field dictionary's format checks (package format) report its format's name as the rule: each has its Chinese wording.
func TestEveryFormatHasAChineseTemplate(t *testing.T) {
	names := format.Names()
	if len(names) == 0 {
		t.Fatal("format.Names() is empty")
	}
	for _, name := range names {
		if !problem.HasZHTemplate(name) {
			t.Errorf("format %s has no Chinese template in problem/zh.go", name)
		}
	}
}
