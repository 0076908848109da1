package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"yjshub/hub/bus"
)

// tlsOptions are the TLS settings of `yjshub serve`.
type tlsOptions struct {
	certFile     string
	keyFile      string
	clientCAFile string
	// behindProxy says that a proxy in front of the hub terminates TLS, so that plain HTTP on
	// a non-loopback address is not on the open network.
	behindProxy bool
}

func tlsFlags(cmd *cobra.Command, o *tlsOptions) {
	cmd.Flags().StringVar(&o.certFile, "tls-cert", os.Getenv("YJSHUB_TLS_CERT"), "serve HTTPS with this PEM certificate (chain) (env YJSHUB_TLS_CERT)")
	cmd.Flags().StringVar(&o.keyFile, "tls-key", os.Getenv("YJSHUB_TLS_KEY"), "the PEM private key of --tls-cert (env YJSHUB_TLS_KEY)")
	cmd.Flags().StringVar(&o.clientCAFile, "tls-client-ca", os.Getenv("YJSHUB_TLS_CLIENT_CA"),
		"mutual TLS: require a client certificate signed by a CA in this PEM file (env YJSHUB_TLS_CLIENT_CA)")
	cmd.Flags().BoolVar(&o.behindProxy, "behind-proxy", false, "a proxy in front terminates TLS: serve plain HTTP on a non-loopback address")
}

func (o tlsOptions) enabled() bool { return o.certFile != "" || o.keyFile != "" }

// serverTLS checks serve's TLS flags against the address it listens on and returns the TLS
// configuration to serve with, or nil to serve plain HTTP: allowed on a loopback address, and
// elsewhere only behind a proxy that terminates TLS. With a client CA, every client must
// present a certificate that CA signed (mutual TLS).
func serverTLS(addr string, o tlsOptions) (*tls.Config, error) {
	if !o.enabled() {
		if o.clientCAFile != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for in a TLS handshake")
		}
		if !loopback(addr) && !o.behindProxy {
			return nil, fmt.Errorf("serving on %s without TLS: give --tls-cert and --tls-key (env YJSHUB_TLS_CERT, YJSHUB_TLS_KEY), "+
				"or --behind-proxy when a proxy in front of the hub terminates TLS", addr)
		}
		return nil, nil
	}
	if o.certFile == "" || o.keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both")
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", o.certFile, o.keyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if o.clientCAFile != "" {
		if cfg.ClientCAs, err = certPool(o.clientCAFile); err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// listen opens serve's listener on addr, speaking TLS when cfg is not nil.
func listen(addr string, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}

// listenURL is the base URL of the hub on ln.
func listenURL(o tlsOptions, ln net.Listener) string {
	if o.enabled() {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

// simulatorClient is how the in-process simulated departments (--simulate) call the hub back
// over HTTPS: trusting exactly the certificate the hub serves, which need not name the
// loopback address they call it on. Nil without TLS: the simulator's default client.
func simulatorClient(cfg *tls.Config) (*http.Client, error) {
	if cfg == nil {
		return nil, nil
	}
	if cfg.ClientAuth == tls.RequireAndVerifyClientCert {
		return nil, errors.New("--simulate with --tls-client-ca: the simulated departments have no client certificate to call the hub back with")
	}
	leaf := cfg.Certificates[0].Certificate[0]
	pinned := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is VerifyConnection's: the one certificate, byte for byte.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("the hub presented a certificate other than its own")
			}
			return nil
		},
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pinned}}, nil
}

// certPool reads a PEM file of CA certificates.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// kafkaSecurityFromEnv reads how the bus secures its connections to the brokers from the
// environment (the password is never a flag: a flag shows in the process list). TLS is on
// when any of its variables is set, SASL when any of its variables is set; what is missing
// or wrong is the bus's to report.
func kafkaSecurityFromEnv() (*bus.TLSConfig, *bus.SASLConfig) {
	var t *bus.TLSConfig
	on, _ := strconv.ParseBool(os.Getenv("YJSHUB_KAFKA_TLS"))
	tc := bus.TLSConfig{
		CAFile:     os.Getenv("YJSHUB_KAFKA_TLS_CA"),
		CertFile:   os.Getenv("YJSHUB_KAFKA_TLS_CERT"),
		KeyFile:    os.Getenv("YJSHUB_KAFKA_TLS_KEY"),
		ServerName: os.Getenv("YJSHUB_KAFKA_TLS_SERVER_NAME"),
	}
	if on || tc != (bus.TLSConfig{}) {
		t = &tc
	}
	var s *bus.SASLConfig
	sc := bus.SASLConfig{
		Mechanism: os.Getenv("YJSHUB_KAFKA_SASL_MECHANISM"),
		User:      os.Getenv("YJSHUB_KAFKA_SASL_USER"),
		Password:  os.Getenv("YJSHUB_KAFKA_SASL_PASSWORD"),
	}
	if sc != (bus.SASLConfig{}) {
		s = &sc
	}
	return t, s
}

// hubTLSOptions are the TLS settings of the commands that call the hub.
type hubTLSOptions struct {
	caFile   string
	certFile string
	keyFile  string
}

func hubTLSFlags(cmd *cobra.Command, o *hubTLSOptions) {
	cmd.Flags().StringVar(&o.caFile, "ca", os.Getenv("YJSHUB_CA"), "trust the hub's HTTPS certificate when a CA in this PEM file signed it (env YJSHUB_CA; default: the system's CAs)")
	cmd.Flags().StringVar(&o.certFile, "cert", os.Getenv("YJSHUB_CLIENT_CERT"), "present this PEM client certificate to a hub that asks for one (env YJSHUB_CLIENT_CERT)")
	cmd.Flags().StringVar(&o.keyFile, "key", os.Getenv("YJSHUB_CLIENT_KEY"), "the PEM private key of --cert (env YJSHUB_CLIENT_KEY)")
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		c, err := o.client()
		if err != nil {
			return err
		}
		cmd.SetContext(context.WithValue(cmd.Context(), httpClientKey{}, c))
		return nil
	}
}

// client is the HTTP client the command calls the hub with; nil when no option asks for one.
func (o hubTLSOptions) client() (*http.Client, error) {
	if o.caFile == "" && o.certFile == "" && o.keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var errs []error
	if o.caFile != "" {
		pool, err := certPool(o.caFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--ca: %w", err))
		}
		cfg.RootCAs = pool
	}
	switch {
	case (o.certFile == "") != (o.keyFile == ""):
		errs = append(errs, errors.New("--cert and --key go together: give both or neither"))
	case o.certFile != "":
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--cert %s with --key %s: %w", o.certFile, o.keyFile, err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return &http.Client{Timeout: defaultHTTPClient.Timeout, Transport: t}, nil
}

type httpClientKey struct{}

// httpClientFrom returns the client hubTLSFlags put in ctx, or the default one.
func httpClientFrom(ctx context.Context) *http.Client {
	if c := tlsHTTPClient(ctx); c != nil {
		return c
	}
	return defaultHTTPClient
}

// tlsHTTPClient returns the client that --ca, --cert or --key asked for, or nil.
func tlsHTTPClient(ctx context.Context) *http.Client {
	c, _ := ctx.Value(httpClientKey{}).(*http.Client)
	return c
}
