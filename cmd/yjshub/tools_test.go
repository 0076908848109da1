package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installedTool asks scripts/SCRIPT for the path of an independent tool it installs (`SCRIPT
// path`), skipping the test when the tool is not there, or failing it instead when
// YJSHUB_REQUIRE_REAL is set, so that `make test` cannot pass without it. what names the tool
// and the make target that installs it; the script's own word on what is missing is added.
func installedTool(t *testing.T, script, what string) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", script), "path").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	msg := what + " is not installed (make " + strings.TrimSuffix(script, ".sh") + ", or bash scripts/" + script + " up)"
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && len(ee.Stderr) > 0 {
		msg += ": " + strings.TrimSpace(string(ee.Stderr))
	}
	if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
		t.Fatal("YJSHUB_REQUIRE_REAL is set but " + msg)
	}
	t.Skip(msg)
	return ""
}
