package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// ErrClosed is returned by the methods of a [Bus] after [Bus.Close].
var ErrClosed = errors.New("bus: closed")

// Bus is the hub's connection to Kafka. It is safe for concurrent use by
// multiple goroutines. Open one per process and share it.
type Bus struct {
	cfg     Config
	log     *slog.Logger
	brokers []string
	cluster *kfake.Cluster // nil unless embedded

	// addr, transport and client are shared by the writer and by the admin
	// calls (EnsureTopics, Lag, Partitions) so that a topic created here is
	// in the writer's metadata cache the moment EnsureTopics returns.
	addr      net.Addr
	transport *kafka.Transport
	client    *kafka.Client
	writer    *kafka.Writer
	dialer    *kafka.Dialer

	// done is cancelled by Close; running subscriptions watch it.
	done   context.Context
	cancel context.CancelFunc

	// clientErrors counts what kafka-go reports to its error loggers (clientlog.go).
	clientErrors clientErrors

	mu      sync.Mutex
	closed  bool
	subs    sync.WaitGroup
	members map[*memberState]bool // running subscriptions (members.go)
	foreign map[string]bool       // groups used as written, without the namespace (groups.go)
}

// Open validates cfg and connects to its brokers, or starts the embedded
// broker when cfg.Brokers is empty. Connections to external brokers are made
// lazily; use [Bus.Ping] to check readiness. ctx bounds only the start-up.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bus: invalid config: %w", err)
	}
	cfg.setDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: open: %w", err)
	}

	b := &Bus{cfg: cfg, log: cfg.Logger}
	if len(cfg.Brokers) == 0 {
		cluster, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.cluster = cluster
		b.brokers = cluster.ListenAddrs()
	} else {
		b.brokers = slices.Clone(cfg.Brokers)
	}

	tlsConfig, mechanism, err := security(cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	b.addr = kafka.TCP(b.brokers...)
	// Every connection the bus makes goes through one of these two, and both carry TLS and
	// SASL: the transport serves the writer and the admin calls (topics, lag, metadata), the
	// dialer the consumer groups and Ping.
	b.transport = &kafka.Transport{
		DialTimeout: cfg.DialTimeout,
		MetadataTTL: cfg.MetadataTTL,
		ClientID:    cfg.ClientID,
		TLS:         tlsConfig,
		SASL:        mechanism,
	}
	b.client = &kafka.Client{Addr: b.addr, Transport: b.transport}
	b.dialer = &kafka.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, DualStack: true,
		TLS: tlsConfig, SASLMechanism: mechanism}
	b.writer = &kafka.Writer{
		Addr: b.addr,
		// The key is the case id: hashing it keeps one case on one
		// partition, which is what keeps its events in order. Murmur2 is the
		// Java client's default partitioner, so a department system that
		// publishes results keyed by case id with a Java client puts them on
		// the same partition as the hub does.
		Balancer: kafka.Murmur2Balancer{},
		// kafka-go defaults to RequireNone (fire and forget). The outbox
		// relay deletes a row once Publish returns, so Publish must mean
		// "stored on every in-sync replica".
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: false,
		BatchTimeout:           cfg.BatchTimeout,
		WriteTimeout:           cfg.WriteTimeout,
		ReadTimeout:            cfg.WriteTimeout,
		Transport:              b.transport,
		ErrorLogger:            clientLogger(b.log, ComponentWriter, &b.clientErrors.writer),
	}
	b.done, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// Brokers returns the bootstrap addresses in use: the configured ones, or the
// embedded broker's listen address.
func (b *Bus) Brokers() []string { return slices.Clone(b.brokers) }

// Namespace returns the prefix put before the bus's topic and group names ([Config.Namespace]).
func (b *Bus) Namespace() string { return b.cfg.Namespace }

// Embedded reports whether b runs the in-process broker.
func (b *Bus) Embedded() bool { return b.cluster != nil }

// RequiredAcks reports the acknowledgement level the writer asks of the
// brokers. It is always [kafka.RequireAll]; it is exposed so that tests can
// hold the writer to it.
func (b *Bus) RequiredAcks() kafka.RequiredAcks { return b.writer.RequiredAcks }

// Close stops running subscriptions (cancelling their contexts and waiting
// for them to return), flushes and closes the writer, and stops the embedded
// broker, which writes its state to disk. Close is idempotent; later calls
// return nil.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()

	b.cancel()
	b.subs.Wait()

	var errs []error
	if err := b.writer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("bus: close writer: %w", err))
	}
	b.transport.CloseIdleConnections()
	if b.cluster != nil {
		b.cluster.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that a broker answers a metadata request. It tries each
// bootstrap address in turn and succeeds on the first answer. It waits at
// most [Config.PingTimeout] unless ctx ends sooner.
func (b *Bus) Ping(ctx context.Context) error {
	if b.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PingTimeout)
	defer cancel()
	var errs []error
	for _, addr := range b.brokers {
		err := pingBroker(ctx, b.dialer, addr)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("broker %s: %w", addr, err))
	}
	return fmt.Errorf("bus: ping: no broker answered: %w", errors.Join(errs...))
}

func pingBroker(ctx context.Context, d *kafka.Dialer, addr string) error {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return err
		}
	}
	// Brokers() is a metadata request for no topics: cheap, and answered
	// only by a broker that is serving requests.
	_, err = conn.Brokers()
	return err
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// track registers a running subscription. The returned context ends when ctx
// does or when the Bus closes; release must be called when the subscription
// has stopped.
func (b *Bus) track(ctx context.Context) (context.Context, func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, ErrClosed
	}
	b.subs.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.done, cancel)
	return ctx, func() {
		stop()
		cancel()
		b.subs.Done()
	}, nil
}
