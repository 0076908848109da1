package bus_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/tlstest"
)

const testPassword = "s3cret-Pa55word"

// A Kafka-protocol broker in the process that asks for TLS and SCRAM, as a SASL_SSL listener
// of Apache Kafka does: the bus passes the conformance suite over it, with either mechanism,
// and is refused with a wrong password or without the CA that signed the broker.
func TestTLSAndSCRAMOnAnInProcessBroker(t *testing.T) {
	for _, mechanism := range []string{bus.MechanismSCRAMSHA512, bus.MechanismSCRAMSHA256} {
		t.Run(mechanism, func(t *testing.T) {
			ca := tlstest.NewCA(t, "kfake")
			cluster, err := kfake.NewCluster(
				kfake.NumBrokers(1),
				kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Server("broker").TLS}, MinVersion: tls.VersionTLS12}),
				kfake.EnableSASL(),
				kfake.Superuser(mechanism, "yjshub", testPassword),
			)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.Close)
			bustest.RunSecure(t, bustest.Secure{
				Brokers: cluster.ListenAddrs(), CAFile: ca.CertFile, Mechanism: mechanism, User: "yjshub", Password: testPassword,
			})
		})
	}
}

// Apache Kafka's SASL_SSL listener (scripts/kafka.sh starts one beside the plaintext one).
func TestApacheKafkaOverSASLSSL(t *testing.T) {
	s, ok := bustest.RealSecure(t)
	if !ok {
		t.Skipf("%s is not set: scripts/kafka.sh up starts a SASL_SSL listener and writes it, its CA and a SCRAM user to the environment file", bustest.KafkaSASLSSLEnv)
	}
	bustest.RunSecure(t, s)
}

func TestSecurityConfigValidate(t *testing.T) {
	ext := []string{"kafka-1:9093"}
	sasl := &bus.SASLConfig{User: "hub", Password: testPassword}
	tests := []struct {
		name string
		cfg  bus.Config
		want []string // substrings of the error; none means valid
	}{
		{name: "TLS with the system's roots and SCRAM-SHA-512 by default are valid", cfg: bus.Config{Brokers: ext, TLS: &bus.TLSConfig{}, SASL: sasl}},
		{name: "SCRAM-SHA-256 is valid", cfg: bus.Config{Brokers: ext, SASL: &bus.SASLConfig{Mechanism: "SCRAM-SHA-256", User: "hub", Password: "p"}}},
		{name: "the embedded broker takes neither TLS nor SASL", cfg: bus.Config{DataDir: "d", TLS: &bus.TLSConfig{}, SASL: sasl}, want: []string{"embedded broker speaks plaintext"}},
		{name: "a client certificate needs its key", cfg: bus.Config{Brokers: ext, TLS: &bus.TLSConfig{CertFile: "c.pem"}}, want: []string{"cert_file and key_file go together"}},
		{
			name: "SASL needs a known mechanism, a user and a password, all reported at once",
			cfg:  bus.Config{Brokers: ext, SASL: &bus.SASLConfig{Mechanism: "PLAIN"}},
			want: []string{`mechanism "PLAIN"`, "user: required", "password: required"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantValidate(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestOpenReportsEveryUnusableTLSFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA(t, "files")
	client := ca.Client("hub")
	other := ca.Client("other")
	for _, tc := range []struct {
		name string
		tls  bus.TLSConfig
		want []string
	}{
		{"a missing CA file", bus.TLSConfig{CAFile: filepath.Join(dir, "missing.pem")}, []string{"ca_file", "missing.pem"}},
		{"a CA file without a certificate", bus.TLSConfig{CAFile: notPEM}, []string{"not.pem holds no PEM certificate"}},
		{"a key that is not the certificate's, and a bad CA file", bus.TLSConfig{CAFile: notPEM, CertFile: client.CertFile, KeyFile: other.KeyFile},
			[]string{"not.pem holds no PEM certificate", "client certificate " + client.CertFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bus.Open(t.Context(), bus.Config{Brokers: []string{"127.0.0.1:9"}, TLS: &tc.tls})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSASLConfigNeverShowsItsPassword(t *testing.T) {
	c := &bus.SASLConfig{Mechanism: bus.MechanismSCRAMSHA512, User: "hub", Password: testPassword}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("bus", "sasl", c, "config", bus.Config{SASL: c})
	for _, s := range []string{
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c), c.String(),
		fmt.Sprintf("%+v", bus.Config{SASL: c}), logged.String(),
	} {
		if strings.Contains(s, testPassword) {
			t.Errorf("the password shows in %s", s)
		}
		if !strings.Contains(s, "hub") && !strings.Contains(s, "0x") {
			t.Errorf("%s names neither the user nor a pointer", s)
		}
	}
	// A password SCRAM cannot use is refused without quoting it.
	_, err := bus.Open(t.Context(), bus.Config{Brokers: []string{"127.0.0.1:9"}, SASL: &bus.SASLConfig{User: "hub", Password: "pass\u0007word"}})
	if err == nil || strings.Contains(err.Error(), "\u0007") || strings.Contains(err.Error(), "0007") || !strings.Contains(err.Error(), "SASLprep") {
		t.Errorf("Open with a password SASLprep refuses: %v", err)
	}
}
