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
