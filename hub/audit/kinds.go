package audit

// Kinds of rows the hub's own services append besides those of sharing (prefill, consent …)
// and of links (material_read).
const (
	// KindMaterialRemoved: a material object the hub held was removed when its retention
	// ended (package retention); the detail names the object, its type, its bytes' sha256 and
	// whether the bytes were deleted, the subject the holder's keyed pseudonym.
	KindMaterialRemoved = "material_removed"
)
