package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/connectors/signing"
)

// KindPlatform is the platform side of the platform connector (connectors/platform/README.md):
// the platform's list of applications (pull_url) and its progress endpoint (push_url).
const KindPlatform = "platform"

// Check ids of the platform kind, in the order of the report.
const (
	CheckPullPage      = "pull-page"
	CheckPullItems     = "pull-items"
	CheckPullPaging    = "pull-paging"
	CheckPullUnique    = "pull-unique"
	CheckPullStable    = "pull-stable"
	CheckPushPrefix    = "push-" // + a step: push-accepted, push-result …
	CheckPushRepeated  = "push-repeated"
	CheckPushSignature = "push-bad-signature"
)

// PlatformSteps are the documents the hub pushes to a platform, each sent once by the kit.
var PlatformSteps = []string{"accepted", "supplement", "result", "completed", "rejected", "withdrawn", "revoked"}

var platformStatus = map[string]string{"accepted": "受理", "supplement": "补正", "result": "出件", "completed": "办结", "rejected": "退件",
	"withdrawn": "撤件", "revoked": "撤销"}

// pulled is the platform's list as the kit read it.
type pulled struct {
	ids     []string
	pages   int
	cursors []string // the cursor each page was asked with
}

// runPlatform checks the platform's list of applications, then its progress endpoint.
func (k *kit) runPlatform(ctx context.Context) {
	list, ok := k.checkPull(ctx)
	k.checkStable(ctx, list, ok)
	k.checkPushes(ctx)
	k.check(Check{ID: CheckResponseTime, Title: fmt.Sprintf("every answer comes within %v", k.cfg.MaxResponseTime), Required: true}, k.judgeResponseTime)
}

// checkPull reads the list page by page from an empty cursor, checking each page, each item,
// the paging and that app ids are unique. ok is false when the first page could not be read.
func (k *kit) checkPull(ctx context.Context) (pulled, bool) {
	page := Check{ID: CheckPullPage, Title: "GET pull_url?cursor=…&limit=… answers 200 with {items, next_cursor} JSON", Required: true}
	items := Check{ID: CheckPullItems, Title: "every item has an app_id, a submitted_at (RFC 3339 or yyyy-MM-dd HH:mm:ss) and a body (a JSON object, or a string holding one)", Required: true}
	paging := Check{ID: CheckPullPaging, Title: fmt.Sprintf("pages hold at most limit (%d) items, and a full page names a new next_cursor", k.cfg.Limit), Required: true}
	unique := Check{ID: CheckPullUnique, Title: "app_id is unique across the list", Required: true}
	var list pulled
	var itemProblems, pagingProblems []string
	seen := map[string]int{}
	var dup []string
	cursor := ""
	for list.pages < k.cfg.MaxPages {
		p, a, why := k.fetchPage(ctx, cursor)
		if why != "" {
			if list.pages == 0 {
				page.Result, page.Reason = Fail, why
			} else {
				page.Result, page.Reason = Fail, fmt.Sprintf("page %d (cursor %q): %s", list.pages+1, cursor, why)
			}
			break
		}
		list.pages++
		list.cursors = append(list.cursors, cursor)
		for i, raw := range p.Items {
			id, problems := checkItem(raw)
			for _, pr := range problems {
				itemProblems = append(itemProblems, fmt.Sprintf("page %d item %d: %s", list.pages, i, pr))
			}
			if id == "" {
				continue
			}
			if seen[id]++; seen[id] == 2 {
				dup = append(dup, id)
			}
			list.ids = append(list.ids, id)
		}
		if len(p.Items) > k.cfg.Limit {
			pagingProblems = append(pagingProblems, fmt.Sprintf("page %d has %d items for limit %d", list.pages, len(p.Items), k.cfg.Limit))
		}
		full := len(p.Items) >= k.cfg.Limit
		advanced := p.NextCursor != "" && p.NextCursor != cursor
		if full && !advanced {
			pagingProblems = append(pagingProblems, fmt.Sprintf("page %d is full but next_cursor is empty or unchanged: the hub would never read past it", list.pages))
		}
		if !full || !advanced {
			if page.Result == "" {
				page.Result, page.Reason = Pass, fmt.Sprintf("%d page(s), %d item(s), last %s", list.pages, len(list.ids), statusLine(a))
			}
			break
		}
		cursor = p.NextCursor
	}
	if page.Result == "" {
		page.Result, page.Reason = Pass, fmt.Sprintf("%d page(s) read, %d item(s); stopped at --max-pages", list.pages, len(list.ids))
	}
	k.add(page)
	readable := list.pages > 0
	judge := func(c Check, problems []string, pass string) {
		switch {
		case !readable:
			c.Result, c.Reason = Skip, "no page could be read"
		case len(problems) > 0:
			c.Result, c.Reason = Fail, firstOf(problems)
		default:
			c.Result, c.Reason = Pass, pass
		}
		k.add(c)
	}
	judge(items, itemProblems, fmt.Sprintf("%d item(s), all well-formed", len(list.ids)))
	if readable && len(list.ids) == 0 {
		// Nothing offered: the items and their paging cannot be judged.
		k.report.Checks[len(k.report.Checks)-1].Result = Skip
		k.report.Checks[len(k.report.Checks)-1].Reason = "the platform offers no application: offer some test applications to check them"
	}
	judge(paging, pagingProblems, fmt.Sprintf("%d page(s) of at most %d", list.pages, k.cfg.Limit))
	var dupProblems []string
	for _, id := range dup {
		dupProblems = append(dupProblems, fmt.Sprintf("app_id %q comes %d times: the hub takes an application once per app_id", id, seen[id]))
	}
	judge(unique, dupProblems, fmt.Sprintf("%d distinct app_id(s)", len(seen)))
	return list, readable
}

