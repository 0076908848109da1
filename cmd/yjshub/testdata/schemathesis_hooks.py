# Hooks of the contract test (contract_test.go passes this file in SCHEMATHESIS_HOOKS).
#
# tus 1.0 sends an upload's bytes as application/offset+octet-stream (POST /api/v1/uploads
# with creation-with-upload, PATCH /api/v1/uploads/{id}): raw bytes, as application/octet-stream
# is. schemathesis has no serializer for the tus name, and would skip both operations with
# "Serialization not possible"; the alias lets it send bytes to them like any other body.
import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
