package format

import (
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Names of the checked formats, as the catalogue's field dictionary and the one-form JSON
// Schema spell them.
const (
	GB11643  = "gb11643"
	GB32100  = "gb32100"
	Mobile   = "mobile"
	GB2260   = "gb2260"
	Email    = "email"
	Postcode = "postcode"
	Phone    = "phone"

	// ResidencePermitHMT is the number of a 港澳台居民居住证 (residence permit of a Hong Kong,
	// Macau or Taiwan resident living on the mainland).
	ResidencePermitHMT = "residence_permit_hmt"
	// ForeignPermanentResident is the number of a 外国人永久居留身份证 of the 2023 edition.
	ForeignPermanentResident = "foreign_permanent_resident"
	// Passport is a passport number, of any issuing country.
	Passport = "passport"
	// IndividualBusinessCode is the unified social credit code of an individual business
	// (个体工商户): a GB 32100 code of registration authority 9 and category 2.
	IndividualBusinessCode = "gb32100_individual_business"
)

// Error is a failed format check. Rule names the check (one of the format names) and Reason
// says what is wrong in words that never repeat the checked value.
type Error struct {
	Rule   string
	Reason string
}

func (e *Error) Error() string { return e.Rule + ": " + e.Reason }

func fail(rule, reason string, args ...any) error {
	return &Error{Rule: rule, Reason: fmt.Sprintf(reason, args...)}
}

// Checker validates one string value.
type Checker func(string) error

var checkers = map[string]Checker{
	GB11643:  CheckResidentID,
	GB32100:  CheckUSCC,
	Mobile:   CheckMobile,
	GB2260:   CheckDivisionCode,
	Email:    CheckEmail,
	Postcode: CheckPostcode,
	Phone:    CheckPhone,

	ResidencePermitHMT:       CheckResidencePermitHMT,
	ForeignPermanentResident: CheckForeignPermanentResident,
	Passport:                 CheckPassport,
	IndividualBusinessCode:   CheckIndividualBusinessCode,
}

// Lookup returns the checker for a format name.
func Lookup(name string) (Checker, bool) {
	c, ok := checkers[name]
	return c, ok
}

// Names lists the known format names in sorted order.
func Names() []string {
	names := make([]string, 0, len(checkers))
	for n := range checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check validates value against the named format.
func Check(name, value string) error {
	c, ok := checkers[name]
	if !ok {
		return fail(name, "unknown format (known: %s)", strings.Join(Names(), ", "))
	}
	return c(value)
}

// now is the clock CheckResidentID compares birth dates against.
var now = time.Now

var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentIDChecks = "10X98765432"

// CheckResidentID checks a GB 11643-1999 citizen identity number: 18 characters, the first 17
// digits, a valid division code prefix, a valid birth date (not in the future, not before
// 1900), and the ISO 7064 MOD 11-2 check character (0-9 or X; a lower-case x is refused so
// that every stored number has one spelling).
func CheckResidentID(s string) error {
	if err := checkMod112Shape(GB11643, s); err != nil {
		return err
	}
	if err := checkDivision(s[:6]); err != nil {
		return fail(GB11643, "the first six digits are not an administrative division code: %s", err.(*Error).Reason)
	}
	return checkBirthAndMod112(GB11643, s)
}

// hmtAddressCodes are the address codes a 港澳台居民居住证 number starts with, in place of the
// holder's division code: 《港澳台居民居住证申领发放办法》 (国办发〔2018〕81号) numbers the
// permits like a resident ID with these codes, the rest as GB 11643 says.
var hmtAddressCodes = map[string]string{"810000": "Hong Kong", "820000": "Macau", "830000": "Taiwan"}

// CheckResidencePermitHMT checks the number of a 港澳台居民居住证: a GB 11643 number whose
// address code is 810000 (Hong Kong), 820000 (Macau) or 830000 (Taiwan), with a valid birth date
// and the MOD 11-2 check character. A resident ID refuses these numbers (830000 is not a division
// the mainland lists), so the id type decides which of the two checks a number gets.
func CheckResidencePermitHMT(s string) error {
	if err := checkMod112Shape(ResidencePermitHMT, s); err != nil {
		return err
	}
	if _, ok := hmtAddressCodes[s[:6]]; !ok {
		return fail(ResidencePermitHMT, "the first six digits must be 810000 (Hong Kong), 820000 (Macau) or 830000 (Taiwan)")
	}
	return checkBirthAndMod112(ResidencePermitHMT, s)
}

// CheckForeignPermanentResident checks the number of a 外国人永久居留身份证 of the edition issued
// from 2023-12-01 (国家移民管理局, 新版外国人永久居留身份证机读信息规则): 18 characters laid out
// like a resident ID, the first digit 9 (a resident ID's first digit is a province's, 1-8),
// then the two-digit province code of the issuing authority, a three-digit numeric country
// code, the birth date, a three-digit sequence and the MOD 11-2 check character. The country
// code is checked to be digits and not 000 only: the list of codes the authority uses is not
// published with the rule. The 15-character numbers of the 2017 edition (three letters and 12
// digits) are not accepted: the permits carrying them are replaced by the new edition.
func CheckForeignPermanentResident(s string) error {
	if err := checkMod112Shape(ForeignPermanentResident, s); err != nil {
		return err
	}
	if s[0] != '9' {
		return fail(ForeignPermanentResident, "the first digit must be 9")
	}
	if !mainlandProvince(s[1:3]) {
		return fail(ForeignPermanentResident, "digits 2-3 are not the province-level code of a mainland issuing authority")
	}
	if s[3:6] == "000" {
		return fail(ForeignPermanentResident, "digits 4-6 are not a country code")
	}
	return checkBirthAndMod112(ForeignPermanentResident, s)
}

// CheckPersonalID checks a natural person's identity number of any document the hub takes
// (居民身份证, 港澳台居民居住证, 外国人永久居留身份证, passport), for where the number names a
// holder and the document type is not at hand (a licence's holder, a prefill request). An
// 18-character number is held to the three GB 11643-style documents, so that a mistyped
// resident ID, or a credit code, is refused rather than taken for a passport (passport numbers
// are far shorter: ICAO 9303 gives the number nine characters); any other number to the
// passport's rule. The error is the resident ID's or the passport's.
func CheckPersonalID(s string) error {
	if len(s) == 18 {
		err := CheckResidentID(s)
		if err == nil || CheckResidencePermitHMT(s) == nil || CheckForeignPermanentResident(s) == nil {
			return nil
		}
		return err
	}
	return CheckPassport(s)
}

// IndividualBusinessUSCC reports whether a valid unified social credit code is an individual
// business's (个体工商户): registration authority 9 (市场监管), category 2.
func IndividualBusinessUSCC(s string) bool {
	return CheckIndividualBusinessCode(s) == nil
}

// CheckIndividualBusinessCode checks the credit code of an individual business: a valid GB
// 32100 code (CheckUSCC) whose registration authority is 9 (市场监管) and category 2 (个体工商户),
// so a company's 91… code given as a 个体工商户's is refused.
func CheckIndividualBusinessCode(s string) error {
	if err := CheckUSCC(s); err != nil {
		return fail(IndividualBusinessCode, "%s", err.(*Error).Reason)
	}
	if !strings.HasPrefix(s, "92") {
		return fail(IndividualBusinessCode, "an individual business's code starts with 92 (registration authority 9, category 2)")
	}
	return nil
}

// mainlandProvince reports whether a two-digit code is a province-level division of the
// mainland (not 71 Taiwan, 81 Hong Kong or 82 Macau).
func mainlandProvince(code string) bool {
	_, ok := provinces[code]
	return ok && code != "71" && code != "81" && code != "82"
}

// CheckPassport checks a passport number as the hub can without knowing the issuing country:
// 5 to 20 characters, upper-case letters and digits only. Lower case is refused rather than
// folded, as a resident ID's x is, so that every stored number has one spelling and a holder's
// licences are found under it.
func CheckPassport(s string) error {
	n := len([]rune(s))
	if n < 5 || n > 20 {
		return fail(Passport, "must be 5 to 20 characters, got %d", n)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z':
			return fail(Passport, "character %d is a lower-case letter: write the number in upper case", i+1)
		default:
			return fail(Passport, "character %d is not a letter or a digit", i+1)
		}
	}
	return nil
}

// checkMod112Shape checks the shape every GB 11643-style number shares: 18 characters, 17
// digits and a check character that is a digit or X.
func checkMod112Shape(rule, s string) error {
	if len(s) != 18 {
		return fail(rule, "must be 18 characters, got %d", len([]rune(s)))
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fail(rule, "character %d must be a digit", i+1)
		}
	}
	last := s[17]
	if !(last >= '0' && last <= '9') && last != 'X' {
		return fail(rule, "the check character must be a digit or X")
	}
	return nil
}

