package platform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/connectors/delivery"
)

// Levels of platform.
const (
	LevelProvincial = "provincial" // 江苏政务服务网 "一件事"
	LevelMunicipal  = "municipal"  // 连云港市政务服务一体化平台
)

// Defaults.
const (
	defaultTimeout      = 10 * time.Second
	defaultPollInterval = 30 * time.Second
	defaultLimit        = 50
	maxLimit            = 1000
	groupIDPrefix       = "yjshub-platform-"
)

// Config configures the connector of one platform: where it pulls submitted applications,
// where it pushes progress, results and e-licences, and how the platform's fields map to the
// hub's. Fields left zero take the defaults stated on each; [New] applies them and validates.
type Config struct {
	// Name names the platform in the connectors file (its key under platforms:), in the
	// connector's name (platform:<name>) and in idempotency keys. Required; the connectors
	// file sets it.
	Name string `yaml:"name,omitempty" json:"name"`

	// Level is provincial (江苏政务服务网 "一件事") or municipal (连云港市政务服务一体化平台).
	// Informational: both speak the same contract. Optional.
	Level string `yaml:"level,omitempty" json:"level,omitempty"`

	// PullURL is the platform's list of submitted applications: the connector GETs
	// PullURL?cursor=…&limit=… (README.md). Required; http or https. Credentials in it are
	// sent but never shown.
	PullURL string `yaml:"pull_url" json:"pull_url"`

	// PushURL receives progress (受理, 办结), results and e-licences (一端出件), rejections
	// (退件) and, with outbound.revoked, revocations of those e-licences (撤销) as POSTs with
	// an Idempotency-Key. Required; http or https.
	PushURL string `yaml:"push_url" json:"push_url"`

	// LicencesURL is the platform's list of e-licences (electronic licences of other systems it
	// holds), which the connector imports into the hub's e-licence library: it GETs
	// LicencesURL?cursor=…&limit=… as it does PullURL (README.md). Optional: empty, nothing is
	// imported. http or https. Credentials in it are sent but never shown.
	LicencesURL string `yaml:"licences_url,omitempty" json:"licences_url,omitempty"`

	// LicenceFields maps the platform's licence document to the hub's e-licence, one rule per
	// field of the hub's. Required with LicencesURL (type, number, holder, holder_id,
	// holder_id_type, issuer, issued_at, valid_from, file.sha256, file.uri and file.format
	// must be filled); not allowed without it.
	LicenceFields map[string]LicenceRule `yaml:"licence_fields,omitempty" json:"licence_fields,omitempty"`

	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// PollInterval is the pause between pulls once the platform has nothing new. Default 30s.
	PollInterval time.Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`

	// Limit is the page size asked of the platform. Default 50, at most 1000.
	Limit int `yaml:"limit,omitempty" json:"limit,omitempty"`

	// Headers are sent with every request (an API key, a token); their values are secrets.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`

	// SigningSecret, when set, signs every push as Standard Webhooks defines (webhook-id,
	// webhook-timestamp, webhook-signature; see connectors/CONTRACT.md). A secret.
	SigningSecret string `yaml:"signing_secret,omitempty" json:"signing_secret,omitempty"`

	// Retry paces the attempts at a push the platform did not take (5xx, timeouts) and at a
	// pull that failed.
	Retry delivery.RetryConfig `yaml:"retry,omitempty" json:"retry,omitempty"`

	// GroupID is the hub's consumer group on yjs.case.event for this platform. Default
	// "yjshub-platform-<name>".
	GroupID string `yaml:"group_id,omitempty" json:"group_id,omitempty"`

	// Concurrency is how many case events each hub instance handles at once for this
	// platform: documents of that many cases pushed at once. One case's documents still go
	// one at a time, in order (its events share its key); offsets are committed in batches
	// once pushed and recorded. Default 8; 1 pushes one document at a time.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`

	// TimeLayout is how times are written in pushes (a Go layout), in China Standard Time.
	// Default time.RFC3339, e.g. 2026-12-01T15:00:00+08:00.
	TimeLayout string `yaml:"time_layout,omitempty" json:"time_layout,omitempty"`

	// Inbound maps the platform's application to the hub's, one rule per hub field.
	Inbound []Rule `yaml:"inbound" json:"inbound"`

	// Outbound maps the hub's push documents to the platform's field names and values.
	Outbound Outbound `yaml:"outbound,omitempty" json:"outbound,omitempty"`
}

