// Package format checks the identifiers and codes that applicants type into the one form:
// the resident identity number (GB 11643) and the numbers of the other identity documents an
// applicant may hold (港澳台居民居住证, 外国人永久居留身份证, passport), the unified social
// credit code (GB 32100), the
// mainland mobile number, the administrative division code (GB/T 2260), e-mail addresses,
// postcodes and fixed-line telephone numbers.
//
// Every checker returns a *Error whose message says which rule failed and never contains the
// value it was given: these values are personal data and error strings end up in logs.
package format
