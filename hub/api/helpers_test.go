package api

import (
	"testing"

	"yjshub/hub"
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
	cfg.Sharing, cfg.Licences, cfg.Audit = hs.Sharing, hs.Licences, hs.Audit
	return cfg
}
