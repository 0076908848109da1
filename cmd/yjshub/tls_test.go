package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/tlstest"
)

// httpsGet asks url with a client that trusts roots and presents certs, and returns the status
// or the error of the exchange.
func httpsGet(t *testing.T, url string, roots *x509.CertPool, certs ...tls.Certificate) (int, error) {
	t.Helper()
	return httpsGetWith(t, url, &tls.Config{RootCAs: roots, Certificates: certs})
}

func httpsGetWith(t *testing.T, url string, cfg *tls.Config) (int, error) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// serveOrReady runs serve and returns its error when it refuses to start; when it starts
// instead, it stops it and returns nil.
func serveOrReady(t *testing.T, o serveOptions) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	o.ready = ready
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	select {
	case err := <-errc:
		return err
	case <-ready:
		cancel()
		<-errc
		return nil
	case <-time.After(60 * time.Second):
		t.Fatal("serve neither started nor refused within 60s")
		return nil
	}
}

func TestServeHTTPS(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	srv := ca.Server("hub")
	addr, stop := startServe(t, serveOptions{dataDir: t.TempDir(), tls: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile}})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	if code, err := httpsGet(t, "https://"+addr+"/healthz", ca.Pool()); err != nil || code != http.StatusOK {
		t.Fatalf("GET /healthz with the CA: %d, %v", code, err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := httpsGet(t, "https://"+addr+"/healthz", tlstest.NewCA(t, "other").Pool()); !errors.As(err, &unknown) {
		t.Errorf("a client that trusts another CA: %v, want an unknown authority", err)
	}
	old := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if code, err := httpsGetWith(t, "https://"+addr+"/healthz", old); err == nil {
		t.Errorf("a TLS 1.1 client was served (%d), want a refused handshake", code)
	}
	if code, err := httpsGet(t, "http://"+addr+"/healthz", nil); err == nil && code == http.StatusOK {
		t.Errorf("plain HTTP on the TLS port was served")
	}
}

func TestServeMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	srv := ca.Server("hub")
	clients := tlstest.NewCA(t, "clients")
	addr, stop := startServe(t, serveOptions{dataDir: t.TempDir(),
		tls: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile, clientCAFile: clients.CertFile}})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	url := "https://" + addr + "/healthz"

	if code, err := httpsGet(t, url, ca.Pool(), clients.Client("platform").TLS); err != nil || code != http.StatusOK {
		t.Fatalf("a client with a certificate the client CA signed: %d, %v", code, err)
	}
	if code, err := httpsGet(t, url, ca.Pool()); err == nil {
		t.Errorf("a client without a certificate was served (%d)", code)
	} else if !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("a client without a certificate: %v, want the server's 'certificate required'", err)
	}
	// The server's own CA did not sign client certificates for this hub: it is not trusted for them.
	if code, err := httpsGet(t, url, ca.Pool(), ca.Client("stranger").TLS); err == nil {
		t.Errorf("a client whose certificate another CA signed was served (%d)", code)
	}
}

