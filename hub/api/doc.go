// Package api is the hub's HTTP interface: the catalogue read API (bundles, matters,
// departments), health and readiness, and — as the case flow grows — intake and results.
//
// Every error is JSON in one shape (see ErrorBody), with the HTTP status that fits: unknown
// paths are 404, known paths with the wrong method 405 with an Allow header.
package api
