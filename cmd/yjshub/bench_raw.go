package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// rawConfig is a run of the raw kafka-go baseline: the broker the hub uses, and what to send
// through it.
type rawConfig struct {
	brokers []string
	// topic and group are the run's own, removed afterwards.
	topic, group string
	// size is the bytes of each message: those of a dispatched sub-case.
	size int
	// paced messages are sent at pace a second, for latency at the hub's own rate; burst are
	// sent as fast as the writer takes them, for the broker's throughput.
	paced int
	pace  float64
	burst int
}

// rawResult is what the baseline measured.
type rawResult struct {
	Paced         int       `json:"paced"`
	Burst         int       `json:"burst"`
	MessageBytes  int       `json:"message_bytes"`
	SizeFrom      string    `json:"size_from"`
	PacedRate     float64   `json:"paced_rate"`
	MsgsPerSecond float64   `json:"msgs_per_second"`
	Latency       latencies `json:"-"`
	// HubBusy is the cases the hub had not finished when the baseline ran: beside them the
	// baseline shares the broker and the machine, and its figures are the hub's worse.
	HubBusy int `json:"hub_busy_cases"`
}

// rawHeader is the bytes at the head of each message: when it was meant to be sent and its
// number (-1 for the message that waits for the consumer group to form).
const rawHeader = 16

// rawKafka measures plain kafka-go produce → consume on the hub's broker, set up as the hub's
// bus sets itself up — every write acknowledged by all in-sync replicas, 5 ms batches, murmur2
// partitioning by key, one consumer group member committing each message before the next —
// so that the difference to the hub is the hub's own cost.
func rawKafka(ctx context.Context, cfg rawConfig) (rawResult, error) {
	transport := &kafka.Transport{DialTimeout: 5 * time.Second, MetadataTTL: 2 * time.Second, ClientID: "yjshub-bench"}
	client := &kafka.Client{Addr: kafka.TCP(cfg.brokers...), Transport: transport}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: cfg.topic, NumPartitions: -1, ReplicationFactor: -1}}}) // the broker's defaults, as the hub's topics
	if err == nil {
		err = resp.Errors[cfg.topic]
	}
	if err != nil {
		return rawResult{}, fmt.Errorf("creating topic %s: %w", cfg.topic, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTopics(dctx, &kafka.DeleteTopicsRequest{Topics: []string{cfg.topic}})
	}()

	w := &kafka.Writer{Addr: kafka.TCP(cfg.brokers...), Topic: cfg.topic, Balancer: kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, WriteTimeout: 10 * time.Second, Transport: transport}
	defer w.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.brokers, GroupID: cfg.group, Topic: cfg.topic,
		StartOffset: kafka.FirstOffset, CommitInterval: 0, MaxWait: 500 * time.Millisecond,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, JoinGroupBackoff: time.Second, ReadLagInterval: -1})
	defer r.Close()

	total := cfg.paced + cfg.burst
	c := &rawConsumer{arrived: make([]time.Time, total), sent: make([]time.Time, total), joined: make(chan struct{}), done: make(chan struct{}), want: total}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	consumed := make(chan error, 1)
	go func() { consumed <- c.consume(cctx, r) }()

	// The first message waits for the group to form and the topic to be writable everywhere.
	if err := writeRetrying(ctx, w, rawMessage(cfg.size, -1, time.Now())); err != nil {
		return rawResult{}, fmt.Errorf("first message: %w", err)
	}
	if err := c.wait(ctx, c.joined, consumed, 60*time.Second); err != nil {
		return rawResult{}, fmt.Errorf("waiting for the consumer group to receive: %w", err)
	}

	var firstBurst time.Time
	var errs []error
	if cfg.paced > 0 {
		errs = append(errs, sendPaced(ctx, w, cfg, 0))
	}
	if cfg.burst > 0 {
		firstBurst = time.Now()
		errs = append(errs, sendBurst(ctx, w, cfg, cfg.paced))
	}
	if err := errors.Join(errs...); err != nil {
		return rawResult{}, err
	}
	if err := c.wait(ctx, c.done, consumed, 60*time.Second); err != nil {
		return rawResult{}, fmt.Errorf("consuming: %w", err)
	}

	res := rawResult{Paced: cfg.paced, Burst: cfg.burst, MessageBytes: cfg.size, PacedRate: cfg.pace}
	c.mu.Lock()
	defer c.mu.Unlock()
	var lat []time.Duration
	for i := range cfg.paced {
		lat = append(lat, c.arrived[i].Sub(c.sent[i]))
	}
	if cfg.paced == 0 { // no paced phase: the burst's latencies are all there is
		for i := range cfg.burst {
			lat = append(lat, c.arrived[i].Sub(c.sent[i]))
		}
	}
	res.Latency = summarise(lat)
	if cfg.burst > 0 {
		last := firstBurst
		for i := cfg.paced; i < total; i++ {
			last = later(last, c.arrived[i])
		}
		if d := last.Sub(firstBurst); d > 0 {
			res.MsgsPerSecond = float64(cfg.burst) / d.Seconds()
		}
	}
	return res, nil
}

