// Package examples embeds the example applications, one JSON file per bundle and applicant
// type, so that the binary carries them: `yjshub bench` makes its load from them without the
// source tree at hand.
package examples

import "embed"

// FS holds the example applications (*.json); each is a body of POST /api/v1/cases that the
// embedded catalogue accepts.
//
//go:embed *.json
var FS embed.FS