// checkBirthAndMod112 checks the birth date (digits 7-14: a real date, not in the future, not
// before 1900) and the ISO 7064 MOD 11-2 check character of a number checkMod112Shape passed.
func checkBirthAndMod112(rule, s string) error {
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return fail(rule, "digits 7-14 are not a valid birth date")
	}
	if birth.Year() < 1900 || birth.After(now()) {
		return fail(rule, "the birth date is out of range")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * residentIDWeights[i]
	}
	if residentIDChecks[sum%11] != s[17] {
		return fail(rule, "the check character does not match (ISO 7064 MOD 11-2)")
	}
	return nil
}

// usccAlphabet is the 31-character set of GB 32100-2015 (no I, O, S, V, Z).
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccCategories lists, per registration authority (character 1), the institution categories
// (character 2) that GB 32100-2015 and its amendments allocate.
var usccCategories = map[byte]string{
	'1': "1239",   // 机构编制
	'2': "19",     // 外交
	'3': "123459", // 司法行政 (律师事务所, 公证处 …)
	'4': "19",     // 文化
	'5': "1239",   // 民政 (社会团体, 民办非企业单位, 基金会 …)
	'6': "129",    // 旅游
	'7': "129",    // 宗教
	'8': "19",     // 工会
	'9': "123",    // 市场监管 (企业, 个体工商户, 农民专业合作社)
	'A': "19",     // 中央军委改革和编制办公室
	'N': "12349",  // 农业 (农村集体经济组织 …)
	'Y': "1",      // 其他
}

