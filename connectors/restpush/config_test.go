package restpush_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors/delivery"
	"yjshub/connectors/restpush"
)

func TestConfigValidate(t *testing.T) {
	// Secrets that appear in the configurations below and must never appear
	// in a validation error.
	secrets := []string{"pw-S3cr3t", "tok-S3cr3t", "key-S3cr3t"}
	tests := []struct {
		name string
		cfg  restpush.Config
		want []string // substrings of the error; none means valid
	}{
		{
			name: "a department and an https endpoint are enough",
			cfg:  restpush.Config{Department: "rsj", Endpoint: "https://rsj.example/api/subcases"},
		},
		{
			name: "every field set within range is valid",
			cfg: restpush.Config{
				Department: "admin-approval", Endpoint: "http://10.0.0.7:8080/intake?key=tok-S3cr3t",
				Timeout: 5 * time.Second,
				Retry: delivery.RetryConfig{InitialInterval: time.Second, MaxInterval: time.Minute,
					Multiplier: 1.5, Jitter: 0.1, MaxAttempts: 10},
				Breaker: restpush.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: time.Minute, HalfOpenRequests: 2},
				Headers: map[string]string{"X-Api-Key": "key-S3cr3t"},
				GroupID: "hub-rsj",
			},
		},
		{
			name: "the department and the endpoint are required",
			cfg:  restpush.Config{},
			want: []string{"department: required", "endpoint: required"},
		},
		{
			name: "a department code must make a legal topic name",
			cfg:  restpush.Config{Department: "人社局", Endpoint: "https://rsj.example/"},
			want: []string{`department: "人社局"`},
		},
		{
			name: "the endpoint must be http or https and name a host, and is shown redacted",
			cfg:  restpush.Config{Department: "rsj", Endpoint: "ftp://hub:pw-S3cr3t@/in?token=tok-S3cr3t"},
			want: []string{`endpoint: "ftp:///in": scheme "ftp" is not http or https`, `"ftp:///in": no host`},
		},
		{
			name: "an endpoint that does not parse is shown cut by pattern",
			cfg:  restpush.Config{Department: "rsj", Endpoint: "http://hub:pw-S3cr3t@rsj.example/%zz?token=tok-S3cr3t"},
			want: []string{`endpoint: "http://rsj.example/%zz" is not a valid URL`},
		},
		{
			name: "every problem is reported at once, header values never",
			cfg: restpush.Config{
				Department: "rsj", Endpoint: "https://rsj.example/",
				Timeout: -time.Second,
				Retry: delivery.RetryConfig{InitialInterval: -1, MaxInterval: -time.Second,
					Multiplier: 0.5, Jitter: 1.5, MaxAttempts: -1},
				Breaker: restpush.BreakerConfig{ConsecutiveFailures: -1, OpenTimeout: -1, HalfOpenRequests: -1},
				Headers: map[string]string{
					"X Api Key":       "key-S3cr3t",
					"idempotency-key": "key-S3cr3t",
					"X-Token":         "key-S3cr3t\r\nX-Evil: 1",
				},
				GroupID: " hub ",
			},
			want: []string{
				"timeout: -1s is negative",
				"retry.initial_interval: -1ns is negative", "retry.max_interval: -1s is negative",
				"retry.multiplier: 0.5", "retry.jitter: 1.5", "retry.max_attempts: -1 is negative",
				"breaker.consecutive_failures: -1", "breaker.open_timeout: -1ns", "breaker.half_open_requests: -1",
				`headers["X Api Key"]: not a valid header name`,
				`headers["idempotency-key"]: set by the connector`,
				`headers["X-Token"]: value contains a line break`,
				`group_id: " hub "`,
			},
		},
		{
			name: "the first wait may not exceed the cap",
			cfg: restpush.Config{Department: "rsj", Endpoint: "https://rsj.example/",
				Retry: delivery.RetryConfig{InitialInterval: time.Minute, MaxInterval: time.Second}},
			want: []string{"retry.initial_interval: 1m0s is longer than retry.max_interval 1s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks the secret %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestNewReportsEveryProblemIncludingMissingCollaborators(t *testing.T) {
	_, err := restpush.New(restpush.Config{Endpoint: "https://rsj.example/?token=tok-S3cr3t",
		Retry: delivery.RetryConfig{InitialInterval: time.Minute}}, nil, nil)
	if err == nil {
		t.Fatal("New with an invalid config, no bus and no recorder: nil error")
	}
	for _, w := range []string{"department: required", "bus: required", "recorder: required",
		// The defaults are applied before validating: the 30s cap is in force.
		"retry.initial_interval: 1m0s is longer than retry.max_interval 30s"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "tok-S3cr3t") {
		t.Errorf("error leaks the endpoint's token:\n%v", err)
	}
}

func TestConfigDecodesFromYAML(t *testing.T) {
	const doc = `
department: rsj
endpoint: https://rsj.example/api/subcases
timeout: 3s
retry:
  initial_interval: 100ms
  max_interval: 1m
  multiplier: 3
  jitter: 0.1
  max_attempts: 8
breaker:
  consecutive_failures: 4
  open_timeout: 45s
  half_open_requests: 2
headers:
  X-Api-Key: key-S3cr3t
group_id: hub-rsj
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	var cfg restpush.Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := restpush.Config{
		Department: "rsj", Endpoint: "https://rsj.example/api/subcases", Timeout: 3 * time.Second,
		Retry: delivery.RetryConfig{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Minute,
			Multiplier: 3, Jitter: 0.1, MaxAttempts: 8},
		Breaker: restpush.BreakerConfig{ConsecutiveFailures: 4, OpenTimeout: 45 * time.Second, HalfOpenRequests: 2},
		Headers: map[string]string{"X-Api-Key": "key-S3cr3t"},
		GroupID: "hub-rsj",
	}
	if cfg.Department != want.Department || cfg.Endpoint != want.Endpoint || cfg.Timeout != want.Timeout ||
		cfg.Retry != want.Retry || cfg.Breaker != want.Breaker || cfg.GroupID != want.GroupID ||
		len(cfg.Headers) != 1 || cfg.Headers["X-Api-Key"] != "key-S3cr3t" {
		t.Errorf("decoded %+v\nwant    %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	bad := yaml.NewDecoder(strings.NewReader("department: rsj\nendpont: https://x/\n"))
	bad.KnownFields(true)
	if err := bad.Decode(&restpush.Config{}); err == nil {
		t.Errorf("a misspelt key decoded without error")
	}
}

func TestConfigLogsWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("config", "restpush", restpush.Config{
		Department: "rsj", Endpoint: "https://hub:pw-S3cr3t@rsj.example/in?token=tok-S3cr3t",
		Headers: map[string]string{"X-Api-Key": "key-S3cr3t"},
	})
	out := buf.String()
	for _, s := range []string{"pw-S3cr3t", "tok-S3cr3t", "key-S3cr3t"} {
		if strings.Contains(out, s) {
			t.Errorf("log line leaks %q: %s", s, out)
		}
	}
	for _, w := range []string{"restpush.endpoint=https://rsj.example/in", "X-Api-Key"} {
		if !strings.Contains(out, w) {
			t.Errorf("log line lacks %q: %s", w, out)
		}
	}
}
