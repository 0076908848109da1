package blobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Disk keeps blobs as files under a directory: dir/ab/cd/<sha256>, where ab and cd are the
// hash's first two pairs of hex digits (so no directory holds more than a few thousand
// entries), each beside a sidecar <sha256>.json holding its content type. It is the embedded
// default under the hub's data directory.
//
// A Put writes to a temporary file in the blob's own directory (the same file system, so the
// final step is atomic), hashing as it writes, syncs it, and links it into place only when
// its hash and size match. A blob's file is never modified once in place: its modification
// time is when it was stored. Temporary files are named ".put-*" and are removed by the Put
// that made them; only a crash mid-Put leaves one behind, and SweepTemp removes those: at
// open, and at each sweep of the retention sweeper.
type Disk struct {
	dir string
}

// NewDisk returns a Disk keeping its blobs under dir, which it creates if need be.
func NewDisk(dir string) (*Disk, error) {
	if dir == "" {
		return nil, errors.New("blobs: the disk store needs a directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blobs: disk store directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("blobs: disk store directory: %w", err)
	}
	d := &Disk{dir: abs}
	// What a crash left: a Put writes its temporary file without pause, so one not written for
	// TempMaxAge is no running Put's, whichever hub instance shares the directory.
	if _, err := d.SweepTemp(context.Background(), time.Now().Add(-TempMaxAge)); err != nil {
		return nil, err
	}
	return d, nil
}

// TempMaxAge is how long a Put's temporary file may go unwritten before it counts as a
// crash's leftover that NewDisk removes.
const TempMaxAge = time.Hour

// tempPrefix begins the name of every temporary file of a Put (blob and sidecar).
const tempPrefix = ".put-"

// SweepTemp removes the temporary files of Puts (".put-*") last written before before, which
// only a crash mid-Put leaves behind, and returns how many it removed. It looks in the
// directories blobs are kept in (dir/ab/cd), and carries on past a failure, returning every
// error met.
func (d *Disk) SweepTemp(ctx context.Context, before time.Time) (int, error) {
	removed := 0
	var errs []error
	err := filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // a directory removed meanwhile
				return nil
			}
			errs = append(errs, err)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			// Blobs are two levels down; nothing deeper is the store's.
			if rel, _ := filepath.Rel(d.dir, path); strings.Count(rel, string(filepath.Separator)) >= 2 {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		if !info.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			return nil
		}
		removed++
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("blobs: sweeping temporary files: %w", err)
	}
	return removed, nil
}

// Dir returns the directory the blobs are kept under.
func (d *Disk) Dir() string { return d.dir }

// path returns the file of a checked key.
func (d *Disk) path(key string) string {
	return filepath.Join(d.dir, key[0:2], key[2:4], key)
}

// sidecar is what the .json beside a blob holds.
type sidecar struct {
	ContentType string `json:"content_type"`
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, key string, size int64, contentType string, r io.Reader) (bool, error) {
	if err := checkPut(key, size); err != nil {
		return false, err
	}
	final := d.path(key)
	if _, err := os.Stat(final); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("blobs: stat %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	dir := filepath.Dir(final)
	newDirs, err := d.mkdirs(key)
	if err != nil {
		return false, fmt.Errorf("blobs: put %s: %w", key, err)
	}
	tmp, err := d.writeTemp(ctx, dir, key, size, r)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp) // gone already once linked or renamed; removed here on any failure

	// The sidecar first: a blob in place always has its content type beside it.
	if err := d.writeSidecar(dir, key, contentType); err != nil {
		return false, err
	}
	created, err := place(tmp, final)
	if err != nil {
		return false, fmt.Errorf("blobs: put %s: %w", key, err)
	}
	// The blob's directory entry, and those of directories this Put made, must outlive a
	// crash as the bytes do.
	for _, p := range append([]string{dir}, newDirs...) {
		if err := syncDir(p); err != nil {
			return false, fmt.Errorf("blobs: put %s: %w", key, err)
		}
	}
	return created, nil
}

