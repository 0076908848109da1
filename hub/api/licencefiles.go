package api

import (
	"net/http"

	"yjshub/hub/auth"
	"yjshub/hub/licences"
	"yjshub/hub/links"
)

// Who a link to an e-licence's file is signed for, and through what.
const (
	// licenceLinkVia names the library as what carried a link in the audit log of reads.
	licenceLinkVia = "library"
	// anonymousReader is the party of a link signed for a caller of an API that does not
	// authenticate (hub.AnonymousUploader's name).
	anonymousReader = "anonymous"
	// licenceCasePrefix starts the case of a link to the file of a licence that did not come
	// through a case: the link still names what it was signed for.
	licenceCasePrefix = "lic:"
)

// signLicenceFile puts into lic.File.Link a link to the file the hub holds for it (a licence
// whose department uploaded its file, file.object_id), signed for the caller: its department
// for a department's key, else the client's name (a platform, an operator); for the licence's
// case, or lic:<number> for one that came through none; via the library. A read through it is
// audited as a department's read of a material is. Nothing is set without the hub's link keys
// or an uploaded file (a licence given by uri only), or when the link cannot be signed (a
// field beyond the links' bounds), which is logged.
func (s *Server) signLicenceFile(r *http.Request, lic *licences.Licence) {
	if s.cfg.LinkKeys == nil || lic.File.ObjectID == "" || lic.File.SHA256 == "" {
		return
	}
	party := anonymousReader
	if c, ok := auth.FromContext(r.Context()); ok {
		party = c.Name
		if c.Role == auth.RoleDepartment {
			party = c.Department
		}
	}
	caseID := lic.CaseID
	if caseID == "" {
		caseID = licenceCasePrefix + lic.Number
	}
	ttl := s.cfg.LinkTTL
	if ttl == 0 {
		ttl = links.MaxTTL
	}
	link, err := s.cfg.LinkKeys.SignLink(links.Link{Method: http.MethodGet, SHA256: lic.File.SHA256, Department: party, Case: caseID,
		Via: licenceLinkVia, TTL: ttl})
	if err != nil {
		s.cfg.Logger.Warn("a licence's file link cannot be signed", "licence_id", lic.ID, "error", err)
		return
	}
	lic.File.Link = link
}
