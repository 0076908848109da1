package bus

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLSConfig encrypts the connections to the brokers and checks the brokers' certificates, as
// Kafka's SSL and SASL_SSL listeners expect. The zero value trusts the system's certificate
// authorities and presents no client certificate.
type TLSConfig struct {
	// CAFile is a PEM file of the certificate authorities that sign the brokers'
	// certificates. Default: the system's trusted authorities.
	CAFile string

	// CertFile and KeyFile are the PEM certificate and private key the bus presents to
	// brokers that ask for one (ssl.client.auth=required). Both or neither. Default: none.
	CertFile string
	KeyFile  string

	// ServerName is the name the brokers' certificates must carry. Default: the host of each
	// broker's address as the bus dials it.
	ServerName string
}

// SASL mechanisms the bus speaks: Kafka's salted challenge-response mechanisms, which never
// send the password itself.
const (
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
)

// SASLConfig authenticates the bus to the brokers with SCRAM (Kafka's SASL_SSL or
// SASL_PLAINTEXT listeners). Its String, JSON and log forms leave the password out.
type SASLConfig struct {
	// Mechanism is SCRAM-SHA-512 or SCRAM-SHA-256. Default SCRAM-SHA-512.
	Mechanism string

	// User is the SCRAM user the brokers know. Required.
	User string

	// Password is the user's password. Required. It is never logged nor put into an error.
	Password string
}

// String describes c without its password.
func (c SASLConfig) String() string {
	return fmt.Sprintf("%s as %q", c.mechanism(), c.User)
}

// GoString describes c without its password, for %#v.
func (c SASLConfig) GoString() string { return "bus.SASLConfig{" + c.String() + "}" }

// LogValue describes c to slog without its password.
func (c SASLConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", c.mechanism()), slog.String("user", c.User))
}

// MarshalJSON describes c without its password, for loggers that encode whole structures.
func (c SASLConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mechanism string `json:"mechanism"`
		User      string `json:"user"`
	}{c.mechanism(), c.User})
}

func (c SASLConfig) mechanism() string {
	if c.Mechanism == "" {
		return MechanismSCRAMSHA512
	}
	return c.Mechanism
}

// security loads cfg's TLS files and SASL mechanism; nil for what cfg leaves unset.
func security(cfg Config) (*tls.Config, sasl.Mechanism, error) {
	var (
		tlsConfig *tls.Config
		mechanism sasl.Mechanism
		errs      []error
		err       error
	)
	if cfg.TLS != nil {
		if tlsConfig, err = cfg.TLS.load(); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.SASL != nil {
		if mechanism, err = cfg.SASL.load(); err != nil {
			errs = append(errs, err)
		}
	}
	return tlsConfig, mechanism, errors.Join(errs...)
}

func (c *TLSConfig) validate() []error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together: give both or neither"))
	}
	return errs
}

func (c *SASLConfig) validate() []error {
	var errs []error
	switch strings.ToUpper(c.mechanism()) {
	case MechanismSCRAMSHA512, MechanismSCRAMSHA256:
	default:
		errs = append(errs, fmt.Errorf("sasl: mechanism %q is not %s or %s", c.Mechanism, MechanismSCRAMSHA512, MechanismSCRAMSHA256))
	}
	if c.User == "" {
		errs = append(errs, errors.New("sasl: user: required"))
	}
	if c.Password == "" {
		errs = append(errs, errors.New("sasl: password: required"))
	}
	return errs
}

// load reads the files c names into a TLS client configuration.
func (c *TLSConfig) load() (*tls.Config, error) {
	out := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	var errs []error
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("tls: ca_file: %w", err))
		default:
			out.RootCAs = x509.NewCertPool()
			if !out.RootCAs.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("tls: ca_file %s holds no PEM certificate", c.CAFile))
			}
		}
	}
	if c.CertFile != "" {
		// The key file's contents never reach the error: crypto/tls names only what is wrong.
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("tls: client certificate %s with key %s: %w", c.CertFile, c.KeyFile, err))
		}
		out.Certificates = []tls.Certificate{cert}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// load builds the SCRAM mechanism c names.
func (c *SASLConfig) load() (sasl.Mechanism, error) {
	algo := scram.SHA512
	if strings.ToUpper(c.mechanism()) == MechanismSCRAMSHA256 {
		algo = scram.SHA256
	}
	m, err := scram.Mechanism(algo, c.User, c.Password)
	if err != nil {
		// Not wrapped: the SCRAM library's error quotes the offending character, which may
		// be one of the password's.
		return nil, fmt.Errorf("sasl: the user name or password of %q has a character SCRAM does not allow (SASLprep)", c.User)
	}
	return m, nil
}
