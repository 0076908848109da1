package cases_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/hub"
	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/cases"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// BenchmarkIntakeToDispatch measures the path from a submitted application to its sub-cases
// published on Kafka: validation, mapping, the SQL transaction (case, sub-cases, materials,
// outbox) and the relay's publish with acks=all. One op is one 开酒吧 application (5 matters,
// 4 departments, 14 materials); it runs on SQLite and, when configured, PostgreSQL, with the
// embedded broker or the real one named by YJSHUB_TEST_KAFKA.
func BenchmarkIntakeToDispatch(b *testing.B) {
	for name, open := range storetest.Backends() {
		b.Run(name, func(b *testing.B) {
			_, relay, svc, app, hash := benchSetup(b, name, open)
			ctx := context.Background()
			published := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := svc.Submit(ctx, app, hash, ""); err != nil {
					b.Fatal(err)
				}
				for {
					n, err := relay.Flush(ctx)
					if err != nil {
						b.Fatal(err)
					}
					published += n
					if n == 0 {
						break
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
			b.ReportMetric(float64(published)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}

// BenchmarkIntakeToDispatchParallel submits from several goroutines while the relay runs, as a
// busy hub does; an op ends when every message of every case is published.
func BenchmarkIntakeToDispatchParallel(b *testing.B) {
	for name, open := range storetest.Backends() {
		b.Run(name, func(b *testing.B) {
			st, relay, svc, app, hash := benchSetup(b, name, open)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = relay.Run(ctx); close(done) }()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := svc.Submit(ctx, app, hash, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			for {
				pending, err := st.PendingOutbox(ctx, 1)
				if err != nil {
					b.Fatal(err)
				}
				if len(pending) == 0 {
					break
				}
				relay.Notify()
				if _, err := relay.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
		})
	}
}

func benchSetup(b *testing.B, name string, open storetest.Opener) (*store.Store, *outbox.Relay, *cases.Service, cases.Application, string) {
	b.Helper()
	{
		st := benchStore(b, name, open)
		ctx := context.Background()
		cfg := bus.Config{DataDir: b.TempDir()}
		if addrs := os.Getenv("YJSHUB_TEST_KAFKA"); addrs != "" {
			cfg = bus.Config{Brokers: strings.Split(addrs, ","), Namespace: bustest.Namespace()}
		}
		bs, err := bus.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { bs.Close() })
		bustest.Tidy(b, bs)
		var specs []bus.TopicSpec
		for _, d := range testCatalogue.Departments {
			specs = append(specs, bus.TopicSpec{Name: bus.SubcaseTopic(d.Code)})
		}
		specs = append(specs, bus.TopicSpec{Name: bus.TopicCaseEvent})
		if err := bs.EnsureTopics(ctx, specs...); err != nil {
			b.Fatal(err)
		}
		relay := outbox.New(st, bs, outbox.Config{Batch: 500})
		hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st})
		if err != nil {
			b.Fatal(err)
		}
		svc := hs.Cases
		f, err := os.Open(filepath.Join("..", "..", "examples", "open-bar-enterprise.json"))
		if err != nil {
			b.Fatal(err)
		}
		app, hash, err := cases.DecodeApplication(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		return st, relay, svc, app, hash
	}
}

// benchStore opens a migrated store for a benchmark (the storetest openers take a *testing.T).
func benchStore(b *testing.B, name string, open storetest.Opener) *store.Store {
	b.Helper()
	var url string
	switch name {
	case "sqlite":
		url = "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
	default:
		url = os.Getenv(storetest.PostgresURLEnv)
		if url == "" {
			b.Skip("PostgreSQL not configured")
		}
	}
	st, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return st
}
