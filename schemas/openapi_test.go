package schemas

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// The document loads and validates with kin-openapi (which checks the examples against their
// schemas too), and says it is 3.0.3 and why.
func TestTheOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t, OpenAPI())
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q; want 3.0.3", doc.OpenAPI)
	}
	if !strings.Contains(doc.Info.Description, "3.0.3") {
		t.Errorf("info.description does not say the document is 3.0.3 and why")
	}
	if doc.Paths.Len() < 25 {
		t.Errorf("%d paths: the document describes fewer routes than the hub serves", doc.Paths.Len())
	}
}

// The JSON the hub serves is the same document as the YAML, to the last field.
func TestTheJSONIsTheSameDocument(t *testing.T) {
	b, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatal("OpenAPIJSON is not JSON")
	}
	fromYAML, fromJSON := loadOpenAPI(t, OpenAPI()), loadOpenAPI(t, b)
	y, _ := json.Marshal(fromYAML)
	j, _ := json.Marshal(fromJSON)
	if string(y) != string(j) {
		t.Fatal("the document read from JSON differs from the one read from YAML")
	}
	if !strings.Contains(string(b), "Bearer <key>") {
		t.Error("the JSON escapes < and > in text")
	}
	if !strings.HasPrefix(string(b), `{"openapi":"3.0.3","info":`) {
		t.Errorf("the JSON does not keep the YAML's order: %.40s", b)
	}
}

// Every operation is described the same way: an operationId, a summary, one of the seven tags,
// x-roles, security that agrees with them, the one error shape for every error, and for a
// JSON body an example (a file's bytes, application/offset+octet-stream, are a binary string).
//
// x-roles "link" marks the routes a signed link authorises (GET and HEAD of /api/v1/files): no
// key is needed, as for a public route, yet a link that does not verify is refused (403), and a
// department's key, when sent, must be the link's department - so both the empty requirement
// and bearer are its security, and 403 is documented.
func TestEveryOperationIsDescribedTheSameWay(t *testing.T) {
	doc := loadOpenAPI(t, OpenAPI())
	tags := []string{"catalogue", "cases", "departments", "shared data", "operators", "files", "health"}
	roles := []string{"public", "platform", "department", "operator", "link"}
	for _, tag := range tags {
		if doc.Tags.Get(tag) == nil {
			t.Errorf("tag %q is not declared", tag)
		}
	}
	errorBody := doc.Components.Schemas["ErrorBody"]
	ids := map[string]string{}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			at := method + " " + path
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: no operationId or summary", at)
			}
			if other, ok := ids[op.OperationID]; ok {
				t.Errorf("%s: operationId %s is also %s's", at, op.OperationID, other)
			}
			ids[op.OperationID] = at
			if len(op.Tags) != 1 || !slices.Contains(tags, op.Tags[0]) {
				t.Errorf("%s: tags %v; want one of %v", at, op.Tags, tags)
			}
			xr, err := xRoles(op)
			if err != nil {
				t.Errorf("%s: %v", at, err)
				continue
			}
			for _, r := range xr {
				if !slices.Contains(roles, r) {
					t.Errorf("%s: x-roles holds %q", at, r)
				}
			}
			public := slices.Contains(xr, "public")
			if slices.Contains(xr, "link") {
				if len(xr) != 1 {
					t.Errorf("%s: x-roles %v: link stands alone", at, xr)
				}
				if op.Security == nil || !slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 }) {
					t.Errorf("%s: a route a link authorises needs the empty security requirement", at)
				}
				if op.Responses.Value("403") == nil || op.Responses.Value("403").Ref != "#/components/responses/LinkRefused" {
					t.Errorf("%s: a route a link authorises documents its refusal (403 LinkRefused)", at)
				}
				checkErrorShapes(t, at, path, op, errorBody)
				continue
			}
			switch {
			case public && len(xr) != 1:
				t.Errorf("%s: x-roles %v: public stands alone", at, xr)
			case public && (op.Security == nil || len(*op.Security) != 0):
				t.Errorf("%s: a public operation needs security: []", at)
			case !public && op.Security != nil:
				t.Errorf("%s: a guarded operation takes the document's bearer security", at)
			}
			for _, status := range []string{"401", "403"} {
				r := op.Responses.Value(status)
				// A public operation needs no key, yet one that carries an unknown key is
				// refused: that 401 (UnknownKey) is its only refusal of a caller.
				if public && status == "401" && r != nil && r.Ref == "#/components/responses/UnknownKey" {
					continue
				}
				if has := r != nil; has == public {
					t.Errorf("%s: x-roles %v, yet %s is documented: %v", at, xr, status, has)
				}
			}
			checkErrorShapes(t, at, path, op, errorBody)
			if rb := op.RequestBody; rb != nil {
				// A file's bytes: a tus chunk (application/offset+octet-stream) or a file PUT
				// whole (application/octet-stream), whose type the hub sniffs.
				bin := rb.Value.Content.Get("application/offset+octet-stream")
				if bin == nil {
					bin = rb.Value.Content.Get("application/octet-stream")
				}
				if bin != nil {
					if bin.Schema == nil || bin.Schema.Value.Format != "binary" || len(rb.Value.Content) != 1 {
						t.Errorf("%s: a file's bytes are application/offset+octet-stream or application/octet-stream alone, a binary string", at)
					}
					continue
				}
				mt := rb.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Example == nil || !rb.Value.Required {
					t.Errorf("%s: the request body needs a schema and an example", at)
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("%d operations", n)
	}
}

