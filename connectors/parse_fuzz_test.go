package connectors_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors"
)

// marker starts every secret the fuzz targets put in a connectors file, so that any part of
// one in an error is found.
const marker = "SeCrEt"

// yamlBlock finds the YAML examples of the documentation.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// connectorsFileSeeds are the connectors files of the documentation and the tests' testdata,
// and the same with secrets in every place a secret goes.
func connectorsFileSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, p := range []string{"../README.md", "CONTRACT.md", "frontdb/README.md", "kafka/README.md", "platform/README.md", "supervision/README.md"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range yamlBlock.FindAllSubmatch(b, -1) {
			seeds = append(seeds, m[1])
		}
	}
	testdata, _ := filepath.Glob("*/testdata/*.yaml")
	for _, p := range testdata {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) < 3 {
		f.Fatalf("found only %d connectors files to seed from", len(seeds))
	}
	seeds = append(seeds, []byte(`
departments:
  tobacco:
    kind: restpush
    restpush:
      endpoint: https://hub:SeCrEt-pw@tobacco.example.gov.cn/yjs/subcases?token=SeCrEt-q#SeCrEt-f
      headers: {Authorization: "Bearer SeCrEt-h", X-Api-Key: "SeCrEt\nnext"}
      signing_secret: whsec_SeCrEt
      timeout: -1s
  market:
    kind: frontdb
    frontdb: {driver: oracle, dsn: "postgres://hub:SeCrEt-db@10.0.8.20/qzk?password=SeCrEt-db2"}
  fire:
    kind: restpush
    restpush: {endpoint: "ftp://u:SeCrEt@fire.example/yjs?k=SeCrEt", headers: {"Bad Name": SeCrEt}}
  health:
    kind: restpush
    restpush: {endpoint: "https://u:SeCrEt@x y/%zz"}
platforms:
  jiangsu: {pull_url: "https://u:SeCrEt@x.example/pull?appkey=SeCrEt", push_url: "::u:SeCrEt@x?SeCrEt", headers: {X-Api-Key: SeCrEt}, inbound: []}
supervision:
  endpoint: "https://u:SeCrEt@jg.example/records"
  headers: {Authorization: SeCrEt}
  signing_secret: SeCrEt
`), []byte("departments: {a: {kind: restpush, restpush: {endpoint: 'http://[::1', headers: {'': SeCrEt}}}}"))
	return seeds
}

// credentials returns the parts of a URL that carry credentials: its userinfo, query and
// fragment; of one that does not parse, what lies before an @ and after a ? or #.
func credentials(raw string) []string {
	if u, err := url.Parse(raw); err == nil {
		out := []string{u.RawQuery, u.Fragment}
		if u.User != nil {
			out = append(out, u.User.String())
		}
		if at := strings.LastIndex(u.Opaque, "@"); at >= 0 { // "user:password@host" parses as scheme:opaque
			out = append(out, u.Opaque[:at])
		}
		return out
	}
	var out []string
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		out = append(out, raw[i+1:])
		raw = raw[:i]
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		out = append(out, raw[:at])
	}
	return out
}

// secretsIn returns the secrets of a connectors file decoded as plain YAML, where the
// connectors file has them: the header values, signing secrets and URL credentials of the
// restpush departments, the platforms and supervision, and the frontdb DSNs' credentials.
func secretsIn(doc any) []string {
	var out []string
	settings := func(v any, urls ...string) {
		m, _ := v.(map[string]any)
		for _, k := range urls {
			if s, ok := m[k].(string); ok {
				out = append(out, credentials(s)...)
			}
		}
		if s, ok := m["signing_secret"].(string); ok {
			out = append(out, s)
		}
		hs, _ := m["headers"].(map[string]any)
		for _, h := range hs {
			if s, ok := h.(string); ok {
				out = append(out, s)
			}
		}
	}
	top, _ := doc.(map[string]any)
	depts, _ := top["departments"].(map[string]any)
	for _, d := range depts {
		d, _ := d.(map[string]any)
		settings(d["restpush"], "endpoint")
		settings(d["frontdb"], "dsn")
	}
	platforms, _ := top["platforms"].(map[string]any)
	for _, p := range platforms {
		settings(p, "pull_url", "push_url", "licences_url")
	}
	settings(top["supervision"], "endpoint")
	return out
}

