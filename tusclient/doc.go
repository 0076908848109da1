// Package tusclient uploads files to the hub's tus 1.0 endpoint (hub/uploads) so that a
// command-line client can hand an application's materials to the hub by id.
//
// An upload is created with its length and metadata (filename, type, holder and the file's
// sha256, which the hub checks against the bytes it receives), then sent in chunks (4 MiB by
// default), each with an Upload-Checksum the hub verifies before it keeps the chunk. The
// completing PATCH is answered once the hub holds the material, and names it in the
// Upload-Material-Id header.
//
// An upload survives interruptions twice over. Within one run, a chunk that fails for want of
// an answer (a dropped connection, a timeout, a 5xx) is resent from the offset HEAD reports,
// a few times. Across runs, a State file remembers each unfinished upload's URL under the
// sha256 of its file, so that the next run asks the hub where it stopped instead of starting
// over. Once the material exists the entry is removed, or, for a Client with Reuse, keeps the
// material's id, so that a run that failed after its uploads (a refused application, fixed
// and sent again) does not send its files again when the hub still has their materials. The State holds URLs and hashes only,
// never a file's bytes or its metadata (the holder is personal data).
package tusclient
