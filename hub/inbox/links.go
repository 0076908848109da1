package inbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"yjshub/hub/event"
	"yjshub/hub/links"
)

// via is the connector kind the inbox's links name: the audit log of reads says a material
// was read through restpull.
const via = "restpull"

// relinker signs afresh the links in the messages the inbox hands out.
type relinker struct {
	keys *links.Keyring
	base string
	ttl  time.Duration
}

// resign returns the envelope payload with every material that carries a link
// (link_expires_at) given a new one for dept, the message's case and sub-case. Every other
// member of the envelope and of its data is kept as it was; a message of another type is
// returned as it is.
func (l *relinker) resign(dept string, payload []byte) (json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, fmt.Errorf("reading the envelope: %w", err)
	}
	var typ string
	_ = json.Unmarshal(env["type"], &typ)
	if typ != event.TypeSubcaseDispatched && typ != event.TypeSubcaseResubmitted {
		return payload, nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env["data"], &data); err != nil {
		return nil, fmt.Errorf("reading the message's data: %w", err)
	}
	var caseID, subcaseID string
	_ = json.Unmarshal(data["case_id"], &caseID)
	_ = json.Unmarshal(data["subcase_id"], &subcaseID)
	var mats []map[string]json.RawMessage
	if err := json.Unmarshal(data["materials"], &mats); err != nil {
		return nil, fmt.Errorf("reading the message's materials: %w", err)
	}
	changed := false
	for _, m := range mats {
		if _, linked := m["link_expires_at"]; !linked {
			continue
		}
		var sum string
		if err := json.Unmarshal(m["sha256"], &sum); err != nil {
			return nil, fmt.Errorf("reading a material's sha256: %w", err)
		}
		link, err := l.keys.SignLink(links.Link{Method: http.MethodGet, SHA256: sum, Department: dept, Case: caseID, Subcase: subcaseID, Via: via, TTL: l.ttl})
		if err != nil {
			return nil, err
		}
		exp, err := expiry(link)
		if err != nil {
			return nil, err
		}
		if m["uri"], err = json.Marshal(l.base + link); err != nil {
			return nil, err
		}
		if m["link_expires_at"], err = json.Marshal(exp); err != nil {
			return nil, err
		}
		changed = true
	}
	if !changed {
		return payload, nil
	}
	var err error
	if data["materials"], err = json.Marshal(mats); err != nil {
		return nil, err
	}
	if env["data"], err = json.Marshal(data); err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// expiry reads when a link expires from its exp parameter: the keyring's clock set it.
func expiry(link string) (time.Time, error) {
	_, query, _ := strings.Cut(link, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return time.Time{}, errors.New("a signed link without its expiry")
	}
	return time.Unix(sec, 0).UTC(), nil
}
