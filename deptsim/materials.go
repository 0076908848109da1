package deptsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"yjshub/hub/event"
)

// filesPath is where the hub serves the materials it keeps, through signed links
// (hub/links): a material whose uri is under it is fetched and checked; any other uri (a
// platform's own file server) is left alone, as before the hub kept files.
const filesPath = "/api/v1/files/"

// fetchAttempts bounds the tries of one material when the hub does not answer or answers
// 5xx: a department retries a glitch, not a refusal.
const fetchAttempts = 3

// Fetch is one material a simulated department fetched through its link, and what it found.
type Fetch struct {
	// Department and SubcaseID say who fetched it, for which sub-case.
	Department string `json:"department"`
	SubcaseID  string `json:"subcase_id"`
	// Type is the material's type code.
	Type string `json:"type"`
	// SHA256 is the hash the message announced.
	SHA256 string `json:"sha256"`
	// Status is the hub's answer (0 when none came).
	Status int `json:"status"`
	// Bytes counts the bytes received.
	Bytes int64 `json:"bytes"`
	// Got is the sha256 of the bytes received ("" when the link was refused).
	Got string `json:"got,omitempty"`
	// Problem says what was wrong ("" when the bytes are the material announced).
	Problem string `json:"problem,omitempty"`
}

// OK reports whether the department received the material the message announced.
func (f Fetch) OK() bool { return f.Problem == "" }

// Fetches returns the materials fetched so far, in the order the fetches ended.
func (s *Simulator) Fetches() []Fetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fetch(nil), s.fetches...)
}

// maxFetches bounds the fetches remembered, as WithRetention bounds sub-cases: the oldest go.
const maxFetches = 10000

// checkMaterials fetches every material of the sub-case that the hub keeps, through its
// link, and returns the problems found, each naming the material's type and what failed
// (never a value of the application). The simulator's department rejects a sub-case with
// problems: a department that cannot read what it was sent cannot decide on it.
func (s *Simulator) checkMaterials(seq sequence) []string {
	var problems []string
	for _, m := range seq.data.Materials {
		u, ok := hubLink(m.URI, seq.data.Callback)
		if !ok {
			continue
		}
		f := s.fetch(seq, m, u)
		s.mu.Lock()
		s.fetches = append(s.fetches, f)
		if len(s.fetches) > maxFetches {
			s.fetches = append([]Fetch(nil), s.fetches[len(s.fetches)-maxFetches:]...)
		}
		d := s.dept(seq.dept)
		if f.OK() {
			d.stats.MaterialsFetched++
		} else {
			d.stats.MaterialsRefused++
		}
		s.mu.Unlock()
		log := s.log.With("department", seq.dept, "subcase_id", seq.data.SubcaseID, "material", m.Type, "status", f.Status, "bytes", f.Bytes)
		if f.OK() {
			log.Info("material fetched and its sha256 checked")
			continue
		}
		log.Warn("material could not be checked: the sub-case will be rejected", "problem", f.Problem)
		problems = append(problems, m.Type+": "+f.Problem)
	}
	return problems
}

// hubLink resolves a material's uri against the hub's address (the callback's) and reports
// whether it is a link to a file the hub keeps.
func hubLink(uri, callback string) (string, bool) {
	ref, err := url.Parse(uri)
	if err != nil || !strings.HasPrefix(ref.Path, filesPath) {
		return "", false
	}
	if ref.IsAbs() {
		return ref.String(), ref.Scheme == "http" || ref.Scheme == "https"
	}
	base, err := url.Parse(callback)
	if err != nil || !base.IsAbs() {
		return "", false
	}
	return base.ResolveReference(ref).String(), true
}

// fetch reads one material through its link, with the department's API key when it has one
// (the hub then also checks that the link is the department's), and hashes what arrives.
func (s *Simulator) fetch(seq sequence, m event.MaterialRef, link string) Fetch {
	f := Fetch{Department: seq.dept, SubcaseID: seq.data.SubcaseID, Type: m.Type, SHA256: m.SHA256}
	backoff := s.callbackBackoff
	for attempt := 1; ; attempt++ {
		var err error
		f.Status, f.Bytes, f.Got, err = s.get(link, seq.dept, m.Size)
		retry := err != nil || f.Status >= 500
		if !retry || attempt == fetchAttempts || !s.wait(backoff) {
			switch {
			case err != nil:
				f.Problem = "the link could not be read: " + withoutURL(err)
			case f.Status == http.StatusForbidden:
				f.Problem = "the hub refused the link (403)"
			case f.Status == http.StatusGone:
				f.Problem = "the hub no longer keeps the file (410)"
			case f.Status != http.StatusOK:
				f.Problem = fmt.Sprintf("the hub answered %d", f.Status)
			case m.Size > 0 && f.Bytes != m.Size:
				f.Problem = fmt.Sprintf("%d bytes received, the message announced %d", f.Bytes, m.Size)
			case f.Got != m.SHA256:
				f.Problem = "the bytes received do not have the sha256 the message announced"
			}
			return f
		}
		backoff = min(2*backoff, s.callbackMaxBackoff)
	}
}

// get GETs link and returns the status, and for 200 the length and sha256 of the body, read
// to one byte past the announced size at most.
func (s *Simulator) get(link, dept string, size int64) (int, int64, string, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("User-Agent", "yjshub-deptsim")
	req.Header.Set(HeaderSimulated, "true")
	if key := s.hubKeys[dept]; key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, 0, "", nil
	}
	var body io.Reader = resp.Body
	if size > 0 {
		body = io.LimitReader(resp.Body, size+1)
	}
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, n, "", err
		}
		return resp.StatusCode, n, "", fmt.Errorf("reading the body: %w", err)
	}
	return resp.StatusCode, n, hex.EncodeToString(h.Sum(nil)), nil
}

// rejectionReason words the problems of the materials for the rejection.
func rejectionReason(problems []string) string {
	return "（模拟）材料核验未通过，不予许可：" + strings.Join(problems, "；")
}

// withoutURL is err without the URL net/http puts in it: a link is a capability, and does
// not belong in a log line or a rejection's reason.
func withoutURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
