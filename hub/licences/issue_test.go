package licences_test

import (
	"strings"
	"testing"

	"yjshub/catalogue"
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
		{"a type code the catalogue does not know", food, adminApproval, licence("食品经营许可证", "11100000MB0143028R099", "区行政审批局"), nil},
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

func TestAnIssuedLicenceTakesTheCataloguesTypeCodeWhenItGivesNone(t *testing.T) {
	food, _ := testCatalogue.Matter("food-business-licence")
	coded := *food
	coded.Result.LicenceTypeCode = "11100000MB0143028R010"
	if got := licences.WithCatalogueCode(&coded, event.Licence{Type: "食品经营许可证"}); got.TypeCode != "11100000MB0143028R010" {
		t.Errorf("without a code: %q, want the catalogue's", got.TypeCode)
	}
	if got := licences.WithCatalogueCode(&coded, event.Licence{Type: "食品经营许可证", TypeCode: "given"}); got.TypeCode != "given" {
		t.Errorf("with a code: %q, want it kept", got.TypeCode)
	}
	if got := licences.WithCatalogueCode(food, event.Licence{Type: "食品经营许可证"}); got.TypeCode != "" {
		t.Errorf("a catalogue without a code: %q", got.TypeCode)
	}
}
