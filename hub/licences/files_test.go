package licences_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/problem"
)

// A licence's file is given by sha256, uri and format, or by the id of an uploaded file, whose
// hash, size and format the hub fills in; a link is the hub's to give.
func TestALicenceFileIsGivenByItsLocationOrByItsUpload(t *testing.T) {
	obj := "mo_" + strings.Repeat("a", 32)
	tests := []struct {
		name  string
		file  event.LicenceFile
		rules []string
	}{
		{"A file by sha256, uri and format is whole", event.LicenceFile{SHA256: strings.Repeat("b", 64), URI: "https://x/l.ofd", Format: "ofd"}, nil},
		{"A file by its upload alone is whole", event.LicenceFile{ObjectID: obj}, nil},
		{"Without an upload the uri, sha256 and format are required", event.LicenceFile{},
			[]string{"/l/file/format enum", "/l/file/sha256 sha256", "/l/file/uri required"}},
		{"With an upload a sha256 or format given must still be well-formed", event.LicenceFile{ObjectID: obj, SHA256: "x", Format: "doc"},
			[]string{"/l/file/format enum", "/l/file/sha256 sha256"}},
		{"An upload's id is mo_ and 32 hex digits", event.LicenceFile{ObjectID: "mo_../x"}, []string{"/l/file/object_id pattern"}},
		{"A link is refused: the hub signs links", event.LicenceFile{ObjectID: obj, Link: "/api/v1/files/x"}, []string{"/l/file/link not_allowed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := foodLicence("JY1", uscc, "uscc", "")
			l.File = tc.file
			var rules []string
			for _, p := range licences.Check(l, "/l") {
				if strings.HasPrefix(p.Path, "/l/file") {
					rules = append(rules, p.Path+" "+p.Rule)
				}
			}
			slices.Sort(rules)
			if !slices.Equal(rules, tc.rules) {
				t.Errorf("problems %v, want %v", rules, tc.rules)
			}
		})
	}
}

// ResolveFiles fills a licence's file in from the uploaded file it names, only when the file is
// the reporting client's, the licence holder's and a PDF or an OFD, naming every problem.
func TestResolveFilesTakesTheOwnersFileOfTheHolder(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, _ *licences.Library, _ *time.Time) {
		sum := strings.Repeat("c", 64)
		id := func(c byte) string { return "mo_" + strings.Repeat(string(c), 32) }
		for _, row := range []struct {
			id, ct, owner, holder string
		}{
			{id('1'), "application/pdf", "amr-office", uscc},
			{id('2'), "application/ofd", "other-office", uscc},
			{id('3'), "image/png", "amr-office", uscc},
			{id('4'), "application/ofd", "amr-office", residentID},
		} {
			if _, err := st.DB().ExecContext(t.Context(), st.DB().Rebind(`INSERT INTO materials_uploaded
				(id, sha256, size, content_type, filename, type, owner, holder, created_at) VALUES (?, ?, 1234, ?, 'l.pdf', '食品经营许可证', ?, ?, 0)`),
				row.id, sum, row.ct, row.owner, row.holder); err != nil {
				t.Fatal(err)
			}
		}
		with := func(obj string) event.Licence {
			l := foodLicence("JY1", uscc, "uscc", "")
			l.File = event.LicenceFile{ObjectID: obj}
			return l
		}
		given := []event.Licence{with(id('1')), foodLicence("JY2", uscc, "uscc", "")}
		got, ps, err := licences.ResolveFiles(t.Context(), st.DB(), "amr-office", given, "/licences")
		if err != nil || len(ps) != 0 || got[0].File != (event.LicenceFile{ObjectID: id('1'), SHA256: sum, Size: 1234, Format: "pdf"}) || got[1].File != given[1].File {
			t.Errorf("ResolveFiles = %+v, %v; want the first filled in from its upload, the second as given", got, ps)
		}
		if given[0].File.SHA256 != "" {
			t.Error("ResolveFiles changed the licences it was given")
		}

		wrong := with(id('1'))
		wrong.File.Size, wrong.File.Format = 99, "ofd"
		_, ps, err = licences.ResolveFiles(t.Context(), st.DB(), "amr-office",
			[]event.Licence{with(id('2')), with(id('3')), with(id('4')), wrong, with(id('9'))}, "/licences")
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, p := range ps {
			rules = append(rules, p.Path+" "+p.Rule)
			if strings.Contains(p.Message, uscc) || strings.Contains(p.Message, residentID) {
				t.Errorf("a problem quotes a holder: %s", p.Message)
			}
		}
		want := []string{
			"/licences/0/file/object_id " + licences.RuleFileObject,
			"/licences/1/file/object_id " + licences.RuleFileFormat,
			"/licences/2/file/object_id " + licences.RuleFileHolder,
			"/licences/3/file/size " + problem.RuleConflict,
			"/licences/3/file/format " + problem.RuleConflict,
			"/licences/4/file/object_id " + licences.RuleFileObject,
		}
		if !slices.Equal(rules, want) {
			t.Errorf("problems %v, want %v", rules, want)
		}
		if _, ps, err := licences.ResolveFiles(t.Context(), st.DB(), "", []event.Licence{with(id('1'))}, "/licences"); err != nil || len(ps) != 1 || ps[0].Rule != licences.RuleFileObject {
			t.Errorf("with no reporting client: %v, %v; want the file unknown", ps, err)
		}
	})
}
