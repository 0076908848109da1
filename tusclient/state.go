package tusclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// State remembers the URLs of unfinished uploads in a JSON file, keyed by the sha256 of the
// file and the endpoint it was sent to, so that a later run resumes them. It is safe for
// concurrent use within one process; two processes sharing a file may lose each other's
// entries, which costs an upload started over, never a wrong one (the hub checks every byte
// against the sha256).
type State struct {
	path string
	mu   sync.Mutex
}

// stateEntry is what the file holds for one upload.
type stateEntry struct {
	// Endpoint is the tus endpoint the upload was created at: a URL from one hub means
	// nothing to another.
	Endpoint string `json:"endpoint"`
	// URL is the unfinished upload's URL ("" once it is finished).
	URL string `json:"url,omitempty"`
	// Material is the material the finished upload became, kept only for a Client with Reuse.
	Material string `json:"material,omitempty"`
	// Size is the file's length, checked again on resume.
	Size int64 `json:"size"`
}

// OpenState returns the State kept in the file at path, which is created (with its
// directory) when first written.
func OpenState(path string) *State { return &State{path: path} }

// DefaultStatePath is the state file under the user's cache directory
// (~/.cache/yjshub/uploads.json on Linux).
func DefaultStatePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("the user cache directory: %w", err)
	}
	return filepath.Join(dir, "yjshub", "uploads.json"), nil
}

// Path is the file the State is kept in.
func (s *State) Path() string { return s.path }

func (s *State) load() (map[string]stateEntry, error) {
	m := map[string]stateEntry{}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upload state %s: %w", s.path, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		// A damaged file costs uploads started over, not the command.
		return map[string]stateEntry{}, nil
	}
	return m, nil
}

// save writes the file whole through a temporary file, so that a run killed while writing
// leaves the previous state, not half of one.
func (s *State) save(m map[string]stateEntry) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("upload state: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".uploads-*.json")
	if err != nil {
		return fmt.Errorf("upload state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("upload state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("upload state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("upload state: %w", err)
	}
	return nil
}

func stateKey(sum, endpoint string) string { return sum + " " + endpoint }

// lookup returns what the State holds of the file of sha256 sum and size sent to endpoint.
func (s *State) lookup(sum, endpoint string, size int64) (stateEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return stateEntry{}, err
	}
	e, ok := m[stateKey(sum, endpoint)]
	if !ok || e.Size != size {
		return stateEntry{}, nil
	}
	return e, nil
}

// remember records the upload URL of the file of sha256 sum.
func (s *State) remember(sum, endpoint string, size int64, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	m[stateKey(sum, endpoint)] = stateEntry{Endpoint: endpoint, URL: url, Size: size}
	return s.save(m)
}

// finished records the material the upload of the file of sha256 sum became.
func (s *State) finished(sum, endpoint string, size int64, material string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	m[stateKey(sum, endpoint)] = stateEntry{Endpoint: endpoint, Size: size, Material: material}
	return s.save(m)
}

// forget removes the entry of the file of sha256 sum.
func (s *State) forget(sum, endpoint string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[stateKey(sum, endpoint)]; !ok {
		return nil
	}
	delete(m, stateKey(sum, endpoint))
	return s.save(m)
}
