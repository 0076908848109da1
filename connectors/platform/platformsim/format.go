package platformsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"yjshub/hub/cases"
)

// Format is how a platform lays out an application, as data: where each hub field goes in the
// platform's document (dotted paths) and the platform's own codes. It is the mirror image of
// the inbound mapping a connectors file configures for that platform.
type Format struct {
	// Bundle is the path of the bundle; BundleCodes the platform's code for each hub bundle
	// code (absent: the hub's code).
	Bundle      string
	BundleCodes map[string]any
	// ApplicantType is the path of the applicant type; ApplicantTypes the platform's values.
	ApplicantType  string
	ApplicantTypes map[string]any
	// Matters is the path of the matter list; with MatterKey its elements are objects with
	// the code at MatterKey. MatterCodes are the platform's matter codes.
	Matters     string
	MatterKey   string
	MatterCodes map[string]string
	// Form places each canonical field; FormValues gives the platform's values of some.
	Form       map[string]string
	FormValues map[string]map[string]any
	// Materials is the path of the material list, MaterialFields the path of each hub
	// material field in an element, MaterialCodes the platform's material codes.
	Materials      string
	MaterialFields map[string]string
	MaterialCodes  map[string]string
	// NumbersAsText writes numbers as strings, as some platforms do.
	NumbersAsText bool
}

// Encode writes a hub application in the platform's format. A form field the format does not
// place is an error: the platform would not have it.
func (f Format) Encode(app cases.Application) (json.RawMessage, error) {
	doc := map[string]any{}
	var bundle any
	if err := json.Unmarshal(app.Bundle, &bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if s, ok := bundle.(string); ok {
		if code, ok := f.BundleCodes[s]; ok {
			bundle = code
		}
	}
	set(doc, f.Bundle, bundle)
	at := any(app.ApplicantType)
	if v, ok := f.ApplicantTypes[app.ApplicantType]; ok {
		at = v
	}
	set(doc, f.ApplicantType, at)
	if app.Matters != nil {
		list := []any{}
		for _, m := range app.Matters {
			code := m
			if c, ok := f.MatterCodes[m]; ok {
				code = c
			}
			if f.MatterKey != "" {
				el := map[string]any{}
				set(el, f.MatterKey, code)
				list = append(list, el)
			} else {
				list = append(list, code)
			}
		}
		set(doc, f.Matters, list)
	}
	codes := make([]string, 0, len(app.Form))
	for code := range app.Form {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		path, ok := f.Form[code]
		if !ok {
			return nil, fmt.Errorf("the format has no place for form field %s", code)
		}
		v := app.Form[code]
		if vals, ok := f.FormValues[code]; ok {
			if pv, ok := vals[fmt.Sprint(v)]; ok {
				v = pv
			}
		}
		set(doc, path, f.number(v))
	}
	mats := []any{}
	for _, m := range app.Materials {
		el := map[string]any{}
		typ := m.Type
		if c, ok := f.MaterialCodes[typ]; ok {
			typ = c
		}
		for field, v := range map[string]any{"type": typ, "filename": m.Filename, "sha256": m.SHA256, "size": m.Size, "uri": m.URI} {
			if path, ok := f.MaterialFields[field]; ok {
				set(el, path, f.number(v))
			}
		}
		mats = append(mats, el)
	}
	set(doc, f.Materials, mats)
	return json.Marshal(doc)
}

func (f Format) number(v any) any {
	if !f.NumbersAsText {
		return v
	}
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return v
}

// set places v at a dotted path, creating the objects on the way.
func set(doc map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	cur := doc
	for _, s := range segs[:len(segs)-1] {
		next, ok := cur[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s] = next
		}
		cur = next
	}
	cur[segs[len(segs)-1]] = v
}

