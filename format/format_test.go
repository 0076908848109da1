package format

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// withResidentIDCheck computes the MOD 11-2 check character for 17 digits, independently of
// the table the checker uses, from the standard's definition: a_i weights are 2^(17-i) mod 11.
func withResidentIDCheck(body string) string {
	sum := 0
	for i := 0; i < 17; i++ {
		w := 1
		for k := 0; k < 17-i; k++ {
			w = w * 2 % 11
		}
		sum += int(body[i]-'0') * w
	}
	c := (12 - sum%11) % 11
	if c == 10 {
		return body + "X"
	}
	return body + string(rune('0'+c))
}

func TestResidentID(t *testing.T) {
	valid := []string{
		"11010519491231002X", // the standard's own example
		withResidentIDCheck("32070719900307001"),
		withResidentIDCheck("32072420000229123"), // a leap day
	}
	for _, v := range valid {
		if err := CheckResidentID(v); err != nil {
			t.Errorf("a valid number was refused: %v", err)
		}
	}
	good := withResidentIDCheck("32070719900307001")
	flipped := []byte(good)
	flipped[16] = '0' + (flipped[16]-'0'+1)%10
	cases := []struct {
		name, value, reason string
	}{
		{"a wrong check character is refused", string(flipped), "check character"},
		{"a lower-case x is refused", "11010519491231002x", "digit or X"},
		{"17 characters are refused", good[:17], "18 characters"},
		{"a letter inside is refused", "3207071990030700A1", "digit"},
		{"an impossible date is refused", withResidentIDCheck("32070719900230001"), "birth date"},
		{"a future birth date is refused", withResidentIDCheck("32070721990101001"), "out of range"},
		{"an unknown province is refused", withResidentIDCheck("99070719900307001"), "division"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, CheckResidentID, GB11643, c.value, c.reason) })
	}
}

// assertRefused checks that check refuses value with a *Error of rule whose message says
// reason and does not repeat the value.
func assertRefused(t *testing.T, check func(string) error, rule, value, reason string) {
	t.Helper()
	err := check(value)
	if err == nil {
		t.Fatal("accepted")
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q does not say %q", err, reason)
	}
	if strings.Contains(err.Error(), value) {
		t.Fatalf("error %q repeats the value", err)
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Rule != rule {
		t.Fatalf("error is not a *Error with rule %s: %#v", rule, err)
	}
}

func TestResidentIDBirthDateUsesClock(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	id := withResidentIDCheck("32070720300101001")
	now = func() time.Time { return time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC) }
	if err := CheckResidentID(id); err == nil {
		t.Fatal("a birth date after today was accepted")
	}
	now = func() time.Time { return time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC) }
	if err := CheckResidentID(id); err != nil {
		t.Fatalf("a birth date before today was refused: %v", err)
	}
}

// gb32100Alphabet is the standard's code character set, values 0-30 in order (no I, O, S, V,
// Z), written out here rather than taken from the checker.
const gb32100Alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// gb32100Weights is the standard's table of weights W_i for the 17 characters before the
// check character.
var gb32100Weights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// withUSCCCheck appends the GB 32100 check character, computed from the standard's
// definition: weights 3^i mod 31 (the table above), C18 = 31 - (Σ C_i·W_i mod 31), where 31
// is written as 0.
func withUSCCCheck(body string) string {
	sum, w := 0, 1
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(gb32100Alphabet, body[i]) * w
		w = w * 3 % 31
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return body + string(gb32100Alphabet[c])
}

// usccEndingIn returns a valid code whose check character is c, found by varying the 17th
// character, which the check character follows one to one (its weight, 28, is prime to 31).
func usccEndingIn(t testing.TB, c byte) string {
	t.Helper()
	for i := 0; i < len(gb32100Alphabet); i++ {
		if code := withUSCCCheck("91320707MA1XYW12" + gb32100Alphabet[i:i+1]); code[17] == c {
			return code
		}
	}
	t.Fatalf("no 17th character gives the check character %c", c)
	return ""
}

// The weights are 3^i mod 31: the definition withUSCCCheck uses gives the standard's table.
func TestUSCCWeightsAreTheStandardsTable(t *testing.T) {
	w := 1
	for i, want := range gb32100Weights {
		if w != want {
			t.Errorf("W_%d = %d by 3^i mod 31, the standard's table has %d", i+1, w, want)
		}
		w = w * 3 % 31
	}
}

