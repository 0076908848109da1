// Package sharing owns the data-sharing half of the hub (免填免交): the applicant's consents,
// prefill — the canonical fields already known for a holder from earlier cases and e-licences,
// and the materials a valid e-licence satisfies — and the reuse report that counts how much of
// what bundles ask was supplied from shared data.
//
// # Consent
//
// The platform asks the hub for a consent token once the applicant has agreed (POST
// /api/v1/consents: holder, purpose, bundle, ttl). The token is 32 random bytes, shown once;
// the hub keeps only its SHA-256 and the SHA-256 of the holder's identifier. A prefill must
// present the token with the purpose "prefill" and be for the same holder and bundle before
// the consent expires; anything else is refused.
//
// # Audit
//
// Every prefill, granted or refused, and every consent given is appended to the hash-chained
// audit log (package audit) with the field and material codes and the sources shared — never
// the values. A refused request stores nothing but its audit row.
//
// # Reuse
//
// The report pairs each case with the latest granted prefill for the same holder and bundle
// made before it (each prefill counts for one case): the fields of the case's form that the
// prefill returned count as prefilled. Materials count as supplied from shared data when the
// application gave them as e-licence references.
package sharing
