// Package sharing owns the data-sharing half of the hub (免填免交): the applicant's consents,
// prefill — the canonical fields already known for a holder from earlier cases and e-licences,
// and the materials a valid e-licence satisfies — the listing of a holder's e-licences, and the
// reuse report that counts how much of what bundles ask was supplied from shared data.
//
// # Consent
//
// A consent is a grant, not an assertion. The platform asks the hub for one once the applicant
// has agreed (POST /api/v1/consents: holder, purpose, bundle, ttl, uses), and the hub binds it
// to that platform — the API client of the request — as well as to the holder, the purpose and
// the bundle. The token is 32 random bytes, shown once; the hub keeps only its SHA-256 and the
// holder's keyed pseudonym (package pseudonym). A use must present the token from the same
// platform, for the consent's purpose, holder and bundle (a listing: any bundle), before it
// expires and while uses remain; each use is counted by one conditional UPDATE in the
// transaction that shares the data and writes its audit row, so requests at once never use it
// more often than it allows, and a request that fails gives its use back. The platform that
// obtained a consent may withdraw it (by its id, the first 16 hex digits of the token's
// SHA-256); to any other client it does not exist.
//
// # Listing a holder's licences
//
// A platform lists a holder's e-licences only with the holder's consent for the purpose
// licences, presented in the header X-Consent-Token; an operator lists without one.
//
// # Audit
//
// Every consent given or withdrawn, every prefill and every listing, granted or refused, is
// appended to the hash-chained audit log (package audit) with the holder's pseudonym, the
// client, the consent's id, and the field, material and licence references shared — never the
// values. A refused request stores nothing but its audit row.
//
// # Reuse
//
// The report pairs each case with the latest granted prefill for the same holder and bundle
// made before it (each prefill counts for one case): the fields of the case's form that the
// prefill returned count as prefilled. The holder's prefills are found under every key of the
// keyring, so a rotation does not break the pairing. Materials count as supplied from shared
// data when the application gave them as e-licence references.
package sharing