// FuzzParse feeds any bytes to the connectors file parser: it never panics, returns a file or
// an error, never both; and no part of a secret (a header value, a signing secret, a URL's
// credentials) reaches the error. The secrets looked for are those carrying the marker, and
// only when every marker in the file is in one: a marker elsewhere (a key, a department code)
// may be quoted.
func FuzzParse(f *testing.F) {
	for _, s := range connectorsFileSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := connectors.Parse(data, "connectors.yaml", func(dept string) bool { return dept != "unknown" })
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse returned %v and %v: want a file or an error", file, err)
		}
		if err == nil {
			for code, d := range file.Departments {
				if d.RestPush != nil && d.RestPush.Department != code || d.FrontDB != nil && d.FrontDB.Department != code {
					t.Errorf("department %q's settings name another department", code)
				}
			}
			return
		}
		var doc any
		if yaml.Unmarshal(data, &doc) != nil {
			return
		}
		inSecrets := 0
		for _, s := range secretsIn(doc) {
			inSecrets += strings.Count(s, marker)
		}
		if inSecrets == 0 || inSecrets != bytes.Count(data, []byte(marker)) {
			return
		}
		if strings.Contains(err.Error(), marker) {
			t.Fatalf("the error shows a secret:\n%v\nfile:\n%s", err, data)
		}
	})
}

// FuzzParseKeepsSecretsOutOfErrors builds connectors files around fuzzed secrets — header
// values, signing secrets, URL passwords and query values, a database password — with fuzzed
// settings around them that make the file wrong in many ways, and checks that no part of a
// secret reaches the error.
func FuzzParseKeepsSecretsOutOfErrors(f *testing.F) {
	f.Add("restpush", "https", "tobacco.example.gov.cn", "Authorization", "Bearer abc", "10s", "pgx")
	f.Add("restpush", "ftp", "tobacco.example.gov.cn", "Bad Name", "a\nb", "-1s", "oracle")
	f.Add("restpush", "https", "x y", "X-Api-Key", "%zz", "", "pgx")
	f.Add("frontdb", "https", "", "Content-Type", "", "x", "")
	f.Add("kafka", "http", "[::1", "", "@/?#", "1h", "sqlite")
	f.Add("", "", "%zz", "X-Api-Key", "whsec_", "", "pgx")
	f.Fuzz(func(t *testing.T, kind, scheme, host, header, secret, timeout, driver string) {
		for _, s := range []string{kind, scheme, host, header, timeout, driver} {
			if strings.Contains(s, marker[:3]) {
				return // the marker, or part of it, outside a secret may be quoted
			}
		}
		secret = marker + secret
		endpoint := scheme + "://hub:" + secret + "@" + host + "/yjs/subcases?token=" + secret
		doc := map[string]any{
			"departments": map[string]any{
				"tobacco": map[string]any{"kind": kind, "restpush": map[string]any{
					"endpoint": endpoint, "timeout": timeout, "signing_secret": secret,
					"headers": map[string]string{header: secret, "X-Other": secret},
				}},
				"market": map[string]any{"kind": "frontdb", "frontdb": map[string]any{"driver": driver, "dsn": "postgres://hub:" + secret + "@" + host + "/qzk"}},
			},
			"platforms": map[string]any{
				"jiangsu": map[string]any{"pull_url": endpoint, "push_url": host + "/progress#" + secret, "licences_url": "//" + secret + "@" + host,
					"headers": map[string]string{header: secret}, "inbound": []any{}},
			},
			"supervision": map[string]any{"endpoint": endpoint, "headers": map[string]string{header: secret}, "signing_secret": secret},
		}
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Skip("not expressible in YAML")
		}
		_, err = connectors.Parse(data, "connectors.yaml", nil)
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("the error shows a secret:\n%v\nfile:\n%s", err, data)
		}
	})
}
