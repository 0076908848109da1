package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/problem"
)

// RuleLicenceType is the rule of a licence whose type is not one of the catalogue's; the
// licence mapping also reports problem.RuleRequired, RuleType, RuleDate (a date in no layout
// the contract accepts), RuleJSON and RuleValueMap.
const RuleLicenceType = "licence_type"

// LicenceItem is one e-licence the platform offers (README.md): its id on the platform and the
// platform's own licence document.
type LicenceItem struct {
	LicenceID string          `json:"licence_id"`
	Body      json.RawMessage `json:"body"`
}

// licenceImporter is what the connector needs of the e-licence library; *licences.Library has
// it. Import is idempotent: the same licence again returns it with created false.
type licenceImporter interface {
	Import(ctx context.Context, lic event.Licence, origin string) (*licences.Licence, bool, error)
}

// licenceCounts are the licence figures of the status: every item pulled is counted once more
// in exactly one of the others.
type licenceCounts struct {
	pulled   atomic.Int64
	imported atomic.Int64 // put in the library
	known    atomic.Int64 // the library had it already (issued through the hub, imported before)
	rejected atomic.Int64 // not imported, recorded as a dead letter
	repeated atomic.Int64 // the same document pulled again: skipped
}

// licenceTypes returns the e-licence types the catalogue knows, by name: what its matters
// issue as a licence or a filing certificate, what its materials may be given as
// (satisfied_by) and what its fields are filled from (from_licence).
func licenceTypes(cat *catalogue.Catalogue) map[string]bool {
	types := map[string]bool{}
	for _, m := range cat.Matters {
		if m.Result.Kind == "licence" || m.Result.Kind == "filing" {
			types[m.Result.Name] = true
		}
	}
	for _, m := range cat.Materials {
		for _, t := range m.SatisfiedBy {
			types[t] = true
		}
	}
	for _, f := range cat.Fields {
		if f.FromLicence != nil {
			types[f.FromLicence.Type] = true
		}
	}
	return types
}

// licenceMapper turns a platform's licence document into the hub's e-licence by the rules of
// Config.LicenceFields.
type licenceMapper struct {
	rules map[string]LicenceRule
	types map[string]bool
}

func newLicenceMapper(rules map[string]LicenceRule, cat *catalogue.Catalogue) *licenceMapper {
	return &licenceMapper{rules: rules, types: licenceTypes(cat)}
}

// check verifies the values the rules may produce: licence types of the catalogue, holder id
// types and file formats the library takes, dates and sizes that read as such.
func (m *licenceMapper) check() error {
	var errs []error
	for _, f := range sortedKeys(m.rules) {
		r, at := m.rules[f], "licence_fields."+f
		var problem func(v any) string
		switch f {
		case licType:
			problem = func(v any) string {
				if s, ok := text(v); ok && m.types[s] {
					return ""
				}
				return "is not a licence type of the catalogue (a licence or filing a matter issues, or a material's satisfied_by)"
			}
		case licHolderIDType:
			problem = oneOf(event.HolderIDTypes...)
		case licFileFormat:
			problem = oneOf("ofd", "pdf")
		case licIssuedAt, licValidFrom, licValidUntil:
			problem = func(v any) string {
				if s, ok := text(v); ok {
					if _, ok := licenceDate(s); ok {
						return ""
					}
				}
				return "is not a date (YYYY-MM-DD, yyyy-MM-dd HH:mm:ss or RFC 3339)"
			}
		case licFileSize:
			problem = func(v any) string {
				if _, ok := fileSize(v); ok {
					return ""
				}
				return "is not a whole number of bytes"
			}
		default:
			problem = func(v any) string {
				if _, ok := text(v); ok {
					return ""
				}
				return "is not text"
			}
		}
		for _, k := range sortedKeys(r.Values) {
			if p := problem(r.Values[k]); p != "" {
				errs = append(errs, fmt.Errorf("%s.values[%q]: %v %s", at, k, r.Values[k], p))
			}
		}
		if r.Const != nil && r.Values == nil {
			if p := problem(r.Const); p != "" {
				errs = append(errs, fmt.Errorf("%s.const: %v %s", at, r.Const, p))
			}
		}
	}
	return errors.Join(errs...)
}

func oneOf(allowed ...string) func(v any) string {
	return func(v any) string {
		if s, ok := text(v); ok && slices.Contains(allowed, s) {
			return ""
		}
		return "is not " + strings.Join(allowed, " or ")
	}
}

