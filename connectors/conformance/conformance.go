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
	k.progress = newProgress(cfg.Progress, k.report.Started, cfg.ProgressEvery)
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

	if cfg.Kind == KindKafka {
		if err := k.runKafka(ctx); err != nil {
			return nil, err
		}
		k.report.finish()
		return k.report, nil
	}
	if cfg.Kind == KindFrontDB {
		if err := k.runFrontDB(ctx); err != nil {
			return nil, err
		}
		k.report.finish()
		return k.report, nil
	}
	if cfg.Kind == KindRestPull {
		if err := k.runPull(ctx); err != nil {
			return nil, err
		}
		k.report.finish()
		return k.report, nil
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
	answered     int    // requests that got an answer
	unanswered   int    // requests that got none (refused, reset, timed out)
	failed       answer // the first request that got no answer
	failedWhat   string
	signer       *signing.Signer // nil: requests are not signed
	progress     *progress
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
	var first answer
	k.check(Check{ID: CheckValidDelivery, Title: "a well-formed sub-case is accepted (2xx)", Required: true}, func() (string, string) {
		first = k.post(ctx, "the valid sub-case", valid.raw, valid.id, event.ContentType)
		return judgeValid(first)
	})
	// A refusal proves something only from a target that accepts what is right: a URL that
	// answers 404 (or 400) to everything refuses every malformed sub-case too.
	control := first
	k.check(Check{ID: CheckRepeatedKey, Title: "the same Idempotency-Key again is answered 2xx or 409, without a second effect", Required: true}, func() (string, string) {
		return judgeRepeated(k.post(ctx, "the repeated sub-case", valid.raw, valid.id, event.ContentType), control)
	})

	noKey := k.subcase("missing-key")
	k.check(Check{ID: CheckMissingKey, Title: "a sub-case without Idempotency-Key is refused: 400 with a JSON reason", Required: true}, func() (string, string) {
		a := k.postWith(ctx, "the sub-case without Idempotency-Key", noKey.raw, "", event.ContentType, k.sign(noKey.id, noKey.raw))
		return judgeRefusal(a, http.StatusBadRequest, control, "without the key the department cannot tell the hub's retry of a sub-case from a new one")
	})
	broken := k.subcase("invalid-body")
	k.check(Check{ID: CheckInvalidBody, Title: "a body that is not a JSON envelope is refused: 400 with a JSON reason", Required: true}, func() (string, string) {
		body := broken.raw[:len(broken.raw)/2] // cut in the middle: not JSON
		a := k.post(ctx, "the invalid body", body, broken.id, event.ContentType)
		return judgeRefusal(a, http.StatusBadRequest, control, "the department took a body it cannot have read")
	})
	plain := k.subcase("content-type")
	k.check(Check{ID: CheckContentType, Title: "a wrong Content-Type is refused: 415 with a JSON reason", Required: true}, func() (string, string) {
		a := k.post(ctx, "the wrong Content-Type", plain.raw, plain.id, "text/plain; charset=utf-8")
		return judgeRefusal(a, http.StatusUnsupportedMediaType, control, "the contract's Content-Type is application/cloudevents+json")
	})

	k.checkSignatures(ctx, control)
	k.check(Check{ID: CheckResponseTime, Title: fmt.Sprintf("every answer comes within %v", k.cfg.MaxResponseTime), Required: true}, k.judgeResponseTime)

	if k.hub == nil {
		why := "not run: give --callback to check the department's events"
		for _, c := range callbackChecks() {
			c.Result, c.Reason = Skip, why
			k.add(c)
		}
		return
	}
	if accepted(first) {
		// A department that did not take the sub-case has nothing to call back about: the
		// callback checks fail at once rather than after the whole wait.
		wctx, cancel := context.WithTimeout(ctx, k.cfg.CallbackWait)
		defer cancel()
		k.progress.printf("…    waiting up to %v for the department's events at %s", k.cfg.CallbackWait, k.hub.url)
		stop := k.waiting("the department's events for the valid sub-case", k.cfg.CallbackWait)
		k.hub.wait(wctx, valid.subcaseID)
		stop()
	}
	for _, c := range k.judgeCallbacks(valid.subcaseID, control) {
		k.add(c)
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
		{ID: CheckBadSignature, Title: "a sub-case signed with another secret is refused: 401 with a JSON reason", Required: true},
		{ID: CheckOldSignature, Title: "a signature older than five minutes is refused: 401 with a JSON reason", Required: true},
	}
}

