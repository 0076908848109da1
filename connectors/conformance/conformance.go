package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"yjshub/connectors/delivery"
	"yjshub/connectors/signing"
	"yjshub/hub/event"
)

// HeaderConformance marks every request of the kit as a test.
const HeaderConformance = "X-Yjshub-Conformance"

// IDPrefix starts every case, sub-case and envelope id the kit sends.
const IDPrefix = "conformance-"

// The test applicant: the example resident ID number of GB 11643 and a mobile number from the
// range set aside for fiction.
const (
	testApplicant = "一致性测试申请人"
	testIDNumber  = "11010519491231002X"
	testMobile    = "13800000000"
)

// Check ids, in the order of the report.
const (
	CheckValidDelivery   = "valid-delivery"
	CheckRepeatedKey     = "repeated-key"
	CheckMissingKey      = "missing-key"
	CheckInvalidBody     = "invalid-body"
	CheckContentType     = "content-type"
	CheckResponseTime    = "response-time"
	CheckBadSignature    = "bad-signature"
	CheckOldSignature    = "old-signature"
	CheckRefusalReason   = "refusal-reason"
	CheckCallbackArrives = "callback-arrives"
	CheckCallbackValid   = "callback-valid"
	CheckCallbackOrder   = "callback-order"
	CheckCallbackOnce    = "callback-once"
)

// Run checks the department at cfg.Target and reports every check. It returns an error only
// when it cannot run at all (an invalid Config, an events endpoint that cannot listen); what
// the department does wrong is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	k := &kit{cfg: cfg, report: &Report{Kind: cfg.Kind, Target: delivery.RedactEndpoint(cfg.Target), Department: cfg.Department, Started: time.Now()}}
	hc := &http.Client{}
	if cfg.Client != nil {
		copied := *cfg.Client
		hc = &copied
	}
	hc.Timeout = cfg.Timeout
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	k.client = hc
	if cfg.SigningSecret != "" {
		k.signer, _ = signing.New(cfg.SigningSecret) // checked by Validate
	}

	callbackBase := "https://conformance.invalid" // a name that never resolves: nobody is called back
	if cfg.Callback {
		h, err := startHub(cfg)
		if err != nil {
			return nil, err
		}
		defer h.close()
		k.hub = h
		callbackBase = h.url
	}
	k.callbackBase = callbackBase
	if cfg.Kind == KindPlatform {
		k.report.Department = ""
		k.runPlatform(ctx)
		k.report.finish()
		return k.report, nil
	}
	k.run(ctx)
	k.report.finish()
	return k.report, nil
}

type kit struct {
	cfg          Config
	client       *http.Client
	hub          *hub
	callbackBase string
	report       *Report
	slowest      answer
	slowestWhat  string
	signer       *signing.Signer // nil: requests are not signed
}

// answer is what one request came to.
type answer struct {
	status  int
	body    []byte
	took    time.Duration
	err     error
	timeout bool
}

// sent is one sub-case the kit makes.
type sent struct {
	id, caseID, subcaseID string
	raw                   []byte
}

