package platform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"yjshub/catalogue"
	"yjshub/connectors/casepush"
	"yjshub/format"
	"yjshub/hub/cases"
	"yjshub/hub/licences"
)

// OutboundDocument maps one kind of document on top of the outbound mapping every document
// shares:
//
//	revoked:
//	  fields: {licence.number: zzbh, reason: cxyy}
//	  values: {status: {撤销: "12"}, licence.type: {食品经营许可证: JSZZ0101}}
//	  const:  {ywlx: "dzzzcx"}
type OutboundDocument struct {
	// Fields renames fields of this document, by dotted hub path, over Outbound.Fields.
	Fields map[string]string `yaml:"fields,omitempty" json:"fields,omitempty"`
	// Values maps, per hub field path, the hub's text values to the platform's, over
	// Outbound.Values (value by value).
	Values map[string]map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// Const adds fixed top-level fields to this document, over Outbound.Const.
	Const map[string]any `yaml:"const,omitempty" json:"const,omitempty"`
}

// revokedPaths are the fields of the revocation document (README.md), by dotted hub path: what
// outbound.revoked may name.
var revokedPaths = []string{
	"platform", "app_id", "case_id", "step", "status", "time",
	"bundle", "bundle.seq", "bundle.code", "bundle.name",
	"licence", "licence.type", "licence.type_code", "licence.number", "licence.subcase_id", "licence.matter_code",
	"reason",
}

// validate checks outbound.revoked: paths of the revocation document, platform names.
func (d *OutboundDocument) validate() error {
	if d == nil {
		return nil
	}
	var errs []error
	known := func(at, p string) {
		if err := checkPath(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		} else if !slices.Contains(revokedPaths, p) {
			errs = append(errs, fmt.Errorf("%s: not a field of the revocation document (%s)", at, strings.Join(revokedPaths, ", ")))
		}
	}
	for _, k := range sortedKeys(d.Fields) {
		at := fmt.Sprintf("outbound.revoked.fields[%q]", k)
		known(at, k)
		if d.Fields[k] == "" {
			errs = append(errs, fmt.Errorf("%s: empty platform name", at))
		}
	}
	for _, k := range sortedKeys(d.Values) {
		known(fmt.Sprintf("outbound.revoked.values[%q]", k), k)
	}
	for _, k := range sortedKeys(d.Const) {
		if k == "" {
			errs = append(errs, errors.New("outbound.revoked.const: an empty field name"))
		}
	}
	return errors.Join(errs...)
}

// check verifies the hub values outbound.revoked recodes against the catalogue: licence types,
// matters and bundles it knows.
func (d *OutboundDocument) check(cat *catalogue.Catalogue) error {
	if d == nil {
		return nil
	}
	types := licenceTypes(cat)
	kinds := map[string]struct {
		what  string
		known func(string) bool
	}{
		"licence.type":        {"licence type", func(s string) bool { return types[s] }},
		"licence.matter_code": {"matter", func(s string) bool { _, ok := cat.Matter(s); return ok }},
		"bundle.code":         {"bundle", func(s string) bool { _, ok := cat.Bundle(s); return ok }},
	}
	var errs []error
	for _, p := range sortedKeys(d.Values) {
		k, ok := kinds[p]
		if !ok {
			continue
		}
		for _, v := range sortedKeys(d.Values[p]) {
			if !k.known(v) {
				errs = append(errs, fmt.Errorf("outbound.revoked.values[%q][%q]: the catalogue has no %s %s", p, v, k.what, v))
			}
		}
	}
	return errors.Join(errs...)
}

// revoked returns the mapping of the revocation document: the shared one with outbound.revoked
// over it; nil when the platform is not to be told of revocations.
func (o Outbound) revoked() *Outbound {
	if o.Revoked == nil {
		return nil
	}
	out := Outbound{Fields: maps.Clone(o.Fields), Values: map[string]map[string]any{}, Const: maps.Clone(o.Const), OnlyMapped: o.OnlyMapped}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	if out.Const == nil {
		out.Const = map[string]any{}
	}
	maps.Copy(out.Fields, o.Revoked.Fields)
	maps.Copy(out.Const, o.Revoked.Const)
	for p, vals := range o.Values {
		out.Values[p] = maps.Clone(vals)
	}
	for p, vals := range o.Revoked.Values {
		if out.Values[p] == nil {
			out.Values[p] = map[string]any{}
		}
		maps.Copy(out.Values[p], vals)
	}
	return &out
}

// licenceReader is what the connector needs of the e-licence library to tell of a revocation;
// *licences.Library has it.
type licenceReader interface {
	Get(ctx context.Context, typ, number string) (*licences.Licence, error)
}

// revokedKey is the push key of the revocation of a licence issued in a case: the type by its
// code (by name when it has none) and the number, each percent-encoded unless it is plain
// ASCII, so that the key stays a clean header value.
func (p planner) revokedKey(caseID string, l cases.LicenceView) string {
	typ := l.TypeCode
	if typ == "" {
		typ = l.Type
	}
	return p.key(caseID, stepRevoked+":"+url.QueryEscape(typ)+":"+url.QueryEscape(l.Number))
}

// revokedSteps are the revocations a case event calls for: one per e-licence issued in the
// case, sent to the platform with its sub-case's result (出件), and since revoked. Only read
// when the platform is to be told and a sub-case is approved (no licence without one).
func (p planner) revokedSteps(ctx context.Context, ev cases.CaseUpdated) ([]casepush.Step, error) {
	if p.c.revokedOut == nil {
		return nil, nil
	}
	approved := map[string]bool{}
	for _, sc := range ev.Subcases {
		if sc.State == cases.StateApproved {
			approved[sc.ID] = true
		}
	}
	if len(approved) == 0 {
		return nil, nil
	}
	v, err := p.c.cases.Get(ctx, ev.CaseID)
	if errors.Is(err, cases.ErrNotFound) {
		return nil, nil // Build says so for the other steps
	}
	if err != nil {
		return nil, err
	}
	var steps []casepush.Step
	for _, l := range v.Licences {
		if l.Status == licences.StatusRevoked && approved[l.SubcaseID] {
			steps = append(steps, casepush.Step{Key: p.revokedKey(ev.CaseID, l), CaseID: ev.CaseID, Name: stepRevoked, Subject: l.SubcaseID})
		}
	}
	return steps, nil
}

// revocation is the document of a revocation step (README.md), nil when the case holds no such
// revoked licence (any more). The reason is the department's, with digit runs masked as in all
// text from outside the hub.
func (p planner) revocation(ctx context.Context, v *cases.CaseView, appID string, s casepush.Step) (map[string]any, error) {
	for _, l := range v.Licences {
		if l.SubcaseID != s.Subject || p.revokedKey(v.ID, l) != s.Key {
			continue
		}
		lic, err := p.c.revocations.Get(ctx, l.Type, l.Number)
		if errors.Is(err, licences.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the revoked licence of case %s: %w", v.ID, err)
		}
		if lic.Status != licences.StatusRevoked || lic.RevokedAt == nil {
			return nil, nil
		}
		doc := p.c.caseDocument(appID, v, stepRevoked, *lic.RevokedAt)
		doc["licence"] = map[string]any{"type": l.Type, "type_code": l.TypeCode, "number": l.Number,
			"subcase_id": l.SubcaseID, "matter_code": l.MatterCode}
		doc["reason"] = format.MaskDigits(lic.RevokedReason)
		return doc, nil
	}
	return nil, nil
}
