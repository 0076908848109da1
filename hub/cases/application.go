package cases

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"yjshub/jsonstrict"
	"yjshub/problem"
)

// Application is one application for a bundle: what an applicant submits once.
type Application struct {
	// Bundle is the bundle's code or its 序号 (a JSON string or number).
	Bundle json.RawMessage `json:"bundle"`
	// ApplicantType is "enterprise" or "individual".
	ApplicantType string `json:"applicant_type"`
	// Matters are the chosen matter codes. Every required matter of the bundle must be among
	// them; omitted, the bundle's required matters are applied for and no optional one. An
	// empty list is not omitted (it chooses nothing), so it encodes as [] and only nil is left
	// out.
	Matters []string `json:"matters,omitzero"`
	// Form holds the canonical fields (field code → value).
	Form map[string]any `json:"form"`
	// Materials are the supplied documents, one per material type.
	Materials []MaterialInput `json:"materials"`
	// ExternalRef is the platform's own number for the application (申报流水号), optional:
	// unique among the platform's cases, it finds the case (GET /api/v1/cases?external_ref=).
	ExternalRef string `json:"external_ref,omitempty"`
	// Agent is the agent acting for the applicant (帮办代办), when there is one.
	Agent *Agent `json:"agent,omitempty"`
}

// MaterialInput is a supplied document: a material object uploaded to the hub (ID, "mo_…",
// and no other field but Type), a file referenced by hash and location on a host the hub
// allows, or an e-licence of the hub's library (Licence, and no file fields) where the
// material's catalogue entry says which licence types satisfy it (免交).
type MaterialInput struct {
	Type string `json:"type"`
	// ID names a material object the submitting client uploaded (/api/v1/uploads) for the
	// same applicant; its file name, hash, size and content type are the object's.
	ID       string      `json:"id,omitempty"`
	Filename string      `json:"filename,omitempty"`
	SHA256   string      `json:"sha256,omitempty"`
	Size     int64       `json:"size,omitempty"`
	URI      string      `json:"uri,omitempty"`
	Licence  *LicenceRef `json:"licence,omitempty"`
}

// LicenceRef names an e-licence of the library by its type (licence name) and number.
type LicenceRef struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// pointerToken escapes a key as a JSON Pointer reference token (RFC 6901): a key with "/" or
// "~" would otherwise name another place.
var pointerToken = strings.NewReplacer("~", "~0", "/", "~1")

// externalRefRE is what an external reference may be: 1 to 64 characters, none a control
// character or a space (the OpenAPI document's pattern, character for character, so that
// JSON Schema tooling agrees with the hub).
var externalRefRE = regexp.MustCompile(`^[^\x{0000}-\x{0020}\x{007F}-\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]{1,64}$`)

// RuleExternalRef is the rule of an external reference that is not 1-64 visible characters.
const RuleExternalRef = "external_ref"

// MaxApplication bounds an application's size in bytes.
const MaxApplication = 1 << 20

// DecodeApplication reads an application strictly: malformed JSON is an error, unknown keys
// are problems. It also returns the SHA-256 of the body, which identifies the request for
// idempotency.
func DecodeApplication(r io.Reader) (Application, string, error) {
	body, hash, err := readStrict(r, MaxApplication, "application")
	if err != nil {
		return Application{}, "", err
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return Application{}, "", problem.New(problem.Problem{Path: "", Rule: problem.RuleJSON, Message: "the body must be one JSON object"})
	}
	if _, err := dec.Token(); err != io.EOF {
		return Application{}, "", problem.New(problem.Problem{Path: "", Rule: problem.RuleJSON, Message: "the body must be one JSON object, with nothing after it"})
	}
	var problems []problem.Problem
	known := map[string]bool{"bundle": true, "applicant_type": true, "matters": true, "form": true, "materials": true, "external_ref": true, "agent": true}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			problems = append(problems, problem.Problem{Path: "/" + pointerToken.Replace(k), Rule: problem.RuleUnknownField, Message: "not a field of an application (bundle, applicant_type, matters, form, materials, external_ref, agent)"})
		}
	}
	var app Application
	app.Bundle = raw["bundle"]
	decodeInto := func(key string, v any) {
		b, ok := raw[key]
		if !ok || string(b) == "null" {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			problems = append(problems, problem.Problem{Path: "/" + key, Rule: problem.RuleType, Message: typeMessage(key, err)})
		}
	}
	decodeInto("applicant_type", &app.ApplicantType)
	decodeInto("matters", &app.Matters)
	decodeInto("form", &app.Form)
	decodeInto("materials", &app.Materials)
	decodeInto("external_ref", &app.ExternalRef)
	decodeInto("agent", &app.Agent)
	if raw["external_ref"] != nil && app.ExternalRef != "" && !externalRefRE.MatchString(app.ExternalRef) {
		problems = append(problems, problem.Problem{Path: "/external_ref", Rule: RuleExternalRef, Message: "must be 1 to 64 visible characters, without spaces"})
	}
	if len(problems) > 0 {
		return app, "", problem.New(problems...)
	}
	return app, hash, nil
}

// readStrict reads a request body of at most max bytes (what names it in the problem) and
// checks it strictly (jsonstrict); it returns the body and its SHA-256, which identifies the
// request for idempotency.
func readStrict(r io.Reader, max int, what string) ([]byte, string, error) {
	body, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > max {
		return nil, "", problem.One("", problem.RuleMaxSize, "the %s is larger than %d bytes", what, max)
	}
	if ps := jsonstrict.Check(body, jsonstrict.Limits{}); len(ps) > 0 {
		return nil, "", problem.New(ps...)
	}
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:]), nil
}

func typeMessage(key string, err error) string {
	want := map[string]string{
		"applicant_type": "a string",
		"matters":        "an array of matter codes",
		"form":           "an object of canonical fields",
		"materials":      "an array of {type, filename, sha256, size, uri} or {type, licence: {type, number}}",
		"external_ref":   "a string",
		"agent":          "an object {kind, name, id_type, id_number, phone, organisation, authorisation: {scope, valid_until, material: {filename, sha256, size, uri}}}",
	}[key]
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field != "" {
		return fmt.Sprintf("must be %s (%s has the wrong type)", want, ute.Field)
	}
	if strings.Contains(err.Error(), "unknown field") {
		return fmt.Sprintf("must be %s: %s", want, strings.TrimPrefix(err.Error(), "json: "))
	}
	return "must be " + want
}
