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
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/connectors/connector"
	"yjshub/connectors/restpush"
	"yjshub/hub/cases"
)

// maxPage bounds the size of one page of applications.
const maxPage = 32 << 20

// reportBatch bounds the rejections reported per round.
const reportBatch = 100

// recordTimeout bounds recording an outcome whose effect has happened.
const recordTimeout = 30 * time.Second

// cst is China Standard Time, the platforms' time zone (no daylight saving).
var cst = time.FixedZone("CST", 8*3600)

// Page is one answer of the platform's pull endpoint (README.md).
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Item is one submitted application: its id on the platform, when it was submitted there, and
// the platform's own application document.
type Item struct {
	AppID       string          `json:"app_id"`
	SubmittedAt string          `json:"submitted_at,omitempty"`
	Body        json.RawMessage `json:"body"`
}

// remoteError is a pull that the platform did not answer as the contract says: the connector
// waits and tries again rather than failing.
type remoteError struct{ reason string }

func (e *remoteError) Error() string { return e.reason }

// pullLoop pulls pages until ctx ends; it returns only the store's errors.
func (c *Connector) pullLoop(ctx context.Context) error {
	failures := 0
	for {
		more, err := c.pullOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var re *remoteError
		switch {
		case errors.As(err, &re):
			failures++
			c.note("pull: " + re.reason)
			c.log.WarnContext(ctx, "platform: pull failed; will try again", "reason", re.reason, "failures", failures)
		case err != nil:
			return err
		default:
			failures = 0
		}
		if err := c.reportRejections(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wait := c.cfg.PollInterval
		switch {
		case failures > 0:
			wait = min(restpush.Backoff(failures, c.cfg.Retry, rand.Float64()), c.cfg.PollInterval)
		case more:
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// pullOnce pulls one page from the stored cursor, takes in every item, and only then stores
// the next cursor. more says whether the platform may have more right away.
func (c *Connector) pullOnce(ctx context.Context) (more bool, err error) {
	cur, err := c.tables.cursor(ctx)
	if err != nil {
		return false, err
	}
	c.pulls.Add(1)
	page, err := c.fetch(ctx, cur)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.lastPull = time.Now()
	c.mu.Unlock()
	for _, it := range page.Items {
		if err := c.intake(ctx, it); err != nil {
			return false, err
		}
	}
	next := page.NextCursor
	advanced := next != "" && next != cur
	if advanced {
		if err := c.tables.saveCursor(ctx, next); err != nil {
			return false, err
		}
		cur = next
	}
	c.mu.Lock()
	c.cursor, c.lastSuccess = cur, time.Now()
	c.mu.Unlock()
	return advanced && len(page.Items) >= c.cfg.Limit, nil
}

// fetch GETs one page.
func (c *Connector) fetch(ctx context.Context, cursor string) (*Page, error) {
	u, err := url.Parse(c.cfg.PullURL)
	if err != nil {
		return nil, &remoteError{"the pull URL does not parse"}
	}
	q := u.Query()
	q.Set("cursor", cursor)
	q.Set("limit", strconv.Itoa(c.cfg.Limit))
	u.RawQuery = q.Encode()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &remoteError{"building the request failed"}
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "yjshub-platform")
	resp, err := c.pull.Do(req)
	if err != nil {
		return nil, &remoteError{casepush.ErrorKind(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, &remoteError{fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	case err != nil:
		return nil, &remoteError{"reading the page: " + casepush.ErrorKind(err)}
	case len(body) > maxPage:
		return nil, &remoteError{fmt.Sprintf("the page is larger than %d bytes", maxPage)}
	}
	var p Page
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &remoteError{"the page is not {items, next_cursor} JSON"}
	}
	return &p, nil
}

// intake takes one application in: submitted as a case, or rejected and recorded for the
// platform and the operators. It returns only the store's errors, so that the cursor does not
// move past an application whose fate is unrecorded.
func (c *Connector) intake(ctx context.Context, it Item) error {
	c.pulled.Add(1)
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
	app, problems := c.mapper.Map(body)
	if len(problems) == 0 {
		key := "platform:" + c.cfg.Name + ":" + it.AppID
		v, _, err := c.cases.Submit(ctx, app, requestHash(body), key)
		var ve *cases.ValidationError
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
	c.failed.Add(1)
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
		var problems []Problem
		_ = json.Unmarshal([]byte(r.Problems), &problems)
		doc := c.document(r.AppID, "", stepRejected, r.At.Time)
		doc["problems"] = problemDocs(problems)
		body, err := json.Marshal(c.cfg.Outbound.apply(doc))
		if err != nil {
			return err
		}
		key := "platform:" + c.cfg.Name + ":app:" + r.AppID + ":" + stepRejected
		res := c.client.Post(ctx, key, body)
		switch {
		case res.Stopped || ctx.Err() != nil:
			return nil
		case res.Outcome == restpush.Delivered:
			if err := c.tables.markReported(ctx, r.AppID, reportDone); err != nil {
				return err
			}
		case res.Outcome == restpush.Permanent:
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
	s := fmt.Sprintf("rejected (退件), %d problem(s): %s", len(problems), strings.Join(parts, "; "))
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
