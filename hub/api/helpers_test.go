package api

import (
	"strings"
	"testing"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/sharing"
)

// newServer returns the API on cfg; an incomplete cfg fails the test.
func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// servicesConfig is the API on the hub's services, as serve wires it (without connectors,
// dead letters, an inbox or clients).
func servicesConfig(hs *hub.Services) Config { return withServices(hs, Config{}) }

// withServices adds the hub's services to cfg.
func withServices(hs *hub.Services, cfg Config) Config {
	cfg.Catalogue, cfg.Cases, cfg.Forms = hs.Catalogue, hs.Cases, hs.Forms
	cfg.Sharing, cfg.Licences, cfg.Audit, cfg.Pseudonyms = hs.Sharing, hs.Licences, hs.Audit, hs.Pseudonyms
	cfg.Reform = hs.Reform
	cfg.Uploads, cfg.Blobs, cfg.LinkKeys = hs.Uploads, hs.Blobs, hs.LinkKeys
	return cfg
}

// A wiring mistake stops the start with its reason instead of showing up as 404s.
func TestNewRefusesAConfigurationThatLacksWhatItsRoutesNeed(t *testing.T) {
	_, err := New(Config{Cases: &cases.Service{}, Sharing: &sharing.Service{}})
	if err == nil {
		t.Fatal("New with the case and sharing services but nothing they need: no error")
	}
	for _, want := range []string{"Catalogue is required", "Forms is required with Cases", "Licences is required with Sharing", "Audit is required with Sharing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New with no services at all (health only): %v", err)
	}
}