// checkStable pulls again from each cursor used and wants the same app ids in the same order.
func (k *kit) checkStable(ctx context.Context, list pulled, readable bool) {
	c := Check{ID: CheckPullStable, Title: "a page pulled again from the same cursor offers the same app_ids (the hub re-pulls after a restart)", Required: true}
	if !readable {
		c.Result, c.Reason = Skip, "no page could be read"
		k.add(c)
		return
	}
	var again []string
	for _, cur := range list.cursors {
		p, _, why := k.fetchPage(ctx, cur)
		if why != "" {
			c.Result, c.Reason = Fail, fmt.Sprintf("pulling again from cursor %q: %s", cur, why)
			k.add(c)
			return
		}
		for _, raw := range p.Items {
			id, _ := checkItem(raw)
			again = append(again, id)
		}
	}
	switch {
	case len(again) < len(list.ids):
		c.Result, c.Reason = Fail, fmt.Sprintf("%d item(s) the first time, %d the second: applications vanished from the list", len(list.ids), len(again))
	default:
		c.Result, c.Reason = Pass, fmt.Sprintf("%d item(s) again, in the same order", len(list.ids))
		for i, id := range list.ids {
			if again[i] != id {
				c.Result, c.Reason = Fail, fmt.Sprintf("item %d was %q and is now %q: the hub would take one application twice or miss one", i, id, again[i])
				break
			}
		}
	}
	k.add(c)
}

// fetchPage GETs one page; why says what is wrong with the answer ("" when it is a page).
func (k *kit) fetchPage(ctx context.Context, cursor string) (page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}, a answer, why string) {
	u, err := url.Parse(k.cfg.Target)
	if err != nil {
		return page, a, "the URL does not parse"
	}
	q := u.Query()
	q.Set("cursor", cursor)
	q.Set("limit", strconv.Itoa(k.cfg.Limit))
	u.RawQuery = q.Encode()
	a = k.request(ctx, "a pull", http.MethodGet, u.String(), nil, nil)
	switch {
	case a.err != nil:
		return page, a, "no answer: " + delivery.ErrorKind(a.err)
	case a.status != http.StatusOK:
		return page, a, statusLine(a) + ": the hub takes only 200 with a page, and tries again later"
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(a.body, &raw); err != nil {
		return page, a, "the answer is not a JSON object"
	}
	if raw["items"] == nil || json.Unmarshal(raw["items"], &page.Items) != nil {
		return page, a, "the answer has no items array"
	}
	if n, ok := raw["next_cursor"]; ok && json.Unmarshal(n, &page.NextCursor) != nil {
		return page, a, "next_cursor is not a string"
	}
	return page, a, ""
}

// checkItem checks one item of the list and returns its app_id ("" when it has none).
func checkItem(raw json.RawMessage) (string, []string) {
	var it struct {
		AppID       any             `json:"app_id"`
		SubmittedAt any             `json:"submitted_at"`
		Body        json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &it); err != nil {
		return "", []string{"not a JSON object"}
	}
	var problems []string
	id, _ := it.AppID.(string)
	if strings.TrimSpace(id) == "" {
		problems = append(problems, "app_id is missing, empty or not text")
	}
	s, _ := it.SubmittedAt.(string)
	okTime := false
	for _, layout := range []string{time.RFC3339Nano, time.DateTime} {
		if _, err := time.Parse(layout, s); err == nil {
			okTime = true
		}
	}
	if !okTime {
		problems = append(problems, "submitted_at is not RFC 3339 nor yyyy-MM-dd HH:mm:ss")
	}
	body := bytes.TrimSpace(it.Body)
	var str string
	if len(body) > 0 && body[0] == '"' && json.Unmarshal(body, &str) == nil {
		body = bytes.TrimSpace([]byte(str))
	}
	var obj map[string]any
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &obj) != nil {
		problems = append(problems, "body is not a JSON object nor a string holding one")
	}
	return id, problems
}

