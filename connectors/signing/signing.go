// Package signing signs the hub's outbound deliveries (to departments, platforms and
// supervision) as the Standard Webhooks specification defines, so that a receiver can tell a
// delivery came from the hub, unchanged, and recently:
//
//	webhook-id:        the message id (the envelope id: the same on every retry)
//	webhook-timestamp: seconds since 1970, when this attempt was made
//	webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body" with the shared secret>
//
// The secret is "whsec_" and at least 24 random bytes in base64 (NewSecret makes one). A
// receiver verifies with any Standard Webhooks library, or with Verify, and refuses a timestamp
// more than five minutes from its clock (the replay window).
package signing

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The headers a signed delivery carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Headers are the header names Sign sets, which configured extra headers may not use.
var Headers = []string{HeaderID, HeaderTimestamp, HeaderSignature}

const (
	secretPrefix   = "whsec_"
	minSecretBytes = 24
)

// NewSecret returns a fresh secret: "whsec_" and 32 random bytes in base64.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("signing: no randomness: " + err.Error())
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// CheckSecret reports what is wrong with a secret, without repeating it.
func CheckSecret(secret string) error {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return errors.New(`must start with "whsec_" (yjshub signing-secret makes one)`)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return errors.New(`must be "whsec_" and base64`)
	}
	if len(key) < minSecretBytes {
		return fmt.Errorf("must hold at least %d bytes, has %d", minSecretBytes, len(key))
	}
	return nil
}

// Signer signs deliveries with one secret.
type Signer struct {
	wh *standardwebhooks.Webhook
}

// New returns a signer for secret (see CheckSecret).
func New(secret string) (*Signer, error) {
	if err := CheckSecret(secret); err != nil {
		return nil, err
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, errors.New(`must be "whsec_" and base64`)
	}
	return &Signer{wh: wh}, nil
}

// Sign returns the headers of a delivery of body under message id id, attempted at at.
func (s *Signer) Sign(id string, at time.Time, body []byte) (map[string]string, error) {
	sig, err := s.wh.Sign(id, at, body)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return map[string]string{HeaderID: id, HeaderTimestamp: fmt.Sprint(at.Unix()), HeaderSignature: sig}, nil
}

// Verify checks that h signs body with secret and that its timestamp is within five minutes
// of now; the error says which check failed.
func Verify(secret string, body []byte, h http.Header) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return errors.New("signing: the receiver's secret is not base64")
	}
	if err := wh.Verify(body, h); err != nil {
		switch {
		case errors.Is(err, standardwebhooks.ErrRequiredHeaders):
			return errors.New("unsigned: webhook-id, webhook-timestamp and webhook-signature are required")
		case errors.Is(err, standardwebhooks.ErrMessageTooOld), errors.Is(err, standardwebhooks.ErrMessageTooNew):
			return errors.New("the signature's timestamp is more than five minutes from now")
		case errors.Is(err, standardwebhooks.ErrInvalidHeaders):
			return errors.New("the webhook-timestamp header is not a number of seconds")
		default:
			return errors.New("the signature does not match the body")
		}
	}
	return nil
}
