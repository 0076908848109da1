package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"yjshub/hub/auth"
)

// PathPrefix starts the path of every link: the link to a blob is PathPrefix and its SHA-256.
// The handler must see the whole path (mount it there, not behind http.StripPrefix): the path
// is signed.
const PathPrefix = "/api/v1/files/"

// MaxTTL bounds how long a link lives. A department that missed a link asks for a fresh one
// (the restpull inbox hands out fresh links), so a long life buys little and widens what a
// leaked link exposes. Rotate the keys less often than this, or links die with their key.
const MaxTTL = 7 * 24 * time.Hour

// Query parameters of a link.
const (
	paramCase    = "case"
	paramSubcase = "subcase"
	paramDept    = "dept"
	paramVia     = "via"
	paramExp     = "exp"
	paramKid     = "kid"
	paramSig     = "sig"
)

// signedVersion starts the signed message, so that a signature made for something else under
// the same key, now or in a later version of the link, never verifies as this one.
const signedVersion = "yjshub-link/1"

// ErrForbidden is the one answer to a link that does not verify, whatever the reason: saying
// which check failed would help whoever alters links to find out what to alter next.
var ErrForbidden = errors.New("links: forbidden")

// Link is what a link grants: one method on one blob, to one department, for one case (and
// sub-case), until it expires.
type Link struct {
	// Method is the HTTP method granted, upper case: GET (which grants HEAD too). HEAD itself
	// is not signed.
	Method string
	// SHA256 names the blob: 64 lower-case hexadecimal digits.
	SHA256 string
	// Department is the code of the department the link is for; required.
	Department string
	// Case is the case the material is read for; required.
	Case string
	// Subcase is the sub-case the material is read for; empty for a link to the case as a whole.
	Subcase string
	// Via names the kind of connector that carries the link (frontdb, restpull …), so that the
	// audit log says through which connector a material was read; empty when none.
	Via string
	// TTL is how long the link lives, more than zero and at most MaxTTL.
	TTL time.Duration
}

// Claims is what a verified link grants: the fields of the Link it was signed from, with the
// time it expires in place of its TTL, and the key that signed it.
type Claims struct {
	Method     string
	SHA256     string
	Department string
	Case       string
	Subcase    string
	Via        string
	Expires    time.Time
	// KeyID names the key that signed the link.
	KeyID string
}

var (
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	methodRE = regexp.MustCompile(`^[A-Z]{1,16}$`)
	viaRE    = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
)

// maxField bounds a department, case or sub-case in a link: the hub's codes and numbers are far
// shorter, and a bound keeps every link a URL that proxies and databases accept.
const maxField = 128

// Sign returns the link (a path and query, relative to the hub's base URL) that grants method on
// the blob sha256 to department dept, for a case and sub-case, for ttl. See Link.
func (r *Keyring) Sign(method, sha256, dept, caseID, subcaseID string, ttl time.Duration) (string, error) {
	return r.SignLink(Link{Method: method, SHA256: sha256, Department: dept, Case: caseID, Subcase: subcaseID, TTL: ttl})
}

// SignLink returns the link granting l under the ring's current key, as Sign does, naming every
// problem with l at once. The link has the shape
//
//	/api/v1/files/<sha256>?case=<case>&dept=<department>&exp=<unix seconds>&kid=<key id>&sig=<signature>
//
// with subcase=<sub-case> and via=<connector kind> when they are set; sig is the base64url
// (unpadded) HMAC-SHA256, under the key kid names, of the JSON array
// "yjshub-link/1", method, path, department, case, sub-case, via, exp and kid, each written as
// its length in 4 bytes (big-endian) and its bytes.
func (r *Keyring) SignLink(l Link) (string, error) {
	var errs []error
	if !methodRE.MatchString(l.Method) || l.Method == http.MethodHead {
		errs = append(errs, fmt.Errorf("links: method %q: want an upper-case HTTP method other than HEAD (GET grants HEAD)", l.Method))
	}
	if !sha256RE.MatchString(l.SHA256) {
		errs = append(errs, errors.New("links: the sha256 must be 64 lower-case hexadecimal digits"))
	}
	errs = append(errs, checkField("department", l.Department, true), checkField("case", l.Case, true), checkField("sub-case", l.Subcase, false))
	if l.Via != "" && !viaRE.MatchString(l.Via) {
		errs = append(errs, fmt.Errorf("links: via %q: want a connector kind of lower-case letters, digits, _ and -", l.Via))
	}
	if l.TTL <= 0 || l.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("links: a link lives more than 0 and at most %s, not %s", MaxTTL, l.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	k := r.keys[len(r.keys)-1]
	exp := r.now().Add(l.TTL).Unix()
	path := PathPrefix + l.SHA256
	q := url.Values{}
	q.Set(paramCase, l.Case)
	if l.Subcase != "" {
		q.Set(paramSubcase, l.Subcase)
	}
	q.Set(paramDept, l.Department)
	if l.Via != "" {
		q.Set(paramVia, l.Via)
	}
	q.Set(paramExp, strconv.FormatInt(exp, 10))
	q.Set(paramKid, k.ID)
	q.Set(paramSig, base64.RawURLEncoding.EncodeToString(mac(k.Secret, l.Method, path, l.Department, l.Case, l.Subcase, l.Via, exp, k.ID)))
	return path + "?" + q.Encode(), nil
}

// checkField says what is wrong with a department, case or sub-case; nil when nothing is.
func checkField(name, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("links: a link needs a %s", name)
	case len(v) > maxField:
		return fmt.Errorf("links: the %s is %d bytes, at most %d", name, len(v), maxField)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("links: the %s is not UTF-8 text without control characters", name)
	}
	return nil
}

