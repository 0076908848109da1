// Package licences owns the hub's e-licence library (电子证照库): every e-licence issued through
// the hub (recorded when a department approves a sub-case) and every one a platform connector
// imports, with holder, type, number, issuer, validity and file hash. It answers who holds
// what, verifies one licence (valid, expired or revoked, as of today in China), takes
// revocations from the issuing department, and gives a licence's result fields to the mapping
// of later matters.
//
// A licence issued through the hub may be revoked only by the department that handled its
// sub-case; an imported licence only by the catalogue department whose name is its issuer.
package licences
