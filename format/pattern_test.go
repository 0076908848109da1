package format

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// compiledPattern compiles a format's pattern or fails the test.
func compiledPattern(t *testing.T, name string) *regexp.Regexp {
	t.Helper()
	p, ok := Pattern(name)
	if !ok {
		t.Fatalf("format %s has no pattern", name)
	}
	return regexp.MustCompile(p)
}

// The pattern is a necessary condition of the format: whatever the checker accepts matches it,
// or a generic validator would refuse what the hub takes. Every current division code is
// tried, and resident IDs and USCCs built on them with random bodies.
func TestEveryValueAFormatAcceptsMatchesItsPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	var codes []string
	for code, d := range divisions() {
		if d.abolishedYear == "" {
			codes = append(codes, code)
		}
	}
	if len(codes) < 3000 {
		t.Fatalf("only %d current division codes: the list did not load", len(codes))
	}
	accepted := map[string][]string{}
	for _, code := range codes {
		accepted[GB2260] = append(accepted[GB2260], code)
		birth := []string{"19000101", "19491231", "19840229", "20000229", "20101031"}[rng.IntN(5)]
		id, err := CompleteResidentID(code + birth + digits(rng, 3))
		if err != nil {
			t.Fatal(err)
		}
		accepted[GB11643] = append(accepted[GB11643], id)
		for auth, cats := range usccCategories {
			body := string(auth) + string(cats[rng.IntN(len(cats))]) + code + alphabetRun(rng, 9)
			code, err := CompleteUSCC(body)
			if err != nil {
				t.Fatal(err)
			}
			accepted[GB32100] = append(accepted[GB32100], code)
		}
	}
	for range 2000 {
		accepted[Mobile] = append(accepted[Mobile], "1"+string(byte('3'+rng.IntN(7)))+digits(rng, 9))
		accepted[Postcode] = append(accepted[Postcode], digits(rng, 6))
	}
	accepted[Phone] = []string{"0518-86212345", "025-12345678-801", "01012345678", "0518-8621234"}
	births := []string{"19000101", "19491231", "19840229", "20000229", "20101031"}
	for range 2000 {
		hmt, _ := CompleteResidentID([]string{"810000", "820000", "830000"}[rng.IntN(3)] + births[rng.IntN(5)] + digits(rng, 3))
		accepted[ResidencePermitHMT] = append(accepted[ResidencePermitHMT], hmt)
		var prov string
		for p := range provinces {
			if mainlandProvince(p) {
				prov = p
				if rng.IntN(4) == 0 {
					break
				}
			}
		}
		fp, _ := CompleteResidentID("9" + prov + digits(rng, 3) + births[rng.IntN(5)] + digits(rng, 3))
		accepted[ForeignPermanentResident] = append(accepted[ForeignPermanentResident], fp)
		passport := []byte(alphabetRun(rng, 5+rng.IntN(16)))
		accepted[Passport] = append(accepted[Passport], string(passport))
		ib, _ := CompleteUSCC("92320707" + alphabetRun(rng, 9))
		accepted[IndividualBusinessCode] = append(accepted[IndividualBusinessCode], ib)
	}

	for _, name := range PatternNames() {
		re := compiledPattern(t, name)
		if len(accepted[name]) == 0 {
			t.Errorf("%s: no accepted values to try", name)
		}
		checked := 0
		for _, v := range accepted[name] {
			if Check(name, v) != nil {
				continue // a random body that the format refuses for another reason (a birth date …)
			}
			checked++
			if !re.MatchString(v) {
				t.Errorf("%s: a value the format accepts does not match the pattern %s", name, re)
				break
			}
		}
		if checked < len(accepted[name])/2 {
			t.Errorf("%s: only %d of %d generated values passed the format: the generator is wrong", name, checked, len(accepted[name]))
		}
	}
}

