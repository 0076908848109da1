package format

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Numbers of each identity document the hub takes, valid and refused, each refusal with the
// words it must give.
func TestIdentityDocumentNumbers(t *testing.T) {
	complete := func(body string) string {
		t.Helper()
		n, err := CompleteResidentID(body)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	taiwan := complete("83000019900307002")
	valid := []struct {
		name, format, value string
	}{
		{"a Taiwan resident's residence permit", ResidencePermitHMT, taiwan},
		{"a Hong Kong resident's residence permit", ResidencePermitHMT, complete("81000019851120001")},
		{"a Macau resident's residence permit", ResidencePermitHMT, complete("82000020000229004")},
		{"a permanent residence card issued in Jiangsu to a national of country 840", ForeignPermanentResident, complete("93284019800101001")},
		{"a permanent residence card issued in Beijing", ForeignPermanentResident, complete("91115619921231002")},
		{"a passport of letters and digits", Passport, "E12345678"},
		{"a passport of digits only", Passport, "12345"},
		{"a passport of twenty characters", Passport, "ABCDEFGHIJ0123456789"},
	}
	for _, v := range valid {
		t.Run(v.name+" is accepted", func(t *testing.T) {
			if err := Check(v.format, v.value); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	wrongCheck := []byte(taiwan)
	wrongCheck[17] = "0123456789"[(taiwan[17]-'0'+1)%10]
	refused := []struct {
		name, format, value, reason string
	}{
		{"a residence permit with a wrong check digit", ResidencePermitHMT, string(wrongCheck), "check character"},
		{"a residence permit with a mainland division code", ResidencePermitHMT, complete("32070719900307001"), "810000"},
		{"a residence permit with 840000", ResidencePermitHMT, complete("84000019900307001"), "830000"},
		{"a residence permit with an impossible birth date", ResidencePermitHMT, complete("83000019900230001"), "birth date"},
		{"a residence permit of 17 characters", ResidencePermitHMT, taiwan[:17], "18 characters"},
		{"a permanent residence number starting with a province", ForeignPermanentResident, complete("32284019800101001"), "first digit must be 9"},
		{"a permanent residence number issued in Taiwan", ForeignPermanentResident, complete("97184019800101001"), "mainland"},
		{"a permanent residence number with country 000", ForeignPermanentResident, complete("93200019800101001"), "country code"},
		{"a permanent residence number born in the future", ForeignPermanentResident, complete("93284021990101001"), "out of range"},
		{"a permanent residence number of the 2017 edition", ForeignPermanentResident, "USA320719900307", "18 characters"},
		{"a passport of four characters", Passport, "E123", "5 to 20"},
		{"a passport in lower case", Passport, "e12345678", "upper case"},
		{"a passport with a space", Passport, "E 12345678", "not a letter or a digit"},
		{"a passport of 21 characters", Passport, "ABCDEFGHIJ01234567890", "5 to 20"},
	}
	for _, c := range refused {
		t.Run(c.name+" is refused", func(t *testing.T) {
			check, _ := Lookup(c.format)
			assertRefused(t, check, c.format, c.value, c.reason)
		})
	}
}

// An 830000… number is what a resident ID refuses (830000 is no mainland division) and the
// residence permit takes: the id type, not the number, decides the check.
func TestTaiwanResidencePermitIsNotAResidentID(t *testing.T) {
	n, _ := CompleteResidentID("83000019900307002")
	if CheckResidentID(n) == nil {
		t.Fatal("the resident-ID check accepts an 830000 number: the id type would not matter")
	}
	if err := CheckResidencePermitHMT(n); err != nil {
		t.Fatalf("the residence-permit check refuses it: %v", err)
	}
}

// The identity documents with a birth date judge it against the same clock as the resident ID.
func TestIdentityDocumentBirthDatesUseTheClock(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }
	hmt, _ := CompleteResidentID("83000020000102002")
	fp, _ := CompleteResidentID("93284020000102001")
	for name, err := range map[string]error{"residence permit": CheckResidencePermitHMT(hmt), "permanent residence": CheckForeignPermanentResident(fp)} {
		if err == nil {
			t.Errorf("%s: a birth date after the clock's today is accepted", name)
		}
	}
}

// A holder's number is taken from any identity document, and an 18-digit number must pass one
// of the GB 11643-style checks rather than pass for a passport.
func TestPersonalIDTakesEveryDocumentButNoMistypedResidentID(t *testing.T) {
	resident, _ := CompleteResidentID("32070719900307001")
	taiwan, _ := CompleteResidentID("83000019900307002")
	foreigner, _ := CompleteResidentID("93284019800101001")
	for _, ok := range []string{resident, taiwan, foreigner, "E12345678"} {
		if err := CheckPersonalID(ok); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
	mistyped := resident[:17] + string("0123456789"[(resident[17]-'0'+1)%10])
	if err := CheckPersonalID(mistyped); err == nil || err.(*Error).Rule != GB11643 {
		t.Errorf("a resident ID with a wrong check digit: %v, want the resident ID's refusal", err)
	}
	if CheckPersonalID("e12345678") == nil {
		t.Error("a lower-case passport number is taken")
	}
	if usccLike, _ := CompleteUSCC("91320707MA1XYW12B"); CheckPersonalID(usccLike) == nil {
		t.Error("a credit code passes for a passport number")
	}
}

// Only a credit code of registration authority 9 and category 2 is an individual business's.
func TestIndividualBusinessUSCC(t *testing.T) {
	business, _ := CompleteUSCC("92320707MA1XYW12B")
	company, _ := CompleteUSCC("91320707MA1XYW12B")
	wrongCheck := business[:17] + string(usccAlphabet[(strings.IndexByte(usccAlphabet, business[17])+1)%31])
	for code, want := range map[string]bool{business: true, company: false, wrongCheck: false} {
		if IndividualBusinessUSCC(code) != want {
			t.Errorf("%s: %v, want %v", code, !want, want)
		}
	}
	assertRefused(t, CheckIndividualBusinessCode, IndividualBusinessCode, company, "starts with 92")
	assertRefused(t, CheckIndividualBusinessCode, IndividualBusinessCode, wrongCheck, "check character")
}

// Every identity document's check, on any string: the pattern is a necessary condition of the
// format, an accepted GB 11643-style number has the standard's check character, and an error
// never repeats the value.
func FuzzIdentityDocuments(f *testing.F) {
	for _, body := range []string{"83000019900307002", "81000019851120001", "82000020000229004", "93284019800101001", "91115619921231002", "32070719900307001"} {
		n, _ := CompleteResidentID(body)
		f.Add(n)
		f.Add(n[:17] + "x")
	}
	for _, seed := range []string{"E12345678", "e12345678", "12345", "ABCDEFGHIJ0123456789", "USA320719900307", "92320707MA1XYW12BN", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, name := range []string{ResidencePermitHMT, ForeignPermanentResident, Passport, IndividualBusinessCode} {
			err := Check(name, s)
			p, _ := Pattern(name)
			if err == nil && !regexp.MustCompile(p).MatchString(s) {
				t.Fatalf("%s accepts %q, which its pattern refuses", name, s)
			}
			if err == nil && name != Passport && name != IndividualBusinessCode && withResidentIDCheck(s[:17]) != s {
				t.Fatalf("%s accepts %q whose check character is wrong", name, s)
			}
			if err != nil && len(s) >= 5 && strings.Contains(err.Error(), s) {
				t.Fatalf("%s: the error repeats the value: %v", name, err)
			}
		}
		if err := CheckPersonalID(s); err != nil && len(s) >= 5 && strings.Contains(err.Error(), s) {
			t.Fatalf("CheckPersonalID: the error repeats the value: %v", err)
		}
	})
}
