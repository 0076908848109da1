package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// jsonNumberTexts are JSON numbers around the places where reading one goes wrong: zeros, whole
// numbers written with a point or an exponent, fractions written as exponents, and exponents
// on either side of what big.Rat takes.
var jsonNumberTexts = []string{
	"0", "-0", "0.0", "0e5", "-0.000e-99", "1", "-1", "10", "1.0", "1.50", "1.05e1", "1.5e1", "15e-1", "100e-2",
	"1e2", "1E+2", "1e-2", "12345678901234567890123", "0.1", "0.01", "0.0100000000000000000000001",
	"0.0099999999999999999999999", "80.0000000000000000001", "1e400", "-1e400", "1e-400",
	"1e1000000", "1e-1000000", "1e1000001", "1e-1000001", "1.5e1000001", "1.0e-999999", "0e1000001",
	"1e9223372036854775807", "1e9223372036854775808", "0e9223372036854775808", "1e-9223372036854775808",
	"1.5e-9223372036854775808", "1." + strings.Repeat("0", 40) + "1",
}

// TestScanJSONNumberReadsAsBigRatDoes compares what scanJSONNumber finds out about a JSON
// number with what big.Rat, the schema validator's reader, makes of it.
func TestScanJSONNumberReadsAsBigRatDoes(t *testing.T) {
	for _, s := range jsonNumberTexts {
		d, ok := scanJSONNumber(s)
		if !ok {
			t.Errorf("%s: not read as a JSON number", s)
			continue
		}
		r, readable := new(big.Rat).SetString(s)
		if d.readable != readable {
			t.Errorf("%s: readable %v; big.Rat says %v", s, d.readable, readable)
			continue
		}
		if readable && (d.whole != r.IsInt() || d.sign != r.Sign()) {
			t.Errorf("%s: whole %v sign %d; big.Rat says %v %d", s, d.whole, d.sign, r.IsInt(), r.Sign())
		}
	}
	for _, s := range []string{"", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1_0", "1/2", "Inf", "NaN", " 1", "1 ", "1.5.5", "--1"} {
		if _, ok := scanJSONNumber(s); ok {
			t.Errorf("%q read as a JSON number", s)
		}
	}
}

// TestBoundsCompareAsTheValidatorDoes compares number values with the catalogue's kinds of
// bound both ways: bound.cmp, and the validator's exact rationals of the values' text.
func TestBoundsCompareAsTheValidatorDoes(t *testing.T) {
	compared := 0
	type exact struct {
		r  *big.Rat
		ok bool
	}
	memo := map[string]exact{} // big.Rat takes long over 1e1000000
	ratOnce := func(v any) (*big.Rat, bool) {
		k := fmt.Sprintf("%T %v", v, v)
		if e, ok := memo[k]; ok {
			return e.r, e.ok
		}
		r, ok := ratOf(v)
		memo[k] = exact{r, ok}
		return r, ok
	}
	for _, b := range []string{"0", "0.01", "0.1", "1", "3", "12", "100", "3650", "100000000", "-5", "1e-7",
		"0.1000000000000000055511151231257827021181583404541015625", // 0.1's float64 exactly: not its shortest decimal
		"9007199254740993", "1e30", "-9223372036854775808"} { // no float64; no int64

		bnd, err := newBound(json.Number(b))
		if err != nil {
			t.Fatal(err)
		}
		values := append(numberNearMisses(b), numberNearMisses("0")...)
		for _, s := range jsonNumberTexts {
			values = append(values, json.Number(s))
		}
		f, _ := strconv.ParseFloat(b, 64)
		values = append(values, int(f), int64(f)+1, int64(f)-1, math.Nextafter(f, 0), json.Number(strconv.FormatFloat(f, 'e', 20, 64)),
			json.Number(strconv.FormatFloat(f, 'f', -1, 64)), int64(9007199254740992), 9007199254740992.0, 1e30, json.Number("1000000000000000000000000000000"))
		for _, v := range values {
			n, ok := readNumber(v)
			if !ok {
				continue
			}
			want, readable := ratOnce(v)
			got, decided := bnd.cmp(v, n)
			// A json.Number that is not JSON is left to the validator.
			_, isJSON := scanJSONNumber(fmt.Sprint(v))
			_, handBuilt := v.(json.Number)
			handBuilt = handBuilt && !isJSON
			switch {
			case !readable && decided:
				t.Errorf("%v against %s: compared although the validator cannot read it", v, b)
			case handBuilt && decided:
				t.Errorf("%v against %s: compared although it is not JSON", v, b)
			case readable && !handBuilt && !decided:
				t.Errorf("%v against %s: left undecided", v, b)
			case readable && !handBuilt && got != want.Cmp(bnd.rat):
				t.Errorf("%v (%T) against %s: %d; exactly %d", v, v, b, got, want.Cmp(bnd.rat))
			}
			compared++
		}
	}
	t.Logf("%d comparisons", compared)
}

// FuzzJSONNumber reads arbitrary JSON numbers both ways. Exponents of more than four digits
// are left to the tests above: big.Rat takes long over them.
func FuzzJSONNumber(f *testing.F) {
	for _, s := range jsonNumberTexts[:22] {
		f.Add(s)
	}
	bounds := []*bound{}
	for _, b := range []string{"0", "0.01", "1", "100"} {
		bnd, _ := newBound(json.Number(b))
		bounds = append(bounds, bnd)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		jsonNumber := dec.Decode(&v) == nil && !dec.More()
		_, isNumber := v.(json.Number)
		_, ok := scanJSONNumber(s)
		if ok != (jsonNumber && isNumber && v.(json.Number).String() == s) {
			t.Fatalf("%q: read as a JSON number %v; encoding/json says %v", s, ok, jsonNumber && isNumber)
		}
		if !ok {
			return
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-0")) > 4 {
			return
		}
		r, readable := new(big.Rat).SetString(s)
		n := readJSONNumber(s)
		if n.unreadable == readable || readable && n.whole != r.IsInt() {
			t.Fatalf("%s: whole %v unreadable %v; big.Rat says %v %v", s, n.whole, n.unreadable, r.IsInt(), !readable)
		}
		for _, b := range bounds {
			if got, decided := b.cmp(json.Number(s), n); readable && (!decided || got != r.Cmp(b.rat)) {
				t.Fatalf("%s against %s: %d (decided %v); exactly %d", s, b.rat.RatString(), got, decided, r.Cmp(b.rat))
			}
		}
	})
}
