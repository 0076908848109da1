// Package seeds embeds the catalogue files (see README.md in this folder) so that the binary
// carries a default catalogue; `yjshub serve --seeds DIR` loads an edited copy instead.
package seeds

import "embed"

// FS holds departments.yaml and the YAML files under bundles/, fields/, materials/ and matters/.
//
//go:embed *.yaml */*.yaml
var FS embed.FS
