// Package uploads owns the way files of materials reach the hub: resumable uploads that speak
// tus 1.0 (creation, creation-with-upload, termination and checksum with sha256) through tusd
// as a library, under the hub's authentication, and the material objects a finished upload
// becomes. A material object is the hub's record of a file: the sha256 and size the hub
// computed, the content type it sniffed from the bytes, the material type and file name the
// client declared, the client that uploaded it (its owner) and the applicant it belongs to (its
// holder). Its bytes live in a blobs.Store under their sha256; the record lives in the
// materials_uploaded table.
//
// Uploads in flight live where Config.InFlight says: in tusd's filestore under a directory of
// the hub's own (InFlightDisk, the default), or in tusd's s3store in the S3 blob store's bucket
// under its UploadsPrefix (InFlightS3), so that a deployment on S3 keeps no upload's bytes on an
// instance's disk between requests. Either way the finish path reads an upload only through
// tusd's Upload.GetReader, and the lock files stay in the local directory: tusd ships no lock
// that spans hosts, so instances that share uploads in flight need one upload's requests to
// reach one instance (sticky sessions), or a distributed locker. Sweep lists the uploads in
// flight from the store itself (the .info files or objects), so that with S3 any instance
// sweeps every instance's expired uploads.
//
// What an upload goes through:
//
//	POST   /api/v1/uploads         creation: metadata filename, type, holder, optional sha256;
//	                               an unknown type, a missing holder, a size over the type's
//	                               limit or a deferred length are refused, every problem at once
//	HEAD   /api/v1/uploads/{id}    the offset to resume from (owner only; others get 404)
//	PATCH  /api/v1/uploads/{id}    bytes at that offset, optionally with Upload-Checksum
//	DELETE /api/v1/uploads/{id}    termination (owner only)
//	GET    /api/v1/material-objects/{id}  a material object's record, not its bytes (owner only)
//	PUT    /api/v1/files/{sha256}?type=&holder=&filename=
//	                               a small file whole (Config.PutMaxSize, 10 MiB): hashed and
//	                               sniffed as a finished upload; 460 when the bytes do not hash
//	                               to the path's sha256; 201 with the record, or 200 with the
//	                               record of the same bytes, type and holder the client PUT before
//
// A department's client may also use as the type a licence type it issues
// (Config.IssuedLicenceType): the file of an e-licence, uploaded before the approval that names
// it (package licences, ResolveFiles), and accepted only as a PDF or an OFD.
//
// The PATCH (or POST with creation-with-upload) that completes an upload is answered only after
// the material is durable: the bytes hashed and sniffed, the declared sha256 checked, the blob
// put and the row committed. Its response names the material in the Upload-Material-Id header;
// a refused upload is removed and answered 422 with the hub's error body.
package uploads
