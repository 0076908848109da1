package bus

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startEmbedded starts the in-process broker: one node on 127.0.0.1 that
// persists its log, topics and group offsets under cfg.DataDir/kafka and
// reloads them on the next start.
func startEmbedded(cfg Config) (*kfake.Cluster, error) {
	dir := filepath.Join(cfg.DataDir, "kafka")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: embedded broker data dir: %w", err)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(cfg.EmbeddedPort),
		kfake.DataDir(dir),
		// fsync every produced batch: an acknowledged Publish must survive
		// a crash of the process, not only a clean Close.
		kfake.SyncWrites(),
		// Members may ask for sessions as short as a second, so that a killed hub's
		// partitions move within seconds.
		kfake.GroupMinSessionTimeout(embeddedMinSessionTimeout),
		kfake.WithLogger(kfakeLogger{cfg.Logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: start embedded broker on 127.0.0.1:%d with data in %s: %w", cfg.EmbeddedPort, dir, err)
	}
	return cluster, nil
}

// kfakeLogger forwards the embedded broker's warnings and errors to slog;
// its info and debug levels log every request and are dropped. Unlike
// kafka-go's retried errors (clientlog.go), the broker's warnings stay
// warnings: it writes them for a topic's files it could not delete or compact
// and for members of the newer consumer protocol (which the hub does not use)
// that went silent, none of which an idle hub produces.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error(fmt.Sprintf(format, args...), "component", "embedded-kafka")
	case kfake.LogLevelWarn:
		l.log.Warn(fmt.Sprintf(format, args...), "component", "embedded-kafka")
	}
}
