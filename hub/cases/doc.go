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
package cases
