package retention_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/hub/hubtest"
	"yjshub/hub/retention"
)

// known is the catalogue's material types.
func known(t *testing.T) func(string) bool {
	cat := hubtest.Catalogue(t)
	return func(code string) bool { _, ok := cat.Material(code); return ok }
}

func TestRetentionFileIsReadOverTheDefaults(t *testing.T) {
	r, err := retention.Load(filepath.Join("testdata", "retention.yml"), known(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"legal-rep-id-card": 90 * retention.Day, "id-card": 90 * retention.Day}
	if r.Unlinked != 14*retention.Day || r.AfterCase != 730*retention.Day || len(r.Types) != len(want) {
		t.Fatalf("rules %+v", r)
	}
	for k, v := range want {
		if r.Types[k] != v {
			t.Errorf("types.%s = %s, want %s", k, r.Types[k], v)
		}
	}
	partial, err := retention.Parse([]byte("after_case: 36h\n"), known(t))
	if err != nil || partial.Unlinked != retention.DefaultUnlinked || partial.AfterCase != 36*time.Hour || partial.Types != nil {
		t.Fatalf("a file of after_case alone: %+v, %v; want the default unlinked", partial, err)
	}
	if empty, err := retention.Parse(nil, known(t)); err != nil || empty.Unlinked != retention.DefaultUnlinked || empty.AfterCase != retention.DefaultAfterCase {
		t.Fatalf("an empty file: %+v, %v; want the defaults", empty, err)
	}
}

func TestRetentionFileWithProblemsNamesEveryOne(t *testing.T) {
	bad := `
unlinked: 0d
after_case: soon
types:
  no-such-material: 90d
  id-card: -5d
  business-licence: 1y
  premises-proof: 50000d
`
	_, err := retention.Parse([]byte(bad), known(t))
	if err == nil {
		t.Fatal("a file with six problems was taken")
	}
	for _, want := range []string{
		"unlinked: 0s must be more than 0",
		`after_case: "soon" is not a period`,
		"types.no-such-material: not a material type of the catalogue",
		"types.id-card: -5d is negative",
		`types.business-licence: "1y" is not a period`,
		"types.premises-proof: 50000d is longer than a hundred years",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := retention.Parse([]byte("unlinked: 30d\nkeep_forever: true\n"), known(t)); err == nil || !strings.Contains(err.Error(), "keep_forever") {
		t.Errorf("an unknown key: %v; want it named", err)
	}
}

func TestRetentionPeriodsReadAsTheyAreWritten(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{{"30d", 30 * retention.Day}, {"36h", 36 * time.Hour}, {"0d", 0}, {"-1d", -retention.Day}, {"90m", 90 * time.Minute}} {
		got, err := retention.ParsePeriod(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParsePeriod(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "thirty days", "1y"} {
		if _, err := retention.ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) took it", in)
		}
	}
	if got := retention.FormatPeriod(365 * retention.Day); got != "365d" {
		t.Errorf("FormatPeriod(365 days) = %q", got)
	}
}

func TestRetentionDueTimes(t *testing.T) {
	r := retention.Default()
	r.Types = map[string]time.Duration{"id-card": 90 * retention.Day}
	up := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	ended := up.Add(10 * retention.Day)
	for _, c := range []struct {
		name        string
		typ         string
		cases, open int
		want        time.Time
		known       bool
	}{
		{"named by no case: its upload plus unlinked", "business-licence", 0, 0, up.Add(retention.DefaultUnlinked), true},
		{"named by a case still open: kept", "business-licence", 2, 1, time.Time{}, false},
		{"named by ended cases: the last end plus after_case", "business-licence", 2, 0, ended.Add(retention.DefaultAfterCase), true},
		{"a type of its own: the last end plus its period", "id-card", 1, 0, ended.Add(90 * retention.Day), true},
	} {
		got, known := r.Due(c.typ, up, c.cases, c.open, ended)
		if known != c.known || !got.Equal(c.want) {
			t.Errorf("%s: Due = %s, %v; want %s, %v", c.name, got, known, c.want, c.known)
		}
	}
}
