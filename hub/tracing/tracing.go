package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the service.name of the hub's spans, and the name of its tracer.
const ServiceName = "yjshub"

// tracesPath is where an OTLP/HTTP receiver takes spans, below a collector's base URL.
const tracesPath = "/v1/traces"

// The standard environment variables of the OTLP exporter that name where spans go, and the one
// that turns exporting off (OTEL_TRACES_EXPORTER=none).
const (
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesExporter = "OTEL_TRACES_EXPORTER"
)

// Config configures a [Provider]. The zero value exports nothing unless the standard
// environment variables name an endpoint.
type Config struct {
	// Endpoint is the OTLP/HTTP receiver spans are exported to: a collector's base URL
	// (http://collector:4318), to which /v1/traces is added, or a full URL with its path. http or
	// https; no credentials in it (give them in OTEL_EXPORTER_OTLP_HEADERS). Default: the
	// standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT; with neither
	// set, or OTEL_TRACES_EXPORTER=none, nothing is exported. The exporter also reads the other
	// standard variables (headers, timeout, compression, certificates, OTEL_BSP_* for batching).
	Endpoint string
	// InstanceID is the service.instance.id of the spans: which hub instance made them.
	// Default: none.
	InstanceID string
	// Getenv looks up environment variables. Default os.Getenv. The exporter itself reads its
	// variables from the process's environment.
	Getenv func(string) string
}

// Validate reports every problem of c at once. The endpoint appears in its messages only
// without credentials, query and fragment.
func (c Config) Validate() error {
	if c.Endpoint == "" {
		return nil
	}
	return validateEndpoint(c.Endpoint)
}

func validateEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("endpoint: not a URL")
	}
	var errs []error
	if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("endpoint %s: scheme must be http or https", Redact(raw)))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint %s: no host", Redact(raw)))
	}
	if u.User != nil {
		errs = append(errs, fmt.Errorf("endpoint %s: credentials do not belong in the URL: give them in OTEL_EXPORTER_OTLP_HEADERS", Redact(raw)))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("endpoint %s: a query or fragment is not sent by OTLP/HTTP", Redact(raw)))
	}
	return errors.Join(errs...)
}

// Redact returns an endpoint URL without its user information, query and fragment, for logs
// and errors; what is not a URL becomes "(invalid URL)".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Provider is the hub's tracer provider: every span of the hub is made by its tracers, and,
// when an endpoint is configured, exported in batches over OTLP/HTTP. Safe for concurrent use.
type Provider struct {
	sdk *sdktrace.TracerProvider
	// exporting is the endpoint spans go to, redacted; "" when nothing is exported.
	exporting string
}

// New makes the provider cfg describes: spans carry service.name=yjshub and, when given,
// service.instance.id, and go through a batch span processor to the OTLP/HTTP exporter when an
// endpoint is configured (Config.Endpoint or the standard environment variables). Nothing is
// connected yet: an unreachable receiver shows later, as export failures. Shut it down with
// [Provider.Shutdown].
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if cfg.InstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", cfg.InstanceID))
	}
	// OTEL_RESOURCE_ATTRIBUTES may add to the resource (a deployment's environment …); the
	// hub's own attributes come last and win.
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	p := &Provider{}
	if endpoint, ok := exportEndpoint(cfg); ok {
		var eopts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			eopts = append(eopts, otlptracehttp.WithEndpointURL(tracesURL(cfg.Endpoint)))
		}
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter to %s: %w", endpoint, err)
		}
		// The batch processor's sizes and delays are the SDK's, adjustable with OTEL_BSP_*.
		opts = append(opts, sdktrace.WithBatcher(exp))
		p.exporting = endpoint
	}
	p.sdk = sdktrace.NewTracerProvider(opts...)
	return p, nil
}

// exportEndpoint reports where spans are exported (redacted) and whether they are.
func exportEndpoint(cfg Config) (string, bool) {
	if cfg.Endpoint != "" {
		return Redact(tracesURL(cfg.Endpoint)), true
	}
	if strings.EqualFold(strings.TrimSpace(cfg.Getenv(envTracesExporter)), "none") {
		return "", false
	}
	if v := cfg.Getenv(envTracesEndpoint); v != "" {
		return Redact(v), true
	}
	if v := cfg.Getenv(envEndpoint); v != "" {
		return Redact(strings.TrimRight(v, "/") + tracesPath), true
	}
	return "", false
}

// tracesURL is the URL spans are posted to for a configured endpoint: a base URL without a
// path takes /v1/traces, as the standard OTEL_EXPORTER_OTLP_ENDPOINT does.
func tracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint // Validate refused it already
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String()
}

// TracerProvider returns the provider to hand to the services and connectors.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.sdk }

// Exporting returns the endpoint spans are exported to, without credentials; "" when they are
// not exported.
func (p *Provider) Exporting() string { return p.exporting }

// Shutdown exports the spans still waiting and stops the exporter, within ctx. Spans ended
// after it are dropped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// LogExportErrors sends the OpenTelemetry SDK's errors (a receiver that refuses or cannot be
// reached, spans dropped) to logger at WARN, instead of the standard logger. The SDK has one
// error handler per process.
func LogExportErrors(logger *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: exporting spans failed", "error", err)
	}))
}

// defaultProvider makes real span contexts and exports nothing: the provider of the services
// and connectors that were given none.
var defaultProvider = sync.OnceValue(func() *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", ServiceName))))
})

// Default returns the process's provider that exports nothing: its spans have valid, sampled
// span contexts (a new trace id for each root), so trace ids exist and propagate without an
// exporter. Services and connectors given no provider use it.
func Default() trace.TracerProvider { return defaultProvider() }

// Tracer returns the hub's tracer of tp, or of [Default] when tp is nil.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = Default()
	}
	return tp.Tracer(ServiceName)
}
