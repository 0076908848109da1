// Package restpull owns the REST pull connector, for departments whose systems cannot receive
// calls: the hub keeps their sub-cases in an inbox, and the department system polls it.
//
// # Flow
//
// The [Connector] consumes the department's sub-case topic and stores each CloudEvents
// envelope, exactly as published, in the hub's inbox (hub/inbox: the restpull_inbox table of its store)
// before it commits the offset; an envelope id already there is ignored, so a redelivery has no
// second effect. The department system then polls through the hub's API:
//
//	GET  /api/v1/departments/{dept}/inbox?max=10&visibility=30s
//	     → 200 [{"id": "…", "lease": "ls_…", "lease_until": "…", "attempts": 1, "message": {envelope}}]
//	POST /api/v1/departments/{dept}/inbox/{id}/ack   {"lease": "ls_…"}
//	     → 200; 409 when the lease is stale; 404 for an unknown item
//
// A poll leases up to max items that are pending or whose lease ran out, oldest first, for the
// visibility timeout (default Config.DefaultVisibility, at most Config.MaxVisibility). Until
// then no other poll sees them; an item not acknowledged in time is leased again by a later
// poll. The sub-cases of one case come one at a time, in the order they were published: an
// item waits while an earlier one of its case is not acknowledged, so a re-leased item is
// never overtaken. The ack marks the item acknowledged and records the delivery through the
// connector.Recorder; acknowledging it again answers 200 again. An item leased
// Config.MaxAttempts times without an ack is recorded as failed — a dead letter with its
// payload, which operators can replay onto the topic — and removed from the inbox. The
// department reports its progress and results through the usual events endpoint,
// POST /api/v1/subcases/{id}/events (connectors/CONTRACT.md).
//
// Delivery is at least once: a lease that runs out between the department's processing and
// its ack hands the item out again, with the same id, which the department must treat as the
// same sub-case.
//
// # Several hub instances
//
// All state is in the store: any instance may serve any poll. A lease is one transaction: on
// PostgreSQL an UPDATE of the rows selected FOR UPDATE SKIP LOCKED, so concurrent polls never
// receive the same item; SQLite has a single writer, so its leases run one after another.
//
// # Personal data
//
// Payloads hold applicants' personal data: they are served to the department and kept for the
// dead letter, never logged. Logs, errors and the status carry ids and counts only.
package restpull
