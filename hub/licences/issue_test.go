package licences_test

import (
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub/event"
	"yjshub/hub/licences"
)

func TestADepartmentIssuesOnlyItsMattersLicenceTypeInItsOwnName(t *testing.T) {
	tobaccoRetail, _ := testCatalogue.Matter("tobacco-retail-licence")
	food, _ := testCatalogue.Matter("food-business-licence")
	filing, _ := testCatalogue.Matter("prepackaged-food-sales-filing")
	tobacco, _ := testCatalogue.Department("tobacco")
	adminApproval, _ := testCatalogue.Department("admin-approval")
	coded := *food
	coded.Result.LicenceTypeCode = "11100000MB0143028R010"
	uncoded := *food // a catalogue from before every licence type had its code
	uncoded.Result.LicenceTypeCode = ""
	aliased := *tobacco
	aliased.Aliases = []string{"赣榆烟草"}
	licence := func(typ, typeCode, issuer string) event.Licence {
		return event.Licence{Type: typ, TypeCode: typeCode, Issuer: issuer}
	}
	tests := []struct {
		name   string
		matter *catalogue.Matter
		dept   *catalogue.Department
		l      event.Licence
		want   []string // "path rule", in order
	}{
		{"its type by its department's code", tobaccoRetail, tobacco, licence("烟草专卖零售许可证", "", "tobacco"), nil},
		{"its type by its department's name", tobaccoRetail, tobacco, licence("烟草专卖零售许可证", "", "区烟草局"), nil},
		{"its type by its department's full name", tobaccoRetail, tobacco, licence("烟草专卖零售许可证", "", "连云港市赣榆区烟草专卖局"), nil},
		{"its type by one of its department's aliases", tobaccoRetail, &aliased, licence("烟草专卖零售许可证", "", "赣榆烟草"), nil},
		{"another matter's type in another department's name", tobaccoRetail, tobacco, licence("食品经营许可证", "", "区市场监管局"),
			[]string{"/x/type licence_type", "/x/issuer issuer"}},
		{"its type in another department's name", food, adminApproval, licence("食品经营许可证", "", "区市场监管局"), []string{"/x/issuer issuer"}},
		{"its type with no issuer", food, adminApproval, licence("食品经营许可证", "", ""), []string{"/x/issuer issuer"}},
		{"a licence from a matter that issues none", filing, adminApproval, licence("仅销售预包装食品经营者备案信息", "", "区行政审批局"), []string{"/x/type licence_type"}},
		{"the catalogue's type code", &coded, adminApproval, licence("食品经营许可证", "11100000MB0143028R010", "区行政审批局"), nil},
		{"another type code than the catalogue's", &coded, adminApproval, licence("食品经营许可证", "11100000MB0143028R099", "区行政审批局"), []string{"/x/type_code licence_type"}},
		{"a type code the catalogue does not know", &uncoded, adminApproval, licence("食品经营许可证", "11100000MB0143028R099", "区行政审批局"), nil},
		{"an issuer's code that is not a credit code", food, adminApproval,
			event.Licence{Type: "食品经营许可证", Issuer: "区行政审批局", IssuerCode: "320707-admin"}, []string{"/x/issuer_code gb32100"}},
		{"a matter the catalogue no longer has", nil, adminApproval, licence("食品经营许可证", "", "区行政审批局"), []string{"/x/type licence_type"}},
		{"a department the catalogue no longer has", food, nil, licence("食品经营许可证", "", "区行政审批局"), []string{"/x/issuer issuer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range licences.CheckIssue(tc.matter, tc.dept, tc.l, "/x") {
				got = append(got, p.Path+" "+p.Rule)
				if p.Message == "" || (tc.l.Issuer != "" && strings.Contains(p.Message, tc.l.Issuer)) {
					t.Errorf("message %q: empty, or repeats the licence's issuer", p.Message)
				}
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAnIssuedLicenceTakesTheCataloguesTypeCodeAndGetsItsIdentifier(t *testing.T) {
	food, _ := testCatalogue.Matter("food-business-licence")
	coded := *food
	coded.Result.LicenceTypeCode = "11100000MB0143028R010"
	issuer, err := format.CompleteUSCC("11320707MB0000001")
	if err != nil {
		t.Fatal(err)
	}
	got := licences.Completed(&coded, event.Licence{Type: "食品经营许可证", Number: "JY13207070000421", IssuerCode: issuer})
	if got.TypeCode != "11100000MB0143028R010" {
		t.Errorf("without a code: %q, want the catalogue's", got.TypeCode)
	}
	if want := "1.2.156.3005.2.11100000MB0143028R010." + issuer + ".JY13207070000421.001."; !strings.HasPrefix(got.Identifier, want) || len(got.Identifier) != len(want)+1 {
		t.Errorf("identifier %q, want %s<check>", got.Identifier, want)
	}
	if err := licences.CheckIdentifier(got.Identifier); err != nil {
		t.Errorf("the identifier built does not check: %v", err)
	}
	if got := licences.Completed(&coded, event.Licence{Type: "食品经营许可证", TypeCode: "given"}); got.TypeCode != "given" {
		t.Errorf("with a code: %q, want it kept", got.TypeCode)
	}
	if got := licences.Completed(&coded, event.Licence{Type: "食品经营许可证", Number: "1"}); got.Identifier != "" {
		t.Errorf("without the issuer's code the hub made up an identifier: %q", got.Identifier)
	}
	if got := licences.Completed(&coded, event.Licence{Type: "食品经营许可证", Number: "1", IssuerCode: issuer, Identifier: "kept"}); got.Identifier != "kept" {
		t.Errorf("the issuer's own identifier was replaced by %q", got.Identifier)
	}
	// The seeds' food licence type is of the local namespace: its identifier says so.
	local := licences.Completed(food, event.Licence{Type: "食品经营许可证", Number: "苏JY-1320707", IssuerCode: issuer})
	if !licences.LocalTypeCode(local.TypeCode) || !strings.HasPrefix(local.Identifier, local.TypeCode+"."+issuer+".JY1320707.001.") {
		t.Errorf("a local type: code %q, identifier %q", local.TypeCode, local.Identifier)
	}
	if err := licences.CheckIdentifier(local.Identifier); err != nil {
		t.Errorf("the local identifier does not check: %v", err)
	}
}

func TestABrokenIdentifierIsRefusedWithItsReason(t *testing.T) {
	issuer, _ := format.CompleteUSCC("11320707MB0000001")
	good, err := licences.Identifier("11100000MB0143028R010", issuer, "A1", "001")
	if err != nil {
		t.Fatal(err)
	}
	wrongCheck := good[:len(good)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(good, "0")]
	for name, id := range map[string]string{
		"a wrong check character": wrongCheck,
		"no root and no LOCAL":    strings.TrimPrefix(good, licences.IdentifierRoot+"."),
		"a lower-case serial":     strings.Replace(good, ".A1.", ".a1.", 1),
		"a two-digit version":     strings.Replace(good, ".001.", ".01.", 1),
		"an issuer not a USCC":    strings.Replace(good, issuer, "11320707MB00000011", 1),
	} {
		if licences.CheckIdentifier(id) == nil {
			t.Errorf("%s: %q passes", name, id)
		}
	}
	if _, err := licences.Identifier("food", "not-a-uscc", "", "1"); err == nil || strings.Count(err.Error(), "\n") != 3 {
		t.Errorf("every problem of the inputs at once: %v", err)
	}
}