// checkPushes sends one document of each step, one again, and with a signing secret one
// signed with another secret.
func (k *kit) checkPushes(ctx context.Context) {
	appID, caseID := IDPrefix+"app-"+randomHex(6), IDPrefix+"cs-"+randomHex(8)
	var first []byte
	var firstKey string
	for _, step := range PlatformSteps {
		key := "platform:" + IDPrefix + "kit:" + caseID + ":" + step
		if step == "rejected" {
			key = "platform:" + IDPrefix + "kit:app:" + appID + ":rejected"
		}
		body := platformDocument(appID, caseID, step)
		a := k.push(ctx, "the "+step+" push", key, body, k.sign(key, body))
		c := Check{ID: CheckPushPrefix + step, Title: fmt.Sprintf("the %s (%s) document is taken (2xx)", step, platformStatus[step]), Required: true}
		switch {
		case a.err != nil:
			c.Result, c.Reason = Fail, "no answer: "+delivery.ErrorKind(a.err)
		case a.status >= 200 && a.status <= 299:
			c.Result, c.Reason = Pass, statusLine(a)
			if first == nil {
				first, firstKey = body, key
			}
		case a.status == http.StatusConflict:
			c.Result, c.Reason = Fail, statusLine(a)+": 409 means \"already have it\", but this document is new"
		default:
			c.Result, c.Reason = Fail, statusLine(a)+": "+pushConsequence(a.status)+withReason(a)
		}
		k.add(c)
	}
	rep := Check{ID: CheckPushRepeated, Title: "the same Idempotency-Key again is answered 2xx or 409", Required: true}
	if first == nil {
		rep.Result, rep.Reason = Skip, "no document was taken"
	} else {
		a := k.push(ctx, "the repeated push", firstKey, first, k.sign(firstKey, first))
		switch {
		case a.err != nil:
			rep.Result, rep.Reason = Fail, "no answer: "+delivery.ErrorKind(a.err)
		case delivery.Classify(a.status, nil) == delivery.Delivered:
			rep.Result, rep.Reason = Pass, statusLine(a)
		default:
			rep.Result, rep.Reason = Fail, statusLine(a)+": a retry of a document the platform has must be answered as the first was; "+pushConsequence(a.status)
		}
	}
	k.add(rep)
	sig := Check{ID: CheckPushSignature, Title: "a document signed with another secret is refused (4xx)", Required: true}
	if k.signer == nil {
		sig.Result, sig.Reason = Skip, "not run: give --signing-secret (the connector's signing_secret) to check that the platform verifies signatures"
		k.add(sig)
		return
	}
	stranger, _ := signing.New(signing.NewSecret())
	key := "platform:" + IDPrefix + "kit:" + caseID + ":bad-signature"
	body := platformDocument(appID, caseID, "accepted")
	h, _ := stranger.Sign(key, time.Now(), body)
	a := k.push(ctx, "the wrongly signed push", key, body, h)
	why := "anyone who can reach push_url could tell applicants their applications were decided"
	switch {
	case a.err != nil:
		sig.Result, sig.Reason = Fail, noAnswer(a)
	case a.status >= 200 && a.status <= 299:
		sig.Result, sig.Reason = Fail, statusLine(a)+": accepted; "+why
	case first == nil:
		// The platform's README names no status for a bad signature; a refusal still
		// proves something only from a platform that takes a rightly signed document.
		sig.Result, sig.Reason = Fail, statusLine(a)+withReason(a)+": proves nothing, no rightly signed document was taken either"
	case a.status == http.StatusNotFound || delivery.Classify(a.status, nil) != delivery.Permanent:
		sig.Result, sig.Reason = Fail, statusLine(a)+withReason(a)+": "+pushConsequence(a.status)
	default:
		sig.Result, sig.Reason = Pass, statusLine(a)+withReason(a)
	}
	k.add(sig)
}