// mkdirs makes the blob's directories dir/ab and dir/ab/cd where missing, and returns the
// directories whose entries changed (the parents of those made), to be synced.
func (d *Disk) mkdirs(key string) ([]string, error) {
	var changed []string
	parent := d.dir
	for _, part := range []string{key[0:2], key[2:4]} {
		p := filepath.Join(parent, part)
		err := os.Mkdir(p, 0o750)
		switch {
		case err == nil:
			changed = append(changed, parent)
		case !errors.Is(err, fs.ErrExist):
			return nil, err
		}
		parent = p
	}
	return changed, nil
}

// writeTemp streams r into a new temporary file in dir through a verifier and syncs it; it
// returns the file's name only when the bytes match key and size, and removes it otherwise.
func (d *Disk) writeTemp(ctx context.Context, dir, key string, size int64, r io.Reader) (name string, err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("blobs: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	v := newVerifier(ctxReader{ctx, r}, size)
	if _, err := io.Copy(f, v); err != nil {
		return "", fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if err := v.match(key); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("blobs: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("blobs: put %s: %w", key, err)
	}
	return f.Name(), nil
}

// writeSidecar replaces the blob's sidecar atomically. Two Puts of the same new blob may both
// write it; the last one's content type stays, which is as good as the first's.
func (d *Disk) writeSidecar(dir, key, contentType string) error {
	b, err := json.Marshal(sidecar{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*.json")
	if err != nil {
		return fmt.Errorf("blobs: put %s: %w", key, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blobs: put %s: sidecar: %w", key, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, key+".json")); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blobs: put %s: sidecar: %w", key, err)
	}
	return nil
}

// place puts tmp at final unless something is there already. A hard link fails when final
// exists, so of two Puts of the same new blob exactly one reports created; where the file
// system has no hard links, a rename (atomic, and the bytes are the same) takes its place.
func place(tmp, final string) (created bool, err error) {
	err = os.Link(tmp, final)
	switch {
	case err == nil:
		return true, os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	if _, serr := os.Stat(final); serr == nil {
		return false, nil
	}
	if err := os.Rename(tmp, final); err != nil {
		return false, err
	}
	return true, nil
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := f.Sync()
	return errors.Join(serr, f.Close())
}

// Open implements Store.
func (d *Disk) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Info, error) {
	if err := checkKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, Info{}, d.notFound(key, err)
	}
	info, err := d.info(key, f)
	if err != nil {
		_ = f.Close()
		return nil, Info{}, err
	}
	n, err := checkRange(offset, length, info.Size)
	if err != nil {
		_ = f.Close()
		return nil, Info{}, err
	}
	return readCloser{io.NewSectionReader(f, offset, n), f}, info, nil
}

// Stat implements Store.
func (d *Disk) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return Info{}, d.notFound(key, err)
	}
	defer f.Close()
	return d.info(key, f)
}

// info describes the open blob file f.
func (d *Disk) info(key string, f *os.File) (Info, error) {
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("blobs: stat %s: %w", key, err)
	}
	info := Info{SHA256: key, Size: st.Size(), Created: st.ModTime().UTC()}
	b, err := os.ReadFile(d.path(key) + ".json")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Only a Delete racing this read leaves a blob without its sidecar: no content type.
	case err != nil:
		return Info{}, fmt.Errorf("blobs: stat %s: sidecar: %w", key, err)
	default:
		var sc sidecar
		if err := json.Unmarshal(b, &sc); err != nil {
			return Info{}, fmt.Errorf("blobs: stat %s: sidecar: %w", key, err)
		}
		info.ContentType = sc.ContentType
	}
	return info, nil
}

func (d *Disk) notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("blobs: open %s: %w", key, err)
}

// Delete implements Store. The blob goes before its sidecar, so that a blob in place always
// has one.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: delete %s: %w", key, err)
	}
	if err := os.Remove(p + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: delete %s: sidecar: %w", key, err)
	}
	return nil
}

// ctxReader stops a long copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
