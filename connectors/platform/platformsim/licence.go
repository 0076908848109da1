package platformsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"yjshub/hub/event"
)

// LicenceFormat is how a platform lays out an e-licence, as data: where each field of the
// hub's e-licence goes in the platform's document (dotted paths) and the platform's own codes.
// It is the mirror image of the licence_fields a connectors file configures for that platform.
type LicenceFormat struct {
	// Fields places the fields of the hub's e-licence, named as licence_fields names them
	// (type, type_code, number, holder, holder_id, holder_id_type, issuer, issuer_code,
	// issued_at, valid_from, valid_until, file.sha256, file.uri, file.format, file.size). A
	// field it does not place is left out, as is an empty one.
	Fields map[string]string
	// Codes gives, per field, the platform's code of the hub's values (type: 食品经营许可证 →
	// its code); a value it does not list is written as it is.
	Codes map[string]map[string]any
	// DateLayout writes the dates (a Go layout, China Standard Time). Default 2006-01-02.
	DateLayout string
	// NumbersAsText writes the file size as a string.
	NumbersAsText bool
}

// Encode writes a hub e-licence in the platform's format.
func (f LicenceFormat) Encode(l event.Licence) (json.RawMessage, error) {
	values := map[string]string{
		"type": l.Type, "type_code": l.TypeCode, "number": l.Number, "holder": l.Holder, "holder_id": l.HolderID,
		"holder_id_type": l.HolderIDType, "issuer": l.Issuer, "issuer_code": l.IssuerCode,
		"issued_at": l.IssuedAt, "valid_from": l.ValidFrom, "valid_until": l.ValidUntil,
		"file.sha256": l.File.SHA256, "file.uri": l.File.URI, "file.format": l.File.Format,
	}
	doc := map[string]any{}
	for field, v := range values {
		path, ok := f.Fields[field]
		if !ok || v == "" {
			continue
		}
		var out any = v
		switch field {
		case "issued_at", "valid_from", "valid_until":
			d, err := time.ParseInLocation(time.DateOnly, v, cst)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			layout := f.DateLayout
			if layout == "" {
				layout = time.DateOnly
			}
			out = d.Format(layout)
		}
		if code, ok := f.Codes[field][v]; ok {
			out = code
		}
		set(doc, path, out)
	}
	if path, ok := f.Fields["file.size"]; ok && l.File.Size > 0 {
		var size any = l.File.Size
		if f.NumbersAsText {
			size = strconv.FormatInt(l.File.Size, 10)
		}
		set(doc, path, size)
	}
	return json.Marshal(doc)
}

// cst is China Standard Time, the platforms' time zone.
var cst = time.FixedZone("CST", 8*3600)

// JiangsuLicence is the provincial layout of an e-licence (江苏政务服务网, after GB/T 36904):
// nested groups, pinyin-initial names, the licence type by its own code (which the hub keeps as
// the type code too), holder id types and file formats by code.
var JiangsuLicence = LicenceFormat{
	Fields: map[string]string{
		"type": "zzxx.zzlxdm", "number": "zzxx.zzbh",
		"issuer": "zzxx.bfjg", "issuer_code": "zzxx.bfjgdm", "issued_at": "zzxx.bfrq",
		"valid_from": "zzxx.yxqqsrq", "valid_until": "zzxx.yxqjzrq",
		"holder": "czzt.mc", "holder_id": "czzt.dm", "holder_id_type": "czzt.dmlx",
		"file.sha256": "wj.zy", "file.uri": "wj.dz", "file.format": "wj.gs", "file.size": "wj.dx",
	},
	Codes: map[string]map[string]any{
		"type":           {"食品经营许可证": "JSZZ0101", "营业执照": "JSZZ0001", "公共场所卫生许可证": "JSZZ0205"},
		"holder_id_type": {"uscc": "001", "resident_id": "111"},
		"file.format":    {"ofd": "OFD", "pdf": "PDF"},
	},
}

// LianyungangLicence is the municipal layout of an e-licence (连云港市政务服务一体化平台): flat
// upper-case names, the licence type by its name, holder id types in words, times of day on
// the dates, the size as text.
var LianyungangLicence = LicenceFormat{
	Fields: map[string]string{
		"type": "ZZMC", "number": "ZZBH", "issuer": "FZJG", "issued_at": "FZRQ", "valid_from": "YXQQ", "valid_until": "YXQZ",
		"holder": "CZZTMC", "holder_id": "CZZTDM", "holder_id_type": "CZZTDMLX",
		"file.sha256": "ZZWJZY", "file.uri": "ZZWJDZ", "file.size": "ZZWJDX",
	},
	Codes: map[string]map[string]any{
		"holder_id_type": {"uscc": "统一社会信用代码", "resident_id": "居民身份证"},
	},
	DateLayout:    time.DateTime,
	NumbersAsText: true,
}
