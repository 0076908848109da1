package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config configures a [Bus]. The zero value with a DataDir runs the embedded
// broker on a free port of 127.0.0.1.
type Config struct {
	// Brokers lists the host:port addresses of an Apache Kafka cluster to
	// bootstrap from. Empty (the default) starts the embedded broker instead.
	Brokers []string

	// DataDir is the directory under which the embedded broker keeps its data
	// (in DataDir/kafka). Required when Brokers is empty; unused otherwise.
	DataDir string

	// EmbeddedPort is the 127.0.0.1 port the embedded broker listens on.
	// Default 0: a free port chosen at start; [Bus.Brokers] reports it.
	EmbeddedPort int

	// ClientID names this process to the brokers (it shows in broker logs and
	// quotas). Default "yjshub".
	ClientID string

	// BatchTimeout is how long the writer waits to fill a batch before
	// sending it. Publish is synchronous, so this is added to every call's
	// latency. Default 5ms (kafka-go's own default is 1s).
	BatchTimeout time.Duration

	// WriteTimeout bounds one produce request, including the wait for all
	// in-sync replicas. Default 10s.
	WriteTimeout time.Duration

	// DialTimeout bounds opening a connection to a broker. Default 5s.
	DialTimeout time.Duration

	// PingTimeout bounds [Bus.Ping] when its context has no earlier deadline.
	// Default 2s.
	PingTimeout time.Duration

	// TopicReadyTimeout bounds how long [Bus.EnsureTopics] waits for new
	// topics to show in metadata when its context has no earlier deadline.
	// Default 30s.
	TopicReadyTimeout time.Duration

	// Namespace, when set, is put before every topic name and every consumer
	// group of the hub's own ("staging." turns yjs.result into
	// staging.yjs.result), so that several hubs or test runs can share one
	// Kafka cluster without seeing each other's messages. Callers always use
	// the plain names. A department's own group is not the hub's: declared
	// with [Bus.DeclareForeignGroup], it is used as written. Default: none.
	Namespace string

	// MetadataTTL is how long cluster metadata (topics, partitions, leaders)
	// is cached before it is fetched again. A topic created by another
	// process becomes writable here after at most this long. Default 2s.
	MetadataTTL time.Duration

	// GroupSessionTimeout is the session timeout of every consumer-group
	// member this bus starts (unless its SubscribeConfig says otherwise): how
	// long after a member goes silent (a killed process) the group coordinator
	// gives its partitions to the other members. It must lie within the
	// brokers' group.min.session.timeout.ms and group.max.session.timeout.ms.
	// Default 6s with external brokers (Apache Kafka's default minimum) and 2s
	// on the embedded broker (whose minimum this bus sets to 1s). Lower it to
	// 2s on brokers whose minimum allows, for partitions to move within 3s.
	GroupSessionTimeout time.Duration

	// GroupHeartbeatInterval is how often members tell the coordinator they
	// are alive, and learn of a rebalance. Default a fifth of the session
	// timeout.
	GroupHeartbeatInterval time.Duration

	// TLS, when set, encrypts every connection the bus makes to the brokers
	// (the writer, the consumer groups, topic creation, lag and ping alike)
	// and checks the brokers' certificates. External brokers only. Default
	// nil: plaintext, as on a loopback or otherwise protected network.
	TLS *TLSConfig

	// SASL, when set, authenticates every connection the bus makes to the
	// brokers with SCRAM. External brokers only. Default nil: no
	// authentication. Use it with TLS: SCRAM keeps the password off the wire
	// but not the messages.
	SASL *SASLConfig

	// Logger receives the embedded broker's warnings and errors and, at
	// DEBUG, the errors the Kafka client reports and retries on its own
	// (counted in [Bus.ClientErrors]). Default: nothing is logged.
	Logger *slog.Logger
}

