// Package cases owns the case lifecycle of 一件事一次办: intake of one application for a
// bundle (validated whole, every problem reported at once, nothing stored when refused),
// routing of each selected matter to the department that handles it for the applicant type,
// mapping of each department's form, dispatch through the transactional outbox, the events
// departments report back (a state machine; illegal transitions refused), prerequisites that
// hold a matter back until another is approved, deadlines in Chinese working days, and the
// aggregation that completes a case when every selected matter is decided.
package cases