// checkErrorShapes says which of op's error responses is not the one error shape.
func checkErrorShapes(t *testing.T, at, path string, op *openapi3.Operation, errorBody *openapi3.SchemaRef) {
	t.Helper()
	for code, resp := range op.Responses.Map() {
		if code[0] < '4' || (path == "/readyz" && code == "503") {
			continue
		}
		mt := resp.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value != errorBody.Value {
			t.Errorf("%s: %s is not the one error shape", at, code)
		}
	}
}

// xRoles returns the x-roles of an operation.
func xRoles(op *openapi3.Operation) ([]string, error) {
	raw, ok := op.Extensions["x-roles"].([]any)
	if !ok || len(raw) == 0 {
		return nil, errNoRoles
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		s, ok := r.(string)
		if !ok {
			return nil, errNoRoles
		}
		out[i] = s
	}
	return out, nil
}

var errNoRoles = errors.New("no x-roles: a list of public, platform, department, operator")

func TestYAMLToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"mappings keep their order", "b: 1\na: [x, 2, true, null, 1.5]\n", `{"b":1,"a":["x",2,true,null,1.5]}`, ""},
		{"quoted scalars stay strings", `a: "200"` + "\n" + `b: "true"`, `{"a":"200","b":"true"}`, ""},
		{"a response code key is a string", "200: {x: 1}", `{"200":{"x":1}}`, ""},
		{"a date stays as written", "d: 2026-11-27", `{"d":"2026-11-27"}`, ""},
		{"aliases are followed", "a: &x {k: v}\nb: *x", `{"a":{"k":"v"},"b":{"k":"v"}}`, ""},
		{"text is not HTML-escaped", "a: Bearer <key> & more", `{"a":"Bearer <key> & more"}`, ""},
		{"a duplicate key is an error", "a: 1\na: 2", "", "appears twice"},
		{"a merge key is an error", "a: &x {k: v}\nb: {<<: *x}", "", "merge keys"},
		{"infinity is an error", "a: .inf", "", "unsupported value"},
		{"an empty document is an error", "", "", "empty document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := yamlToJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v; want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
			var a, b any
			_ = json.Unmarshal(got, &a)
			_ = json.Unmarshal([]byte(tc.want), &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatal("not equal as JSON")
			}
		})
	}
}