// Jiangsu is a provincial layout (江苏政务服务网 "一件事"): nested groups, pinyin-initial
// names, its own bundle and matter codes, numeric applicant types.
var Jiangsu = Format{
	Bundle:         "sxxx.yjsbm",
	BundleCodes:    map[string]any{"open-drink-shop": "JSYJS0030", "open-bar": "JSYJS0034"},
	ApplicantType:  "sqrlx",
	ApplicantTypes: map[string]any{"enterprise": "1", "individual": "2"},
	Matters:        "sxxx.sxlb",
	MatterKey:      "sxbm",
	MatterCodes:    map[string]string{"food-business-licence": "320707-SPJYXK-01", "outdoor-advertising-approval": "320707-HWGGSZ-02"},
	Form: map[string]string{
		"applicant.name": "sqr.xm", "applicant.id_number": "sqr.zjhm", "applicant.address": "sqr.zz",
		"applicant.id_type": "sqr.zjlx", "applicant.subject": "sqr.ztlx",
		"individual_business.name": "gtgsh.mc", "individual_business.uscc": "gtgsh.tyshxydm",
		"contact.name": "lxr.xm", "contact.mobile": "lxr.sjhm",
		"business.name": "jycs.zh", "business.address": "jycs.dz", "business.area_m2": "jycs.mj",
		"food.business_category": "spjy.ztyt", "food.business_items": "spjy.jyxm", "food.online_sales": "spjy.wljy",
		"food.safety_manager_name": "spjy.aqgly.xm", "food.safety_manager_mobile": "spjy.aqgly.sjhm",
		"food.warehouse_address": "spjy.ckdz",
		"ad.content":             "hwgg.nr", "ad.facility_type": "hwgg.lx", "ad.location": "hwgg.wz", "ad.material": "hwgg.cz",
		"ad.quantity": "hwgg.sl", "ad.width_m": "hwgg.kd", "ad.height_m": "hwgg.gd", "ad.area_m2": "hwgg.mj",
		"ad.period_start": "hwgg.qsrq", "ad.period_end": "hwgg.jzrq",
	},
	Materials:      "clxx",
	MaterialFields: map[string]string{"type": "clbm", "filename": "wjmc", "sha256": "wjzy", "size": "wjdx", "uri": "xzdz"},
}

// Lianyungang is a municipal layout (连云港市政务服务一体化平台): flat upper-case names, the
// bundle by its 序号, applicant types and material types in words, numbers and yes/no as text.
var Lianyungang = Format{
	Bundle:         "YJSXH",
	BundleCodes:    map[string]any{"open-drink-shop": "30", "open-bar": "34"},
	ApplicantType:  "SQRLX",
	ApplicantTypes: map[string]any{"enterprise": "企业", "individual": "个人"},
	Matters:        "SXLB",
	Form: map[string]string{
		"applicant.name": "SQRXM", "applicant.id_number": "SQRSFZH", "applicant.address": "SQRZZ",
		"applicant.id_type": "SQRZJLX", "applicant.subject": "SQZTLX",
		"individual_business.name": "GTGSHMC", "individual_business.uscc": "GTGSHXYDM",
		"contact.name": "LXRXM", "contact.mobile": "LXRSJ",
		"business.name": "DPMC", "business.address": "JYDZ", "business.area_m2": "JYMJ",
		"food.business_category": "SPJYZTYT", "food.business_items": "SPJYXM", "food.online_sales": "SFWLJY",
		"food.safety_manager_name": "SPAQGLY", "food.safety_manager_mobile": "SPAQGLYDH",
		"food.warehouse_address": "CCCSDZ",
		"ad.content":             "GGNR", "ad.facility_type": "GGLX", "ad.location": "GGWZ", "ad.material": "GGCZ",
		"ad.quantity": "GGSL", "ad.width_m": "GGKD", "ad.height_m": "GGGD", "ad.area_m2": "GGMJ",
		"ad.period_start": "GGQSRQ", "ad.period_end": "GGJZRQ",
	},
	FormValues:     map[string]map[string]any{"food.online_sales": {"false": "否", "true": "是"}},
	Materials:      "CLLIST",
	MaterialFields: map[string]string{"type": "CLMC", "filename": "WJM", "sha256": "SHA256", "size": "WJDX", "uri": "WJDZ"},
	MaterialCodes: map[string]string{
		"application-form": "申请书", "business-licence": "营业执照", "id-card": "身份证", "premises-proof": "经营场所证明",
		"food-equipment-layout": "设备布局图", "food-safety-rules": "食品安全管理制度", "power-of-attorney": "授权委托书",
		"ad-design-drawing": "广告设计图", "ad-site-photo": "设置地点现状照片", "ad-site-consent": "场地使用同意书",
		"ad-structure-safety": "结构安全证明",
	},
	NumbersAsText: true,
}
