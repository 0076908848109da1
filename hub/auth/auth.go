// Package auth knows the hub's API clients — the integrated platforms, the departments'
// systems and the operators — and tells who sent a request.
//
// A client presents an API key as "Authorization: Bearer <key>". The hub keeps only the key's
// SHA-256 (the clients file holds hashes, never keys), so a leaked clients file lets nobody in.
// Each client has one role; a department client also names its department, and sees and
// changes only that department's sub-cases, inbox and licences.
package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Role is what a client may do.
type Role string

const (
	// RolePlatform: an integrated platform or the comprehensive window — submits applications,
	// follows cases, asks for consents and prefill, verifies licences.
	RolePlatform Role = "platform"
	// RoleDepartment: a department's system — reports on its own sub-cases, polls its own
	// inbox, verifies licences and revokes the ones it issued.
	RoleDepartment Role = "department"
	// RoleOperator: the hub's operators — everything, including connectors, dead letters and
	// reports.
	RoleOperator Role = "operator"
)

var roles = []Role{RolePlatform, RoleDepartment, RoleOperator}

// Client is an authenticated caller.
type Client struct {
	// Name identifies the client in logs and audit rows.
	Name string
	// Role is what it may do.
	Role Role
	// Department is the code of the department a RoleDepartment client acts for; empty for
	// the other roles.
	Department string
	// RatePerSecond and Burst bound how fast the client may call (a token bucket: Burst
	// requests at once, refilled at RatePerSecond); zero takes the server's default.
	RatePerSecond float64
	Burst         int
	// PersonalData lets an operator client read personal data (ID numbers, names) unmasked;
	// every such read is audited. Only operators may hold it: platforms and departments see
	// what is theirs in full and nothing else.
	PersonalData bool
}

// KeyPrefix starts every key NewKey makes, so that a key is recognisable in a secret scanner.
const KeyPrefix = "yjk_"

// NewKey returns a fresh API key (KeyPrefix and 32 random bytes, base64url) and its hash as
// the clients file holds it.
func NewKey() (key, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashKey(key)
}

// HashKey returns the hex SHA-256 of key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Clients is the set of known clients. It is safe for concurrent use: clients may be added
// and the file's clients replaced while requests are authenticated.
type Clients struct {
	mu     sync.RWMutex
	byHash map[string]entry
}

type entry struct {
	Client
	fromFile bool
}

// New returns an empty set.
func New() *Clients { return &Clients{byHash: map[string]entry{}} }

// Add registers c under the key whose hash is keyHash; Replace keeps it.
func (cs *Clients) Add(c Client, keyHash string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.byHash[keyHash] = entry{Client: c}
}

// Replace puts the clients of a clients file read again (Load) in place of those of the file
// read before, and keeps the clients added with Add.
func (cs *Clients) Replace(file *Clients) {
	file.mu.RLock()
	defer file.mu.RUnlock()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for h, e := range cs.byHash {
		if e.fromFile {
			delete(cs.byHash, h)
		}
	}
	for h, e := range file.byHash {
		if e.fromFile {
			cs.byHash[h] = e
		}
	}
}

// Authenticate returns the client whose key is key.
func (cs *Clients) Authenticate(key string) (Client, bool) {
	if key == "" {
		return Client{}, false
	}
	h := HashKey(key)
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	e, ok := cs.byHash[h]
	return e.Client, ok
}

// Len reports how many clients there are.
func (cs *Clients) Len() int {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return len(cs.byHash)
}

// File is the clients file:
//
//	clients:
//	  - name: jiangsu-platform
//	    role: platform
//	    key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	  - name: tobacco-backoffice
//	    role: department
//	    department: tobacco
//	    key_sha256: …
type File struct {
	Clients []FileClient `yaml:"clients"`
}