// What the issue found generic validators accepting, refused by the pattern alone where a
// regular expression can see it; the check characters only the format sees.
func TestPatternsRefuseWhatTheHubRefuses(t *testing.T) {
	goodID, _ := CompleteResidentID("32070719900307001")
	upperX := "11010519491231002X"
	badUSCC := []byte(usccOK(t))
	badUSCC[17] = usccAlphabet[(strings.IndexByte(usccAlphabet, badUSCC[17])+1)%31]
	cases := []struct {
		name, format, value string
		byPattern           bool // false: only the format refuses it
	}{
		{"a mobile written with dashes", Mobile, "151-0518-1234", true},
		{"a mobile with the country code", Mobile, "+8615105181234", true},
		{"a mobile starting 12", Mobile, "12105181234", true},
		{"a resident ID ending in a lower-case x", GB11643, strings.ToLower(upperX), true},
		{"a resident ID of 17 characters", GB11643, goodID[:17], true},
		{"a resident ID born in month 13", GB11643, "320707199013070011", true},
		{"a resident ID in an unknown province", GB11643, "990707199003070011", true},
		{"a resident ID with a wrong check digit", GB11643, goodID[:17] + string("0123456789"[(goodID[17]-'0'+1)%10]), false},
		{"a USCC with a letter outside the alphabet", GB32100, "91320707MA1XYW12IO", true},
		{"a USCC of an authority the standard does not allocate", GB32100, "B1320707MA1XYW1234", true},
		{"a USCC with a wrong check character", GB32100, string(badUSCC), false},
		{"the division code 999999", GB2260, "999999", true},
		{"a county without a prefecture", GB2260, "320012", true},
		{"a prefecture above 70", GB2260, "328000", true},
		{"a well-formed division code not in the list", GB2260, "320799", false},
		{"a postcode of five digits", Postcode, "22200", true},
		{"a Taiwan residence permit ending in a lower-case x", ResidencePermitHMT, "83000019900307002x", true},
		{"a residence permit with a mainland division code", ResidencePermitHMT, goodID, true},
		{"a residence permit with a wrong check digit", ResidencePermitHMT, hmtWrongCheck(), false},
		{"a permanent residence number starting 8", ForeignPermanentResident, "8" + goodID[1:], true},
		{"a permanent residence number of the 2017 edition", ForeignPermanentResident, "USA320719900307", true},
		{"a passport number in lower case", Passport, "e12345678", true},
		{"a passport number with a dash", Passport, "E1234-5678", true},
		{"a company's code as an individual business's", IndividualBusinessCode, usccOK(t), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if Check(c.format, c.value) == nil {
				t.Fatal("the format accepts it: the case is wrong")
			}
			matched := compiledPattern(t, c.format).MatchString(c.value)
			if c.byPattern && matched {
				t.Fatal("the pattern accepts it")
			}
			if !c.byPattern && !matched {
				t.Fatal("the pattern refuses it: move the case to the ones the pattern catches")
			}
		})
	}
	if !compiledPattern(t, GB11643).MatchString(upperX) || CheckResidentID(upperX) != nil {
		t.Fatal("the standard's example with an upper-case X is not accepted by both")
	}
}

// Every pattern is in the subset of regular expressions that Go and ECMA-262 read alike.
func TestPatternsUseOnlyPortableSyntax(t *testing.T) {
	for _, name := range PatternNames() {
		p, _ := Pattern(name)
		for _, bad := range []string{`\s`, `\S`, `\w`, `\W`, `\d`, `\D`, `\b`, `\B`, `(?`, `\p`, `\x{`, `\u`, `\z`, `\A`} {
			if strings.Contains(p, bad) {
				t.Errorf("%s: the pattern uses %s, which Go and ECMA-262 read differently or one lacks", name, bad)
			}
		}
		for _, r := range p {
			if r > 0x7e || r < 0x20 {
				t.Errorf("%s: the pattern has a character outside printable ASCII", name)
			}
		}
	}
}

// hmtWrongCheck is a Taiwan residence-permit number whose check digit is off by one.
func hmtWrongCheck() string {
	good, _ := CompleteResidentID("83000019900307002")
	return good[:17] + string("0123456789"[(good[17]-'0'+1)%10])
}

func usccOK(t *testing.T) string {
	t.Helper()
	c, err := CompleteUSCC("91320707MA1XYW12B")
	if err != nil || CheckUSCC(c) != nil {
		t.Fatalf("the USCC fixture is not valid: %v", err)
	}
	return c
}

func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func alphabetRun(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = usccAlphabet[rng.IntN(len(usccAlphabet))]
	}
	return string(b)
}