func (k *kit) push(ctx context.Context, what, key string, body []byte, sig map[string]string) answer {
	h := map[string]string{"Content-Type": "application/json; charset=utf-8", delivery.HeaderIdempotency: key}
	for name, v := range sig {
		h[name] = v
	}
	return k.request(ctx, what, http.MethodPost, k.cfg.PushURL, body, h)
}

// request sends one request of the platform kit, with the configured headers and the test
// marking, and keeps the slowest answer.
func (k *kit) request(ctx context.Context, what, method, target string, body []byte, headers map[string]string) answer {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	for name, v := range k.cfg.Headers {
		req.Header.Set(name, v)
	}
	for name, v := range headers {
		req.Header.Set(name, v)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "yjshub-conformance")
	req.Header.Set(HeaderConformance, "true")
	return k.send(req, what, 32<<20)
}

func pushConsequence(status int) string {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return "the hub retries it, holding up the case's later documents"
	case status >= 400:
		return "the hub takes a 4xx as a refusal for good and dead-letters the case event"
	default:
		return "the hub retries what it does not understand"
	}
}

// platformDocument is a document of one step as the hub writes it before the outbound
// mapping (connectors/platform/README.md), marked as test data.
func platformDocument(appID, caseID, step string) []byte {
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	doc := map[string]any{"platform": IDPrefix + "kit", "app_id": appID, "case_id": caseID, "step": step, "status": platformStatus[step],
		"time": now.Format(time.RFC3339), "bundle": map[string]any{"seq": 30, "code": "open-drink-shop", "name": "开饮品店"}}
	sub := map[string]any{"subcase_id": IDPrefix + "sc-1", "matter_code": "food-business-licence", "matter_name": "食品经营许可（新设）",
		"department_code": "market-regulation", "department_name": "区市场监管局"}
	switch step {
	case "accepted":
		doc["accepted_at"], doc["promised_date"] = doc["time"], now.AddDate(0, 0, 10).Format(time.DateOnly)
		doc["department"] = map[string]any{"code": "market-regulation", "name": "区市场监管局"}
	case "supplement":
		s := clone(sub)
		s["missing"] = []map[string]any{{"material": "floor-plan", "field": "", "note": "一致性测试：请勿处理"}}
		s["deadline"], s["reply_to"] = now.AddDate(0, 0, 5).Format(time.DateOnly), "/api/v1/cases/"+caseID+"/supplements"
		doc["supplement"] = s
	case "result":
		s := clone(sub)
		s["state"], s["decision_number"], s["reason"], s["licences"] = "approved", IDPrefix+"decision", "", []any{}
		doc["result"] = s
	case "completed":
		doc["outcome"] = "approved"
		doc["results"] = []map[string]any{{"subcase_id": sub["subcase_id"], "matter_code": sub["matter_code"], "matter_name": sub["matter_name"],
			"department_code": sub["department_code"], "state": "approved"}}
	case "rejected":
		delete(doc, "case_id")
		delete(doc, "bundle")
		doc["problems"] = []map[string]any{{"path": "sqr.zjhm", "hub_path": "/form/applicant.id_number", "rule": "gb11643", "message": "is not a valid resident ID number"}}
		doc["reasons"] = map[string][]string{"gb11643": {"sqr.zjhm"}}
	case "withdrawn":
		s := clone(sub)
		s["scope"] = "subcase"
		doc["withdrawn"] = s
	case "revoked":
		doc["licence"] = map[string]any{"type": "食品经营许可证", "type_code": "", "number": IDPrefix + "JY1", "subcase_id": sub["subcase_id"], "matter_code": sub["matter_code"]}
		doc["reason"] = "一致性测试：请勿处理"
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // every value marshals
	}
	return b
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