// mac is the link's signature: HMAC-SHA256 of its fields, each written as its length (4 bytes,
// big-endian) and its bytes. That is unambiguous for any bytes at all, so no two links sign the
// same message: a separator could be smuggled into a field, and JSON would write every invalid
// UTF-8 sequence as the same U+FFFD.
func mac(secret []byte, method, path, dept, caseID, subcase, via string, exp int64, kid string) []byte {
	h := hmac.New(sha256.New, secret)
	var n [4]byte
	for _, f := range []string{signedVersion, method, path, dept, caseID, subcase, via, strconv.FormatInt(exp, 10), kid} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// allowedParams are the query parameters a link may carry; required says which it must.
var allowedParams = map[string]bool{
	paramCase: true, paramSubcase: false, paramDept: true, paramVia: false, paramExp: true, paramKid: true, paramSig: true,
}

// unknownKey stands in for a key the ring does not hold, so that a link naming one costs the
// same work as any other before it is refused.
var unknownKey = make([]byte, KeySize)

// Verify checks the link r was sent to and returns what it grants, or ErrForbidden, and nothing
// more, when it does not verify: a path or query not of a link's shape (a parameter unknown,
// repeated or empty included), a key the ring does not hold (signed two rotations ago, or
// never), a signature that does not match (any field altered), a link past its expiry, or a
// department client using another department's link. HEAD is verified as GET.
//
// The department rule: a link is a capability, so a request without credentials is served on
// the link alone (the back office of a department may fetch with nothing else); a request the
// hub authenticated as a department's client is served only when the link is that
// department's; platform and operator clients are served on the link alone.
//
// The signature is compared in constant time, and every link of the right shape takes the same
// work (the signature is computed under a stand-in key when the link names an unknown one), so
// the time taken does not tell which check failed either.
func (r *Keyring) Verify(req *http.Request) (Claims, error) {
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	sha, ok := strings.CutPrefix(req.URL.Path, PathPrefix)
	if !ok || !sha256RE.MatchString(sha) || !methodRE.MatchString(method) {
		return Claims{}, ErrForbidden
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return Claims{}, ErrForbidden
	}
	for name, vs := range q {
		if _, known := allowedParams[name]; !known || len(vs) != 1 || vs[0] == "" {
			return Claims{}, ErrForbidden
		}
	}
	for name, required := range allowedParams {
		if _, there := q[name]; required && !there {
			return Claims{}, ErrForbidden
		}
	}
	expText := q.Get(paramExp)
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || expText != strconv.FormatInt(exp, 10) {
		return Claims{}, ErrForbidden
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(q.Get(paramSig))
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, ErrForbidden
	}
	c := Claims{Method: method, SHA256: sha, Department: q.Get(paramDept), Case: q.Get(paramCase), Subcase: q.Get(paramSubcase),
		Via: q.Get(paramVia), Expires: time.Unix(exp, 0), KeyID: q.Get(paramKid)}

	secret, known := unknownKey, 0
	if k, ok := r.key(c.KeyID); ok {
		secret, known = k.Secret, 1
	}
	want := mac(secret, c.Method, req.URL.Path, c.Department, c.Case, c.Subcase, c.Via, exp, c.KeyID)
	good := subtle.ConstantTimeCompare(sig, want) & known & boolInt(r.now().Unix() < exp)
	if client, ok := auth.FromContext(req.Context()); ok && client.Role == auth.RoleDepartment {
		good &= subtle.ConstantTimeCompare([]byte(client.Department), []byte(c.Department))
	}
	if good != 1 {
		return Claims{}, ErrForbidden
	}
	return c, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