func TestServerTLSFlags(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	srv := ca.Server("hub")
	tests := []struct {
		name    string
		addr    string
		o       tlsOptions
		wantTLS bool
		want    []string // substrings of the error; none means accepted
	}{
		{name: "plain HTTP on 127.0.0.1 is allowed", addr: "127.0.0.1:8080"},
		{name: "plain HTTP on ::1 is allowed", addr: "[::1]:8080"},
		{name: "plain HTTP on localhost is allowed", addr: "localhost:8080"},
		{name: "plain HTTP on every address is refused", addr: "0.0.0.0:8080", want: []string{"serving on 0.0.0.0:8080 without TLS", "--tls-cert", "--tls-key", "--behind-proxy"}},
		{name: "plain HTTP on a port alone is refused", addr: ":8080", want: []string{"without TLS", "--behind-proxy"}},
		{name: "plain HTTP on a LAN address is refused", addr: "192.168.10.5:8080", want: []string{"without TLS"}},
		{name: "plain HTTP on every IPv6 address is refused", addr: "[::]:8080", want: []string{"without TLS"}},
		{name: "plain HTTP behind a proxy that terminates TLS is allowed", addr: "0.0.0.0:8080", o: tlsOptions{behindProxy: true}},
		{name: "TLS on every address is allowed", addr: "0.0.0.0:8443", o: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile}, wantTLS: true},
		{name: "a certificate needs its key", addr: "127.0.0.1:8443", o: tlsOptions{certFile: srv.CertFile}, want: []string{"--tls-cert and --tls-key go together"}},
		{name: "a client CA needs a server certificate", addr: "127.0.0.1:8443", o: tlsOptions{clientCAFile: ca.CertFile}, want: []string{"--tls-client-ca needs --tls-cert and --tls-key"}},
		{name: "a missing certificate file is named", addr: "127.0.0.1:8443", o: tlsOptions{certFile: "/nonexistent/hub.pem", keyFile: srv.KeyFile}, want: []string{"/nonexistent/hub.pem"}},
		{name: "a key that is not the certificate's is refused", addr: "127.0.0.1:8443", o: tlsOptions{certFile: srv.CertFile, keyFile: ca.Server("other").KeyFile}, want: []string{"--tls-key"}},
		{name: "a client CA file without certificates is refused", addr: "127.0.0.1:8443", o: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile, clientCAFile: srv.KeyFile}, want: []string{"--tls-client-ca", "holds no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := serverTLS(tc.addr, tc.o)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if (cfg != nil) != tc.wantTLS {
					t.Fatalf("TLS config %v, want TLS %v", cfg, tc.wantTLS)
				}
				if cfg != nil && (cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1) {
					t.Errorf("TLS config: min version %x, %d certificates", cfg.MinVersion, len(cfg.Certificates))
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Serve refuses plain HTTP off loopback before it opens anything, and starts with
// --behind-proxy.
func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "serve", "--addr", "0.0.0.0:0", "--no-auth", "--data-dir", dir)
	if code != 1 || !strings.Contains(stderr, "without TLS") || !strings.Contains(stderr, "--tls-cert") || !strings.Contains(stderr, "--behind-proxy") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused start wrote data: %v", entries)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	o := serveOptions{addr: "0.0.0.0:0", noAuth: true, dataDir: dir, ready: ready, tls: tlsOptions{behindProxy: true}}
	go func() { errc <- serve(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	select {
	case addr := <-ready:
		if !strings.HasPrefix(addr, "0.0.0.0:") && !strings.HasPrefix(addr, "[::]:") {
			t.Errorf("listening on %s, want every address", addr)
		}
	case err := <-errc:
		cancel()
		t.Fatalf("serve --behind-proxy did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve --behind-proxy did not start within 60s")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// The CLI's commands reach a hub that serves HTTPS, and one that asks for client certificates,
// with --ca, --cert and --key; and serve --simulate's departments call the hub back over HTTPS.
func TestCommandsAndSimulatedDepartmentsOverHTTPS(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	srv := ca.Server("hub")
	addr, stop := startServe(t, serveOptions{dataDir: t.TempDir(), simulate: true, tls: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile}})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	hub := "https://" + addr

	if code, _, stderr := runCLI(t, "audit", "verify", "--hub", hub); code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("without --ca: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runCLI(t, "audit", "verify", "--hub", hub, "--ca", ca.CertFile); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("with --ca: exit %d: %s%s", code, out, stderr)
	}
	code, out, stderr := runCLI(t, "submit", "--hub", hub, "--ca", ca.CertFile, filepath.Join("..", "..", "examples", "open-bar-individual.json"))
	if code != 0 {
		t.Fatalf("submit: exit %d: %s", code, stderr)
	}
	caseID := strings.TrimSpace(out)
	// The simulated departments decide the matters and report back to the hub over HTTPS.
	code, out, stderr = runCLI(t, "watch", caseID, "--hub", hub, "--ca", ca.CertFile, "--interval", "50ms", "--timeout", "60s")
	if code != 0 || !strings.Contains(out, "completed: approved") {
		t.Fatalf("watch: exit %d: %s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "audit", "verify", "--hub", hub, "--ca", ca.CertFile, "--cert", srv.CertFile); code != 1 || !strings.Contains(stderr, "--cert and --key go together") {
		t.Errorf("--cert without --key: exit %d: %s", code, stderr)
	}
}

func TestCommandsPresentAClientCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	srv := ca.Server("hub")
	client := ca.Client("operator")
	addr, stop := startServe(t, serveOptions{dataDir: t.TempDir(), tls: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile, clientCAFile: ca.CertFile}})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	hub := "https://" + addr
	if code, _, stderr := runCLI(t, "audit", "verify", "--hub", hub, "--ca", ca.CertFile); code != 1 || !strings.Contains(stderr, "certificate required") {
		t.Errorf("without a client certificate: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runCLI(t, "audit", "verify", "--hub", hub, "--ca", ca.CertFile, "--cert", client.CertFile, "--key", client.KeyFile); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("with a client certificate: exit %d: %s%s", code, out, stderr)
	}
	// The simulated departments have no client certificate: serve says so rather than start.
	err := serveOrReady(t, serveOptions{addr: "127.0.0.1:0", dataDir: t.TempDir(), simulate: true,
		tls: tlsOptions{certFile: srv.CertFile, keyFile: srv.KeyFile, clientCAFile: ca.CertFile}})
	if err == nil || !strings.Contains(err.Error(), "--simulate with --tls-client-ca") {
		t.Errorf("serve --simulate --tls-client-ca: %v", err)
	}
}

// deptsim calls the hub back with the same options; a CA file that is not one stops it at once.
func TestDeptsimTakesTheHubTLSOptions(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "deptsim", "--addr", "127.0.0.1:0", "--ca", notPEM)
	if code != 1 || !strings.Contains(stderr, "--ca") || !strings.Contains(stderr, "holds no PEM certificate") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestKafkaSecurityFromEnv(t *testing.T) {
	for _, k := range []string{"YJSHUB_KAFKA_TLS", "YJSHUB_KAFKA_TLS_CA", "YJSHUB_KAFKA_TLS_CERT", "YJSHUB_KAFKA_TLS_KEY", "YJSHUB_KAFKA_TLS_SERVER_NAME",
		"YJSHUB_KAFKA_SASL_MECHANISM", "YJSHUB_KAFKA_SASL_USER", "YJSHUB_KAFKA_SASL_PASSWORD"} {
		t.Setenv(k, "")
	}
	if tc, sc := kafkaSecurityFromEnv(); tc != nil || sc != nil {
		t.Fatalf("with nothing set: %+v, %v; want plaintext without SASL", tc, sc)
	}
	t.Setenv("YJSHUB_KAFKA_TLS", "1")
	if tc, _ := kafkaSecurityFromEnv(); tc == nil || *tc != (bus.TLSConfig{}) {
		t.Fatalf("YJSHUB_KAFKA_TLS=1: %+v, want TLS with the system's CAs", tc)
	}
	t.Setenv("YJSHUB_KAFKA_TLS", "")
	t.Setenv("YJSHUB_KAFKA_TLS_CA", "/etc/kafka/ca.pem")
	t.Setenv("YJSHUB_KAFKA_SASL_USER", "hub")
	t.Setenv("YJSHUB_KAFKA_SASL_PASSWORD", "pw")
	tc, sc := kafkaSecurityFromEnv()
	if tc == nil || tc.CAFile != "/etc/kafka/ca.pem" {
		t.Errorf("TLS: %+v", tc)
	}
	if sc == nil || sc.User != "hub" || sc.Password != "pw" || sc.Mechanism != "" {
		t.Errorf("SASL: %v", sc)
	}
	// The embedded broker speaks plaintext: asking it for TLS or SASL is an error, not ignored.
	err := serveOrReady(t, serveOptions{addr: "127.0.0.1:0", dataDir: t.TempDir(), kafkaTLS: tc, kafkaSASL: sc})
	if err == nil || !strings.Contains(err.Error(), "embedded broker speaks plaintext") || strings.Contains(err.Error(), "pw") {
		t.Errorf("serve with Kafka TLS and SASL on the embedded broker: %v", err)
	}
}

// serve reaches Apache Kafka through its SASL_SSL listener.
func TestServeOnKafkaOverSASLSSL(t *testing.T) {
	s, ok := bustest.RealSecure(t)
	if !ok {
		t.Skipf("%s is not set", bustest.KafkaSASLSSLEnv)
	}
	cfg := s.Config("yjshub-serve-test")
	bustest.TidyConfig(t, cfg)
	addr, stop := startServe(t, serveOptions{dataDir: t.TempDir(), brokers: cfg.Brokers, namespace: cfg.Namespace, kafkaTLS: cfg.TLS, kafkaSASL: cfg.SASL})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	var ready struct {
		Status string `json:"status"`
	}
	if code := getJSON(t, "http://"+addr+"/readyz", &ready); code != 200 || ready.Status != "ready" {
		t.Fatalf("readyz %d %+v", code, ready)
	}
}
