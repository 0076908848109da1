package licences_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/format"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
)

func TestALicencesIdentifierFaceItemsAndSealAreKept(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time) {
		ctx := context.Background()
		food, _ := testCatalogue.Matter("food-business-licence")
		issuer, err := format.CompleteUSCC("11320707MB0000001")
		if err != nil {
			t.Fatal(err)
		}
		l := foodLicence("JY13207070000042", uscc, "uscc", "2031-11-26")
		l.IssuerCode = issuer
		l.Items = map[string]string{"经营场所": "连云港市赣榆区青口镇黄海路1号", "主体业态": "餐饮服务经营者"}
		l.Seal = &event.Seal{Name: "连云港市赣榆区行政审批局行政审批专用章", Algorithm: "SM2", CertificateSerial: "4c2a0f"}
		if ps := licences.Check(l, ""); len(ps) > 0 {
			t.Fatalf("a complete licence has problems: %v", ps)
		}
		l = licences.Completed(food, l)
		var rec *licences.Licence
		if err := st.InTx(ctx, func(tx *sqlx.Tx) error {
			rec, err = lib.Record(ctx, tx, licences.Issued{Licence: l, Source: licences.SourceHub, Department: "admin-approval",
				CaseID: "cs_1", SubcaseID: "sc_1", MatterCode: food.Code})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := lib.Get(ctx, l.Type, l.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []*licences.Licence{rec, got} {
			if g.TypeCode != food.Result.LicenceTypeCode || !strings.HasPrefix(g.Identifier, g.TypeCode+"."+issuer+".JY13207070000042.001.") {
				t.Errorf("type code %q, identifier %q", g.TypeCode, g.Identifier)
			}
			if !maps.Equal(g.Items, l.Items) {
				t.Errorf("face items %v, want %v", g.Items, l.Items)
			}
			if g.Seal == nil || *g.Seal != *l.Seal {
				t.Errorf("seal %+v, want %+v", g.Seal, l.Seal)
			}
		}
		// A licence without them reads back without them: no empty seal, no empty items.
		plain := foodLicence("JY13207070000043", uscc, "uscc", "")
		if err := st.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := lib.Record(ctx, tx, licences.Issued{Licence: plain, Source: licences.SourceHub})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := lib.Get(ctx, plain.Type, plain.Number); err != nil || got.Seal != nil || got.Items != nil || got.Identifier != "" {
			t.Errorf("a plain licence reads back as %+v (%v)", got, err)
		}
	})
}

func TestEveryProblemOfALicencesMetadataIsNamed(t *testing.T) {
	l := foodLicence("JY1", uscc, "uscc", "")
	l.Identifier = "1.2.156.3005.2.x"
	l.Items = map[string]string{"": "空名", "经营范围": strings.Repeat("字", 1001)}
	l.Seal = &event.Seal{Algorithm: strings.Repeat("A", 33)}
	var got []string
	for _, p := range licences.Check(l, "/licences/0") {
		got = append(got, p.Path+" "+p.Rule)
	}
	want := []string{"/licences/0/identifier pattern", "/licences/0/items pattern", "/licences/0/items/经营范围 max_length",
		"/licences/0/seal/name required", "/licences/0/seal/algorithm max_length"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("problems %q, want %q", got, want)
	}
}
