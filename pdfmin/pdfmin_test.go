package pdfmin_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"yjshub/pdfmin"
)

// Every entry of the cross-reference table points at the start of its object, and startxref at
// the table: what a PDF reader follows to find the objects.
func TestTheCrossReferenceTablePointsAtEveryObject(t *testing.T) {
	objects := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>", "(third)"}
	b := pdfmin.Write("%PDF-1.7\n", objects, " /Info 3 0 R")
	s := string(b)
	if !strings.HasPrefix(s, "%PDF-1.7\n") || !strings.HasSuffix(s, "%%EOF\n") {
		t.Fatalf("header or end missing: %q", s)
	}
	start := strings.LastIndex(s, "startxref\n")
	xref, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s[start+len("startxref\n"):], "%%EOF\n")))
	if err != nil || !strings.HasPrefix(s[xref:], "xref\n0 4\n") {
		t.Fatalf("startxref %d (%v) does not point at the table", xref, err)
	}
	lines := strings.Split(s[xref:], "\n")
	for i := range objects {
		off, err := strconv.Atoi(strings.Fields(lines[3+i])[0])
		if err != nil || !bytes.HasPrefix(b[off:], fmt.Appendf(nil, "%d 0 obj\n%s\nendobj\n", i+1, objects[i])) {
			t.Errorf("entry %d: offset %d (%v) is not where object %d begins", i+1, off, err, i+1)
		}
	}
	if !strings.Contains(s, "trailer\n<< /Size 4 /Root 1 0 R /Info 3 0 R >>\n") {
		t.Errorf("trailer: %q", s[strings.Index(s, "trailer"):])
	}
}
