// Package ui owns the operator console: the pages an operator opens in a browser at /ui/ to
// see every connector, case and deadline at a glance, replay dead letters and pause or resume
// connectors, read the catalogue's one forms and the reform results.
//
// The console is static files embedded in the binary (assets/): plain HTML, CSS and ES
// modules, no build step, no framework and nothing fetched from another origin, so that a hub
// without internet access serves it whole. The pages hold no data: they call the hub's own
// API (/api/v1) with the operator's key, which the operator types once and the browser keeps
// for that tab only (sessionStorage) and sends as a bearer token. No cookie is ever set, so a
// request another site makes the browser send carries no credential.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles and connections
// from the hub only, no inline script or style, no framing) and X-Content-Type-Options:
// nosniff. Assets are revalidated with their ETag, the hash of their content, so that a hub
// upgraded in place never serves a stale page and an unchanged one costs a 304.
package ui