// checkSignatures sends a sub-case signed with a secret of nobody's and one signed ten minutes
// ago; both must be refused for good. Without a signing secret the checks are skipped.
func (k *kit) checkSignatures(ctx context.Context, control answer) {
	checks := signatureChecks()
	if k.signer == nil {
		for _, c := range checks {
			c.Result, c.Reason = Skip, "not run: give --signing-secret (the connector's signing_secret) to check that the department verifies signatures"
			k.add(c)
		}
		return
	}
	k.check(checks[0], func() (string, string) {
		stranger, _ := signing.New(signing.NewSecret())
		forged := k.subcase("bad-signature")
		h, _ := stranger.Sign(forged.id, time.Now(), forged.raw)
		a := k.postWith(ctx, "the wrongly signed sub-case", forged.raw, forged.id, event.ContentType, h)
		return judgeRefusal(a, http.StatusUnauthorized, control, "anyone who can reach the endpoint could send the department sub-cases")
	})
	k.check(checks[1], func() (string, string) {
		old := k.subcase("old-signature")
		h, _ := k.signer.Sign(old.id, time.Now().Add(-10*time.Minute), old.raw)
		a := k.postWith(ctx, "the sub-case signed ten minutes ago", old.raw, old.id, event.ContentType, h)
		return judgeRefusal(a, http.StatusUnauthorized, control, "a recorded delivery could be replayed")
	})
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
	stop := k.waiting("an answer to "+what, k.client.Timeout)
	defer stop()
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
	if err != nil {
		if k.unanswered == 0 {
			k.failed, k.failedWhat = a, what
		}
		k.unanswered++
	} else {
		k.answered++
	}
	if a.took > k.slowest.took {
		k.slowest, k.slowestWhat = a, what
	}
	return a
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func judgeValid(a answer) (string, string) {
	switch {
	case a.err != nil:
		return Fail, noAnswer(a)
	case a.status >= 200 && a.status <= 299:
		return Pass, statusLine(a)
	case a.status == http.StatusConflict:
		return Fail, statusLine(a) + withReason(a) + ": 409 means \"already have it\", but this sub-case is new"
	case a.status == http.StatusNotFound:
		return Fail, statusLine(a) + withReason(a) + ": the endpoint URL or the department code is not one the department serves"
	default:
		return Fail, statusLine(a) + withReason(a) + ": " + consequence(a.status)
	}
}

// accepted tells whether the control delivery was taken.
func accepted(a answer) bool {
	return a.err == nil && a.status >= 200 && a.status <= 299
}

func judgeRepeated(a, control answer) (string, string) {
	switch {
	case a.err != nil:
		return Fail, noAnswer(a)
	case !accepted(control):
		return Fail, statusLine(a) + ": nothing to repeat, the well-formed sub-case was not accepted"
	case delivery.Classify(a.status, nil) == delivery.Delivered:
		return Pass, statusLine(a)
	default:
		return Fail, statusLine(a) + withReason(a) + ": a retry of a sub-case the department has must be answered as the first delivery was; " +
			consequence(a.status)
	}
}

// judgeRefusal passes the refusal the contract demands: the status want and a JSON body that
// says why, from a department that accepted the well-formed sub-case (control). Any other
// 4xx is not enough: a wrong URL answers 404, a proxy 403, and neither has checked anything.
func judgeRefusal(a answer, want int, control answer, why string) (string, string) {
	switch {
	case a.err != nil:
		return Fail, noAnswer(a)
	case a.status >= 200 && a.status <= 299:
		return Fail, statusLine(a) + ": accepted; " + why
	case !accepted(control):
		return Fail, statusLine(a) + withReason(a) + ": proves nothing, the well-formed sub-case was refused too (" + controlLine(control) + ")"
	case a.status != want:
		if a.status >= 400 && a.status <= 499 {
			return Fail, fmt.Sprintf("%s%s: the contract asks for %d %s here", statusLine(a), withReason(a), want, http.StatusText(want))
		}
		return Fail, statusLine(a) + withReason(a) + ": " + consequence(a.status)
	case delivery.ReceiverMessage(a.body) == "":
		return Fail, statusLine(a) + ` without a JSON reason ("message" or "error"): operators would see only the status in the dead letter`
	default:
		return Pass, statusLine(a) + withReason(a)
	}
}

func controlLine(a answer) string {
	if a.err != nil {
		return noAnswer(a)
	}
	return fmt.Sprintf("%d %s", a.status, http.StatusText(a.status))
}

func noAnswer(a answer) string {
	if a.timeout {
		return fmt.Sprintf("no answer within %s", took(a.took))
	}
	return "no answer: " + delivery.ErrorKind(a.err)
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

// judgeResponseTime fails unless every request got an answer, in time: a target that is
// down answers nothing quickly, which is no answer at all.
func (k *kit) judgeResponseTime() (string, string) {
	limit := k.cfg.MaxResponseTime
	s := k.slowest
	switch {
	case k.answered == 0:
		return Fail, "no request got an answer"
	case k.unanswered > 0:
		return Fail, fmt.Sprintf("%d of %d requests got no answer (%s: %s)", k.unanswered, k.unanswered+k.answered, k.failedWhat, noAnswer(k.failed))
	case s.took > limit:
		return Fail, fmt.Sprintf("%s took %s: the hub waits %v at most before it retries", k.slowestWhat, took(s.took), defaultTimeout)
	default:
		return Pass, fmt.Sprintf("slowest %s (%s)", took(s.took), k.slowestWhat)
	}
}

func callbackChecks() []Check {
	return []Check{
		{ID: CheckCallbackArrives, Title: "the department calls back with the sub-case's events", Required: true},
		{ID: CheckCallbackValid, Title: "every callback is a valid department event (schema, application/json)", Required: true},
		{ID: CheckCallbackOrder, Title: "events follow the allowed transitions (received → accepted → a decision)", Required: true},
		{ID: CheckCallbackOnce, Title: "refused and repeated deliveries cause no further events", Required: true},
	}
}

func (k *kit) judgeCallbacks(validID string, control answer) []Check {
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
	} else if !accepted(control) {
		arrives.Result, arrives.Reason = Fail, "nothing to judge: the well-formed sub-case was not accepted ("+controlLine(control)+")"
	} else {
		arrives.Result = Fail
		arrives.Reason = fmt.Sprintf("no valid event within %v", k.cfg.CallbackWait)
		if k.hub.url != "" {
			arrives.Reason += " at " + k.hub.callback(validID)
		}
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
		valid.Result, valid.Reason = Fail, "nothing to judge: no callback arrived"
	case len(invalid) > 0:
		valid.Result, valid.Reason = Fail, fmt.Sprintf("%d of %d callbacks refused: %s", len(invalid), len(calls), firstOf(invalid))
	default:
		valid.Result, valid.Reason = Pass, fmt.Sprintf("%d callbacks, all valid", len(calls))
	}

	switch {
	case len(calls) == 0:
		order.Result, order.Reason = Fail, "nothing to judge: no callback arrived"
	case len(illegal) > 0 || len(foreign) > 0:
		order.Result, order.Reason = Fail, "the hub would answer 409/404: "+firstOf(append(illegal, foreign...))
	case len(v.events) == 0:
		order.Result, order.Reason = Fail, "nothing to judge: no event about the valid sub-case was taken"
	case len(v.events) > 0 && !containsAny(types, settled):
		order.Result = Fail
		order.Reason = fmt.Sprintf("%s, but no decision within %v (approved, rejected or supplement_requested)", sequence, k.cfg.CallbackWait)
	default:
		order.Result, order.Reason = Pass, sequence
	}

	// "No further events" means something only where events were seen at all: a department
	// that is down, or never calls back, has not shown that it ignores refused deliveries.
	once.Result, once.Reason = Pass, "none"
	switch {
	case !accepted(control):
		once.Result, once.Reason = Fail, "nothing to judge: the well-formed sub-case was not accepted ("+controlLine(control)+")"
	case len(v.events) == 0:
		once.Result, once.Reason = Fail, "nothing to judge: the department reported nothing on the sub-case it accepted"
	}
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
	if len(v.events) > 0 && received > 0 {
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

// withReason quotes the target's own reason for an answer, its problems included, so that
// a department sees why its system refused what the kit sent.
func withReason(a answer) string {
	if m := TargetReason(a.body); m != "" {
		return " (\"" + m + "\")"
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
