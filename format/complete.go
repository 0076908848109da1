package format

import "strings"

// USCCAlphabet is the 31 characters a unified social credit code is written in (GB 32100-2015:
// digits and upper-case letters but I, O, S, V and Z), in the order of their values.
const USCCAlphabet = usccAlphabet

// CompleteResidentID returns the first 17 digits of a GB 11643-1999 citizen identity number
// with its check character appended (ISO 7064 MOD 11-2), for making numbers that pass
// [CheckResidentID]: test data, load generators. It checks only the characters; the division
// code and birth date are the caller's.
func CompleteResidentID(first17 string) (string, error) {
	if len(first17) != 17 {
		return "", fail(GB11643, "the body must be 17 digits, got %d characters", len([]rune(first17)))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return "", fail(GB11643, "character %d must be a digit", i+1)
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	return first17 + string(residentIDChecks[sum%11]), nil
}

// CompleteUSCC returns the first 17 characters of a GB 32100-2015 unified social credit code
// with its check character appended, for making codes that pass [CheckUSCC]: test data, load
// generators. It checks only the alphabet; the registration authority, category and division
// code are the caller's.
func CompleteUSCC(first17 string) (string, error) {
	if len(first17) != 17 {
		return "", fail(GB32100, "the body must be 17 characters, got %d", len([]rune(first17)))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, first17[i])
		if v < 0 {
			return "", fail(GB32100, "character %d is not in the code's alphabet (digits and upper-case letters except I, O, S, V, Z)", i+1)
		}
		sum += v * usccWeights[i]
	}
	return first17 + string(usccAlphabet[(31-sum%31)%31]), nil
}
