package sharing

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub/audit"
	"yjshub/hub/licences"
	"yjshub/hub/pseudonym"
	"yjshub/hub/store"
	"yjshub/mapping"
	"yjshub/problem"
)

// Consent purposes the hub itself checks for.
const (
	// PurposePrefill is the consent purpose a prefill requires.
	PurposePrefill = "prefill"
	// PurposeLicences is the consent purpose listing a holder's e-licences requires (for any
	// bundle).
	PurposeLicences = "licences"
)

// Kinds of the audit rows the service writes.
const (
	KindConsent          = "consent"           // a consent given
	KindConsentWithdrawn = "consent_withdrawn" // a consent withdrawn by its platform
	KindPrefill          = "prefill"           // a prefill, granted or refused
	KindLicences         = "licences"          // a holder's e-licences listed, or the listing refused
)

// Rules of a refusal (403): why a consent does not allow the request.
const (
	RuleConsentMissing = "consent_missing" // no token given
	RuleConsentUnknown = "consent_unknown" // no consent with that token
	RuleConsentExpired = "consent_expired"
	RuleConsentPurpose = "consent_purpose" // given for another purpose, or the request names another
	RuleConsentHolder  = "consent_holder"  // given by another holder
	RuleConsentBundle  = "consent_bundle"  // given for another bundle
	// RuleConsentPlatform: the consent was obtained by another API client (platform) than the
	// one presenting it.
	RuleConsentPlatform = "consent_platform"
	// RuleConsentUsed: the consent already served as many requests as it allows.
	RuleConsentUsed = "consent_used"
	// RuleConsentWithdrawn: the platform that obtained the consent withdrew it.
	RuleConsentWithdrawn = "consent_withdrawn"

	// RuleHolder: a holder named by neither a valid USCC nor a valid identity document number.
	RuleHolder = "holder"
)

// Errors that steer callers (the API maps them to statuses).
var (
	// ErrRefused: the request is not covered by a valid consent (403).
	ErrRefused = errors.New("refused")
	// ErrNotFound: no consent with that id that the client obtained (404).
	ErrNotFound = errors.New("consent not found")
)

// RefusedError says why a consent does not cover a request; it wraps ErrRefused.
type RefusedError struct {
	Rule   string
	Reason string
	// Path is where the request presents the consent: "/consent" in a prefill's body, the
	// header X-Consent-Token for a listing.
	Path string
}

