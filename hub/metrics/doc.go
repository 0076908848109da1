// Package metrics owns what the hub tells a monitoring system: one Prometheus registry per hub
// (never the global one, so that tests and several hubs in one process do not collide), the
// collectors that read the connectors, the case flow, the outbox, the dead letters and the Kafka
// connection when Prometheus scrapes, the HTTP middleware that counts and times the API's
// requests by route pattern, and the handler of GET /metrics.
//
// Collectors read at scrape time; nothing polls in the background. Labels carry codes only —
// connector names, kinds, department codes, states, route patterns, status classes — never an
// identifier of a case or a person.
package metrics