func (k *kit) run(ctx context.Context) {
	valid := k.subcase("valid")
	first := k.post(ctx, "the valid sub-case", valid.raw, valid.id, event.ContentType)
	k.report.add(judgeValid(first))
	again := k.post(ctx, "the repeated sub-case", valid.raw, valid.id, event.ContentType)
	k.report.add(judgeRepeated(again))

	noKey := k.subcase("missing-key")
	missing := k.postWith(ctx, "the sub-case without Idempotency-Key", noKey.raw, "", event.ContentType, k.sign(noKey.id, noKey.raw))
	k.report.add(judgeRefusal(CheckMissingKey, "a sub-case without Idempotency-Key is refused (4xx)", missing,
		"without the key the department cannot tell the hub's retry of a sub-case from a new one"))

	broken := k.subcase("invalid-body")
	body := broken.raw[:len(broken.raw)/2] // cut in the middle: not JSON
	invalid := k.post(ctx, "the invalid body", body, broken.id, event.ContentType)
	k.report.add(judgeRefusal(CheckInvalidBody, "a body that is not a JSON envelope is refused (4xx, not 5xx)", invalid,
		"the department took a body it cannot have read"))

	plain := k.subcase("content-type")
	wrongType := k.post(ctx, "the wrong Content-Type", plain.raw, plain.id, "text/plain; charset=utf-8")
	k.report.add(judgeRefusal(CheckContentType, "a wrong Content-Type is refused (4xx)", wrongType,
		"the contract's Content-Type is application/cloudevents+json"))

	k.checkSignatures(ctx)
	k.report.add(k.judgeResponseTime())
	k.report.add(judgeReasons(missing, invalid, wrongType))

	if k.hub == nil {
		why := "not run: give --callback to check the department's events"
		for _, c := range callbackChecks() {
			c.Result, c.Reason = Skip, why
			k.report.add(c)
		}
		return
	}
	wctx, cancel := context.WithTimeout(ctx, k.cfg.CallbackWait)
	defer cancel()
	k.hub.wait(wctx, valid.subcaseID)
	for _, c := range k.judgeCallbacks(valid.subcaseID) {
		k.report.add(c)
	}
}

// subcase builds a well-formed sub-case, marked as test data, and tells the events endpoint
// to expect it.
func (k *kit) subcase(role string) sent {
	s := sent{id: IDPrefix + uuid.Must(uuid.NewV7()).String(), caseID: IDPrefix + "cs-" + randomHex(8), subcaseID: IDPrefix + "sc-" + randomHex(8)}
	now := time.Now().UTC().Truncate(time.Millisecond)
	china := time.FixedZone("CST", 8*3600)
	today := now.In(china)
	data := event.SubcaseDispatched{
		CaseID: s.caseID, SubcaseID: s.subcaseID,
		Bundle:        event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
		Matter:        event.MatterRef{Code: "food-business-licence", Name: "食品经营许可（新设）", Result: event.ResultRef{Kind: "licence", Name: "食品经营许可证"}},
		Department:    k.cfg.Department,
		ApplicantType: "individual",
		Applicant:     &event.ApplicantRef{Name: testApplicant, ID: testIDNumber, IDType: "resident_id"},
		Form: map[string]any{
			"SQRXM": testApplicant,
			"SFZHM": testIDNumber,
			"LXDH":  testMobile,
			"JYCS":  "江苏省连云港市赣榆区（一致性测试地址）",
			"JYXM":  []string{"预包装食品销售"},
			"BZ":    "yjshub 一致性检查的测试数据，请勿办理",
		},
		Materials: []event.MaterialRef{material("id-card", "居民身份证", "sfz.pdf", 81233)},
		Deadlines: event.Deadlines{
			Promised:  today.AddDate(0, 0, 10).Format(time.DateOnly),
			Statutory: today.AddDate(0, 0, 20).Format(time.DateOnly),
		},
		SubmittedAt: now,
		Callback:    k.callbackBase + "/api/v1/subcases/" + s.subcaseID + "/events",
	}
	env, err := event.New(s.id, event.TypeSubcaseDispatched, s.subcaseID, now, data)
	if err != nil {
		panic(err) // every field marshals
	}
	if s.raw, err = json.Marshal(env); err != nil {
		panic(err)
	}
	if k.hub != nil {
		k.hub.expect(s.subcaseID, role)
	}
	return s
}

func material(typ, name, file string, size int64) event.MaterialRef {
	sum := sha256.Sum256(fmt.Appendf(nil, "yjshub conformance %s %s", typ, file))
	h := hex.EncodeToString(sum[:])
	return event.MaterialRef{Type: typ, Name: name, Filename: file, SHA256: h, Size: size,
		URI: "https://conformance.invalid/materials/" + h}
}