// Defaults applied by setDefaults; kept as constants so doc comments and code
// cannot drift apart silently.
const (
	defaultClientID          = "yjshub"
	defaultBatchTimeout      = 5 * time.Millisecond
	defaultWriteTimeout      = 10 * time.Second
	defaultDialTimeout       = 5 * time.Second
	defaultPingTimeout       = 2 * time.Second
	defaultTopicReadyTimeout = 30 * time.Second
	defaultMetadataTTL       = 2 * time.Second

	defaultExternalSessionTimeout = 6 * time.Second
	defaultEmbeddedSessionTimeout = 2 * time.Second
	// embeddedMinSessionTimeout is the embedded broker's group.min.session.timeout.ms, and the
	// least session timeout this bus takes.
	embeddedMinSessionTimeout = time.Second
)

func (c *Config) setDefaults() {
	if c.ClientID == "" {
		c.ClientID = defaultClientID
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = defaultBatchTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = defaultPingTimeout
	}
	if c.TopicReadyTimeout == 0 {
		c.TopicReadyTimeout = defaultTopicReadyTimeout
	}
	if c.MetadataTTL == 0 {
		c.MetadataTTL = defaultMetadataTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.GroupSessionTimeout == 0 {
		c.GroupSessionTimeout = defaultExternalSessionTimeout
		if len(c.Brokers) == 0 {
			c.GroupSessionTimeout = defaultEmbeddedSessionTimeout
		}
	}
	if c.GroupHeartbeatInterval == 0 {
		c.GroupHeartbeatInterval = c.GroupSessionTimeout / 5
	}
}

// Validate reports every problem in c at once. It does not apply defaults:
// zero durations are accepted because they mean "use the default".
func (c *Config) Validate() error {
	var errs []error
	if c.GroupSessionTimeout < 0 || (c.GroupSessionTimeout > 0 && c.GroupSessionTimeout < embeddedMinSessionTimeout) {
		errs = append(errs, fmt.Errorf("group_session_timeout: %v is under %v", c.GroupSessionTimeout, embeddedMinSessionTimeout))
	}
	if c.GroupHeartbeatInterval < 0 {
		errs = append(errs, fmt.Errorf("group_heartbeat_interval: %v is negative", c.GroupHeartbeatInterval))
	}
	if c.GroupHeartbeatInterval > 0 && c.GroupSessionTimeout > 0 && c.GroupHeartbeatInterval >= c.GroupSessionTimeout {
		errs = append(errs, fmt.Errorf("group_heartbeat_interval: %v is not shorter than group_session_timeout %v", c.GroupHeartbeatInterval, c.GroupSessionTimeout))
	}
	if len(c.Brokers) == 0 {
		if strings.TrimSpace(c.DataDir) == "" {
			errs = append(errs, errors.New("data_dir: required for the embedded broker (brokers is empty)"))
		}
		if c.EmbeddedPort < 0 || c.EmbeddedPort > 65535 {
			errs = append(errs, fmt.Errorf("embedded_port: %d is not a TCP port (0-65535)", c.EmbeddedPort))
		}
		if c.TLS != nil || c.SASL != nil {
			errs = append(errs, errors.New("tls, sasl: the embedded broker speaks plaintext on 127.0.0.1 only; they need brokers"))
		}
	}
	if c.TLS != nil {
		errs = append(errs, c.TLS.validate()...)
	}
	if c.SASL != nil {
		errs = append(errs, c.SASL.validate()...)
	}
	for i, b := range c.Brokers {
		if err := validateHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("brokers[%d]: %w", i, err))
		}
	}
	if c.Namespace != "" {
		if err := ValidateTopic(c.Namespace + "x"); err != nil || len(c.Namespace) > 100 {
			errs = append(errs, fmt.Errorf("namespace: %q must be at most 100 of the characters a-z A-Z 0-9 . _ -", c.Namespace))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"batch_timeout", c.BatchTimeout},
		{"write_timeout", c.WriteTimeout},
		{"dial_timeout", c.DialTimeout},
		{"ping_timeout", c.PingTimeout},
		{"topic_ready_timeout", c.TopicReadyTimeout},
		{"metadata_ttl", c.MetadataTTL},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

func validateHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port (1-65535)", addr)
	}
	return nil
}