// Map turns body, the platform's licence document, into the hub's e-licence; problems lists
// everything it could not map (paths and rules, no values). The library checks the rest.
func (m *licenceMapper) Map(body []byte) (event.Licence, []Problem) {
	var lic event.Licence
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return lic, []Problem{{Rule: problem.RuleJSON, Message: "the licence is not JSON"}}
	}
	if _, ok := doc.(map[string]any); !ok {
		return lic, []Problem{{Rule: problem.RuleJSON, Message: "the licence is not a JSON object"}}
	}
	var problems []Problem
	for _, f := range append(slices.Clone(licenceRequired), licenceOptional...) {
		r, ok := m.rules[f]
		if !ok {
			continue
		}
		add := func(rule, msg string) {
			problems = append(problems, Problem{Path: r.From, HubPath: licenceHubPath(f), Rule: rule, Message: msg})
		}
		required := slices.Contains(licenceRequired, f)
		v, found := r.Const, r.Const != nil
		if r.From != "" {
			v, found = lookup(doc, r.From)
		}
		if s, isText := v.(string); isText && strings.TrimSpace(s) == "" {
			found = false // an empty text is no value: valid_until "" is no expiry
		}
		if !found || v == nil {
			if required {
				add(problem.RuleRequired, "is required")
			}
			continue
		}
		mv, ok := mapValues(r.Values, v)
		if !ok {
			add(RuleValueMap, "the value is not one the mapping knows")
			continue
		}
		if f == licFileSize {
			n, ok := fileSize(mv)
			if !ok {
				add(problem.RuleType, "must be a whole number of bytes")
				continue
			}
			lic.File.Size = n
			continue
		}
		s, ok := text(mv)
		if !ok {
			add(problem.RuleType, "must be text")
			continue
		}
		s = strings.TrimSpace(s)
		switch f {
		case licIssuedAt, licValidFrom, licValidUntil:
			d, ok := licenceDate(s)
			if !ok {
				add(problem.RuleDate, "must be a date written YYYY-MM-DD, yyyy-MM-dd HH:mm:ss (China Standard Time) or RFC 3339")
				continue
			}
			s = d
		case licType:
			if !m.types[s] {
				add(RuleLicenceType, "is not a licence type of the catalogue")
				continue
			}
		case licFileSHA256:
			s = strings.ToLower(s)
		}
		*licenceField(&lic, f) = s
	}
	return lic, problems
}

// licenceField returns the text field of lic that licence_fields names f.
func licenceField(lic *event.Licence, f string) *string {
	switch f {
	case licType:
		return &lic.Type
	case licTypeCode:
		return &lic.TypeCode
	case licNumber:
		return &lic.Number
	case licHolder:
		return &lic.Holder
	case licHolderID:
		return &lic.HolderID
	case licHolderIDType:
		return &lic.HolderIDType
	case licIssuer:
		return &lic.Issuer
	case licIssuerCode:
		return &lic.IssuerCode
	case licIssuedAt:
		return &lic.IssuedAt
	case licValidFrom:
		return &lic.ValidFrom
	case licValidUntil:
		return &lic.ValidUntil
	case licFileSHA256:
		return &lic.File.SHA256
	case licFileURI:
		return &lic.File.URI
	case licFileFormat:
		return &lic.File.Format
	}
	panic("platform: no text field of an e-licence is named " + f)
}

// licenceHubPath is the JSON Pointer of a field of the hub's e-licence (file.sha256 →
// /file/sha256), as the library's problems name it.
func licenceHubPath(f string) string { return "/" + strings.ReplaceAll(f, ".", "/") }

// platformPath translates a problem the library found to the field of the platform's licence
// document it came from, "" when no rule takes it from the document.
func (m *licenceMapper) platformPath(hubPath string) string {
	return m.rules[strings.ReplaceAll(strings.TrimPrefix(hubPath, "/"), "/", ".")].From
}

// licenceDate reads a date as the contract accepts it — YYYY-MM-DD, "yyyy-MM-dd HH:mm:ss" in
// China Standard Time, or RFC 3339 — and writes it as the library does: YYYY-MM-DD, the day in
// China.
func licenceDate(s string) (string, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), true
	}
	if t, err := time.ParseInLocation(time.DateTime, s, cst); err == nil {
		return t.Format(time.DateOnly), true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(cst).Format(time.DateOnly), true
	}
	return "", false
}

