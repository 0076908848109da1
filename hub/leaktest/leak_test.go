package leaktest

import (
	"fmt"
	"strings"
	"testing"
)

// personal are the secrets of the tests: a name, a resident ID number, a mobile number and a
// home address, as connectortest.Personal has them.
var personal = []string{"李秀英", "11010519491231002X", "13912345678", "江苏省连云港市赣榆区青口镇黄海路88号3幢2单元501室"}

func TestLeaks(t *testing.T) {
	secrets := personal
	tests := []struct {
		name     string
		haystack string
		leaks    int
	}{
		{"text without personal data is clean", `level=WARN msg="attempt failed" status=503 case_id=cs_01J`, 0},
		{"a fully masked ID number and mobile are clean", "证件号码 ****************** 与手机 *********** 不符", 0},
		{"an ID number masked to region and last four is clean", "110105********002X", 0},
		{"a mobile masked in the middle is clean", "手机 139****5678", 0},
		{"the province and city of an address are clean", "江苏省连云港市的申请", 0},
		{"a redacted endpoint is clean", `endpoint=http://127.0.0.1:4242/intake key=xxxxx`, 0},
		{"an ID number verbatim leaks", "SFZHM=11010519491231002X", 1},
		{"an ID number with a lower-case x leaks", "sfzhm: 11010519491231002x", 1},
		{"an ID number showing its birth date leaks", "110105 19491231 ****", 1},
		{"an ID number with three characters masked leaks", "11010519491231***X", 1},
		{"an ID number split by spaces leaks", "1101 0519 4912 3100 2X", 1},
		{"a mobile verbatim leaks", "LXDH=13912345678", 1},
		{"a mobile with only three digits masked leaks", "13912345***", 1},
		{"a mobile with +86 and hyphens leaks", "+86 139-1234-5678", 1},
		{"a name verbatim leaks", "申请人李秀英", 1},
		{"a name JSON-escaped leaks", `"\u674e\u79c0\u82f1"`, 1},
		{"a URL-escaped address leaks", "addr=%E6%B1%9F%E8%8B%8F%E7%9C%81%E8%BF%9E%E4%BA%91%E6%B8%AF%E5%B8%82%E8%B5%A3%E6%A6%86%E5%8C%BA%E9%9D%92%E5%8F%A3%E9%95%87%E9%BB%84%E6%B5%B7%E8%B7%AF88%E5%8F%B73%E5%B9%A22%E5%8D%95%E5%85%83501%E5%AE%A4", 1},
		{"the street and number of an address leak", "经营场所 黄海路88号3幢2单元501室", 1},
		{"an address with its province cut off leaks", "连云港市赣榆区青口镇黄海路88号", 1},
		{"each secret is reported", "李秀英 11010519491231002X 13912345678", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Leaks(tc.haystack, secrets...)
			if len(got) != tc.leaks {
				t.Errorf("Leaks(%q) = %d findings, want %d:\n%s", tc.haystack, len(got), tc.leaks, strings.Join(got, "\n"))
			}
		})
	}
}

func TestAssertNoLeakFailsTheTest(t *testing.T) {
	var rec recordingTB
	AssertNoLeak(&rec, "mobile 13912345678", personal...)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "13912345678") {
		t.Errorf("AssertNoLeak reported %q, want one error naming the mobile", rec.errors)
	}
	rec.errors = nil
	AssertNoLeak(&rec, "mobile ***********", personal...)
	AssertNoLeak(&rec, "anything", "", "")
	if len(rec.errors) != 0 {
		t.Errorf("AssertNoLeak reported %q for clean text", rec.errors)
	}
}

// recordingTB keeps the errors a helper reports instead of failing the test.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
