package platformsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RevocationFormat is where a platform reads a revocation (撤销: an e-licence it was sent as a
// result has been revoked by its issuing department) in the documents the hub pushes, as
// data: dotted paths into the document. It is the mirror image of the outbound mapping
// (outbound.revoked over outbound) a connectors file configures for that platform.
type RevocationFormat struct {
	// Status is the path of the status; Revoked its value in a revocation.
	Status  string
	Revoked string
	// AppID, Time, Type, Number and Reason are the paths of what every revocation carries;
	// TypeCode the path of the licence type's code, which may be empty.
	AppID, Time, Type, TypeCode, Number, Reason string
	// TimeLayout reads Time (a Go layout, China Standard Time).
	TimeLayout string
}

// Revocation is a revocation the platform took, as it reads it.
type Revocation struct {
	// Key is the push's Idempotency-Key.
	Key string
	// AppID is the application on the platform; Type, TypeCode and Number name the licence
	// in the platform's values; Reason is the department's.
	AppID, Type, TypeCode, Number, Reason string
	// At is when the licence was revoked.
	At time.Time
	// Doc is the whole document.
	Doc map[string]any
}

// Decode reads a revocation from a pushed document: ok is false when the document is not a
// revocation, err when it is one without its application, licence, time or reason.
func (f RevocationFormat) Decode(p Push) (r Revocation, ok bool, err error) {
	if s, _ := get(p.Doc, f.Status).(string); s != f.Revoked {
		return r, false, nil
	}
	r = Revocation{Key: p.Key, Doc: p.Doc}
	var missing []string
	for _, fld := range []struct {
		path     string
		to       *string
		optional bool
	}{{f.AppID, &r.AppID, false}, {f.Type, &r.Type, false}, {f.TypeCode, &r.TypeCode, true}, {f.Number, &r.Number, false}, {f.Reason, &r.Reason, false}} {
		s, isText := get(p.Doc, fld.path).(string)
		if !fld.optional && (!isText || s == "") {
			missing = append(missing, fld.path)
		}
		*fld.to = s
	}
	at, _ := get(p.Doc, f.Time).(string)
	r.At, err = time.ParseInLocation(f.TimeLayout, at, cst)
	if err != nil {
		missing = append(missing, f.Time)
	}
	if len(missing) > 0 {
		return r, true, fmt.Errorf("revocation %s: no readable %s", p.Key, strings.Join(missing, ", "))
	}
	return r, true, nil
}

// Revocations returns the revocations the platform took (2xx, the first of each
// Idempotency-Key), read in layout f; a revocation it cannot read is an error.
func (s *Sim) Revocations(f RevocationFormat) ([]Revocation, error) {
	var out []Revocation
	for _, p := range s.Taken() {
		r, ok, err := f.Decode(p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// get follows a dotted path through objects and arrays; nil when it leads nowhere.
func get(doc any, path string) any {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

// JiangsuRevocation is the provincial layout of a revocation: the progress document's sblsh,
// blzt and blsj (RFC 3339), the licence under dzzz with its type by the platform's code.
var JiangsuRevocation = RevocationFormat{
	Status: "blzt", Revoked: "撤销", AppID: "sblsh", Time: "blsj", TimeLayout: time.RFC3339,
	Type: "dzzz.zzlxdm", TypeCode: "dzzz.type_code", Number: "dzzz.zzbh", Reason: "cxyy",
}

// LianyungangRevocation is the municipal layout of a revocation: status code 12, its own time
// layout, upper-case initials.
var LianyungangRevocation = RevocationFormat{
	Status: "BJZT", Revoked: "12", AppID: "YWLSH", Time: "BJSJ", TimeLayout: "2006-01-02 15:04:05",
	Type: "ZZ.ZZLX", TypeCode: "ZZ.ZZLXDM", Number: "ZZ.ZZBH", Reason: "CXYY",
}
