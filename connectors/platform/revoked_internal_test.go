package platform

import (
	"reflect"
	"strings"
	"testing"

	"yjshub/hub/hubtest"
)

func TestTheRevocationMappingLiesOverTheSharedOne(t *testing.T) {
	cfg := testConfigs(t)["lianyungang"]
	out := cfg.Outbound.revoked()
	if out == nil {
		t.Fatal("revoked() = nil with outbound.revoked")
	}
	doc := map[string]any{
		"platform": "lianyungang", "app_id": "LYG-1", "case_id": "cs_1", "step": "revoked", "status": "撤销", "time": "2026-12-05 10:00:00",
		"bundle":  map[string]any{"seq": 30, "code": "open-drink-shop", "name": "开饮品店"},
		"licence": map[string]any{"type": "食品经营许可证", "type_code": "", "number": "JY1", "subcase_id": "sc_1", "matter_code": "food-business-licence"},
		"reason":  "依法撤销",
	}
	want := map[string]any{"YWLSH": "LYG-1", "BJZT": "12", "BJSJ": "2026-12-05 10:00:00", "CXYY": "依法撤销",
		"ZZ": map[string]any{"ZZLX": "食品经营许可证", "ZZLXDM": "", "ZZBH": "JY1"}}
	if got := out.apply(doc); !reflect.DeepEqual(got, want) {
		t.Errorf("apply = %v\nwant    %v", got, want)
	}
	// The other documents keep the shared mapping: 受理 is still "02" there, and 撤销 unknown.
	if _, ok := cfg.Outbound.Values["status"]["撤销"]; ok || out.Values["status"]["受理"] != "02" {
		t.Errorf("shared values %v, revocation's %v: the revocation's must add to a copy of the shared", cfg.Outbound.Values, out.Values)
	}
	cfg.Outbound.Revoked = nil
	if cfg.Outbound.revoked() != nil {
		t.Error("revoked() without outbound.revoked: want nil (not pushed)")
	}
}

func TestTheRevocationDocumentIsValidated(t *testing.T) {
	c := testConfigs(t)["jiangsu"]
	c.Outbound.Revoked = &OutboundDocument{
		Fields: map[string]string{"licence.holder_id": "czztdm", "reason": "", "licence..number": "x"},
		Values: map[string]map[string]any{"result.state": {"approved": "1"}},
		Const:  map[string]any{"": "x"},
	}
	c.setDefaults()
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate: nil")
	}
	for _, w := range []string{`outbound.revoked.fields["licence.holder_id"]: not a field of the revocation document`,
		`outbound.revoked.fields["reason"]: empty platform name`, `outbound.revoked.fields["licence..number"]: "licence..number" is not a dotted path`,
		`outbound.revoked.values["result.state"]: not a field of the revocation document`, "outbound.revoked.const: an empty field name"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestTheRevocationDocumentIsCheckedAgainstTheCatalogueAtStart(t *testing.T) {
	cfg := testConfigs(t)["jiangsu"]
	cfg.Outbound.Revoked.Values = map[string]map[string]any{
		"licence.type":        {"食品经营许可证": "JSZZ0101", "机动车驾驶证": "JSZZ9999"},
		"licence.matter_code": {"food-business-licence": "01", "casino-licence": "99"},
		"bundle.code":         {"open-casino": "X"},
	}
	_, err := New(cfg, Deps{Catalogue: hubtest.Catalogue(t)})
	if err == nil {
		t.Fatal("New: nil")
	}
	for _, w := range []string{`outbound.revoked.values["licence.type"]["机动车驾驶证"]: the catalogue has no licence type`,
		`outbound.revoked.values["licence.matter_code"]["casino-licence"]: the catalogue has no matter`,
		`outbound.revoked.values["bundle.code"]["open-casino"]: the catalogue has no bundle`,
		"outbound.revoked: the hub's e-licence library is required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	for _, known := range []string{"食品经营许可证", "food-business-licence"} {
		if strings.Contains(err.Error(), `["`+known+`"]`) {
			t.Errorf("%s is refused:\n%v", known, err)
		}
	}
	// Without outbound.revoked nothing of it is checked, and no library is needed for it.
	cfg.Outbound.Revoked = nil
	if _, err := New(cfg, Deps{Catalogue: hubtest.Catalogue(t)}); err == nil || strings.Contains(err.Error(), "outbound.revoked") {
		t.Errorf("New without outbound.revoked: %v, want only the missing bus, store, recorder and library for licences_url", err)
	}
}