// rawMessage is a message of size bytes (rawHeader at least) numbered n, meant to be sent at.
func rawMessage(size int, n int64, at time.Time) kafka.Message {
	v := make([]byte, max(size, rawHeader))
	binary.BigEndian.PutUint64(v[0:8], uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(v[8:16], uint64(n))
	for i := rawHeader; i < len(v); i++ {
		v[i] = 'x'
	}
	return kafka.Message{Key: []byte(fmt.Sprintf("raw-%d", n)), Value: v}
}

// writeRetrying writes one message, again for up to 30 s while it fails: a topic just created
// may not be known to every broker yet, and kafka-go's WriteErrors do not unwrap to say so.
func writeRetrying(ctx context.Context, w *kafka.Writer, m kafka.Message) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.WriteMessages(ctx, m)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return err
		}
	}
}

// sendPaced sends cfg.paced messages, numbered from first, at cfg.pace a second, each by a
// synchronous write as the hub's outbox relay publishes; the time a message was meant to
// leave is its send time, so that a slow write delays no measurement.
func sendPaced(ctx context.Context, w *kafka.Writer, cfg rawConfig, first int) error {
	start := time.Now()
	interval := float64(time.Second) / cfg.pace
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range cfg.paced {
		at := start.Add(time.Duration(float64(i) * interval))
		if err := sleepUntil(ctx, at); err != nil {
			return err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := w.WriteMessages(ctx, rawMessage(cfg.size, int64(first+i), at)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d paced writes failed, the first: %w", len(errs), cfg.paced, errs[0])
	}
	return nil
}

// sendBurst sends cfg.burst messages, numbered from first, as fast as four writers of 100
// messages a call take them.
func sendBurst(ctx context.Context, w *kafka.Writer, cfg rawConfig, first int) error {
	const writers, batch = 4, 100
	next := make(chan int)
	errc := make(chan error, writers)
	for range writers {
		go func() {
			var err error
			for from := range next {
				msgs := make([]kafka.Message, 0, batch)
				now := time.Now()
				for i := from; i < min(from+batch, first+cfg.burst); i++ {
					msgs = append(msgs, rawMessage(cfg.size, int64(i), now))
				}
				if werr := w.WriteMessages(ctx, msgs...); werr != nil && err == nil {
					err = werr
				}
			}
			errc <- err
		}()
	}
	for from := first; from < first+cfg.burst; from += batch {
		select {
		case next <- from:
		case <-ctx.Done():
		}
	}
	close(next)
	var errs []error
	for range writers {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// rawConsumer records when each numbered message arrived.
type rawConsumer struct {
	mu      sync.Mutex
	sent    []time.Time
	arrived []time.Time
	got     int
	want    int
	joined  chan struct{} // closed when the first message arrived
	done    chan struct{} // closed when every numbered message arrived
}

func (c *rawConsumer) consume(ctx context.Context, r *kafka.Reader) error {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if len(m.Value) >= rawHeader {
			c.record(int64(binary.BigEndian.Uint64(m.Value[8:16])), time.Unix(0, int64(binary.BigEndian.Uint64(m.Value[0:8]))), now)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			return err
		}
	}
}

func (c *rawConsumer) record(n int64, sent, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 {
		select {
		case <-c.joined:
		default:
			close(c.joined)
		}
		return
	}
	if n >= int64(len(c.arrived)) || !c.arrived[n].IsZero() {
		return // a redelivery after a rebalance counts once
	}
	c.sent[n], c.arrived[n] = sent, at
	c.got++
	if c.got == c.want {
		close(c.done)
	}
}

// wait waits for ch, the consumer's end, ctx's or the timeout, whichever is first.
func (c *rawConsumer) wait(ctx context.Context, ch <-chan struct{}, consumed <-chan error, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case err := <-consumed:
		return fmt.Errorf("the consumer stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%d of %d messages arrived within %s", c.got, c.want, timeout)
	}
}

// sleepUntil waits until t or ctx's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dispatchedSize reads the size of the last message of a sub-case topic of the hub, to send
// raw messages of the same size; 0 when there is none to read.
func dispatchedSize(ctx context.Context, brokers []string, topic string) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{DialTimeout: 5 * time.Second, ClientID: "yjshub-bench"}}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return 0
	}
	var last []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		last = append(last, kafka.LastOffsetOf(p.ID))
	}
	offsets, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: last}})
	if err != nil {
		return 0
	}
	for _, p := range offsets.Topics[topic] {
		if p.Error != nil || p.LastOffset <= 0 {
			continue // an empty partition: the cases' keys went elsewhere
		}
		if size := recordSize(ctx, client, topic, p.Partition, p.LastOffset-1); size > 0 {
			return size
		}
	}
	return 0
}

// recordSize fetches the record at offset and returns the size of its value; 0 if it cannot.
func recordSize(ctx context.Context, client *kafka.Client, topic string, partition int, offset int64) int {
	resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset, MaxBytes: 16 << 20})
	if err != nil || resp.Error != nil {
		return 0
	}
	for {
		r, err := resp.Records.ReadRecord()
		if err != nil {
			return 0
		}
		// A fetch may start at the batch before the offset asked for.
		if r.Offset == offset && r.Value != nil {
			return r.Value.Len()
		}
	}
}
