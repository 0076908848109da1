package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// numberValue is a form value that JSON Schema calls a number, read the way the schema
// validator reads it (santhosh-tekuri/jsonschema: the value's text as an exact big.Rat) but
// without building one, except for a value that lies on a bound.
type numberValue struct {
	f     float64 // the nearest float64
	sign  int     // -1, 0 or +1, exactly (where exact)
	whole bool    // an integer, exactly (type integer)
	// exact is true when comparing f with a bound's float64 decides the comparison as the
	// validator's exact one does (see bound.cmp); false for the few values the validator reads
	// in its own way (a json.Number that is not JSON, a Go number type JSON decoding never
	// gives), which only the validator can judge against a bound.
	exact bool
	// unreadable is true for a json.Number big.Rat refuses (an exponent beyond a million):
	// the validator takes it for a number that is not whole, and fails on a bound (see
	// validateBySchema).
	unreadable bool
}

// readNumber reads v when the schema validator takes it for a number (its typeOf): ok is false
// for anything else, and for a float64 NaN or infinity, which are no JSON value.
func readNumber(v any) (n numberValue, ok bool) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return n, false
		}
		// The validator reads fmt.Sprint(x), the shortest decimal that gives x back: it is
		// whole exactly when x is (a float64 that is not whole is at least one step of its
		// precision from every integer, farther than that decimal may lie).
		return numberValue{f: x, sign: signOf(x), whole: x == math.Trunc(x), exact: true}, true
	case int:
		return numberValue{f: float64(x), sign: signOf(float64(x)), whole: true, exact: true}, true
	case int64:
		return numberValue{f: float64(x), sign: signOf(float64(x)), whole: true, exact: true}, true
	case json.Number:
		return readJSONNumber(string(x)), true
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return n, false
		}
		r, ok := ratOf(x)
		return numberValue{f: float64(x), whole: ok && r.IsInt()}, true
	case int8, int16, int32, uint, uint8, uint16, uint32, uint64:
		return numberValue{whole: true}, true
	}
	return n, false
}

