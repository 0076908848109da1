package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/bus"
)

// KafkaEnv names the environment variable holding a comma-separated host:port list of an
// Apache Kafka broker for the tests; RequireRealEnv, when set, makes its absence a failure.
const (
	KafkaEnv       = "YJSHUB_TEST_KAFKA"
	RequireRealEnv = "YJSHUB_REQUIRE_REAL"
)

// RealBrokers returns the brokers named by KafkaEnv, or nil when it is unset (failing the test
// instead when RequireRealEnv is set, so a run meant to cover Kafka cannot pass without it).
func RealBrokers(t testing.TB) []string {
	t.Helper()
	addrs := os.Getenv(KafkaEnv)
	if addrs == "" {
		if os.Getenv(RequireRealEnv) != "" {
			t.Fatalf("%s is set but %s is not: this run must cover Apache Kafka", RequireRealEnv, KafkaEnv)
		}
		return nil
	}
	return strings.Split(addrs, ",")
}

// OpenReal opens a bus on brokers under a namespace of the test's own, checks that one
// answers, and when the test ends deletes the topics it created (see [Tidy]) and closes it.
func OpenReal(t testing.TB, brokers []string, clientID string) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), bus.Config{Brokers: brokers, ClientID: clientID, Namespace: Namespace()})
	if err != nil {
		t.Fatalf("open %v: %v", brokers, err)
	}
	Tidy(t, b)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("%s is set but no broker at %v answers: %v", KafkaEnv, brokers, err)
	}
	return b
}

// Namespace returns a bus namespace no other test or earlier run has used ("t" and 12 hex
// digits and a dot), so that tests sharing one broker do not read each other's messages.
func Namespace() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "t" + hex.EncodeToString(r[:]) + "."
}

// Tidy deletes the topics of b's namespace when the test ends, through a connection of its
// own, so that it works whether b is closed by then or not, and a long-lived test broker does
// not collect the partitions of every run. It does nothing for a bus without a namespace or on
// an embedded broker, whose data lives in the test's temporary directory.
func Tidy(t testing.TB, b *bus.Bus) {
	t.Helper()
	if b.Embedded() || b.Namespace() == "" {
		return
	}
	TidyNamespace(t, b.Brokers(), b.Namespace())
}

// TidyNamespace deletes the topics of namespace ns on brokers when the test ends (see [Tidy]);
// for tests whose bus lives in another process, such as a hub started with --namespace.
func TidyNamespace(t testing.TB, brokers []string, ns string) {
	t.Helper()
	TidyConfig(t, bus.Config{Brokers: brokers, Namespace: ns})
}

// TidyConfig deletes the topics of cfg's namespace when the test ends, reaching the brokers as
// cfg does (with its TLS and SASL).
func TidyConfig(t testing.TB, cfg bus.Config) {
	t.Helper()
	cfg.ClientID = "yjshub-test-tidy"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := bus.Open(ctx, cfg)
		if err != nil {
			t.Errorf("delete the test's topics: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.DropNamespace(ctx); err != nil {
			t.Errorf("delete the test's topics: %v", err)
		}
	})
}

// OpenEmbeddedAt starts the embedded broker on dir and port (0: a free one) and returns it with
// its port, so that a test can close it and start it again on the same data and address, as a
// broker that goes away and comes back. The broker stops with the bus, at the latest when the
// test ends.
func OpenEmbeddedAt(t testing.TB, dir string, port int) (*bus.Bus, int) {
	t.Helper()
	b, err := bus.Open(t.Context(), bus.Config{DataDir: dir, EmbeddedPort: port})
	if err != nil {
		t.Fatalf("open the embedded broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	_, p, err := net.SplitHostPort(b.Brokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	port, err = strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return b, port
}
