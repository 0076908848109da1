package store_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/tlstest"
)

// The sslmode and sslrootcert of a PostgreSQL URL reach the driver: verify-full checks the
// server's certificate against the CA the URL names and refuses another, require encrypts
// without checking, disable does not encrypt.
func TestPostgresHonoursSSLMode(t *testing.T) {
	t.Parallel()
	base := storetest.PostgresURL(t)
	ca := storetest.PostgresCA(t)
	other := tlstest.NewCA(t, "other").CertFile
	with := func(params ...string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse %s: %v", store.RedactDatabaseURL(base), err)
		}
		q := u.Query()
		q.Del("sslmode")
		for i := 0; i < len(params); i += 2 {
			q.Set(params[i], params[i+1])
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name    string
		url     string
		wantTLS bool
		refused bool
	}{
		{name: "verify-full with the server's CA connects over TLS", url: with("sslmode", "verify-full", "sslrootcert", ca), wantTLS: true},
		{name: "require connects over TLS", url: with("sslmode", "require"), wantTLS: true},
		{name: "disable connects in the clear", url: with("sslmode", "disable")},
		{name: "verify-full with another CA is refused", url: with("sslmode", "verify-full", "sslrootcert", other), refused: true},
		{name: "verify-full with the system's CAs is refused", url: with("sslmode", "verify-full"), refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := store.Open(t.Context(), tc.url)
			if tc.refused {
				if err == nil {
					_ = s.Close()
					t.Fatal("Open succeeded, want the server's certificate refused")
				}
				var unknown x509.UnknownAuthorityError
				var verify *tls.CertificateVerificationError
				if !errors.As(err, &unknown) && !errors.As(err, &verify) && !strings.Contains(err.Error(), "certificate signed by unknown authority") {
					t.Errorf("Open: %v, want a certificate verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var encrypted bool
			if err := s.DB().GetContext(t.Context(), &encrypted, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); err != nil {
				t.Fatalf("ask the server: %v", err)
			}
			if encrypted != tc.wantTLS {
				t.Errorf("connection encrypted: %v, want %v", encrypted, tc.wantTLS)
			}
		})
	}
}