// readJSONNumber reads the text of a json.Number. The validator parses it with big.Rat's
// SetString, which refuses a decimal exponent beyond a million (after the digits behind the
// point are counted) and one that does not fit an int64: such a number is then not whole, and
// is not exact.
func readJSONNumber(s string) numberValue {
	d, ok := scanJSONNumber(s)
	if !ok {
		// Not JSON (a json.Number built by hand): the validator's reading, however slow.
		r, ok := ratOf(s)
		return numberValue{whole: ok && r.IsInt(), unreadable: !ok}
	}
	if !d.readable {
		return numberValue{unreadable: true}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeError(err) {
		return numberValue{whole: d.whole}
	}
	// A number out of float64's range reads as ±Inf or a zero, still on its side of every
	// bound.
	return numberValue{f: f, sign: d.sign, whole: d.whole, exact: true}
}

func signOf(x float64) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// ratOf reads a number as the validator does.
func ratOf(v any) (*big.Rat, bool) {
	return new(big.Rat).SetString(fmt.Sprint(v))
}

// jsonDecimal is what scanJSONNumber finds out about a JSON number.
type jsonDecimal struct {
	sign     int  // -1, 0 or +1
	whole    bool // an integer
	readable bool // big.Rat's SetString takes it
}

// maxRatExp is the largest decimal exponent, digits behind the point counted, that big.Rat's
// SetString takes (math/big: ratconv.go, "avoid excessively large exponents").
const maxRatExp = 1e6

// scanJSONNumber scans s as a JSON number (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?);
// ok is false when s is not one.
func scanJSONNumber(s string) (d jsonDecimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() (start, end int) {
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return start, i
	}
	is, ie := digits()
	if ie == is || (s[is] == '0' && ie-is > 1) {
		return d, false
	}
	fs, fe := ie, ie
	if i < len(s) && s[i] == '.' {
		i++
		fs, fe = digits()
		if fe == fs {
			return d, false
		}
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds, de := digits()
		if de == ds {
			return d, false
		}
		// big.Rat parses the exponent as an int64 ("+" dropped): one that does not fit fails
		// whatever the digits before it.
		text := s[ds:de]
		if s[es] == '-' {
			text = "-" + text
		}
		e, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return jsonDecimal{}, i == len(s)
		}
		exp = e
	}
	if i != len(s) {
		return d, false
	}

	// The value is the digits (integer part then fraction) times 10^(exp - fraction digits).
	mant := s[is:ie] + s[fs:fe]
	last := len(mant) - 1
	for last >= 0 && mant[last] == '0' {
		last--
	}
	if last < 0 {
		return jsonDecimal{whole: true, readable: true}, true // zero, whatever the exponent
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	frac := int64(fe - fs)
	if exp < math.MinInt64+frac {
		return jsonDecimal{}, true // big.Rat's exponent arithmetic wraps and refuses it
	}
	scale := exp - frac
	if scale > maxRatExp || scale < -maxRatExp {
		return jsonDecimal{}, true
	}
	trailing := int64(len(mant) - 1 - last)
	return jsonDecimal{sign: sign, whole: scale+trailing >= 0, readable: true}, true
}

// bound is a minimum or maximum of the schema: its nearest float64 and its exact value, as the
// validator reads the keyword, with what decides the common ties without a big.Rat.
type bound struct {
	f    float64
	rat  *big.Rat
	text string // the keyword's JSON text
	// shortest is true when the shortest decimal of f is the bound's exact value (as for a
	// bound written from a float64): a float64 value equal to f then equals the bound as the
	// validator reads both (fmt.Sprint of a float64 is its shortest decimal).
	shortest bool
	// whole is true when the bound is an integer that fits an int64, which is then i.
	whole bool
	i     int64
}

// newBound reads a minimum or maximum keyword's value (a json.Number of the decoded schema).
func newBound(v any) (*bound, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("the bound is not a number")
	}
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return nil, fmt.Errorf("the bound %s is not a decimal number", n)
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil {
		return nil, fmt.Errorf("the bound %s is out of float64's range", n)
	}
	b := &bound{f: f, rat: r, text: n.String()}
	if short, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64)); ok {
		b.shortest = short.Cmp(r) == 0
	}
	if r.IsInt() && r.Num().IsInt64() {
		b.whole, b.i = true, r.Num().Int64()
	}
	return b, nil
}

// cmp compares the number v (read as n) with the bound as the validator does, exactly: -1, 0 or
// +1. Rounding to float64 keeps order (a < b gives float64(a) <= float64(b)), and the bound's
// float64 is the rounding of its exact value; so where the two float64s differ, they say how
// the exact values compare, and only a value that rounds onto the bound needs more. Such ties
// are common (a quantity of 1 against a minimum of 1): most are decided by the value's sign,
// its text or its integer, the rest by big.Rat. ok is false when n is not exact: only the
// validator can tell.
func (b *bound) cmp(v any, n numberValue) (c int, ok bool) {
	if !n.exact {
		return 0, false
	}
	switch {
	case n.f < b.f:
		return -1, true
	case n.f > b.f:
		return 1, true
	case b.rat.Sign() == 0:
		// Zeros, and numbers too small for a float64 (1e-999999), whose exact reading costs
		// most: the sign says it.
		return n.sign, true
	}
	switch x := v.(type) {
	case float64:
		if b.shortest {
			return 0, true
		}
	case int:
		if b.whole {
			return cmpInt(int64(x), b.i), true
		}
	case int64:
		if b.whole {
			return cmpInt(x, b.i), true
		}
	case json.Number:
		if string(x) == b.text {
			return 0, true
		}
	}
	r, ok := ratOf(v)
	if !ok {
		return 0, false
	}
	return r.Cmp(b.rat), true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
