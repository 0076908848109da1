package delivery

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactEndpoint(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a plain URL is unchanged", "https://rsj.example:8443/api/subcases", "https://rsj.example:8443/api/subcases"},
		{"userinfo is dropped", "https://hub:pw@rsj.example/in", "https://rsj.example/in"},
		{"the query is dropped", "https://rsj.example/in?token=t&x=1", "https://rsj.example/in"},
		{"the fragment is dropped", "https://rsj.example/in#frag", "https://rsj.example/in"},
		{"all at once", "http://u:p@10.0.0.1:80/a/b?k=v#f", "http://10.0.0.1:80/a/b"},
		{"an unparseable URL is cut by pattern", "http://u:p@rsj.example/%zz?token=t", "http://rsj.example/%zz"},
		{"an unparseable URL with @ in the password", "http://u:p@ss@rsj.example/%zz", "http://rsj.example/%zz"},
		{"userinfo without a scheme parses as opaque and is cut", "u:p@rsj.example", "u:rsj.example"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactEndpoint(tc.in); got != tc.want {
				t.Errorf("RedactEndpoint(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReceiverMessage(t *testing.T) {
	long := strings.Repeat("错", 100) // 300 bytes
	tests := []struct{ name, body, want string }{
		{"a JSON message", `{"message":"form field SQRMC missing"}`, "form field SQRMC missing"},
		{"a JSON error string", `{"error":"bad request"}`, "bad request"},
		{"message is preferred to error", `{"error":"E42","message":"matter unknown"}`, "matter unknown"},
		{"a nested error object", `{"error":{"code":42,"message":"matter unknown"}}`, "matter unknown"},
		{"an error that is neither string nor object with message", `{"error":42,"msg":"fallback"}`, "fallback"},
		{"ID numbers and mobiles are masked", `{"message":"证件号码 11010519491231002X 手机 13812345678"}`, "证件号码 ****************** 手机 ***********"},
		{"line breaks and control characters are collapsed", "{\"message\":\"a\\n\\tb\\u0000c\"}", "a b c"},
		{"cut to 200 bytes on a rune boundary", `{"message":"` + long + `"}`, strings.Repeat("错", 66)},
		{"plain text is not quoted", "Internal Server Error: SQRMC=张三 11010519491231002X", ""},
		{"HTML is not quoted", "<html><body>502 Bad Gateway</body></html>", ""},
		{"a JSON object without a message is not quoted", `{"form":{"SFZHM":"11010519491231002X"}}`, ""},
		{"a JSON array is not quoted", `["x"]`, ""},
		{"an empty body", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReceiverMessage([]byte(tc.body)); got != tc.want {
				t.Errorf("ReceiverMessage(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestScrubberHidesTheConnectorsSecrets(t *testing.T) {
	endpoint := "http://hub:pw-S3cr3t@rsj.example/in?token=tok-S3cr3t"
	s := NewScrubber(endpoint, "", map[string]string{"X-Api-Key": "key-S3cr3t", "X-Short": "ab"})
	err := &url.Error{Op: "Post", URL: endpoint, Err: errors.New("read: connection reset by peer")}
	wrapped := errors.Join(errors.New("context"), err)
	for _, e := range []error{err, wrapped} {
		got := s.Error(e)
		if !strings.Contains(got, `"http://rsj.example/in"`) {
			t.Errorf("scrubbed error %q does not show the redacted URL", got)
		}
		for _, secret := range []string{"pw-S3cr3t", "tok-S3cr3t"} {
			if strings.Contains(got, secret) {
				t.Errorf("scrubbed error %q leaks %q", got, secret)
			}
		}
	}
	got := s.Text("department says: key key-S3cr3t unknown, caller 13812345678, ab")
	if want := "department says: key xxxxx unknown, caller ***********, ab"; got != want {
		t.Errorf("Text = %q, want %q (header values too short to be secrets stay)", got, want)
	}
	if got := s.Error(nil); got != "" {
		t.Errorf("Error(nil) = %q, want empty", got)
	}
}