func signatureChecks() []Check {
	return []Check{
		{ID: CheckBadSignature, Title: "a sub-case signed with another secret is refused (4xx)", Required: true},
		{ID: CheckOldSignature, Title: "a signature older than five minutes is refused (4xx)", Required: true},
	}
}

// checkSignatures sends a sub-case signed with a secret of nobody's and one signed ten minutes
// ago; both must be refused for good. Without a signing secret the checks are skipped.
func (k *kit) checkSignatures(ctx context.Context) {
	if k.signer == nil {
		for _, c := range signatureChecks() {
			c.Result, c.Reason = Skip, "not run: give --signing-secret (the connector's signing_secret) to check that the department verifies signatures"
			k.report.add(c)
		}
		return
	}
	stranger, _ := signing.New(signing.NewSecret())
	forged := k.subcase("bad-signature")
	h, _ := stranger.Sign(forged.id, time.Now(), forged.raw)
	a := k.postWith(ctx, "the wrongly signed sub-case", forged.raw, forged.id, event.ContentType, h)
	k.report.add(judgeRefusal(CheckBadSignature, signatureChecks()[0].Title, a, "anyone who can reach the endpoint could send the department sub-cases"))
	old := k.subcase("old-signature")
	h, _ = k.signer.Sign(old.id, time.Now().Add(-10*time.Minute), old.raw)
	a = k.postWith(ctx, "the sub-case signed ten minutes ago", old.raw, old.id, event.ContentType, h)
	k.report.add(judgeRefusal(CheckOldSignature, signatureChecks()[1].Title, a, "a recorded delivery could be replayed"))
}

// post sends one request as the hub would, signed when the kit has a signing secret; key ""
// leaves the Idempotency-Key out.
func (k *kit) post(ctx context.Context, what string, body []byte, key, contentType string) answer {
	return k.postWith(ctx, what, body, key, contentType, k.sign(key, body))
}

// sign returns the signature headers of body under envelope id, now; nil without a secret.
func (k *kit) sign(id string, body []byte) map[string]string {
	if k.signer == nil {
		return nil
	}
	h, _ := k.signer.Sign(id, time.Now(), body)
	return h
}

// postWith is post with the signature headers given.
func (k *kit) postWith(ctx context.Context, what string, body []byte, key, contentType string, sig map[string]string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.cfg.Target, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	for name, v := range k.cfg.Headers {
		req.Header.Set(name, v)
	}
	for name, v := range sig {
		req.Header.Set(name, v)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "yjshub-conformance")
	req.Header.Set(HeaderConformance, "true")
	if key != "" {
		req.Header.Set(delivery.HeaderIdempotency, key)
	}
	return k.send(req, what, 64<<10)
}