func TestUSCC(t *testing.T) {
	valid := []string{
		"91350100M000100Y43", // the standard's example
		withUSCCCheck("91320707MA1XYW123"),
		withUSCCCheck("92320707MA1ABCDE5"), // 个体工商户
		withUSCCCheck("52320707509876543"), // 民办非企业单位
		usccEndingIn(t, 'Y'),               // the sum is 1 mod 31: C18 = 30, the alphabet's last
		usccEndingIn(t, '0'),               // the sum is 0 mod 31: C18 = 31, written as 0
	}
	for _, v := range valid {
		if err := CheckUSCC(v); err != nil {
			t.Errorf("a valid code %s was refused: %v", v, err)
		}
	}
	endsInY, endsIn0 := usccEndingIn(t, 'Y'), usccEndingIn(t, '0')
	cases := []struct{ name, value, reason string }{
		{"a wrong check character is refused", "91350100M000100Y44", "check character"},
		{"0 where the check character is Y is refused", endsInY[:17] + "0", "check character"},
		{"1 where the check character is 0 is refused", endsIn0[:17] + "1", "check character"},
		{"a letter outside the alphabet is refused", "91350100M000100O43", "alphabet"},
		{"lower case is refused", "91350100m000100Y43", "alphabet"},
		{"a short code is refused", "91350100M000100Y4", "18 characters"},
		{"an unknown registration authority is refused", withUSCCCheck("B1320707MA1XYW123"), "registration authority"},
		{"a category the authority lacks is refused", withUSCCCheck("95320707MA1XYW123"), "institution category"},
		{"a non-numeric division is refused", withUSCCCheck("913207A7MA1XYW123"), "division"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, CheckUSCC, GB32100, c.value, c.reason) })
	}
}

func TestOtherFormats(t *testing.T) {
	cases := []struct {
		format, value string
		ok            bool
	}{
		{Mobile, "13912345678", true},
		{Mobile, "19912345678", true},
		{Mobile, "12912345678", false},
		{Mobile, "1391234567", false},
		{Mobile, "+8613912345678", false},
		{GB2260, "320707", true},
		{GB2260, "320000", true},
		{GB2260, "429004", true}, // 仙桃市, a directly administered county-level city
		{GB2260, "990707", false},
		{GB2260, "328007", false},
		{GB2260, "320007", false},
		{GB2260, "32070", false},
		{Email, "a.b@example.com", true},
		{Email, "张 <a@example.com>", false},
		{Email, "not-an-address", false},
		{Postcode, "222100", true},
		{Postcode, "22210", false},
		{Phone, "0518-86212345", true},
		{Phone, "02512345678", true},
		{Phone, "025-12345678-801", true},
		{Phone, "13912345678", false},
	}
	for _, c := range cases {
		err := Check(c.format, c.value)
		if (err == nil) != c.ok {
			t.Errorf("%s(%q): got error %v, want ok=%v", c.format, c.value, err, c.ok)
		}
		if err != nil && strings.Contains(err.Error(), c.value) {
			t.Errorf("%s: error %q repeats the value", c.format, err)
		}
	}
	if err := Check("nope", "x"); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("an unknown format was not reported: %v", err)
	}
}

// The division list: current codes pass, an abolished one is refused with the year it was last
// listed, a well-formed code that was never listed is refused, and a resident ID keeps only the
// structural check on its first six digits.
func TestDivisionCodeList(t *testing.T) {
	cases := []struct {
		code, reason string // reason "" = accepted
	}{
		{"320707", ""}, // 赣榆区 (since 2014)
		{"320700", ""}, // 连云港市
		{"320771", ""}, // 连云港经济技术开发区, a development-zone code
		{"810000", ""}, // 香港特别行政区
		{"659010", ""}, // 胡杨河市, listed in 2023
		{"320721", "abolished administrative division code (last listed in 2013)"}, // 赣榆县
		{"320705", "abolished administrative division code (last listed in 2013)"}, // 新浦区
		{"320799", "not an administrative division code in the current list"},
		{"321400", "not an administrative division code in the current list"},
	}
	for _, c := range cases {
		err := CheckDivisionCode(c.code)
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: %v", c.code, err)
		case c.reason != "" && (err == nil || !strings.Contains(err.Error(), c.reason)):
			t.Errorf("%s: got %v, want an error saying %q", c.code, err, c.reason)
		case err != nil && strings.Contains(err.Error(), c.code):
			t.Errorf("%s: error %q repeats the value", c.code, err)
		}
	}
	if name, current, ok := DivisionName("320721"); !ok || current || name != "赣榆县" {
		t.Errorf("DivisionName(320721) = %q, %v, %v", name, current, ok)
	}
	if name, current, ok := DivisionName("320707"); !ok || !current || name != "赣榆区" {
		t.Errorf("DivisionName(320707) = %q, %v, %v", name, current, ok)
	}
	if err := CheckResidentID(withResidentIDCheck("32072119800101001")); err != nil {
		t.Errorf("a resident ID registered in 赣榆县 (abolished) was refused: %v", err)
	}
}

