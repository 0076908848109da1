package bus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Lag rides out a partition whose leader is moving: ListOffsets answered "not leader for
// partition" twice is asked again and succeeds; an error Kafka does not call retriable is
// returned at once.
func TestLagAsksAgainWhileThePartitionLeaderMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.EnsureTopics(ctx, TopicSpec{Name: "yjs.lag.test", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, Message{Topic: "yjs.lag.test", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}

	answerWith := func(code int16, times int) *atomic.Int32 {
		var n atomic.Int32
		b.cluster.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
			if int(n.Add(1)) > times {
				b.cluster.DropControl()
				return nil, nil, false
			}
			b.cluster.KeepControl()
			r := req.(*kmsg.ListOffsetsRequest)
			resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewListOffsetsResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewListOffsetsResponseTopicPartition()
					sp.Partition = rp.Partition
					sp.ErrorCode = code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		})
		return &n
	}

	moving := answerWith(kerr.NotLeaderForPartition.Code, 2)
	lag, err := b.Lag(ctx, "g", "yjs.lag.test")
	if err != nil || lag.Total != 1 {
		t.Fatalf("Lag while the leader moves: %+v, %v; want 1 after asking again", lag, err)
	}
	if n := moving.Load(); n != 3 {
		t.Errorf("ListOffsets asked %d times, want 3 (two refused, then answered)", n)
	}

	answerWith(kerr.TopicAuthorizationFailed.Code, 1)
	_, err = b.Lag(ctx, "g", "yjs.lag.test")
	var kerrValue kafka.Error
	if !errors.As(err, &kerrValue) || kerrValue != kafka.TopicAuthorizationFailed {
		t.Fatalf("Lag on a refusal that is not retriable: %v, want TopicAuthorizationFailed at once", err)
	}
}