// send sends a request, reads at most limit bytes of the answer, and keeps the slowest answer
// (or the first that timed out) for the report.
func (k *kit) send(req *http.Request, what string, limit int64) answer {
	start := time.Now()
	resp, err := k.client.Do(req)
	a := answer{err: err}
	if err == nil {
		a.status = resp.StatusCode
		a.body, _ = io.ReadAll(io.LimitReader(resp.Body, limit))
		_ = resp.Body.Close()
	}
	a.took = time.Since(start)
	a.timeout = err != nil && isTimeout(err)
	if a.took > k.slowest.took || (a.timeout && !k.slowest.timeout) {
		k.slowest, k.slowestWhat = a, what
	}
	return a
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func judgeValid(a answer) Check {
	c := Check{ID: CheckValidDelivery, Title: "a well-formed sub-case is accepted (2xx)", Required: true}
	switch {
	case a.err != nil:
		c.Result, c.Reason = Fail, "no answer: "+delivery.ErrorKind(a.err)
	case a.status >= 200 && a.status <= 299:
		c.Result, c.Reason = Pass, statusLine(a)
	case a.status == http.StatusConflict:
		c.Result, c.Reason = Fail, statusLine(a)+": 409 means \"already have it\", but this sub-case is new"
	default:
		c.Result, c.Reason = Fail, statusLine(a)+": "+consequence(a.status)+withMessage(a)
	}
	return c
}

func judgeRepeated(a answer) Check {
	c := Check{ID: CheckRepeatedKey, Title: "the same Idempotency-Key again is answered 2xx or 409, without a second effect", Required: true}
	switch {
	case a.err != nil:
		c.Result, c.Reason = Fail, "no answer: "+delivery.ErrorKind(a.err)
	case delivery.Classify(a.status, nil) == delivery.Delivered:
		c.Result, c.Reason = Pass, statusLine(a)
	default:
		c.Result, c.Reason = Fail, statusLine(a)+": a retry of a sub-case the department has must be answered as the first delivery was; "+
			consequence(a.status)+withMessage(a)
	}
	return c
}

// judgeRefusal passes an answer the hub treats as a refusal for good.
func judgeRefusal(id, title string, a answer, why string) Check {
	c := Check{ID: id, Title: title, Required: true}
	switch {
	case a.err != nil:
		c.Result, c.Reason = Fail, "no answer: "+delivery.ErrorKind(a.err)
	case delivery.Classify(a.status, nil) == delivery.Permanent:
		c.Result, c.Reason = Pass, statusLine(a)
	case a.status >= 200 && a.status <= 299:
		c.Result, c.Reason = Fail, statusLine(a)+": accepted; "+why
	default:
		c.Result, c.Reason = Fail, statusLine(a)+": "+consequence(a.status)
	}
	return c
}

// consequence says what the hub does with a status that is not the one wanted.
func consequence(status int) string {
	switch {
	case status == http.StatusConflict:
		return "the hub takes 409 as \"already have it\" and records the sub-case as delivered"
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return fmt.Sprintf("the hub retries %d, so the sub-case would be sent again and again", status)
	case status >= 500:
		return "the hub retries a 5xx for as long as it runs, holding up the case's later sub-cases"
	case status >= 400:
		return "the hub takes a 4xx as a refusal for good and dead-letters the sub-case"
	case status >= 300 && status < 400:
		return "the hub does not follow redirects; it retries"
	default:
		return "the hub retries what it does not understand"
	}
}

func (k *kit) judgeResponseTime() Check {
	limit := k.cfg.MaxResponseTime
	c := Check{ID: CheckResponseTime, Title: fmt.Sprintf("every answer comes within %v", limit), Required: true}
	s := k.slowest
	switch {
	case s.timeout:
		c.Result, c.Reason = Fail, fmt.Sprintf("%s got no answer within %v", k.slowestWhat, k.cfg.Timeout)
	case s.took > limit:
		c.Result, c.Reason = Fail, fmt.Sprintf("%s took %s: the hub waits %v at most before it retries", k.slowestWhat, took(s.took), defaultTimeout)
	default:
		c.Result, c.Reason = Pass, fmt.Sprintf("slowest %s (%s)", took(s.took), k.slowestWhat)
	}
	return c
}

// judgeReasons advises refusals that explain themselves: the hub keeps a JSON body's
// "message" or "error" in the dead letter, for operators.
func judgeReasons(answers ...answer) Check {
	c := Check{ID: CheckRefusalReason, Title: "refusals say why in JSON (\"message\" or \"error\")"}
	refusals := 0
	for _, a := range answers {
		if a.err != nil || a.status < 400 || a.status > 499 {
			continue
		}
		refusals++
		if delivery.ReceiverMessage(a.body) == "" {
			c.Result = Fail
			c.Reason = fmt.Sprintf("%s came without a JSON reason: operators see only the status in the dead letter", statusLine(a))
			return c
		}
	}
	if refusals == 0 {
		c.Result, c.Reason = Skip, "the department refused nothing"
		return c
	}
	c.Result, c.Reason = Pass, fmt.Sprintf("%d refusals, each with its reason", refusals)
	return c
}

func callbackChecks() []Check {
	return []Check{
		{ID: CheckCallbackArrives, Title: "the department calls back with the sub-case's events", Required: true},
		{ID: CheckCallbackValid, Title: "every callback is a valid department event (schema, application/json)", Required: true},
		{ID: CheckCallbackOrder, Title: "events follow the allowed transitions (received → accepted → a decision)", Required: true},
		{ID: CheckCallbackOnce, Title: "refused and repeated deliveries cause no further events", Required: true},
	}
}

func (k *kit) judgeCallbacks(validID string) []Check {
	logs, calls := k.hub.snapshot()
	checks := callbackChecks()
	arrives, valid, order, once := &checks[0], &checks[1], &checks[2], &checks[3]
	v := logs[validID]

	var types []string
	for _, ev := range v.events {
		types = append(types, ev.Type)
	}
	sequence := strings.Join(append([]string{"dispatched"}, types...), " → ")
	if len(v.events) > 0 {
		arrives.Result, arrives.Reason = Pass, fmt.Sprintf("%d events: %s", len(v.events), sequence)
	} else {
		arrives.Result = Fail
		arrives.Reason = fmt.Sprintf("no valid event within %v at %s", k.cfg.CallbackWait, k.hub.callback(validID))
		if len(calls) > 0 {
			arrives.Reason = fmt.Sprintf("%d callbacks arrived within %v, none a valid event the hub could take", len(calls), k.cfg.CallbackWait)
		}
	}

	var invalid, illegal, foreign []string
	for _, c := range calls {
		switch c.status {
		case http.StatusOK:
		case http.StatusConflict:
			illegal = append(illegal, c.problem)
		case http.StatusNotFound:
			foreign = append(foreign, c.problem)
		default:
			invalid = append(invalid, c.problem)
		}
	}
	switch {
	case len(calls) == 0:
		valid.Result, valid.Reason = Skip, "no callback arrived"
	case len(invalid) > 0:
		valid.Result, valid.Reason = Fail, fmt.Sprintf("%d of %d callbacks refused: %s", len(invalid), len(calls), firstOf(invalid))
	default:
		valid.Result, valid.Reason = Pass, fmt.Sprintf("%d callbacks, all valid", len(calls))
	}

	switch {
	case len(calls) == 0:
		order.Result, order.Reason = Skip, "no callback arrived"
	case len(illegal) > 0 || len(foreign) > 0:
		order.Result, order.Reason = Fail, "the hub would answer 409/404: "+firstOf(append(illegal, foreign...))
	case len(v.events) > 0 && !containsAny(types, settled):
		order.Result = Fail
		order.Reason = fmt.Sprintf("%s, but no decision within %v (approved, rejected or supplement_requested)", sequence, k.cfg.CallbackWait)
	default:
		order.Result, order.Reason = Pass, sequence
	}

	once.Result, once.Reason = Pass, "none"
	for id, l := range logs {
		if id != validID && len(l.events) > 0 {
			once.Result, once.Reason = Fail, fmt.Sprintf("the department reported %q on the sub-case sent as %s, which it refused", l.events[0].Type, l.role)
			break
		}
	}
	received := 0
	for _, c := range calls {
		if c.subcase == validID && c.status == http.StatusConflict && strings.HasPrefix(c.problem, event.Received+" ") {
			received++
		}
	}
	if once.Result == Pass && received > 0 {
		once.Result, once.Reason = Fail, "the repeated delivery was received a second time, under a new event id"
	}
	return checks
}

func containsAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func firstOf(problems []string) string {
	if len(problems) > 1 {
		return fmt.Sprintf("%s (and %d more)", problems[0], len(problems)-1)
	}
	return problems[0]
}

func statusLine(a answer) string {
	return fmt.Sprintf("%d %s in %s", a.status, http.StatusText(a.status), took(a.took))
}

// took shows a duration to the millisecond, and what is shorter as "<1ms".
func took(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}

func withMessage(a answer) string {
	if m := delivery.ReceiverMessage(a.body); m != "" {
		return " (\"" + m + "\")"
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
