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
	"slices"
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

// faultBatch bounds the held applications tried again per round.
const faultBatch = 100

// intake takes one pulled application in: submitted as a case, rejected (退件) and recorded
// for the platform and the operators, or held for a fault of the hub's. It returns only the
// store's errors, so that the cursor does not move past an application whose fate is
// unrecorded.
func (c *Connector) intake(ctx context.Context, raw json.RawMessage) error {
	c.pulled.Add(1)
	var it Item
	if err := json.Unmarshal(raw, &it); err != nil {
		return c.deadLetter(ctx, Item{Body: raw}, raw, "", "", "an item that is not {app_id, submitted_at, body} cannot be taken in nor answered")
	}
	body := unwrap(it.Body)
	if it.AppID == "" {
		return c.deadLetter(ctx, it, body, "", "", "an item without app_id cannot be taken in nor answered")
	}
	rec, err := c.tables.application(ctx, it.AppID)
	if err != nil {
		return err
	}
	hash := requestHash(body)
	retaken := rec.Retaken
	switch {
	case rec.State == "":
	case rec.State == appRejected && rec.BodySHA256 != "" && rec.BodySHA256 != hash:
		// The applicant corrected the application after its 退件: a new submission.
		retaken++
	case rec.State == appFault && rec.BodySHA256 != hash:
		// Held for the hub's fault and sent again changed: the new document stands.
	default:
		c.duplicates.Add(1)
		return nil // pulled again: never submitted twice; a held one is tried each round
	}
	return c.take(ctx, it, body, hash, retaken, parseTime(it.SubmittedAt), false)
}

// retryFaults tries again the applications held for a fault of the hub's (a mapping or
// configuration fault), from their stored documents: once the operator has mended the
// configuration (a reload) or the catalogue, they are taken in without the platform sending
// them again.
func (c *Connector) retryFaults(ctx context.Context) error {
	rows, err := c.tables.faults(ctx, faultBatch)
	if err != nil {
		return err
	}
	for _, r := range rows {
		var it Item
		if err := json.Unmarshal([]byte(r.Body), &it); err != nil || it.AppID != r.AppID {
			it = Item{AppID: r.AppID}
		}
		if err := c.take(ctx, it, unwrap(it.Body), r.BodySHA256, r.Retaken, r.Submitted.Time, true); err != nil {
			return err
		}
	}
	return nil
}

// take maps and submits one application. retaken counts the 退件 it was corrected after (its
// idempotency key then carries its hash); retry says it was held for a fault, and is not
// dead-lettered again while the fault lasts.
func (c *Connector) take(ctx context.Context, it Item, body []byte, hash string, retaken int, submittedAt time.Time, retry bool) error {
	var problems []Problem
	for _, p := range jsonstrict.Check(body, jsonstrict.Limits{}) { // before mapping reads it
		problems = append(problems, Problem{Path: p.Path, Rule: p.Rule, Message: p.Message})
	}
	var app cases.Application
	if len(problems) == 0 {
		app, problems = c.mapper.Map(body)
	}
	o := outcome{appID: it.AppID, submittedAt: submittedAt, bodySHA256: hash, retaken: retaken, reported: reportDone}
	if len(problems) == 0 {
		// The case belongs to the platform: to the API client of the connector's name, and
		// the platform finds it by its own number (GET /api/v1/cases?external_ref=app_id).
		app.ExternalRef = it.AppID
		v, _, err := c.cases.SubmitAs(ctx, c.cfg.Name, app, hash, c.submitKey(it.AppID, hash, retaken))
		var ve *problem.Error
		switch {
		case err == nil:
			o.caseID, o.state = v.ID, appSubmitted
			if err := c.tables.storeApplication(ctx, o); err != nil {
				return err
			}
			c.submitted.Add(1)
			if retry {
				c.recovered.Add(1)
			}
			if retaken > 0 {
				c.retaken.Add(1)
				c.log.InfoContext(ctx, "platform: corrected application taken in as a new submission after its 退件", "app_id", it.AppID, "case_id", v.ID, "resubmission", true)
				return nil
			}
			c.log.InfoContext(ctx, "platform: application taken in", "app_id", it.AppID, "case_id", v.ID, "recovered", retry)
			return nil
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				problems = append(problems, Problem{Path: c.mapper.platformPath(p.Path), HubPath: p.Path, Rule: p.Rule, Message: p.Message,
					Material: p.Material, Field: p.Field, MessageZH: p.MessageZH})
			}
		case errors.Is(err, cases.ErrConflict):
			if err := c.deadLetter(ctx, it, body, it.AppID, hash, "conflict: the platform sent this application again with another body; the first one stands"); err != nil {
				return err
			}
			o.state = appConflict
			return c.tables.storeApplication(ctx, o)
		default:
			return fmt.Errorf("submitting application %s: %w", it.AppID, err)
		}
	}
	if faults := faultsOf(problems); len(faults) > 0 {
		return c.hold(ctx, it, body, o, faults, retry)
	}
	if err := c.deadLetter(ctx, it, body, it.AppID, hash, rejectionReason(problems)); err != nil {
		return err
	}
	for i, p := range problems { // the applicant reads them: in Chinese, keyed by rule
		if p.MessageZH == "" {
			problems[i].MessageZH = problem.MessageZH(problem.Problem{Path: p.HubPath, Rule: p.Rule, Material: p.Material, Field: p.Field}, c.cat)
		}
	}
	o.state, o.problems, o.reported = appRejected, problems, reportPending
	if err := c.tables.storeApplication(ctx, o); err != nil {
		return err
	}
	c.rejected.Add(1)
	c.log.WarnContext(ctx, "platform: application rejected (退件)", "app_id", it.AppID, "problems", len(problems), "resubmission", retaken > 0)
	return nil
}

