package deptsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"yjshub/hub/event"
	"yjshub/pdfmin"
)

// licencePDF is the simulated file of e-licence l: a small PDF, the same bytes whenever the
// same licence is issued again (so that the hub, given it twice, keeps it once).
func licencePDF(l event.Licence) []byte {
	text := fmt.Sprintf("(SIMULATED E-LICENCE %s) Tj", l.Number)
	content := "BT /F1 12 Tf 72 720 Td " + text + " ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	return pdfmin.Write("%PDF-1.7\n", objs, "")
}

// uploadLicenceFile uploads the file of licence l to the hub before the approval that issues
// it, as a department's licence system would (PUT /api/v1/files/{sha256}, the licence type as
// its type and the holder's number as its holder), and names it in l by its object id: the hub
// fills in its hash, size and format and serves it to the holder's platform. Only a department
// with an API key (WithHubKeys) uploads: the hub lets an approval name only a file its own
// client uploaded. A hub that keeps no files (404, 405), or any failure, leaves l as it was,
// its file given by a made-up uri.
func (s *Simulator) uploadLicenceFile(seq sequence, l *event.Licence) {
	base, _, ok := strings.Cut(seq.data.Callback, "/api/v1/subcases/")
	key := s.hubKeys[seq.dept]
	if !ok || l.HolderID == "" || key == "" {
		return
	}
	data := licencePDF(*l)
	sum := sha256.Sum256(data)
	q := url.Values{"type": {l.Type}, "holder": {l.HolderID}, "filename": {l.Number + ".pdf"}}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/v1/files/"+hex.EncodeToString(sum[:])+"?"+q.Encode(), bytes.NewReader(data))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("User-Agent", "yjshub-deptsim")
	req.Header.Set(HeaderSimulated, "true")
	req.Header.Set("Authorization", "Bearer "+key)
	log := s.log.With("department", seq.dept, "subcase_id", seq.data.SubcaseID)
	resp, err := s.client.Do(req)
	if err != nil {
		log.Warn("the licence's file could not be uploaded: the approval gives it by uri", "error", err)
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var obj struct {
		ID string `json:"id"`
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		log.Debug("the hub keeps no files: the approval gives the licence's file by uri")
		return
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated:
		log.Warn("the licence's file was refused: the approval gives it by uri", "status", resp.StatusCode, "hub_error", summarizeHubError(raw))
		return
	case json.Unmarshal(raw, &obj) != nil || obj.ID == "":
		log.Warn("the hub's answer to the licence's file names no material object: the approval gives it by uri", "status", resp.StatusCode)
		return
	}
	l.File = event.LicenceFile{ObjectID: obj.ID}
	s.mu.Lock()
	s.depts[seq.dept].stats.LicenceFilesUploaded++
	s.mu.Unlock()
}
