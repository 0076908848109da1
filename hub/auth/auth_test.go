package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var depts = []string{"tobacco", "fire-rescue"}

func TestNewKeyIsFreshAndHashedAsTheFileHoldsIt(t *testing.T) {
	k1, h1 := NewKey()
	k2, h2 := NewKey()
	if !regexp.MustCompile(`^yjk_[A-Za-z0-9_-]{43}$`).MatchString(k1) || k1 == k2 || h1 == h2 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	if h1 != HashKey(k1) || !hashRE.MatchString(h1) {
		t.Fatalf("hash %q of %q", h1, k1)
	}
}

func TestAClientsFileAuthenticatesItsKeysOnly(t *testing.T) {
	pk, ph := NewKey()
	dk, dh := NewKey()
	cs, err := Parse(fmt.Appendf(nil, `clients:
  - name: jiangsu-platform
    role: platform
    key_sha256: %s
  - {name: tobacco.office, role: department, department: tobacco, key_sha256: %s}
`, ph, dh), depts)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cs.Authenticate(pk); !ok || c != (Client{Name: "jiangsu-platform", Role: RolePlatform}) {
		t.Errorf("platform key: %+v %v", c, ok)
	}
	if c, ok := cs.Authenticate(dk); !ok || c != (Client{Name: "tobacco.office", Role: RoleDepartment, Department: "tobacco"}) {
		t.Errorf("department key: %+v %v", c, ok)
	}
	for _, k := range []string{"", ph, pk + "x", strings.ToUpper(pk)} {
		if c, ok := cs.Authenticate(k); ok {
			t.Errorf("key %q authenticated as %+v", k, c)
		}
	}
}

func TestAClientsFileWithProblemsIsRefusedNamingEveryOne(t *testing.T) {
	_, h := NewKey()
	_, h2 := NewKey()
	_, err := Parse(fmt.Appendf(nil, `clients:
  - {name: a, role: platform, key_sha256: %[1]s}
  - {name: a, role: platform, key_sha256: %[2]s}
  - {name: Bad Name, role: admin, key_sha256: %[1]s}
  - {name: d1, role: department, key_sha256: %[2]s0}
  - {name: d2, role: department, department: police, key_sha256: %[3]s}
  - {name: o1, role: operator, department: tobacco}
  - {role: platform, key_sha256: yjk_abc}
`, h, h2, strings.ToUpper(h)), depts)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"clients[1] (a).name: also the name of clients[0]",
		`clients[2] (Bad Name).name: "Bad Name" must be`,
		`clients[2] (Bad Name).role: "admin" is not one of platform, department, operator`,
		"clients[2] (Bad Name).key_sha256: also the key of clients[0]",
		"clients[3] (d1).department: required for a department client",
		"clients[3] (d1).key_sha256: must be 64 lower-case hex digits",
		`clients[4] (d2).department: "police" is not a department of the catalogue`,
		"clients[4] (d2).key_sha256: must be 64 lower-case hex digits",
		"clients[5] (o1).department: only a department client names a department",
		"clients[5] (o1).key_sha256: required",
		"clients[6].name: required",
		"clients[6].key_sha256: must be 64",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "yjk_abc") {
		t.Errorf("the error repeats a key: %v", err)
	}
	for _, bad := range []string{"clients: []", "client: []", "clients:\n  - {name: a, role: platform, key_sha256: x, colour: red}"} {
		if _, err := Parse([]byte(bad), depts); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReplaceSwapsTheFilesClientsAndKeepsAddedOnes(t *testing.T) {
	k1, h1 := NewKey()
	k2, h2 := NewKey()
	sk, sh := NewKey()
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.yaml")
	write := func(h string) {
		if err := os.WriteFile(path, fmt.Appendf(nil, "clients:\n  - {name: p, role: platform, key_sha256: %s}\n", h), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(h1)
	cs, err := Load(path, depts)
	if err != nil {
		t.Fatal(err)
	}
	cs.Add(Client{Name: "simulated-tobacco", Role: RoleDepartment, Department: "tobacco"}, sh)
	write(h2)
	next, err := Load(path, depts)
	if err != nil {
		t.Fatal(err)
	}
	cs.Replace(next)
	if _, ok := cs.Authenticate(k1); ok {
		t.Error("the old file's key still works")
	}
	if _, ok := cs.Authenticate(k2); !ok {
		t.Error("the new file's key does not work")
	}
	if _, ok := cs.Authenticate(sk); !ok || cs.Len() != 2 {
		t.Errorf("the added client is gone (len %d)", cs.Len())
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), depts); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestTheClientTravelsInTheContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("a client in an empty context")
	}
	c := Client{Name: "ops", Role: RoleOperator}
	if got, ok := FromContext(WithClient(context.Background(), c)); !ok || got != c {
		t.Fatalf("got %+v %v", got, ok)
	}
}
