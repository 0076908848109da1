package platformsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// SupplementReply is what an applicant sends the hub in answer to a request for supplement
// (补正): POST {hub}{Path} with Body.
type SupplementReply struct {
	CaseID string
	// Path is the hub's route: the document's reply_to, /api/v1/cases/{case id}/supplements.
	Path string
	Body SupplementBody
	// Unanswered lists the missing fields that answers had no value for; they are left out.
	Unanswered []string
}

// SupplementBody is the body of POST /api/v1/cases/{id}/supplements.
type SupplementBody struct {
	Materials []SupplementMaterial `json:"materials"`
	Form      map[string]any       `json:"form"`
}

// SupplementMaterial is a file reference given for a missing material.
type SupplementMaterial struct {
	Type     string `json:"type"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	URI      string `json:"uri"`
}

// ReplyToSupplement builds the applicant's answer to a 补正 document as the hub names its
// fields (step, case_id, supplement.missing, supplement.reply_to): each missing material gets
// a generated file (its content names the case, the material and the time; filesURL/<sha256>
// is where it is said to be), each missing field the value answers gives it. ok is false when
// the document is not a 补正.
func ReplyToSupplement(doc map[string]any, answers map[string]any, filesURL string, now time.Time) (r SupplementReply, ok bool, err error) {
	if doc["step"] != "supplement" {
		return r, false, nil
	}
	caseID, _ := doc["case_id"].(string)
	sup, _ := doc["supplement"].(map[string]any)
	if caseID == "" || sup == nil {
		return r, true, errors.New("the 补正 document has no case_id or supplement (is the outbound mapping renaming them?)")
	}
	r.CaseID = caseID
	r.Path, _ = sup["reply_to"].(string)
	if r.Path == "" {
		r.Path = "/api/v1/cases/" + caseID + "/supplements"
	}
	r.Body = SupplementBody{Materials: []SupplementMaterial{}, Form: map[string]any{}}
	missing, _ := sup["missing"].([]any)
	for _, m := range missing {
		item, _ := m.(map[string]any)
		if material, _ := item["material"].(string); material != "" {
			content := fmt.Appendf(nil, "yjshub platformsim supplement: case %s, material %s, %s\n", caseID, material, now.UTC().Format(time.RFC3339Nano))
			sum := sha256.Sum256(content)
			h := hex.EncodeToString(sum[:])
			r.Body.Materials = append(r.Body.Materials, SupplementMaterial{Type: material, Filename: material + ".pdf", SHA256: h,
				Size: int64(len(content)), URI: strings.TrimRight(filesURL, "/") + "/" + h})
		}
		if field, _ := item["field"].(string); field != "" {
			if v, ok := answers[field]; ok {
				r.Body.Form[field] = v
			} else {
				r.Unanswered = append(r.Unanswered, field)
			}
		}
	}
	return r, true, nil
}

// ReadItems reads applications to offer from one JSON file: an array of items
// ({app_id, submitted_at, body}), an object {"items": [...]}, one item, or one application in
// the platform's own format (then its app_id is the file's name without .json).
func ReadItems(name string, data []byte) ([]Item, error) {
	data = bytes.TrimSpace(data)
	var items []Item
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("%s: not an array of {app_id, submitted_at, body}: %w", name, err)
		}
	} else {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object or array: %w", name, err)
		}
		switch {
		case obj["items"] != nil:
			if err := json.Unmarshal(obj["items"], &items); err != nil {
				return nil, fmt.Errorf("%s: items: not an array of {app_id, submitted_at, body}: %w", name, err)
			}
		case obj["app_id"] != nil && obj["body"] != nil:
			var it Item
			if err := json.Unmarshal(data, &it); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			items = []Item{it}
		default:
			items = []Item{{AppID: strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), Body: data}}
		}
	}
	var errs []error
	for i, it := range items {
		if it.AppID == "" {
			errs = append(errs, fmt.Errorf("%s: item %d: app_id is required", name, i))
		}
		if len(it.Body) == 0 {
			errs = append(errs, fmt.Errorf("%s: item %d: body is required", name, i))
		}
	}
	return items, errors.Join(errs...)
}

// OfferItem adds an item as read by ReadItems; an empty submitted_at is now.
func (s *Sim) OfferItem(it Item) {
	if it.SubmittedAt == "" {
		it.SubmittedAt = time.Now().Format(time.RFC3339)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, it)
}
