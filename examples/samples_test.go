package examples

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/pdfmin"
)

var update = flag.Bool("update", false, "write the sample PDFs of files/pdf anew")

// samplePDF is a valid one-page PDF 1.4 naming a material type, a few KB, made the same way
// every time so that its sha256 is stable: a sample, marked as one on its page.
func samplePDF(materialType string) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 18 Tf 72 760 Td (yjshub sample material - not a real document) Tj ET\n")
	fmt.Fprintf(&content, "BT /F1 14 Tf 72 730 Td (Material type: %s) Tj ET\n", materialType)
	content.WriteString("BT /F1 11 Tf 72 700 Td (Example application: examples/files/open-bar-enterprise.json) Tj ET\n")
	// Lines enough to make a file of a few KB, as a scanned page's text layer is.
	for i := range 40 {
		fmt.Fprintf(&content, "BT /F1 9 Tf 72 %d Td (Line %02d of the sample %s: the hub keeps this file under its sha256.) Tj ET\n",
			670-i*14, i+1, materialType)
	}
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Title (yjshub sample: %s) /Producer (yjshub examples) >>", materialType),
	}
	return pdfmin.Write("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", objects, " /Info 6 0 R")
}

// TestTheSamplePDFsAreThoseTheGeneratorMakes keeps files/pdf in step with samplePDF and the
// example that names them: every material of files/open-bar-enterprise.json names a file
// there, and each file is the generator's (go test ./examples -update writes them).
func TestTheSamplePDFsAreThoseTheGeneratorMakes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("files", "open-bar-enterprise.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Materials []struct {
			Type string `json:"type"`
			File string `json:"file"`
		} `json:"materials"`
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	if len(app.Materials) == 0 {
		t.Fatal("the example names no materials")
	}
	for _, m := range app.Materials {
		if want := "pdf/" + m.Type + ".pdf"; m.File != want {
			t.Errorf("material %s names %q, want %q", m.Type, m.File, want)
			continue
		}
		path := filepath.Join("files", filepath.FromSlash(m.File))
		want := samplePDF(m.Type)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (go test ./examples -update writes it)", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the generator's (go test ./examples -update writes it)", path)
		}
		if !bytes.HasPrefix(got, []byte("%PDF-1.4\n")) || !strings.HasSuffix(string(got), "%%EOF\n") || len(got) < 2000 || len(got) > 16000 {
			t.Errorf("%s: %d bytes, not a PDF of a few KB", path, len(got))
		}
	}
}
