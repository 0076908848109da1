package platform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/jsonstrict"
	"yjshub/problem"
)

// reportBatch bounds the rejections reported per round.
const reportBatch = 100

// recordTimeout bounds recording an outcome whose effect has happened.
const recordTimeout = 30 * time.Second

// cst is China Standard Time, the platforms' time zone (no daylight saving).
var cst = time.FixedZone("CST", 8*3600)

// Item is one submitted application: its id on the platform, when it was submitted there, and
// the platform's own application document.
type Item struct {
	AppID       string          `json:"app_id"`
	SubmittedAt string          `json:"submitted_at,omitempty"`
	Body        json.RawMessage `json:"body"`
}

// intake takes one application in: submitted as a case, or rejected and recorded for the
// platform and the operators. It returns only the store's errors, so that the cursor does not
// move past an application whose fate is unrecorded.
func (c *Connector) intake(ctx context.Context, raw json.RawMessage) error {
	c.pulled.Add(1)
	var it Item
	if err := json.Unmarshal(raw, &it); err != nil {
		return c.deadLetter(ctx, Item{Body: raw}, raw, "", "an item that is not {app_id, submitted_at, body} cannot be taken in nor answered")
	}
	body := unwrap(it.Body)
	if it.AppID == "" {
		return c.deadLetter(ctx, it, body, "", "an item without app_id cannot be taken in nor answered")
	}
	state, err := c.tables.application(ctx, it.AppID)
	if err != nil {
		return err
	}
	if state != "" {
		c.duplicates.Add(1)
		return nil // pulled again: never submitted twice
	}
	submittedAt := parseTime(it.SubmittedAt)
	var problems []Problem
	for _, p := range jsonstrict.Check(body, jsonstrict.Limits{}) { // before mapping reads it
		problems = append(problems, Problem{Path: p.Path, Rule: p.Rule, Message: p.Message})
	}
	var app cases.Application
	if len(problems) == 0 {
		app, problems = c.mapper.Map(body)
	}
	if len(problems) == 0 {
		// The case belongs to the platform: to the API client of the connector's name.
		key := "platform:" + c.cfg.Name + ":" + it.AppID
		v, _, err := c.cases.SubmitAs(ctx, c.cfg.Name, app, requestHash(body), key)
		var ve *problem.Error
		switch {
		case err == nil:
			if err := c.tables.storeApplication(ctx, it.AppID, v.ID, appSubmitted, nil, reportDone, submittedAt); err != nil {
				return err
			}
			c.submitted.Add(1)
			c.log.InfoContext(ctx, "platform: application taken in", "app_id", it.AppID, "case_id", v.ID)
			return nil
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				problems = append(problems, Problem{Path: c.mapper.platformPath(p.Path), HubPath: p.Path, Rule: p.Rule, Message: p.Message})
			}
		case errors.Is(err, cases.ErrConflict):
			if err := c.deadLetter(ctx, it, body, it.AppID, "conflict: the platform sent this application again with another body; the first one stands"); err != nil {
				return err
			}
			return c.tables.storeApplication(ctx, it.AppID, "", appConflict, nil, reportDone, submittedAt)
		default:
			return fmt.Errorf("submitting application %s: %w", it.AppID, err)
		}
	}
	if err := c.deadLetter(ctx, it, body, it.AppID, rejectionReason(problems)); err != nil {
		return err
	}
	if err := c.tables.storeApplication(ctx, it.AppID, "", appRejected, problems, reportPending, submittedAt); err != nil {
		return err
	}
	c.rejected.Add(1)
	c.log.WarnContext(ctx, "platform: application rejected (退件)", "app_id", it.AppID, "problems", len(problems))
	return nil
}

