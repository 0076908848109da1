package bus

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"testing"
)

// kafka-go's error logger lines are the hub's debug output and a count, never a warning: the
// line kafka-go writes when a fetch's answer comes after its read deadline is logged at DEBUG
// with its component and counted under it; with DEBUG off nothing is written, and it is still
// counted.
func TestTheKafkaClientLoggerLogsAtDebugAndCounts(t *testing.T) {
	const line = "the kafka reader got an unknown error reading partition %d of %s at offset %d: %s"
	var logs bytes.Buffer
	var b Bus
	debug := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clientLogger(debug, ComponentReader, &b.clientErrors.reader).Printf(line, 3, "yjs.subcase.tobacco", 42, "read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout")
	clientLogger(debug, ComponentWriter, &b.clientErrors.writer).Printf("error writing messages to %s (partition %d, attempt %d): %s", "yjs.result", 0, 1, "broken pipe")

	var got []map[string]any
	for l := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, rec)
	}
	if len(got) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(got), logs.String())
	}
	want := []struct{ component, msg string }{
		{"kafka-go reader", "the kafka reader got an unknown error reading partition 3 of yjs.subcase.tobacco at offset 42: read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"},
		{"kafka-go writer", "error writing messages to yjs.result (partition 0, attempt 1): broken pipe"},
	}
	for i, w := range want {
		if got[i]["level"] != "DEBUG" || got[i]["component"] != w.component || got[i]["msg"] != w.msg {
			t.Errorf("line %d = %v, want level DEBUG, component %q, msg %q", i, got[i], w.component, w.msg)
		}
	}

	logs.Reset()
	info := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clientLogger(info, ComponentReader, &b.clientErrors.reader).Printf(line, 0, "yjs.result", 7, "i/o timeout")
	if logs.Len() != 0 {
		t.Errorf("with the level at INFO kafka-go's line was written: %s", logs.String())
	}
	if got, want := b.ClientErrors(), map[string]int64{ComponentReader: 2, ComponentWriter: 1}; !maps.Equal(got, want) {
		t.Errorf("ClientErrors() = %v, want %v", got, want)
	}
}