func TestMaskDigits(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"an 18-character ID number with X", "身份证 11010519491231002X 不符", "身份证 ****************** 不符"},
		{"an 18-digit ID number", "id=110105194912310021;", "id=******************;"},
		{"a lower-case x ends an ID number too", "110105194912310021x.", "*******************."},
		{"an old 15-digit ID number", "110105491231002", "***************"},
		{"an 11-digit mobile", "手机13812345678", "手机***********"},
		{"a mobile with +86", "+8613812345678", "+*************"},
		{"short numbers stay", "HTTP 503, 3 attempts, port 19092, 2026-12-11", "HTTP 503, 3 attempts, port 19092, 2026-12-11"},
		{"a 10-digit number stays", "1234567890", "1234567890"},
		{"an X after a short number stays", "10X", "10X"},
		{"several at once", "a 13812345678 b 11010519491231002X", "a *********** b ******************"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskDigits(tc.in); got != tc.want {
				t.Errorf("MaskDigits(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzResidentID(f *testing.F) {
	for _, seed := range []string{
		"11010519491231002X", // the standard's example
		"320707199003070016",
		withResidentIDCheck("32070719900307001"),
		withResidentIDCheck("32072420000229123"), // a leap day
		withResidentIDCheck("32072419000101002"), // the first year allowed
		withResidentIDCheck("32072418991231002"), // the year before
		withResidentIDCheck("32070719000229001"), // 1900 was no leap year
		withResidentIDCheck("32070721990101001"), // born in the future
		withResidentIDCheck("99070719900307001"), // no such province
		"11010519491231002x",                     // lower-case x
		"11010519491231002",                      // 17 characters
		"",
	} {
		f.Add(seed)
	}
	// Check characters 0 and X (values 0 and 10, the ends of the MOD 11-2 range).
	for body := 32070719900307000; body < 32070719900307100; body++ {
		id := withResidentIDCheck(strconv.Itoa(body))
		if id[17] == 'X' || id[17] == '0' {
			f.Add(id)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckResidentID(s)
		if err == nil && (len(s) != 18 || withResidentIDCheck(s[:17]) != s) {
			t.Fatalf("accepted %q whose check character is wrong", s)
		}
		if err != nil && len(s) >= 6 && strings.Contains(err.Error(), s) {
			t.Fatalf("error repeats the value: %v", err)
		}
		// The first 17 characters given the check character the standard computes: never
		// refused for it, and every other check character refused.
		if len(s) < 17 || strings.Trim(s[:17], "0123456789") != "" {
			return
		}
		id := withResidentIDCheck(s[:17])
		err = CheckResidentID(id)
		if err != nil {
			if strings.Contains(err.Error(), "check character") {
				t.Fatalf("%s, whose check character follows the standard, was refused for it: %v", id, err)
			}
			return
		}
		for _, c := range "0123456789X" {
			if c != rune(id[17]) && CheckResidentID(id[:17]+string(c)) == nil {
				t.Fatalf("%s was accepted with check character %c besides %c", id[:17], c, id[17])
			}
		}
	})
}

func FuzzUSCC(f *testing.F) {
	for _, seed := range []string{
		"91350100M000100Y43", // the standard's example
		usccEndingIn(f, 'Y'),
		usccEndingIn(f, '0'),
		withUSCCCheck("92320707MA1ABCDE5"),
		withUSCCCheck("52320707509876543"),
		withUSCCCheck("Y1320707MA1XYW123"), // registration authority Y
		withUSCCCheck("N5320707MA1XYW123"), // a category authority N lacks
		"91350100M000100Y4",                // 17 characters
		"91350100M000100O43",               // O is not in the alphabet
		"91350100m000100Y43",               // lower case
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckUSCC(s)
		if err == nil && withUSCCCheck(s[:17]) != s {
			t.Fatalf("accepted %q whose check character is wrong", s)
		}
		if err != nil && len(s) >= 6 && strings.Contains(err.Error(), s) {
			t.Fatalf("error repeats the value: %v", err)
		}
		// The first 17 characters given the check character the standard computes: never
		// refused for it, and every other check character refused.
		if len(s) < 17 || strings.Trim(s[:17], gb32100Alphabet) != "" {
			return
		}
		code := withUSCCCheck(s[:17])
		err = CheckUSCC(code)
		if err != nil {
			if strings.Contains(err.Error(), "check character") {
				t.Fatalf("%s, whose check character follows the standard, was refused for it: %v", code, err)
			}
			return
		}
		for i := 0; i < len(gb32100Alphabet); i++ {
			if c := gb32100Alphabet[i]; c != code[17] && CheckUSCC(code[:17]+string(c)) == nil {
				t.Fatalf("%s was accepted with check character %c besides %c", code[:17], c, code[17])
			}
		}
	})
}
