// Package retention owns how long the hub keeps the materials it holds, and their removal when
// that time has passed.
//
// # Rules
//
// Rules are per material type, from a YAML file (serve --retention; Load, checked at start-up
// against the catalogue, every problem named at once) over built-in defaults:
//
//   - unlinked (default 30d): a material object that no case ever named is kept that long
//     after its upload;
//   - after_case (default 365d): a material named by cases is kept until the last case naming
//     it has ended (completed, whatever its outcome, or withdrawn) plus that long; a case still
//     open keeps it however long it stays open;
//   - types: after_case of some material types ({id-card: 90d}).
//
// # The sweeper
//
// Sweeper.Sweep goes through the live material objects (materials_uploaded rows not removed),
// computes when each is due, records it in expires_at (NULL while a case naming it is open)
// and removes those due. A removal is decided again in one transaction under a lock of the
// object's row, which intake takes too when a case names the object: a case that names an
// object while the sweeper runs either commits first, and the sweeper sees it and keeps the
// object, or waits, and is then refused with "the uploaded material was removed". The row is
// kept with removed_at set (the audit trail, and the case view's removed_at); the blob is
// deleted only when no live material object, no material of a case still open and no
// e-licence (licences.file_sha256) uses the same bytes. Each removal appends a row of kind
// material_removed to the audit log. A sweep also removes the blob store's temporary files
// left by a crash (TempSweeper, blobs.Disk) older than an hour.
//
// A link to a removed material's bytes answers 410 once the blob is deleted (package links).
//
// What is not covered: two hub instances removing at once the last two objects of the same
// bytes each see the other's object still live and both keep the blob, which is then held by
// nothing (a leak, never a loss). The blob is deleted before the removal commits (so that a
// finishing upload of the same bytes, waiting on the row, puts it again); should the commit
// then fail, the object stays live without its bytes until the next sweep removes it. A link
// signed for a removed material still serves the bytes while another live material uses them.
// The material objects' figures (yjshub_materials_*) count the objects' sizes, not the bytes
// the store freed.
package retention