// hold keeps an application the hub could not take in through its own fault: a dead letter
// for the operators (once, not on every retry), its document stored to be tried again each
// round, and nothing said to the platform.
func (c *Connector) hold(ctx context.Context, it Item, body []byte, o outcome, faults []Problem, retry bool) error {
	reason := faultReason(faults)
	if retry {
		c.note(reason)
	} else {
		if err := c.deadLetter(ctx, it, body, it.AppID, o.bodySHA256, reason); err != nil {
			return err
		}
		c.faults.Add(1)
		c.log.ErrorContext(ctx, "platform: application held for a mapping or configuration fault; not reported to the platform", "app_id", it.AppID,
			"problems", len(faults))
	}
	stored, err := json.Marshal(Item{AppID: it.AppID, SubmittedAt: it.SubmittedAt, Body: body})
	if err != nil {
		return err
	}
	o.state, o.problems, o.body = appFault, faults, stored
	return c.tables.storeApplication(ctx, o)
}

// submitKey is the idempotency key of an application's submission: platform:<name>:<app_id>,
// and for one corrected after a 退件 also the first 16 hex digits of its document's hash.
func (c *Connector) submitKey(appID, hash string, retaken int) string {
	key := "platform:" + c.cfg.Name + ":" + appID
	if retaken > 0 {
		key += ":" + hash[:16]
	}
	return key
}

// deadLetter records an application that was not taken in. It has no place on Kafka: topic is
// "platform:<name>" (not a topic name, so a replay is refused: a held application is retried
// by the connector itself), the offset a hash of the application id and its document, the key
// the application id.
func (c *Connector) deadLetter(ctx context.Context, it Item, body []byte, appID, hash, reason string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(it.AppID))
	_, _ = h.Write([]byte(hash)) // each document of an application is a letter of its own
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
		doc["reasons"] = reasonsByRule(r.Problems.V)
		if r.Retaken > 0 {
			doc["resubmission"] = true
		}
		body, err := json.Marshal(c.cfg.Outbound.apply(doc))
		if err != nil {
			return err
		}
		key := rejectionKey(c.cfg.Name, r.AppID, r.BodySHA256, r.Retaken)
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

// rejectionKey is the Idempotency-Key of a 退件: platform:<name>:app:<app_id>:rejected, and
// for a corrected application rejected again also the first 16 hex digits of its hash, so
// that the platform takes the second 退件 as a document of its own.
func rejectionKey(platform, appID, hash string, retaken int) string {
	key := "platform:" + platform + ":app:" + appID + ":" + stepRejected
	if retaken > 0 && len(hash) >= 16 {
		key += ":" + hash[:16]
	}
	return key
}

func problemDocs(problems []Problem) []map[string]any {
	out := make([]map[string]any, len(problems))
	for i, p := range problems {
		d := map[string]any{"path": p.Path, "hub_path": p.HubPath, "rule": p.Rule, "message": p.Message}
		for k, v := range map[string]string{"material": p.Material, "field": p.Field, "message_zh": p.MessageZH} {
			if v != "" {
				d[k] = v
			}
		}
		out[i] = d
	}
	return out
}

// reasonsByRule groups a 退件's problems by rule code, each with the platform's paths
// (or the hub's where no rule maps the field), so that a platform can word its own reasons.
func reasonsByRule(problems []Problem) map[string][]string {
	out := map[string][]string{}
	for _, p := range problems {
		where := p.Path
		if where == "" {
			where = p.HubPath
		}
		if !slices.Contains(out[p.Rule], where) {
			out[p.Rule] = append(out[p.Rule], where)
		}
	}
	return out
}

// faultReason lists a fault's problems by path and rule, never by value.
func faultReason(problems []Problem) string {
	return "fault (the hub's mapping or configuration, not the applicant's; held and retried, not reported to the platform), " + problemSummary(problems)
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
