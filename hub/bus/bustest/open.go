package bustest

import (
	"context"
	"os"
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

// OpenReal opens a bus on brokers, checks that one answers, and closes it when the test ends.
func OpenReal(t testing.TB, brokers []string, clientID string) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), bus.Config{Brokers: brokers, ClientID: clientID})
	if err != nil {
		t.Fatalf("open %v: %v", brokers, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("%s is set but no broker at %v answers: %v", KafkaEnv, brokers, err)
	}
	return b
}