// deadLetter records an application that was not taken in. It has no place on Kafka: topic is
// "platform:<name>" (not a topic name, so a replay is refused), the offset a hash of the
// application id, the key the application id.
func (c *Connector) deadLetter(ctx context.Context, it Item, body []byte, appID, reason string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(it.AppID))
	if it.AppID == "" {
		_, _ = h.Write(body)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	payload, _ := json.Marshal(it)
	err := c.rec.Failed(rctx, connector.Failure{
		Delivery: connector.Delivery{Connector: c.Name(), EventID: "platform:" + c.cfg.Name + ":" + appID, At: time.Now()},
		Reason:   reason, Topic: Kind + ":" + c.cfg.Name, Offset: int64(h.Sum64() >> 1), Key: []byte(appID), Payload: payload,
	})
	if err != nil {
		return fmt.Errorf("recording the rejection of application %s: %w", appID, err)
	}
	c.counters.Failed()
	c.note(reason)
	return nil
}

// reportRejections tells the platform of the applications it rejected (退件), one attempt
// each per round: one that the platform does not take now is tried in the next round.
func (c *Connector) reportRejections(ctx context.Context) error {
	rows, err := c.tables.unreported(ctx, reportBatch)
	if err != nil {
		return err
	}
	for _, r := range rows {
		doc := c.document(r.AppID, "", stepRejected, r.At.Time)
		doc["problems"] = problemDocs(r.Problems.V)
		body, err := json.Marshal(c.cfg.Outbound.apply(doc))
		if err != nil {
			return err
		}
		key := "platform:" + c.cfg.Name + ":app:" + r.AppID + ":" + stepRejected
		res := c.client.Post(ctx, key, body)
		switch {
		case res.Stopped || ctx.Err() != nil:
			return nil
		case res.Outcome == delivery.Delivered:
			if err := c.tables.markReported(ctx, r.AppID, reportDone); err != nil {
				return err
			}
		case res.Outcome == delivery.Permanent:
			c.note("reporting a rejection: " + res.Reason)
			c.log.WarnContext(ctx, "platform: the platform refused the report of a rejection", "app_id", r.AppID, "status", res.Status, "reason", res.Reason)
			if err := c.tables.markReported(ctx, r.AppID, reportRefused); err != nil {
				return err
			}
		default:
			c.note("reporting a rejection: " + res.Reason)
			c.log.WarnContext(ctx, "platform: reporting a rejection failed; will try again", "app_id", r.AppID, "reason", res.Reason)
			return nil
		}
	}
	return nil
}

func problemDocs(problems []Problem) []map[string]any {
	out := make([]map[string]any, len(problems))
	for i, p := range problems {
		out[i] = map[string]any{"path": p.Path, "hub_path": p.HubPath, "rule": p.Rule, "message": p.Message}
	}
	return out
}

// rejectionReason lists the problems by path and rule, never by value.
func rejectionReason(problems []Problem) string {
	return "rejected (退件), " + problemSummary(problems)
}

// problemSummary counts the problems and names the first ones by path and rule, never by value.
func problemSummary(problems []Problem) string {
	const shown = 10
	parts := make([]string, 0, min(len(problems), shown))
	for i, p := range problems {
		if i == shown {
			break
		}
		where := p.HubPath
		if p.Path != "" {
			where = p.Path + " (" + p.HubPath + ")"
		}
		parts = append(parts, where+": "+p.Rule)
	}
	s := fmt.Sprintf("%d problem(s): %s", len(problems), strings.Join(parts, "; "))
	if len(problems) > shown {
		s += "; …"
	}
	return s
}

// unwrap accepts a body given as a JSON string holding the document, as some platforms send.
func unwrap(body json.RawMessage) []byte {
	var s string
	if len(body) > 0 && body[0] == '"' && json.Unmarshal(body, &s) == nil {
		return []byte(s)
	}
	return body
}

// requestHash identifies an application's content for the idempotency of Submit: the SHA-256
// of the body without insignificant white space.
func requestHash(body []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, body) != nil {
		buf.Reset()
		buf.Write(body)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// parseTime reads a platform's submission time: RFC 3339, or "2006-01-02 15:04:05" in China
// Standard Time. Anything else is the zero time.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, time.DateTime} {
		if t, err := time.ParseInLocation(layout, s, cst); err == nil {
			return t
		}
	}
	return time.Time{}
}
