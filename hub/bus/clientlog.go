package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/segmentio/kafka-go"
)

// Components of the Kafka client whose errors [Bus.ClientErrors] counts.
const (
	ComponentReader = "reader"
	ComponentWriter = "writer"
)

// clientErrors counts what kafka-go's readers (consumer groups included) and writer reported
// to their error loggers.
type clientErrors struct {
	reader, writer atomic.Int64
}

// ClientErrors returns how many errors kafka-go's readers and writer have reported since
// [Open], by component: [ComponentReader] (consumer groups and partition readers) and
// [ComponentWriter]; both keys are always present. kafka-go reports there what it retries on
// its own — a fetch whose answer came after its read deadline ("i/o timeout"), a coordinator
// not ready yet, a connection dropped — and those lines go to the log at DEBUG only: on a
// healthy idle cluster they come by the hundred a minute and say nothing an operator can act
// on. What kafka-go gives up on comes back to the hub's code as an error (a failed Publish, a
// subscription that stops), which logs it where it acts on it. Safe for concurrent use.
func (b *Bus) ClientErrors() map[string]int64 {
	return map[string]int64{
		ComponentReader: b.clientErrors.reader.Load(),
		ComponentWriter: b.clientErrors.writer.Load(),
	}
}

// clientLogger is the error logger the bus gives kafka-go's reader or writer: each line is
// counted in n and logged at DEBUG with the component, never above (see [Bus.ClientErrors]).
func clientLogger(log *slog.Logger, component string, n *atomic.Int64) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		n.Add(1)
		// kafka-go's lines are formatted only when someone reads them: a reader's retries are
		// frequent enough for the formatting to show in a profile.
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug(fmt.Sprintf(msg, args...), "component", "kafka-go "+component)
		}
	})
}
