package licences

import "testing"

func TestTheCheckCharacterIsISO7064Mod37_36(t *testing.T) {
	for body, want := range map[string]byte{
		// ISO 7064's own example of MOD 37,36.
		"A12425GABC1234002": 'M',
		// Identifiers published by provincial platforms: a format example
		// (…W011.11430000006122244L.20230000403.001.U) and an issued licence's file name
		// (…W009.11330105002500287C.2025052201.002.0).
		"11100000000013338W011" + "11430000006122244L" + "20230000403" + "001": 'U',
		"11100000000013338W009" + "11330105002500287C" + "2025052201" + "002":  '0',
	} {
		if got := mod37_36(body); got != want {
			t.Errorf("mod37_36(%s) = %c, want %c", body, got, want)
		}
	}
}

// FuzzIdentifier: whatever the inputs, Identifier either refuses them or builds an identifier
// CheckIdentifier accepts, and CheckIdentifier never panics on any text.
func FuzzIdentifier(f *testing.F) {
	f.Add("LOCAL-320707-016", "11320707MB00000017", "JY13207070000421", "001")
	f.Add("11100000MB0143028R010", "91350100M000100Y43", "苏A-1", "002")
	f.Fuzz(func(t *testing.T, typeCode, issuer, number, version string) {
		_ = CheckIdentifier(typeCode + "." + issuer + "." + number + "." + version)
		id, err := Identifier(typeCode, issuer, number, version)
		if err != nil {
			return
		}
		if err := CheckIdentifier(id); err != nil {
			t.Fatalf("Identifier(%q, %q, %q, %q) = %q, which CheckIdentifier refuses: %v", typeCode, issuer, number, version, id, err)
		}
	})
}
