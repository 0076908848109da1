package licences

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"yjshub/format"
)

// An e-licence's identifier (电子证照标识) is written as GB/T 36904-2018 has it, in five parts
// after the root of the national e-licence object identifiers:
//
//	1.2.156.3005.2.11100000MB0143028R010.12320707MB0000001X.JY13207070000421.001.K
//	└ root ──────┘ └ type code ────────┘ └ issuer ─────────┘ └ serial ──────┘ │   └ check
//	                                                                            └ version
//
// The type code is the licence type's (GB/T 36902: the defining authority's unified social
// credit code and a three-digit sequence), the issuer the issuing department's unified social
// credit code, the serial the licence number's letters and digits (upper-case; a number
// without any gives the first 20 hex digits of its SHA-256), the version 001 for a licence as
// first issued, and the check character ISO 7064 MOD 37,36 over type code, issuer, serial and
// version written together.
//
// A licence type of the hub's local namespace (LOCAL-<division>-<nnn>: no public source gives
// its national code) is not a national type, and its licences get no national identifier:
// theirs begins with the local type code instead of the national root, and has the same parts
// and check character, so that it cannot be taken for one.
const (
	// IdentifierRoot is the root of the national e-licence identifiers (GB/T 36904-2018).
	IdentifierRoot = "1.2.156.3005.2"
	// LocalTypePrefix begins every licence type code of the hub's local namespace.
	LocalTypePrefix = "LOCAL-"
	// FirstVersion is the version of a licence as first issued.
	FirstVersion = "001"
)

// NationalTypeCode reports whether code is written as a national e-licence type code (GB/T
// 36902): a unified social credit code (GB 32100, its check character right) and three digits.
func NationalTypeCode(code string) bool {
	return len(code) == 21 && format.CheckUSCC(code[:18]) == nil && digits(code[18:])
}

// LocalTypeCode reports whether code is a type code of the hub's local namespace:
// LOCAL-<six-digit division>-<three digits>.
func LocalTypeCode(code string) bool {
	rest, ok := strings.CutPrefix(code, LocalTypePrefix)
	return ok && len(rest) == 10 && rest[6] == '-' && digits(rest[:6]) && digits(rest[7:])
}

// Identifier builds the identifier of a licence of a type (national or local type code), issued
// by the department with unified social credit code issuer, numbered number, at version. It
// names every problem with its inputs.
func Identifier(typeCode, issuer, number, version string) (string, error) {
	var errs []error
	national := NationalTypeCode(typeCode)
	if !national && !LocalTypeCode(typeCode) {
		errs = append(errs, errors.New("the type code is neither a national one (GB/T 36902) nor LOCAL-<division>-<nnn>"))
	}
	if err := format.CheckUSCC(issuer); err != nil {
		errs = append(errs, fmt.Errorf("the issuer's code is not a unified social credit code: %w", err))
	}
	if len(version) != 3 || !digits(version) {
		errs = append(errs, errors.New("the version is not three digits"))
	}
	if number == "" {
		errs = append(errs, errors.New("the licence has no number"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	s := serial(number)
	check := string(mod37_36(alnum(typeCode) + issuer + s + version))
	parts := []string{typeCode, issuer, s, version, check}
	if national {
		parts = append([]string{IdentifierRoot}, parts...)
	}
	return strings.Join(parts, "."), nil
}

// CheckIdentifier reports what is wrong with an identifier a department gave: its parts, the
// codes in them and its check character.
func CheckIdentifier(id string) error {
	rest, national := strings.CutPrefix(id, IdentifierRoot+".")
	parts := strings.Split(rest, ".")
	if len(parts) != 5 {
		return errors.New("must be written 1.2.156.3005.2.<type code>.<issuer>.<serial>.<version>.<check> (GB/T 36904), or <LOCAL type code>.<issuer>.<serial>.<version>.<check>")
	}
	typeCode, issuer, s, version, check := parts[0], parts[1], parts[2], parts[3], parts[4]
	switch {
	case national && !NationalTypeCode(typeCode):
		return errors.New("the type code is not a national one (GB/T 36902)")
	case !national && !LocalTypeCode(typeCode):
		return errors.New("an identifier without the national root must begin with a LOCAL type code")
	case format.CheckUSCC(issuer) != nil:
		return errors.New("the issuer is not a unified social credit code")
	case s == "" || alnum(s) != s || strings.ToUpper(s) != s:
		return errors.New("the serial must be upper-case letters and digits")
	case len(version) != 3 || !digits(version):
		return errors.New("the version must be three digits")
	case len(check) != 1 || check[0] != mod37_36(alnum(typeCode)+issuer+s+version):
		return errors.New("the check character (ISO 7064 MOD 37,36) does not hold")
	}
	return nil
}

// serial is the serial part of a licence number's identifier.
func serial(number string) string {
	if s := strings.ToUpper(alnum(number)); s != "" {
		return s
	}
	sum := sha256.Sum256([]byte(number))
	return strings.ToUpper(hex.EncodeToString(sum[:10]))
}

const mod36Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// mod37_36 is the ISO 7064 MOD 37,36 (hybrid system) check character of s, upper-case letters
// and digits.
func mod37_36(s string) byte {
	p := 36
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(mod36Alphabet, s[i])
		sum := (p + v) % 36
		if sum == 0 {
			sum = 36
		}
		p = sum * 2 % 37
	}
	return mod36Alphabet[(37-p)%36]
}

// alnum returns the ASCII letters and digits of s, in order.
func alnum(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
