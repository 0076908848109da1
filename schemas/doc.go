// Package schemas embeds the project's JSON Schemas (draft 2020-12): the catalogue files under
// catalogue/, and, as the case flow grows, the one form, the event envelope and the OpenAPI
// document. The files are the contract; this package only makes them available to the binary.
package schemas

import "embed"

// FS holds every schema file, by its path under schemas/.
//
//go:embed catalogue/*.json events/*.json
var FS embed.FS

// BaseURL is the prefix of every schema's $id.
const BaseURL = "https://yjshub.local/schemas/"
