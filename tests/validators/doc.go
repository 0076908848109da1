// Package validators holds the test that the one form's JSON Schemas, as the hub serves them,
// are enforced by validators nobody here wrote: ajv (strict, with ajv-formats) and Python
// jsonschema, set up as the README's "Validating a one form" says (formats.mjs,
// yjshub_formats.py). scripts/validators.sh installs them; the package has no code of its own.
package validators
