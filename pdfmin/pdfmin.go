// Package pdfmin writes the file structure of a small PDF: a header, numbered objects, the
// cross-reference table that says where each begins, and the trailer. The simulated
// departments' e-licences (deptsim) and the examples' sample materials are made with it; the
// objects themselves (catalogue, pages, content, fonts) are the caller's.
package pdfmin

import (
	"bytes"
	"fmt"
)

// Write returns header followed by objects, numbered from 1 (the first must be the document's
// catalogue), the cross-reference table, and a trailer whose dictionary holds /Size, /Root 1 0 R
// and then trailer (e.g. " /Info 6 0 R", or "").
func Write(header string, objects []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, trailer, xref)
	return b.Bytes()
}