// CheckUSCC checks a GB 32100-2015 unified social credit code: 18 characters from the
// standard's alphabet, a registration authority and institution category the standard
// allocates, a numeric division code, and the check character (weighted sum modulo 31).
func CheckUSCC(s string) error {
	if len(s) != 18 {
		return fail(GB32100, "must be 18 characters, got %d", len([]rune(s)))
	}
	sum := 0
	for i := 0; i < 18; i++ {
		v := strings.IndexByte(usccAlphabet, s[i])
		if v < 0 {
			return fail(GB32100, "character %d is not in the code's alphabet (digits and upper-case letters except I, O, S, V, Z)", i+1)
		}
		if i < 17 {
			sum += v * usccWeights[i]
		}
	}
	cats, ok := usccCategories[s[0]]
	if !ok {
		return fail(GB32100, "character 1 is not a registration authority code")
	}
	if !strings.ContainsRune(cats, rune(s[1])) {
		return fail(GB32100, "character 2 is not an institution category of that registration authority")
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fail(GB32100, "characters 3-8 must be a numeric division code")
		}
	}
	want := (31 - sum%31) % 31
	if s[17] != usccAlphabet[want] {
		return fail(GB32100, "the check character does not match")
	}
	return nil
}

var mobileRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)

// CheckMobile checks a mainland China mobile number: 11 digits starting 13-19.
func CheckMobile(s string) error {
	if !mobileRE.MatchString(s) {
		return fail(Mobile, "must be 11 digits starting with 13-19")
	}
	return nil
}

// provinces are the province-level division codes of GB/T 2260 (the first two digits).
var provinces = map[string]string{
	"11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
	"21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
	"31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
	"41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
	"50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
	"61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
	"71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

// checkDivision checks the structure of a division code; CheckDivisionCode also looks it up.
// A resident ID's first six digits get only this check: they are the code of the place of
// first registration, which may have been abolished before any edition the list holds.
func checkDivision(s string) error {
	if len(s) != 6 {
		return fail(GB2260, "must be 6 digits")
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fail(GB2260, "must be 6 digits")
		}
	}
	if _, ok := provinces[s[:2]]; !ok {
		return fail(GB2260, "digits 1-2 are not a province-level code")
	}
	pref := int(s[2]-'0')*10 + int(s[3]-'0')
	if pref > 70 && pref != 90 {
		return fail(GB2260, "digits 3-4 are not a prefecture-level code (00-70 or 90)")
	}
	if pref == 0 && s[4:] != "00" {
		return fail(GB2260, "a county-level code needs a prefecture-level code")
	}
	return nil
}

// ProvinceName returns the province that a division code (or a resident ID) starts with.
func ProvinceName(code string) (string, bool) {
	if len(code) < 2 {
		return "", false
	}
	name, ok := provinces[code[:2]]
	return name, ok
}

// CheckEmail checks a bare e-mail address (no display name).
func CheckEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fail(Email, "must be a bare e-mail address like name@example.com")
	}
	return nil
}

var postcodeRE = regexp.MustCompile(`^[0-9]{6}$`)

// CheckPostcode checks a six-digit postcode.
func CheckPostcode(s string) error {
	if !postcodeRE.MatchString(s) {
		return fail(Postcode, "must be 6 digits")
	}
	return nil
}

var phoneRE = regexp.MustCompile(`^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}(-[0-9]{1,6})?$`)

// CheckPhone checks a mainland fixed-line number: an area code starting with 0, a local number
// of 7 or 8 digits, and an optional extension (0518-86212345, 025-12345678-801).
func CheckPhone(s string) error {
	if !phoneRE.MatchString(s) {
		return fail(Phone, "must be a fixed-line number like 0518-86212345")
	}
	return nil
}

// MaskDigits hides what may be personal data in text that comes from outside the hub (an
// external system's error message, say): every run of 11 or more digits, with the trailing X a
// resident ID number may have, becomes as many '*'. That covers resident ID numbers and
// mobiles, with or without +86, and hides some harmless long numbers too.
func MaskDigits(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j == i:
			b.WriteByte(s[i])
			i++
			continue
		case j-i < 11:
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if j < len(s) && (s[j] == 'X' || s[j] == 'x') {
			j++
		}
		b.WriteString(strings.Repeat("*", j-i))
		i = j
	}
	return b.String()
}
