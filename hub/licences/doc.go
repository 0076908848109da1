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
package licences
