// Package links owns the signed, expiring links through which departments read the materials
// the hub keeps (package blobs), and the handler that serves them.
//
// # A link
//
// A link grants one method (GET, which grants HEAD too) on one blob to one department, for one
// case and sub-case, until it expires:
//
//	/api/v1/files/<sha256>?case=<case>&subcase=<sub-case>&dept=<department>&via=<connector kind>&exp=<unix seconds>&kid=<key id>&sig=<signature>
//
// subcase and via are left out when empty. sig is the unpadded base64url HMAC-SHA256, under
// the key kid names, of the method, the path, the department, the case, the sub-case, via, exp
// and kid, each as its length and its bytes (unambiguous whatever the fields hold). A link
// lives at most MaxTTL (7 days): a department that missed it asks for a fresh one.
//
// Keyring.Verify refuses, with ErrForbidden and nothing more, a link that is altered in any
// field, expired, signed by a key the ring no longer holds, or not of a link's shape (an
// unknown, repeated or empty parameter included), and one presented by a department's client
// (authenticated by the hub's API key) that is not the link's department. A link presented
// without credentials is served on the link alone: it is a capability, as an S3 pre-signed URL
// is, so that a department's back office can fetch with nothing but the URL its connector
// wrote. The time Verify takes does not depend on which check failed.
//
// # Keys
//
// The keys are kept as the pseudonym keys are: a file (FileName, links.key, in the data
// directory; Open creates it on first start with one key of 32 random bytes, mode 0600, and a
// file others may read is refused),
// one "<id> <base64 key>" line per key, oldest first. A ring holds two keys at most: the last
// signs, and the one before it still verifies the links it signed, so a rotation (Rotate) ends
// no link early; the next rotation drops that older key, and its links are refused from then
// on. Rotating less often than MaxTTL lets every link live out its time. Every hub instance
// must be given the same file.
//
// # The handler
//
// Handler answers GET and HEAD:
//
//   - 403 forbidden, with the hub's error body, for a link that does not verify; the answer
//     is the same, byte for byte, whatever the reason and whether or not the material exists,
//     because the blob is looked up only after the link verifies.
//   - 410 gone for a valid link to a material no longer kept (removed when its retention
//     ended): only the department the hub signed the link for learns that, and it was told
//     of the material already.
//   - 200 with the bytes, Content-Type as stored, Content-Length, ETag "<sha256>",
//     Last-Modified, Accept-Ranges: bytes, Cache-Control: private; 206 for one range
//     (a request for several is answered whole), 416 for a range outside the blob; 304 to
//     If-None-Match with the ETag. Bytes are streamed from the store (opened at the range's
//     offset), never read into memory.
//   - 405 for any other method.
//
// Every answer that sends material — 200 or 206 to a GET — is first recorded through the audit
// function given (Read, which maps onto one row of the hash-chained audit log with
// Read.Entry): who (the link's department and the authenticated client, if any), which
// material, which case and sub-case, when, and through which connector kind. A read that cannot
// be recorded is answered 503 and sends nothing. HEAD, 304 and 416 send no material and are
// not recorded; nor are refused links, which name nothing the hub vouches for.
//
// # README draft
//
// Materials held by the hub are read by departments through signed links, never through a
// URL an applicant's platform supplied: each sub-case message carries, per material, a link
// to /api/v1/files/<sha256> signed for that department and sub-case that expires within 7
// days. A link of another department, altered or expired gets 403 and never says whether
// the material exists; every read is written to the audit log. The signing keys live in
// <data-dir>/links.key (two at most: rotate, and the previous key still verifies until the
// next rotation).
package links
