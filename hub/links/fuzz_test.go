package links_test

import (
	"crypto/hmac"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"yjshub/hub/auth"
	"yjshub/hub/links"
)

// FuzzVerifyNeverAuthorisesAnAlteredLink alters a signed link's query string at will: Verify
// must not panic, and whatever it lets through must grant exactly what was signed (the same
// parameters, however they are ordered or percent-encoded, and the same signature bytes).
func FuzzVerifyNeverAuthorisesAnAlteredLink(f *testing.F) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	keys := links.Ephemeral().WithClock(func() time.Time { return now })
	sha := strings.Repeat("5a", 32)
	link, err := keys.SignLink(links.Link{Method: http.MethodGet, SHA256: sha, Department: deptA, Case: caseN, Subcase: subN, Via: "frontdb", TTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil {
		f.Fatal(err)
	}
	signed := u.Query()
	f.Add(u.RawQuery, false)
	f.Add(u.RawQuery, true)
	f.Add(strings.Replace(u.RawQuery, "dept=", "dept=%33", 1), false)
	f.Add(u.RawQuery+"&case="+caseN, false)
	f.Add(strings.Replace(u.RawQuery, "exp=", "exp=+", 1), false)
	f.Add(strings.Replace(u.RawQuery, "case=", "x=1&case=", 1), false)
	f.Add(strings.Replace(u.RawQuery, "&", ";", 1), false)
	f.Add("", false)
	f.Fuzz(func(t *testing.T, rawQuery string, asOtherDepartment bool) {
		r := httptest.NewRequest(http.MethodGet, u.Path, nil)
		r.URL.RawQuery = rawQuery
		if asOtherDepartment {
			r = r.WithContext(auth.WithClient(r.Context(), auth.Client{Name: "b", Role: auth.RoleDepartment, Department: deptB}))
		}
		c, err := keys.Verify(r)
		if err != nil {
			if err != links.ErrForbidden {
				t.Fatalf("refused with %v, not ErrForbidden", err)
			}
			return
		}
		if asOtherDepartment {
			t.Fatalf("another department's client was let through with %q", rawQuery)
		}
		got, perr := url.ParseQuery(rawQuery)
		if perr != nil || len(got) != len(signed) {
			t.Fatalf("let through %q, whose parameters are not the signed ones", rawQuery)
		}
		for name, vs := range signed {
			if name == "sig" {
				a, _ := base64.RawURLEncoding.DecodeString(vs[0])
				b, _ := base64.RawURLEncoding.DecodeString(got.Get(name))
				if !hmac.Equal(a, b) {
					t.Fatalf("let through %q with another signature", rawQuery)
				}
				continue
			}
			if len(got[name]) != 1 || got[name][0] != vs[0] {
				t.Fatalf("let through %q with %s=%v, signed %s=%s", rawQuery, name, got[name], name, vs[0])
			}
		}
		if c.Department != deptA || c.Case != caseN || c.Subcase != subN || c.SHA256 != sha || c.Via != "frontdb" {
			t.Fatalf("let through %q granting %+v", rawQuery, c)
		}
	})
}
