package schemas

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// readmeRoles reads the table of roles under "### Clients and keys" in the README: for each
// role (public for "(anyone)", link for "(a signed link)"), the operations ("METHOD /path" in backticks) it may call.
func readmeRoles(t *testing.T, readme []byte) map[string][]string {
	t.Helper()
	op := regexp.MustCompile("`((?:GET|HEAD|OPTIONS|POST|PUT|PATCH|DELETE) /[^`]*)`")
	roles := map[string][]string{}
	in, table := false, false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			in = line == "### Clients and keys"
		case in && strings.HasPrefix(line, "| role | may |"):
			table = true
		case table && !strings.HasPrefix(line, "|"):
			return roles
		case table && !strings.HasPrefix(line, "|---"):
			cells := strings.Split(line, "|")
			if len(cells) != 4 {
				t.Fatalf("README role table: row %q has %d cells; want 2", line, len(cells)-2)
			}
			role := strings.Trim(strings.TrimSpace(cells[1]), "`")
			switch role {
			case "(anyone)":
				role = "public"
			case "(a signed link)":
				role = "link"
			}
			for _, m := range op.FindAllStringSubmatch(cells[2], -1) {
				roles[role] = append(roles[role], m[1])
			}
		}
	}
	if !table {
		t.Fatal(`README: no "| role | may |" table under "### Clients and keys"`)
	}
	return roles
}

// The README's table of roles names, for each role, exactly the operations whose x-roles hold
// it: a role given to an operation in one and not the other, an operation the table names that
// the document lacks, or one of the document's that the table never names, fails here.
func TestTheREADMERoleTableIsTheXRoles(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := loadOpenAPI(t, OpenAPI())
	fromDoc := map[string][]string{} // "METHOD /path" -> x-roles
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			xr, err := xRoles(op)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			fromDoc[method+" "+path] = xr
		}
	}
	fromREADME := map[string][]string{}
	for role, ops := range readmeRoles(t, readme) {
		for _, o := range ops {
			if slices.Contains(fromREADME[o], role) {
				t.Errorf("README: %s is named twice for %s", o, role)
			}
			fromREADME[o] = append(fromREADME[o], role)
		}
	}
	if len(fromREADME) < 30 {
		t.Fatalf("README: the role table names %d operations; the parser or the table is broken", len(fromREADME))
	}
	for o, roles := range fromREADME {
		if _, ok := fromDoc[o]; !ok {
			t.Errorf("README: the role table names %s, which is not an operation of schemas/openapi.yaml", o)
		}
		for _, r := range roles {
			if !slices.Contains(fromDoc[o], r) {
				t.Errorf("README: the role table lets %s call %s; its x-roles are %v", r, o, fromDoc[o])
			}
		}
	}
	var ops []string
	for o := range fromDoc {
		ops = append(ops, o)
	}
	sort.Strings(ops)
	for _, o := range ops {
		for _, r := range fromDoc[o] {
			if !slices.Contains(fromREADME[o], r) {
				t.Errorf("README: x-roles let %s call %s; the role table does not", r, o)
			}
		}
	}
}
