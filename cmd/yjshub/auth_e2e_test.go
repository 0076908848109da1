package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/connectors/signing"
	"yjshub/hub/auth"
)

// writeClients writes a clients file with one client per role and returns the keys by name.
func writeClients(t *testing.T, path string, names ...string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	var b strings.Builder
	b.WriteString("clients:\n")
	for _, n := range names {
		role, dept, _ := strings.Cut(n, ":")
		key, hash := auth.NewKey()
		name := role + "-" + fmt.Sprint(len(keys))
		keys[n] = key
		fmt.Fprintf(&b, "  - {name: %s, role: %s, department: %q, key_sha256: %s}\n", name, role, dept, hash)
	}
	if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	return keys
}

func status(t *testing.T, method, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// With a clients file the hub authenticates: the CLI needs YJSHUB_API_KEY, the simulated
// departments call back with keys of their own and the case completes, roles are enforced,
// and a changed clients file takes effect without a restart.
func TestServeWithClientsAuthenticates(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
			keys := writeClients(t, o.clientsFile, "platform", "operator")
			hub, _ := startSimulatedHub(t, o)
			example := filepath.Join("..", "..", "examples", "open-drink-shop-individual.json")

			t.Setenv(apiKeyEnv, "")
			if code, _, stderr := runCLI(t, "submit", "--hub", hub, example); code != 1 || !strings.Contains(stderr, "401 unauthenticated") {
				t.Fatalf("submit without a key: exit %d: %s", code, stderr)
			}
			t.Setenv(apiKeyEnv, keys["platform"])
			code, out, stderr := runCLI(t, "submit", "--hub", hub, example)
			id := strings.TrimSpace(out)
			if code != 0 || !strings.HasPrefix(id, "cs_") {
				t.Fatalf("submit as the platform: exit %d %q %s", code, out, stderr)
			}
			code, out, stderr = runCLI(t, "watch", "--hub", hub, "--interval", "20ms", "--timeout", "60s", id)
			if code != 0 || !strings.Contains(out, "completed: approved") {
				t.Fatalf("watch: exit %d\n%s\n%s", code, out, stderr)
			}
			if code, _, stderr := runCLI(t, "dlq", "list", "--hub", hub); code != 1 || !strings.Contains(stderr, "403 forbidden") {
				t.Fatalf("dlq list as the platform: exit %d: %s", code, stderr)
			}
			t.Setenv(apiKeyEnv, keys["operator"])
			if code, out, stderr := runCLI(t, "dlq", "list", "--hub", hub); code != 0 {
				t.Fatalf("dlq list as the operator: exit %d %s %s", code, out, stderr)
			}
			if s := status(t, "GET", hub+"/api/v1/bundles", ""); s != 200 {
				t.Errorf("the catalogue without a key: %d", s)
			}
			for key, want := range map[string]int{"": 401, keys["platform"]: 403, keys["operator"]: 200} {
				if s := status(t, "GET", hub+"/metrics", key); s != want {
					t.Errorf("/metrics: %d; want %d", s, want)
				}
			}

			// A new file replaces the old keys while the hub runs.
			next := writeClients(t, o.clientsFile, "platform")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for status(t, "GET", hub+"/api/v1/cases/"+id, keys["platform"]) != 401 {
				select {
				case <-ctx.Done():
					t.Fatal("the old platform key still works 30s after the clients file changed")
				case <-tick.C:
				}
			}
			if s := status(t, "GET", hub+"/api/v1/cases/"+id, next["platform"]); s != 200 {
				t.Errorf("the new platform key: %d", s)
			}
		})
	}
}

// Without a clients file serve runs only on a loopback address (or with --no-auth), and a bad
// clients file stops it; either way before it has written anything.
func TestServeRefusesAnOpenAPIOffLoopbackAndABadClientsFile(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := filepath.Join(t.TempDir(), "data")
	err := serve(context.Background(), serveOptions{addr: "0.0.0.0:0", dataDir: dir}, log)
	if err == nil || !strings.Contains(err.Error(), "without authentication") || !strings.Contains(err.Error(), "--clients") {
		t.Fatalf("serve on 0.0.0.0 without clients: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(bad, []byte("clients:\n  - {name: x, role: root, key_sha256: yjk_secret}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), serveOptions{addr: "127.0.0.1:0", dataDir: dir, clientsFile: bad}, log)
	if err == nil || !strings.Contains(err.Error(), `"root" is not one of`) || !strings.Contains(err.Error(), "key_sha256: must be 64") ||
		strings.Contains(err.Error(), "yjk_secret") {
		t.Fatalf("serve with a bad clients file: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused start created the data directory: %v", err)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:0": true, "[::1]:80": true, ":8080": false, "0.0.0.0:1": false, "10.1.2.3:80": false} {
		if loopback(addr) != want {
			t.Errorf("loopback(%q) = %v", addr, !want)
		}
	}
}

func TestClientsNewPrintsAKeyThatItsEntryAuthenticates(t *testing.T) {
	code, out, stderr := runCLI(t, "clients", "new", "--name", "tobacco-office", "--role", "department", "--department", "tobacco")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	key := strings.Fields(strings.Split(out, "\n")[1])[0]
	entry := out[strings.Index(out, "  - name:"):]
	path := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(path, []byte("clients:\n"+entry), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runCLI(t, "clients", "check", path); code != 0 || !strings.Contains(out, "1 clients, no problems") {
		t.Fatalf("check: exit %d %s %s", code, out, stderr)
	}
	cs, err := auth.Load(path, []string{"tobacco"})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cs.Authenticate(key); !ok || c.Department != "tobacco" || c.Role != auth.RoleDepartment {
		t.Fatalf("the printed key does not authenticate as the entry: %+v %v", c, ok)
	}
	if code, _, stderr := runCLI(t, "clients", "new", "--name", "x", "--role", "department", "--department", "police"); code != 1 ||
		!strings.Contains(stderr, `"police" is not a department`) {
		t.Fatalf("a bad entry: exit %d %s", code, stderr)
	}
}

func TestDeptsimHubKeysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, []byte("tobacco: yjk_one\npolice: yjk_two\nfire-rescue: ''\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadHubKeys(path, map[string]string{"tobacco": "", "fire-rescue": ""})
	if err == nil || !strings.Contains(err.Error(), "police: not a department") || !strings.Contains(err.Error(), "fire-rescue: empty key") ||
		strings.Contains(err.Error(), "yjk_") {
		t.Fatalf("err = %v", err)
	}
	if err := os.WriteFile(path, []byte("tobacco: yjk_one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := loadHubKeys(path, map[string]string{"tobacco": ""})
	if err != nil || keys["tobacco"] != "yjk_one" {
		t.Fatalf("keys %v, %v", keys, err)
	}
}

func TestSigningSecretPrintsAUsableSecret(t *testing.T) {
	code, out, _ := runCLI(t, "signing-secret")
	_, again, _ := runCLI(t, "signing-secret")
	secret := strings.TrimSpace(out)
	if code != 0 || signing.CheckSecret(secret) != nil || secret == strings.TrimSpace(again) {
		t.Fatalf("exit %d: %q then %q", code, out, again)
	}
}
