// Package schemas embeds the project's JSON Schemas (draft 2020-12) — the catalogue files under
// catalogue/, the event messages under events/ and the connectors file under connectors/ — and
// the OpenAPI 3.0.3 document of the HTTP API (openapi.yaml; OpenAPI and OpenAPIJSON). The files
// are the contract; this package only makes them available to the binary.
package schemas

import "embed"

// FS holds every schema file, by its path under schemas/.
//
//go:embed catalogue/*.json connectors/*.json events/*.json
var FS embed.FS

// BaseURL is the prefix of every schema's $id.
const BaseURL = "https://yjshub.local/schemas/"