// fileSize reads a size in bytes given as a number or as text.
func fileSize(v any) (int64, bool) {
	s, ok := text(v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil && n >= 0
}

// takeLicence takes one e-licence the platform offers into the library, or records why not
// (a dead letter and a rejected record). It returns only errors that may pass (the store's),
// so that the cursor does not move past a licence whose fate is unrecorded.
func (c *Connector) takeLicence(ctx context.Context, raw json.RawMessage) error {
	c.licCounts.pulled.Add(1)
	var it LicenceItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return c.rejectLicence(ctx, "", raw, requestHash(raw), nil, "an item that is not {licence_id, body} cannot be imported nor recorded")
	}
	if it.LicenceID == "" {
		return c.rejectLicence(ctx, "", raw, requestHash(raw), nil, "an item without licence_id cannot be recorded")
	}
	body := unwrap(it.Body)
	hash := requestHash(body)
	prior, seen, err := c.tables.licence(ctx, it.LicenceID)
	if err != nil {
		return err
	}
	if seen && prior.BodySHA256 == hash {
		c.licCounts.repeated.Add(1)
		return nil // pulled again: its fate is recorded
	}
	lic, problems := c.licMapper.Map(body)
	if len(problems) > 0 {
		return c.rejectLicence(ctx, it.LicenceID, raw, hash, problems, "e-licence not imported, "+problemSummary(problems))
	}
	out, created, err := c.library.Import(ctx, lic, c.Name())
	if errors.Is(err, licences.ErrConflict) {
		// Another connector may have imported the same licence a moment ago: once more, the
		// library then answers with it, unless its holder differs.
		out, created, err = c.library.Import(ctx, lic, c.Name())
	}
	var ve *problem.Error
	switch {
	case err == nil:
		state, count := licKnown, &c.licCounts.known
		if created {
			state, count = licImported, &c.licCounts.imported
		}
		if err := c.tables.storeLicence(ctx, it.LicenceID, hash, state, out.ID, nil); err != nil {
			return err
		}
		count.Add(1)
		c.log.InfoContext(ctx, "platform: e-licence "+state, "licence_id", it.LicenceID, "library_id", out.ID, "type", out.Type)
		return nil
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			problems = append(problems, Problem{Path: c.licMapper.platformPath(p.Path), HubPath: p.Path, Rule: p.Rule, Message: p.Message})
		}
		return c.rejectLicence(ctx, it.LicenceID, raw, hash, problems, "e-licence not imported, "+problemSummary(problems))
	case errors.Is(err, licences.ErrConflict):
		// The library's reason names the licence number: not repeated here.
		return c.rejectLicence(ctx, it.LicenceID, raw, hash, []Problem{{HubPath: "/number", Rule: problem.RuleConflict,
			Message: "the library holds a licence of this type and number for another holder"}},
			"e-licence not imported, conflict: the library holds a licence of this type and number for another holder")
	default:
		return fmt.Errorf("importing licence %s: %w", it.LicenceID, err)
	}
}

// rejectLicence records a licence that was not imported: a dead letter (reason: the problems by
// path and rule, never a value; payload: the item as pulled) and, when the item has an id, its
// record, so that the same document pulled again is skipped. Such dead letters have topic
// "platform:<name>:licences" (not a topic name: a replay is refused), the offset a hash of
// the licence id and document, the key the licence id.
func (c *Connector) rejectLicence(ctx context.Context, licenceID string, raw []byte, hash string, problems []Problem, reason string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(licenceID + "\x00" + hash))
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := c.rec.Failed(rctx, connector.Failure{
		Delivery: connector.Delivery{Connector: c.Name(), EventID: c.Name() + ":licence:" + licenceID, At: time.Now()},
		Reason:   reason, Topic: c.Name() + ":licences", Offset: int64(h.Sum64() >> 1), Key: []byte(licenceID), Payload: raw,
	})
	if err != nil {
		return fmt.Errorf("recording the rejection of licence %s: %w", licenceID, err)
	}
	if licenceID != "" {
		if err := c.tables.storeLicence(ctx, licenceID, hash, licRejected, "", problems); err != nil {
			return err
		}
	}
	c.counters.Failed()
	c.licCounts.rejected.Add(1)
	c.note(reason)
	c.log.WarnContext(ctx, "platform: e-licence not imported", "licence_id", licenceID, "problems", len(problems))
	return nil
}