func (e *RefusedError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Config wires a Service.
type Config struct {
	// Catalogue is the loaded catalogue. Required.
	Catalogue *catalogue.Catalogue
	// Store is the SQL store (migrated). Required.
	Store *store.Store
	// Licences is the e-licence library. Required.
	Licences *licences.Library
	// Forms caches one forms (the case service's). Required.
	Forms *mapping.Forms
	// Audit is the audit log every consent, prefill and listing is written to. Required.
	Audit *audit.Log
	// Pseudonyms makes the keyed pseudonyms that stand for holders in consents and the audit
	// log, and recognises those of its older keys. Required.
	Pseudonyms *pseudonym.Keyring
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// DefaultConsentTTL is how long a consent lasts when the request gives no ttl. Default 30m.
	DefaultConsentTTL time.Duration
	// MaxConsentTTL bounds a consent's ttl. Default 24h.
	MaxConsentTTL time.Duration
	// MaxConsentUses bounds how many requests one consent may cover. Default 20: enough for
	// an applicant's session (a prefill, a listing, a retry), few enough that a token that
	// leaks is soon spent.
	MaxConsentUses int
}

// Service runs consents, prefill and the reuse report. It is safe for concurrent use; all
// state is in the store.
type Service struct {
	cfg  Config
	cat  *catalogue.Catalogue
	st   *store.Store
	lib  *licences.Library
	log  *audit.Log
	keys *pseudonym.Keyring
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Catalogue == nil {
		errs = append(errs, errors.New("sharing: Catalogue is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("sharing: Store is required"))
	}
	if cfg.Licences == nil {
		errs = append(errs, errors.New("sharing: Licences is required"))
	}
	if cfg.Forms == nil {
		errs = append(errs, errors.New("sharing: Forms is required"))
	}
	if cfg.Audit == nil {
		errs = append(errs, errors.New("sharing: Audit is required"))
	}
	if cfg.Pseudonyms == nil {
		errs = append(errs, errors.New("sharing: Pseudonyms is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultConsentTTL <= 0 {
		cfg.DefaultConsentTTL = 30 * time.Minute
	}
	if cfg.MaxConsentTTL <= 0 {
		cfg.MaxConsentTTL = 24 * time.Hour
	}
	if cfg.MaxConsentUses <= 0 {
		cfg.MaxConsentUses = 20
	}
	return &Service{cfg: cfg, cat: cfg.Catalogue, st: cfg.Store, lib: cfg.Licences, log: cfg.Audit, keys: cfg.Pseudonyms}, nil
}

// bundleOf resolves a bundle given as a code or a 序号 (JSON string or number).
func (s *Service) bundleOf(raw json.RawMessage) (*catalogue.Bundle, *problem.Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, &problem.Problem{Path: "/bundle", Rule: problem.RuleRequired, Message: "name the bundle by its code or 序号"}
	}
	var key string
	var num json.Number
	if err := json.Unmarshal(raw, &key); err != nil {
		if err := json.Unmarshal(raw, &num); err != nil {
			return nil, &problem.Problem{Path: "/bundle", Rule: problem.RuleType, Message: "must be a bundle code or 序号"}
		}
		key = num.String()
	}
	b, ok := s.cat.Bundle(key)
	if !ok {
		return nil, &problem.Problem{Path: "/bundle", Rule: mapping.RuleUnknownBundle, Message: "no bundle has that code or 序号"}
	}
	return b, nil
}

// HolderProblem checks a holder identifier: a USCC (GB 32100) for an enterprise; for an
// individual, the number of a natural person's identity document (format.CheckPersonalID) or
// the 92… credit code of an individual business, whose licences are issued to that code; any of
// them when applicantType is empty. The problem never repeats the value.
func HolderProblem(path, applicantType, holder string) *problem.Problem {
	if holder == "" {
		return &problem.Problem{Path: path, Rule: problem.RuleRequired, Message: "name the holder by USCC or resident ID number"}
	}
	switch applicantType {
	case catalogue.Enterprise:
		if format.CheckUSCC(holder) != nil {
			return &problem.Problem{Path: path, Rule: format.GB32100, Message: "an enterprise holder must be a valid unified social credit code (GB 32100)"}
		}
	case catalogue.Individual:
		if err := format.CheckPersonalID(holder); err != nil && !format.IndividualBusinessUSCC(holder) {
			return &problem.Problem{Path: path, Rule: err.(*format.Error).Rule, Message: "an individual holder must be a valid identity document number (resident ID, residence permit, permanent residence ID or passport) or an individual business's credit code (92…)"}
		}
	default:
		if format.CheckUSCC(holder) != nil && format.CheckPersonalID(holder) != nil {
			return &problem.Problem{Path: path, Rule: RuleHolder, Message: "must be a valid unified social credit code (GB 32100) or identity document number"}
		}
	}
	return nil
}

// ttlOf reads a ttl given as seconds (a number) or a Go duration ("30m").
func ttlOf(raw json.RawMessage, def, limit time.Duration) (time.Duration, *problem.Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	var d time.Duration
	var str string
	var num json.Number
	switch {
	case json.Unmarshal(raw, &str) == nil:
		v, err := time.ParseDuration(str)
		if err != nil {
			return 0, &problem.Problem{Path: "/ttl", Rule: problem.RuleType, Message: "must be seconds or a duration such as 30m"}
		}
		d = v
	case json.Unmarshal(raw, &num) == nil:
		secs, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil || secs > int64(limit/time.Second) {
			return 0, &problem.Problem{Path: "/ttl", Rule: problem.RuleMaximum, Message: "must be a whole number of seconds, at most " + limit.String()}
		}
		d = time.Duration(secs) * time.Second
	default:
		return 0, &problem.Problem{Path: "/ttl", Rule: problem.RuleType, Message: "must be seconds or a duration such as 30m"}
	}
	if d <= 0 || d > limit {
		return 0, &problem.Problem{Path: "/ttl", Rule: problem.RuleRange, Message: "must be more than 0 and at most " + limit.String()}
	}
	return d, nil
}
