package cases

import (
	"strings"
	"testing"
	"time"
)

func TestTheCheckCharacterIsTheResidentIDNumbers(t *testing.T) {
	// GB 11643's own example numbers, whose last character is ISO 7064 MOD 11-2.
	for _, id := range []string{"11010519491231002X", "440524188001010014"} {
		if got := mod11_2(id[:17]); got != id[17] {
			t.Errorf("the check character of %s… is %c, GB 11643 has %c", id[:17], got, id[17])
		}
	}
}

func TestACaseNumberReadsAsDocumented(t *testing.T) {
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	n := caseNumber("320707", day, 7, 42)
	if !strings.HasPrefix(n, "320707-20261205-07-00042-") || len(n) != len("320707-20261205-07-00042-5") {
		t.Fatalf("case number %q is not division-date-bundle-sequence-check", n)
	}
	if !ValidCaseNumber(n) {
		t.Fatalf("%q is refused by ValidCaseNumber", n)
	}
	if long := caseNumber("320707", day, 7, 123456); !ValidCaseNumber(long) || !strings.Contains(long, "-123456-") {
		t.Errorf("past 99999 cases a day the sequence grows: %q", long)
	}
	// Every single wrong digit and every swap of two neighbouring different digits is caught.
	body := strings.ReplaceAll(n[:len(n)-2], "-", "")
	for i := 0; i < len(body); i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == body[i] {
				continue
			}
			wrong := body[:i] + string(d) + body[i+1:]
			if mod11_2(wrong) == n[len(n)-1] {
				t.Errorf("digit %d changed to %c keeps the check character", i, d)
			}
		}
		if i+1 < len(body) && body[i] != body[i+1] {
			swapped := body[:i] + string(body[i+1]) + string(body[i]) + body[i+2:]
			if mod11_2(swapped) == n[len(n)-1] {
				t.Errorf("digits %d and %d swapped keep the check character", i, i+1)
			}
		}
	}
	for _, bad := range []string{"", "320707-20261205-07-00042", "320707-20261305-07-00042-" + n[len(n)-1:],
		"32070-20261205-07-00042-" + n[len(n)-1:], "320707-20261205-7-00042-" + n[len(n)-1:], "320707-2026120A-07-00042-" + n[len(n)-1:]} {
		if ValidCaseNumber(bad) {
			t.Errorf("ValidCaseNumber(%q) holds", bad)
		}
	}
}

func TestADivisionIsSixDigits(t *testing.T) {
	for s, want := range map[string]bool{"320707": true, "32070": false, "3207071": false, "32070a": false} {
		if isDivision(s) != want {
			t.Errorf("isDivision(%q) = %v", s, !want)
		}
	}
}

// FuzzCaseNumber: every number caseNumber writes is valid, and ValidCaseNumber never panics.
func FuzzCaseNumber(f *testing.F) {
	f.Add("320707-20261205-07-00042-5", 7, int64(42))
	f.Fuzz(func(t *testing.T, s string, bundleSeq int, seq int64) {
		_ = ValidCaseNumber(s)
		if bundleSeq < 1 || bundleSeq > 99 || seq < 1 {
			return
		}
		n := caseNumber("320707", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), bundleSeq, seq)
		if !ValidCaseNumber(n) {
			t.Fatalf("caseNumber wrote %q, which ValidCaseNumber refuses", n)
		}
	})
}
