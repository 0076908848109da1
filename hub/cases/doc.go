// Package cases owns the case lifecycle of 一件事一次办: intake of one application for a
// bundle (validated whole, every problem reported at once, nothing stored when refused),
// routing of each selected matter to the department that handles it for the applicant type,
// mapping of each department's form (with the results of prerequisites decided outside the case
// taken from the holder's e-licences), materials given as e-licences of the library instead of
// files (checked: the right type, valid, the applicant's), dispatch through the transactional
// outbox, the events
// departments report back (a state machine; illegal transitions refused), prerequisites that
// hold a matter back until another is approved, deadlines in Chinese working days, and the
// aggregation that completes a case when every selected matter is decided.
//
// # Materials the hub holds
//
// An application (or a supplement) may name a material by the id of a material object the
// submitting client uploaded (package uploads): intake takes it only when it is that client's,
// for the case's applicant and of the entry's type, and refuses another client's id exactly as
// an unknown one. The case links the object (case_materials.object_id); the bytes stay stored
// once under their sha256 however many cases use them. With a keyring (Config.Links), each
// message that carries such a material to a department carries a link to the bytes signed for
// that department, case and sub-case (package links), in uri with link_expires_at; the reads
// of those links, which the links handler writes to the audit log, are listed on the material
// in the case's view (Get). A file on a host the hub allows (MaterialHosts) keeps its uri.
//
// Retention (package retention) removes a material object when its time is up, never while a
// case naming it is open. Intake and supplements take the row of each object they name in
// their transaction (claimObjects), as the sweeper's removal does, and clear its due time: an
// object removed meanwhile is refused with RuleMaterialRemoved. Get shows each held material's
// retained_until (null while a case naming it is open) and removed_at.
package cases
