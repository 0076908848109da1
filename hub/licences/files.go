package licences

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/event"
	"yjshub/problem"
)

// Rules of a licence's file named by the id of a file the department uploaded (file.object_id).
const (
	// RuleFileObject: no uploaded file of that id is the reporting department client's. Another
	// client's file is refused with the same problem as an unknown one, so that the answer
	// never tells a department that an id it guessed exists.
	RuleFileObject = "licence_file_object"
	// RuleFileHolder: the file was uploaded for another holder than the licence's.
	RuleFileHolder = "licence_file_holder"
	// RuleFileFormat: the uploaded file is not a PDF or an OFD, the formats of an e-licence.
	RuleFileFormat = "licence_file_format"
)

// The content types, as package uploads sniffs them, of the formats an e-licence's file has.
var fileFormats = map[string]string{"application/pdf": "pdf", "application/ofd": "ofd"}

// objectIDRE is what a material object's id is (package uploads: "mo_" and a UUID's 32 hex
// digits).
var objectIDRE = regexp.MustCompile(`^mo_[0-9a-f]{32}$`)

// uploadedFile is a material object as a licence's file is checked against it. Holder is
// personal data: it is compared, never written into a problem or a log.
type uploadedFile struct {
	ID          string `db:"id"`
	SHA256      string `db:"sha256"`
	Size        int64  `db:"size"`
	ContentType string `db:"content_type"`
	Holder      string `db:"holder"`
}

// ResolveFiles fills in, on each licence whose file names an uploaded file (file.object_id),
// the file's sha256, size and format from the material object, read in one statement through
// q. The object must be owner's (the reporting department's client), uploaded for the
// licence's holder, and a PDF or an OFD; a sha256, size or format the licence gives too must
// be the object's. Every problem is returned, at paths under prefix/<i>/file (prefix e.g.
// "/licences"); with problems, or an error reading the objects, the licences are returned as
// given. An owner of "" owns nothing: an event that did not come from a client the hub
// authenticated cannot name an uploaded file.
func ResolveFiles(ctx context.Context, q Queryer, owner string, ls []event.Licence, prefix string) ([]event.Licence, []problem.Problem, error) {
	var ids []string
	for _, l := range ls {
		if objectIDRE.MatchString(l.File.ObjectID) {
			ids = append(ids, l.File.ObjectID)
		}
	}
	if len(ids) == 0 {
		return ls, nil, nil
	}
	objs := map[string]uploadedFile{}
	if owner != "" {
		query, args, err := sqlx.In(`SELECT id, sha256, size, content_type, holder FROM materials_uploaded WHERE owner = ? AND id IN (?)`, owner, ids)
		if err != nil {
			return ls, nil, fmt.Errorf("reading the uploaded files of licences: %w", err)
		}
		var rows []uploadedFile
		if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(query), args...); err != nil {
			return ls, nil, fmt.Errorf("reading the uploaded files of licences: %w", err)
		}
		for _, o := range rows {
			objs[o.ID] = o
		}
	}
	out := make([]event.Licence, len(ls))
	copy(out, ls)
	var ps problem.List
	for i := range out {
		f := &out[i].File
		if !objectIDRE.MatchString(f.ObjectID) {
			continue // Check names a malformed id
		}
		at := fmt.Sprintf("%s/%d/file", prefix, i)
		o, ok := objs[f.ObjectID]
		if !ok {
			ps.Add(at+"/object_id", RuleFileObject, "no file uploaded by this department has that id: upload the licence's file first (/api/v1/uploads or PUT /api/v1/files/{sha256})")
			continue
		}
		if o.Holder != out[i].HolderID {
			ps.Add(at+"/object_id", RuleFileHolder, "the uploaded file was uploaded for another holder than the licence's")
		}
		format, isLicence := fileFormats[o.ContentType]
		if !isLicence {
			ps.Add(at+"/object_id", RuleFileFormat, "the uploaded file is a %s, not a PDF or an OFD", o.ContentType)
		}
		if f.SHA256 != "" && f.SHA256 != o.SHA256 {
			ps.Add(at+"/sha256", problem.RuleConflict, "is not the sha256 of the uploaded file; leave it out, the hub takes it from the file")
		}
		if f.Size != 0 && f.Size != o.Size {
			ps.Add(at+"/size", problem.RuleConflict, "is not the size of the uploaded file (%d bytes); leave it out", o.Size)
		}
		if f.Format != "" && isLicence && f.Format != format {
			ps.Add(at+"/format", problem.RuleConflict, "the uploaded file is a %s, not a %s; leave it out", format, f.Format)
		}
		f.SHA256, f.Size, f.Format = o.SHA256, o.Size, format
	}
	if len(ps) > 0 {
		return ls, ps, nil
	}
	return out, nil, nil
}
