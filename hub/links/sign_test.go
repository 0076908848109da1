package links_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/hub/links"
)

func TestVerifyGivesBackWhatTheLinkWasSignedFor(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	keys := links.Ephemeral().WithClock(func() time.Time { return now })
	sha := strings.Repeat("ab", 32)
	link, err := keys.SignLink(links.Link{Method: http.MethodGet, SHA256: sha, Department: deptA, Case: caseN, Subcase: subN, Via: "restpull", TTL: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		c, err := keys.Verify(httptest.NewRequest(method, link, nil))
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		want := links.Claims{Method: http.MethodGet, SHA256: sha, Department: deptA, Case: caseN, Subcase: subN, Via: "restpull",
			Expires: now.Add(90 * time.Minute), KeyID: "k1"}
		if c.Method != want.Method || c.SHA256 != want.SHA256 || c.Department != want.Department || c.Case != want.Case ||
			c.Subcase != want.Subcase || c.Via != want.Via || !c.Expires.Equal(want.Expires) || c.KeyID != want.KeyID {
			t.Errorf("%s: claims %+v, want %+v", method, c, want)
		}
	}
	if _, err := keys.Verify(httptest.NewRequest(http.MethodPost, link, nil)); !errors.Is(err, links.ErrForbidden) {
		t.Errorf("a GET link used to POST: %v, want ErrForbidden", err)
	}
	later := keys.WithClock(func() time.Time { return now.Add(90*time.Minute - time.Second) })
	if _, err := later.Verify(httptest.NewRequest(http.MethodGet, link, nil)); err != nil {
		t.Errorf("a second before it expires: %v", err)
	}
	expired := keys.WithClock(func() time.Time { return now.Add(90 * time.Minute) })
	if _, err := expired.Verify(httptest.NewRequest(http.MethodGet, link, nil)); err != links.ErrForbidden {
		t.Errorf("when it expires: %v, want exactly ErrForbidden", err)
	}
}

func TestFieldsWithAnyBytesSignDistinctLinks(t *testing.T) {
	keys := links.Ephemeral()
	sha := strings.Repeat("cd", 32)
	a, err := keys.Sign(http.MethodGet, sha, "D", "C\u00e9", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Moving text between adjacent fields keeps their concatenation; the signature must not.
	b, err := keys.Sign(http.MethodGet, sha, "DC", "\u00e9", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sig := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("sig") }
	if sig(a) == sig(b) {
		t.Error("two links whose fields join to the same text have one signature")
	}
}

func TestSignRefusesABadLinkNamingEveryProblem(t *testing.T) {
	keys := links.Ephemeral()
	_, err := keys.SignLink(links.Link{Method: "head", SHA256: "ABC", Department: "", Case: "", Subcase: "x\x00y",
		Via: "Front DB", TTL: links.MaxTTL + time.Second})
	if err == nil {
		t.Fatal("a link wrong in every field was signed")
	}
	for _, want := range []string{"method", "sha256", "department", "case", "sub-case", "via", "lives"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name the %s: %v", want, err)
		}
	}
	for _, bad := range []links.Link{
		{Method: http.MethodHead, SHA256: strings.Repeat("0", 64), Department: deptA, Case: caseN, TTL: time.Hour},
		{Method: http.MethodGet, SHA256: strings.Repeat("0", 64), Department: deptA, Case: "\xff\xfe", TTL: time.Hour},
		{Method: http.MethodGet, SHA256: strings.Repeat("0", 64), Department: deptA, Case: strings.Repeat("c", 129), TTL: time.Hour},
		{Method: http.MethodGet, SHA256: strings.Repeat("0", 64), Department: deptA, Case: caseN},
	} {
		if _, err := keys.SignLink(bad); err == nil {
			t.Errorf("%+v was signed", bad)
		}
	}
}

func TestAKeyringHoldsTwoKeysAtMostInAFileOnlyItsOwnerReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", links.FileName)
	first, created, err := links.Open(path)
	if err != nil || !created || first.Current() != "k1" {
		t.Fatalf("first open: %v, created %v", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the keyring file: %v, mode %v; want 0600", err, fi.Mode())
	}
	again, created, err := links.Open(path)
	if err != nil || created || strings.Join(again.IDs(), ",") != "k1" {
		t.Fatalf("second open: %v, created %v, ids %v", err, created, again.IDs())
	}
	sha := strings.Repeat("ef", 32)
	link, _ := first.Sign(http.MethodGet, sha, deptA, caseN, "", time.Hour)
	if _, err := again.Verify(httptest.NewRequest(http.MethodGet, link, nil)); err != nil {
		t.Errorf("the ring read again does not verify its own link: %v", err)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Fields(string(b[strings.LastIndex(string(b), "k1 "):]))[1]
	three := string(b) + "k2 " + secret + "\nk3 " + secret + "\n"
	if err := os.WriteFile(path, []byte(three), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = links.Load(path)
	if err == nil || !strings.Contains(err.Error(), "2 keys at most") {
		t.Errorf("a file of three keys: %v, want it refused as more than two", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Error("the error shows a key")
	}
	if err := os.WriteFile(path, []byte("k1 "+secret+"\nk1 c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = links.Load(path)
	if err == nil || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), "want 32") || strings.Contains(err.Error(), secret) {
		t.Errorf("a key given twice, one short: %v; want both named and no key shown", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := links.Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a file its group may read: %v, want it refused", err)
	}
}
