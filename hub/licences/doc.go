// Package licences owns the hub's e-licence library (电子证照库): every e-licence issued through
// the hub (recorded when a department approves a sub-case) and every one a platform connector
// imports, with holder, type, number, issuer, validity and file hash. It answers who holds
// what, verifies one licence (valid, expired or revoked, as of today in China), takes
// revocations from the issuing department, and gives a licence's result fields to the mapping
// of later matters.
//
// A department issues, with its approval of a sub-case, only the licence type its matter's
// result defines in the catalogue, in its own name (CheckIssue: rules licence_type and issuer);
// the case service applies nothing of an approval that breaks either. A licence issued through
// the hub may be revoked only by the department that handled its sub-case; an imported licence
// only by the catalogue department whose name is its issuer.
//
// # A licence's file
//
// A licence's file (OFD or PDF) is given either by its sha256, uri and format, where the
// department keeps it, or — the way that lets the holder's platform fetch it — by file.object_id,
// a file the department uploaded to the hub before its approval (tus at /api/v1/uploads, or
// PUT /api/v1/files/{sha256}, with the licence type as the upload's type and the holder's
// number as its holder). ResolveFiles, on the path every department event takes before it is
// queued, checks that the object is the reporting department client's own (RuleFileObject:
// another client's file is refused as an unknown one), uploaded for the licence's holder
// (RuleFileHolder) and a PDF or an OFD (RuleFileFormat), and fills in sha256, size and format
// from it; a sha256, size or format the department gave too must agree (problem.RuleConflict).
// Every problem is named at once, at /licences/<i>/file/…, and a refused event changes
// nothing. An event that came without an authenticated department client (through a
// connector) names no uploaded file.
//
// The library keeps the object's id (file_object_id, migration 00030). The API's answers about
// a licence that has one (GET /api/v1/licences/{type}/{number}, GET /api/v1/licences) carry
// file.link, a link (package links) to the bytes signed for the caller — its department, or
// its client's name — and the licence's case (lic:<number> for one that came through none),
// via "library"; the platform connector's result pushes carry one signed for the platform.
// A read through such a link is written to the audit log as a department's read of a
// material is. A licence given by uri alone has no link: the hub does not hold its file.
package licences
