package signing

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func headers(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestASignedDeliveryVerifiesAndAnythingChangedDoesNot(t *testing.T) {
	secret := NewSecret()
	s, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"ev-1","data":{"SQRMC":"海韵"}}`)
	now := time.Now()
	h, err := s.Sign("ev-1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if h[HeaderID] != "ev-1" || !strings.HasPrefix(h[HeaderSignature], "v1,") {
		t.Fatalf("headers %v", h)
	}
	if err := Verify(secret, body, headers(h)); err != nil {
		t.Fatalf("a fresh signature: %v", err)
	}
	changed := headers(h)
	changed.Set(HeaderID, "ev-2")
	old, _ := s.Sign("ev-1", now.Add(-6*time.Minute), body)
	cases := map[string]struct {
		secret string
		body   []byte
		h      http.Header
		want   string
	}{
		"another body":         {secret, []byte(`{"id":"ev-1"}`), headers(h), "does not match"},
		"another secret":       {NewSecret(), body, headers(h), "does not match"},
		"another id":           {secret, body, changed, "does not match"},
		"six minutes old":      {secret, body, headers(old), "more than five minutes"},
		"unsigned":             {secret, body, http.Header{}, "unsigned"},
		"a timestamp in words": {secret, body, headers(map[string]string{HeaderID: "a", HeaderTimestamp: "now", HeaderSignature: "v1,x"}), "not a number"},
	}
	for name, c := range cases {
		if err := Verify(c.secret, c.body, c.h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

func TestCheckSecretSaysWhatIsWrongWithoutRepeatingIt(t *testing.T) {
	for secret, want := range map[string]string{
		"s3cr3t-value":       `must start with "whsec_"`,
		"whsec_not base64!!": "base64",
		"whsec_c2hvcnQ=":     "at least 24 bytes, has 5",
	} {
		err := CheckSecret(secret)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%q: %v, want %q", secret, err, want)
		}
	}
	if err := CheckSecret(NewSecret()); err != nil {
		t.Errorf("a new secret: %v", err)
	}
}
