package bustest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"yjshub/hub/bus"
	"yjshub/hub/tlstest"
)

// The environment variables that name Apache Kafka's SASL_SSL listener for the tests
// (scripts/kafka.sh writes them): its host:port list, the PEM file of the CA that signs its
// certificate, and a SCRAM-SHA-512 user it knows.
const (
	KafkaSASLSSLEnv      = "YJSHUB_TEST_KAFKA_SASL_SSL"
	KafkaCAEnv           = "YJSHUB_TEST_KAFKA_CA"
	KafkaSASLUserEnv     = "YJSHUB_TEST_KAFKA_SASL_USER"
	KafkaSASLPasswordEnv = "YJSHUB_TEST_KAFKA_SASL_PASSWORD"
)

// Secure is a listener that asks for TLS and SCRAM: its addresses, the CA file that signs its
// certificate, and a user it knows.
type Secure struct {
	Brokers   []string
	CAFile    string
	Mechanism string // SCRAM-SHA-512 when empty
	User      string
	Password  string
}

// Config is a bus configuration that reaches s with TLS and SCRAM under a namespace of its own.
func (s Secure) Config(clientID string) bus.Config {
	return bus.Config{
		Brokers:   s.Brokers,
		ClientID:  clientID,
		Namespace: Namespace(),
		TLS:       &bus.TLSConfig{CAFile: s.CAFile},
		SASL:      &bus.SASLConfig{Mechanism: s.Mechanism, User: s.User, Password: s.Password},
	}
}

// RealSecure returns Apache Kafka's SASL_SSL listener named by the environment
// (KafkaSASLSSLEnv and the rest), and false when it is not there (failing the test instead
// when RequireRealEnv is set).
func RealSecure(t testing.TB) (Secure, bool) {
	t.Helper()
	s := Secure{
		CAFile:   os.Getenv(KafkaCAEnv),
		User:     os.Getenv(KafkaSASLUserEnv),
		Password: os.Getenv(KafkaSASLPasswordEnv),
	}
	addrs := os.Getenv(KafkaSASLSSLEnv)
	if addrs == "" || s.CAFile == "" || s.User == "" || s.Password == "" {
		if os.Getenv(RequireRealEnv) != "" {
			t.Fatalf("%s is set but %s, %s, %s or %s is not: this run must cover Kafka's SASL_SSL listener",
				RequireRealEnv, KafkaSASLSSLEnv, KafkaCAEnv, KafkaSASLUserEnv, KafkaSASLPasswordEnv)
		}
		return Secure{}, false
	}
	s.Brokers = strings.Split(addrs, ",")
	return s, true
}

// RunSecure runs the conformance suite ([Run]) over a listener that asks for TLS and SCRAM,
// so that every kind of connection the bus makes (the writer, consumer groups, topic creation,
// lag, ping) is shown to carry both; then it checks that the bus is refused, with an error
// that says why and holds no password, when the password is wrong, when it trusts no CA for
// the broker's certificate and when it trusts another CA.
func RunSecure(t *testing.T, s Secure) {
	t.Helper()
	open := func(t *testing.T, cfg bus.Config) *bus.Bus {
		t.Helper()
		b, err := bus.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("open %v: %v", cfg.Brokers, err)
		}
		TidyConfig(t, cfg)
		return b
	}
	t.Run("the conformance suite passes over TLS and SCRAM", func(t *testing.T) {
		Run(t, func(t *testing.T) *bus.Bus {
			b := open(t, s.Config("yjshub-test-secure"))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := b.Ping(ctx); err != nil {
				t.Fatalf("no broker at %v answers over TLS and SCRAM: %v", s.Brokers, err)
			}
			return b
		})
	})
	// refused returns the errors of Ping (through the dialer the consumer groups use) and of
	// EnsureTopics (through the transport the writer and the admin calls share).
	refused := func(t *testing.T, cfg bus.Config) []error {
		t.Helper()
		b, err := bus.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer b.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		err = b.Ping(ctx)
		if err == nil {
			t.Fatal("Ping succeeded, want a refusal")
		}
		terr := b.EnsureTopics(ctx, bus.TopicSpec{Name: unique("refused"), Partitions: 1})
		if terr == nil {
			t.Fatal("EnsureTopics succeeded, want a refusal")
		}
		for _, e := range []error{err, terr} {
			if strings.Contains(e.Error(), s.Password) {
				t.Errorf("the error holds the password: %v", e)
			}
		}
		return []error{err, terr}
	}
	t.Run("a wrong password is refused as a failed SASL authentication", func(t *testing.T) {
		cfg := s.Config("yjshub-test-wrong-password")
		cfg.SASL.Password = s.Password + "-wrong"
		for _, err := range refused(t, cfg) {
			if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Errorf("got %v, want SASLAuthenticationFailed", err)
			}
			if strings.Contains(err.Error(), cfg.SASL.Password) {
				t.Errorf("the error holds the wrong password: %v", err)
			}
		}
	})
	t.Run("a broker certificate no trusted CA signed is refused", func(t *testing.T) {
		for name, caFile := range map[string]string{
			"system roots only": "",
			"another CA":        tlstest.NewCA(t, "another").CertFile,
		} {
			t.Run(name, func(t *testing.T) {
				cfg := s.Config("yjshub-test-wrong-ca")
				cfg.TLS.CAFile = caFile
				for _, err := range refused(t, cfg) {
					var unknown x509.UnknownAuthorityError
					var verify *tls.CertificateVerificationError
					if !errors.As(err, &unknown) && !errors.As(err, &verify) {
						t.Errorf("got %v, want a certificate verification error", err)
					}
				}
			})
		}
	})
}