// Rule maps one field of the platform's application to one field of the hub's:
//
//	inbound:
//	  - {from: sqrxx.xm, to: form.applicant.name}
//	  - {from: sqrlx, to: applicant_type, values: {"1": enterprise, "2": individual}}
//	  - {from: sxlb, to: matters, key: sxbm, values: {SPJY-XS: food-business-licence}}
//	  - {from: clxx, to: materials, fields: {type: clbm, filename: wjmc, sha256: hash, size: dx, uri: url}}
//	  - {const: open-drink-shop, to: bundle}
type Rule struct {
	// From is the dotted path of the value in the platform's application; a numeric segment
	// indexes an array (sqr.zjxx.0.hm). Either From or Const.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	// Const is a fixed value instead of one taken from the application.
	Const any `yaml:"const,omitempty" json:"const,omitempty"`
	// To is the hub's field: bundle, applicant_type, matters, materials or form.<canonical
	// field>.
	To string `yaml:"to" json:"to"`
	// Values maps the platform's values (as text: "1", "true", "是") to the hub's. When set, a
	// value it does not list is a problem. For matters and materials it maps each element's
	// code.
	Values map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// Key is, for matters whose elements are objects, the path of the code inside each.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Fields is, for materials, the path inside each element of each hub material field:
	// type (required), filename, sha256, size, uri.
	Fields map[string]string `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// LicenceRule fills one field of the hub's e-licence (the key it is given under in
// licence_fields) from the platform's licence document:
//
//	licence_fields:
//	  type:           {from: zzxx.zzlxdm, values: {JSZZ0101: 食品经营许可证}}
//	  number:         {from: zzxx.zzbh}
//	  holder_id_type: {from: czzt.dmlx, values: {"001": uscc, "111": resident_id}}
//	  issued_at:      {from: zzxx.bfrq}
//	  file.format:    {const: ofd}
type LicenceRule struct {
	// From is the dotted path of the value in the platform's licence document; a numeric
	// segment indexes an array. Either From or Const.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	// Const is a fixed value instead of one taken from the document.
	Const any `yaml:"const,omitempty" json:"const,omitempty"`
	// Values maps the platform's values (as text) to the hub's. When set, a value it does not
	// list is a problem.
	Values map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
}

// Fields of the hub's e-licence (event.Licence) that licence_fields fills: the ones a licence
// must have, then the optional ones.
var (
	licenceRequired = []string{licType, licNumber, licHolder, licHolderID, licHolderIDType, licIssuer, licIssuedAt, licValidFrom,
		licFileSHA256, licFileURI, licFileFormat}
	licenceOptional = []string{licTypeCode, licIssuerCode, licValidUntil, licFileSize}
)

// Fields of the hub's e-licence, as licence_fields names them.
const (
	licType         = "type"           // the licence type by name, as the catalogue names it (食品经营许可证)
	licTypeCode     = "type_code"      // the licence type's code
	licNumber       = "number"         // the licence number
	licHolder       = "holder"         // the holder's name
	licHolderID     = "holder_id"      // the holder's USCC or resident ID number
	licHolderIDType = "holder_id_type" // one of event.HolderIDTypes
	licIssuer       = "issuer"         // the issuing authority by name
	licIssuerCode   = "issuer_code"    // the issuing authority's code
	licIssuedAt     = "issued_at"      // a date
	licValidFrom    = "valid_from"     // a date
	licValidUntil   = "valid_until"    // a date; absent: no expiry
	licFileSHA256   = "file.sha256"    // the licence file's SHA-256, hex
	licFileURI      = "file.uri"       // where the licence file is
	licFileFormat   = "file.format"    // ofd or pdf
	licFileSize     = "file.size"      // the licence file's size in bytes
)

// Outbound turns the hub's push documents (README.md) into the platform's:
//
//	fields: {app_id: sblsh, status: blzt, time: blsj, result.licences.number: zzbh}
//	values: {status: {受理: "01", 办结: "09"}}
//	const:  {xzqhdm: "320707"}
//	only_mapped: true
type Outbound struct {
	// Fields renames the hub's fields, each named by its dotted path (array elements take
	// their array's path: result.licences.number). Unnamed fields keep the hub's names.
	Fields map[string]string `yaml:"fields,omitempty" json:"fields,omitempty"`
	// Values maps, per hub field path, the hub's text values to the platform's.
	Values map[string]map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// Const adds fixed top-level fields (platform names) to every document.
	Const map[string]any `yaml:"const,omitempty" json:"const,omitempty"`
	// OnlyMapped sends only the fields named in Fields (and Const): data minimisation for a
	// platform that needs less than the hub offers. Default false: everything is sent.
	OnlyMapped bool `yaml:"only_mapped,omitempty" json:"only_mapped,omitempty"`
	// Revoked is the revocation document (撤销): the issuing department revoked an e-licence
	// the platform was sent as a result. Its fields, values and const apply over the ones
	// above for that document (OnlyMapped as above); `revoked: {}` sends it with the shared
	// mapping alone. Optional: absent, the platform is not told of revocations.
	Revoked *OutboundDocument `yaml:"revoked,omitempty" json:"revoked,omitempty"`
}

// Hub fields a rule may map to.
const (
	ToBundle        = "bundle"
	ToApplicantType = "applicant_type"
	ToMatters       = "matters"
	ToMaterials     = "materials"
	ToFormPrefix    = "form."
)

// materialFields are the hub fields of a material.
var materialFields = []string{"type", "filename", "sha256", "size", "uri"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.PollInterval == 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.Limit == 0 {
		c.Limit = defaultLimit
	}
	if c.GroupID == "" && c.Name != "" {
		c.GroupID = groupIDPrefix + c.Name
	}
	if c.TimeLayout == "" {
		c.TimeLayout = time.RFC3339
	}
	if c.Concurrency == 0 {
		c.Concurrency = casepush.DefaultConcurrency
	}
}

// Validate reports every problem in c at once; zero values with a default are accepted. URLs
// appear in its messages only redacted, header values never.
func (c *Config) Validate() error {
	var errs []error
	if !nameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not a platform name (lower-case letters, digits, - and _)", c.Name))
	}
	switch c.Level {
	case "", LevelProvincial, LevelMunicipal:
	default:
		errs = append(errs, fmt.Errorf("level: %q is not provincial or municipal", c.Level))
	}
	if err := delivery.ValidateEndpoint(c.PullURL); err != nil {
		errs = append(errs, fmt.Errorf("pull_url: %w", err))
	}
	if err := delivery.ValidateEndpoint(c.PushURL); err != nil {
		errs = append(errs, fmt.Errorf("push_url: %w", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"poll_interval", c.PollInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", d.name, d.v))
		}
	}
	if c.Limit < 0 || c.Limit > maxLimit {
		errs = append(errs, fmt.Errorf("limit: %d is not in 1..%d", c.Limit, maxLimit))
	}
	errs = append(errs, delivery.ValidateHeaders(c.Headers), c.Retry.Validate(), delivery.ValidateSigningSecret(c.SigningSecret))
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
	}
	if c.Concurrency < 0 || c.Concurrency > casepush.MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", c.Concurrency, casepush.MaxConcurrency))
	}
	if c.TimeLayout != "" {
		probe := time.Date(2026, 12, 1, 15, 4, 5, 0, time.UTC)
		if got := probe.Format(c.TimeLayout); got == c.TimeLayout {
			errs = append(errs, fmt.Errorf("time_layout: %q has no time in it (a Go layout such as 2006-01-02 15:04:05)", c.TimeLayout))
		}
	}
	errs = append(errs, c.validateLicences(), validateRules(c.Inbound))
	errs = append(errs, c.Outbound.validate())
	return errors.Join(errs...)
}

func validateRules(rules []Rule) error {
	var errs []error
	seen := map[string]int{}
	for i, r := range rules {
		at := fmt.Sprintf("inbound[%d]", i)
		if r.To != "" {
			if j, dup := seen[r.To]; dup {
				errs = append(errs, fmt.Errorf("%s.to: %s is mapped already by inbound[%d]", at, r.To, j))
			}
			seen[r.To] = i
		}
		switch {
		case r.To == ToBundle, r.To == ToApplicantType, r.To == ToMatters, r.To == ToMaterials:
		case strings.HasPrefix(r.To, ToFormPrefix) && len(r.To) > len(ToFormPrefix):
		default:
			errs = append(errs, fmt.Errorf("%s.to: %q is not bundle, applicant_type, matters, materials or form.<canonical field>", at, r.To))
		}
		switch {
		case (r.From == "") == (r.Const == nil):
			errs = append(errs, fmt.Errorf("%s: give either from or const", at))
		case r.From != "":
			if err := checkPath(r.From); err != nil {
				errs = append(errs, fmt.Errorf("%s.from: %w", at, err))
			}
		}
		if r.Key != "" {
			if r.To != ToMatters {
				errs = append(errs, fmt.Errorf("%s.key: only for matters", at))
			} else if err := checkPath(r.Key); err != nil {
				errs = append(errs, fmt.Errorf("%s.key: %w", at, err))
			}
		}
		if r.To == ToMaterials {
			if r.Fields["type"] == "" {
				errs = append(errs, fmt.Errorf("%s.fields.type: required for materials", at))
			}
			for _, k := range sortedKeys(r.Fields) {
				if !slices.Contains(materialFields, k) {
					errs = append(errs, fmt.Errorf("%s.fields.%s: not a material field (%s)", at, k, strings.Join(materialFields, ", ")))
				} else if err := checkPath(r.Fields[k]); err != nil {
					errs = append(errs, fmt.Errorf("%s.fields.%s: %w", at, k, err))
				}
			}
		} else if len(r.Fields) > 0 {
			errs = append(errs, fmt.Errorf("%s.fields: only for materials", at))
		}
	}
	for _, required := range []string{ToBundle, ToApplicantType} {
		if _, ok := seen[required]; !ok {
			errs = append(errs, fmt.Errorf("inbound: no rule maps to %s", required))
		}
	}
	return errors.Join(errs...)
}

// validateLicences checks licences_url and licence_fields: both or neither.
func (c *Config) validateLicences() error {
	if c.LicencesURL == "" {
		if len(c.LicenceFields) > 0 {
			return errors.New("licence_fields: only with licences_url")
		}
		return nil
	}
	var errs []error
	if err := delivery.ValidateEndpoint(c.LicencesURL); err != nil {
		errs = append(errs, fmt.Errorf("licences_url: %w", err))
	}
	known := append(slices.Clone(licenceRequired), licenceOptional...)
	for _, k := range sortedKeys(c.LicenceFields) {
		r, at := c.LicenceFields[k], "licence_fields."+k
		if !slices.Contains(known, k) {
			errs = append(errs, fmt.Errorf("%s: not a field of the hub's e-licence (%s)", at, strings.Join(known, ", ")))
			continue
		}
		switch {
		case (r.From == "") == (r.Const == nil):
			errs = append(errs, fmt.Errorf("%s: give either from or const", at))
		case r.From != "":
			if err := checkPath(r.From); err != nil {
				errs = append(errs, fmt.Errorf("%s.from: %w", at, err))
			}
		}
	}
	for _, k := range licenceRequired {
		if _, ok := c.LicenceFields[k]; !ok {
			errs = append(errs, fmt.Errorf("licence_fields: no rule fills %s", k))
		}
	}
	return errors.Join(errs...)
}

func (o Outbound) validate() error {
	var errs []error
	for _, k := range sortedKeys(o.Fields) {
		if err := checkPath(k); err != nil {
			errs = append(errs, fmt.Errorf("outbound.fields[%q]: %w", k, err))
		}
		if o.Fields[k] == "" {
			errs = append(errs, fmt.Errorf("outbound.fields[%q]: empty platform name", k))
		}
	}
	for _, k := range sortedKeys(o.Values) {
		if err := checkPath(k); err != nil {
			errs = append(errs, fmt.Errorf("outbound.values[%q]: %w", k, err))
		}
	}
	for _, k := range sortedKeys(o.Const) {
		if k == "" {
			errs = append(errs, errors.New("outbound.const: an empty field name"))
		}
	}
	errs = append(errs, o.Revoked.validate())
	return errors.Join(errs...)
}

// checkPath checks a dotted path: non-empty segments without spaces.
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" || strings.ContainsAny(seg, " \t\r\n") {
			return fmt.Errorf("%q is not a dotted path", p)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