// FileClient is one entry of the clients file.
type FileClient struct {
	Name       string `yaml:"name"`
	Role       Role   `yaml:"role"`
	Department string `yaml:"department,omitempty"`
	KeySHA256  string `yaml:"key_sha256"`
	// RatePerSecond and Burst override the server's per-client rate limit.
	RatePerSecond float64 `yaml:"rate_per_second,omitempty"`
	Burst         int     `yaml:"burst,omitempty"`
	// PersonalData (operators only) shows personal data unmasked, audited.
	PersonalData bool `yaml:"personal_data,omitempty"`
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Load reads the clients file at path; see Parse.
func Load(path string, departments []string) (*Clients, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clients file: %w", err)
	}
	cs, err := Parse(b, departments)
	if err != nil {
		return nil, fmt.Errorf("clients file %s: %w", path, err)
	}
	return cs, nil
}

// Parse decodes a clients file strictly (unknown keys are errors) and checks every entry:
// name (lower-case letters, digits, . _ -; unique), role, department (required for, and only
// for, a department client; one of departments), key_sha256 (64 hex digits; unique). Every
// problem is reported at once, by entry and key.
func Parse(b []byte, departments []string) (*Clients, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a clients file: %w", err)
	}
	var errs []error
	if len(f.Clients) == 0 {
		errs = append(errs, errors.New("clients: at least one client is required"))
	}
	names := map[string]int{}
	hashes := map[string]int{}
	cs := New()
	for i, c := range f.Clients {
		at := fmt.Sprintf("clients[%d]", i)
		if c.Name != "" {
			at += " (" + c.Name + ")"
		}
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: required", at))
		case !nameRE.MatchString(c.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q must be 1-63 of a-z 0-9 . _ - starting with a letter or digit", at, c.Name))
		default:
			if j, dup := names[c.Name]; dup {
				errs = append(errs, fmt.Errorf("%s.name: also the name of clients[%d]", at, j))
			}
			names[c.Name] = i
		}
		if !slices.Contains(roles, c.Role) {
			errs = append(errs, fmt.Errorf("%s.role: %q is not one of platform, department, operator", at, c.Role))
		}
		switch {
		case c.Role == RoleDepartment && c.Department == "":
			errs = append(errs, fmt.Errorf("%s.department: required for a department client", at))
		case c.Role == RoleDepartment && !slices.Contains(departments, c.Department):
			errs = append(errs, fmt.Errorf("%s.department: %q is not a department of the catalogue (%s)", at, c.Department, strings.Join(departments, ", ")))
		case c.Role != RoleDepartment && c.Department != "":
			errs = append(errs, fmt.Errorf("%s.department: only a department client names a department", at))
		}
		if c.RatePerSecond < 0 || c.RatePerSecond > 100000 {
			errs = append(errs, fmt.Errorf("%s.rate_per_second: must be between 0 (the server's default) and 100000", at))
		}
		if c.Burst < 0 || c.Burst > 100000 {
			errs = append(errs, fmt.Errorf("%s.burst: must be between 0 (the server's default) and 100000", at))
		}
		if c.PersonalData && c.Role != RoleOperator {
			errs = append(errs, fmt.Errorf("%s.personal_data: only an operator client may be granted unmasked personal data", at))
		}
		switch {
		case c.KeySHA256 == "":
			errs = append(errs, fmt.Errorf("%s.key_sha256: required (yjshub clients new prints a key and its hash)", at))
		case !hashRE.MatchString(c.KeySHA256):
			errs = append(errs, fmt.Errorf("%s.key_sha256: must be 64 lower-case hex digits (the SHA-256 of the key, not the key)", at))
		default:
			if j, dup := hashes[c.KeySHA256]; dup {
				errs = append(errs, fmt.Errorf("%s.key_sha256: also the key of clients[%d]: every client needs a key of its own", at, j))
			}
			hashes[c.KeySHA256] = i
		}
		cs.byHash[c.KeySHA256] = entry{Client: Client{Name: c.Name, Role: c.Role, Department: c.Department,
			RatePerSecond: c.RatePerSecond, Burst: c.Burst, PersonalData: c.PersonalData}, fromFile: true}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cs, nil
}

type ctxKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the client a request was authenticated as; ok is false when the API
// runs without authentication.
func FromContext(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(ctxKey{}).(Client)
	return c, ok
}
