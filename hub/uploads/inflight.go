package uploads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"yjshub/hub/blobs"
)

// InFlightStore names where uploads in flight are kept (Config.InFlight).
type InFlightStore string

const (
	// InFlightDisk keeps uploads in flight in tusd's filestore under Config.Dir.
	InFlightDisk InFlightStore = "disk"
	// InFlightS3 keeps uploads in flight in tusd's s3store, in the bucket of Config.S3 under its
	// UploadsPrefix: an S3 multipart upload per upload, with the upload's .info object beside it.
	InFlightS3 InFlightStore = "s3"
)

// Part sizes of the S3 multipart uploads that hold uploads in flight. tusd's preferred part
// of 50 MiB would spool a whole material to the local disk before its first byte leaves for
// S3; parts of S3's minimum, 5 MiB, go to S3 while the rest of the request still arrives (tusd
// sends up to ten at once), and 10,000 of them hold 50 GB, far above any material's limit. On
// a loopback S3 the two take the same time (BenchmarkUpload50MB); the overlap is for an S3
// across a network.
const (
	s3MinPartSize       = 5 << 20
	s3PreferredPartSize = 5 << 20
)

// inFlight is where the Service keeps uploads in flight: tusd's DataStore with the termination
// extension, and what the Service needs beside tusd's handler.
type inFlight interface {
	// useIn makes the store the composer's core and terminater.
	useIn(c *tusd.StoreComposer)
	GetUpload(ctx context.Context, id string) (tusd.Upload, error)
	AsTerminatableUpload(up tusd.Upload) tusd.TerminatableUpload
	// validID reports whether id could name an upload of the store; an id that could not is
	// never looked up (a path, a key of someone else's).
	validID(id string) bool
	// assemble makes a complete upload's bytes readable as a whole, for an upload whose
	// finishing failed after its last byte arrived: tusd finishes an upload only in the request
	// that completes it.
	assemble(ctx context.Context, up tusd.Upload, info tusd.FileInfo) error
	// readerAt gives random access to a finished upload's bytes, for the OFD check (a zip's
	// directory is at its end); the caller closes it.
	readerAt(ctx context.Context, info tusd.FileInfo) (io.ReaderAt, io.Closer, error)
	// ids lists every upload in flight, for Sweep.
	ids(ctx context.Context) ([]string, error)
}

// newInFlight returns the store cfg names.
func newInFlight(cfg Config) inFlight {
	if cfg.InFlight == InFlightS3 {
		return newS3InFlight(cfg.S3, cfg.Dir)
	}
	return diskInFlight{filestore.New(cfg.Dir)}
}

// diskInFlight is tusd's filestore: an upload is the file <Dir>/<id> with <id>.info beside it.
type diskInFlight struct{ filestore.FileStore }

func (d diskInFlight) useIn(c *tusd.StoreComposer) { d.UseIn(c) }

// validID refuses what would leave the directory.
func (diskInFlight) validID(id string) bool { return id != "" && !strings.ContainsAny(id, "/.\\") }

// assemble has nothing to do: the file is the upload.
func (diskInFlight) assemble(context.Context, tusd.Upload, tusd.FileInfo) error { return nil }

func (diskInFlight) readerAt(_ context.Context, info tusd.FileInfo) (io.ReaderAt, io.Closer, error) {
	f, err := os.Open(info.Storage["Path"])
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

func (d diskInFlight) ids(context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".info"); ok && !e.IsDir() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// s3InFlight is tusd's s3store in the blob store's bucket. An upload's id is
// "<object id>+<multipart upload id>"; its objects are <prefix><object id>.info (tusd's
// FileInfo as JSON), <prefix><object id>.part (bytes short of a part, between requests) and,
// once complete, <prefix><object id> (the whole file); its parts are in the multipart upload
// until then.
type s3InFlight struct {
	store  s3store.S3Store
	client *s3.Client
	bucket string
	prefix string
}

func newS3InFlight(b *blobs.S3, tmp string) *s3InFlight {
	st := s3store.New(b.Bucket(), withoutObjectMetadata{b.Client()})
	st.ObjectPrefix = b.UploadsPrefix()
	// Parts are spooled next to the lock files, on the disk the hub was given for uploads.
	st.TemporaryDirectory = tmp
	st.MinPartSize, st.PreferredPartSize = s3MinPartSize, s3PreferredPartSize
	return &s3InFlight{store: st, client: b.Client(), bucket: b.Bucket(), prefix: b.UploadsPrefix()}
}

// withoutObjectMetadata keeps an upload's metadata out of its S3 object: s3store would copy
// it into the object's user metadata, where bucket tooling (listings, replication, inventory)
// shows an applicant's holder number to whoever browses the bucket. The .info object keeps the
// metadata for the hub.
type withoutObjectMetadata struct{ *s3.Client }

func (c withoutObjectMetadata) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	in.Metadata = nil
	return c.Client.CreateMultipartUpload(ctx, in, opts...)
}

// useIn registers the store's core and termination only: the hub turns concatenation, deferred
// lengths and downloads off.
func (s *s3InFlight) useIn(c *tusd.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
}

// NewUpload implements tusd.DataStore.
func (s *s3InFlight) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	up, err := s.store.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	return &s3Upload{Upload: up, fl: s}, nil
}

// GetUpload implements tusd.DataStore.
func (s *s3InFlight) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	up, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return &s3Upload{Upload: up, fl: s}, nil
}

// AsTerminatableUpload implements tusd.TerminaterDataStore.
func (s *s3InFlight) AsTerminatableUpload(up tusd.Upload) tusd.TerminatableUpload {
	if u, ok := up.(*s3Upload); ok {
		up = u.Upload
	}
	return s.store.AsTerminatableUpload(up)
}

// validID wants the hub's own object id (newID("up_")) and a multipart upload id without a
// path separator or control character.
func (s *s3InFlight) validID(id string) bool {
	obj, mpu, ok := strings.Cut(id, "+")
	return ok && validUploadObject(obj) && mpu != "" &&
		!strings.ContainsFunc(mpu, func(r rune) bool { return r == '/' || r == '\\' || r < 0x20 || r == 0x7f })
}

// validUploadObject reports whether obj is an id newID("up_") made.
func validUploadObject(obj string) bool {
	h, ok := strings.CutPrefix(obj, "up_")
	return ok && len(h) == 32 && !strings.ContainsFunc(h, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'f')
	})
}

// objectKey is the name of the object that holds upload id's bytes once it is complete.
func (s *s3InFlight) objectKey(id string) string {
	obj, _, _ := strings.Cut(id, "+")
	return s.prefix + obj
}

// assembled reports whether upload id's multipart upload has been completed into its object of
// size bytes.
func (s *s3InFlight) assembled(ctx context.Context, id string, size int64) (bool, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(id))})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return false, nil
		}
		return false, err
	}
	return aws.ToInt64(out.ContentLength) == size, nil
}

func (s *s3InFlight) assemble(ctx context.Context, up tusd.Upload, info tusd.FileInfo) error {
	done, err := s.assembled(ctx, info.ID, info.Size)
	if err != nil || done {
		return err
	}
	return up.FinishUpload(ctx)
}

func (s *s3InFlight) readerAt(ctx context.Context, info tusd.FileInfo) (io.ReaderAt, io.Closer, error) {
	r := &rangeReader{ctx: ctx, s: s, key: s.objectKey(info.ID), size: info.Size}
	return r, io.NopCloser(nil), nil
}

// ids lists the .info objects under the prefix and reads each upload's id from it: S3 is the
// record of what is in flight, whichever hub instance created it, and an upload's id holds its
// multipart upload's, which only the .info object names. A local record would miss the uploads
// of other instances and outlive a lost disk.
func (s *s3InFlight) ids(ctx context.Context) ([]string, error) {
	var ids []string
	var errs []error
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ids, fmt.Errorf("list %s: %w", s.prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasSuffix(key, ".info") {
				continue
			}
			id, err := s.idOf(ctx, key)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ids = append(ids, id)
		}
	}
	return ids, errors.Join(errs...)
}

// idOf reads the upload id from the .info object key.
func (s *s3InFlight) idOf(ctx context.Context, key string) (string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer func() { _ = out.Body.Close() }()
	var info struct{ ID string }
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	if !s.validID(info.ID) {
		return "", fmt.Errorf("%s names no upload of the hub's", key)
	}
	return info.ID, nil
}

// s3Upload is an upload of s3store whose offset is right on S3-compatible servers that answer
// ListParts of a completed multipart upload with an empty list (S3Proxy does, on every backend)
// rather than NoSuchUpload, as AWS does: tusd would take that for an upload with no bytes
// yet, and a client resuming after a failed finish would start again from 0.
type s3Upload struct {
	tusd.Upload
	fl *s3InFlight
}

// GetInfo implements tusd.Upload: an upload without parts whose object exists is complete.
func (u *s3Upload) GetInfo(ctx context.Context) (tusd.FileInfo, error) {
	info, err := u.Upload.GetInfo(ctx)
	if err != nil || info.Offset != 0 || info.Size == 0 || info.SizeIsDeferred {
		return info, err
	}
	done, err := u.fl.assembled(ctx, info.ID, info.Size)
	if err != nil {
		return info, err
	}
	if done {
		info.Offset = info.Size
	}
	return info, nil
}

// rangeReader reads a finished upload's object by ranged GETs, for the OFD check: zip reads
// the end of the file and then its directory in small pieces, so each GET fetches a window
// of at least rangeWindow bytes and the next read is usually served from it. It is not safe
// for concurrent use (zip does not read concurrently).
type rangeReader struct {
	// ctx is the finishing request's: io.ReaderAt has no context of its own, and the reader
	// lives only as long as the check.
	ctx  context.Context
	s    *s3InFlight
	key  string
	size int64
	// off and buf are the window last fetched.
	off int64
	buf []byte
}

// rangeWindow covers a zip's end of directory record and the directory of an OFD of a few
// hundred entries in one GET.
const rangeWindow = 64 << 10

// ReadAt implements io.ReaderAt.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("uploads: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	if off < r.off || off+int64(len(p)) > r.off+int64(len(r.buf)) {
		if err := r.fetch(off, max(int64(len(p)), rangeWindow)); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[off-r.off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetch reads n bytes from off (fewer at the end of the object) into the window.
func (r *rangeReader) fetch(off, n int64) error {
	end := min(off+n, r.size) - 1
	out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket: aws.String(r.s.bucket), Key: aws.String(r.key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
	})
	if err != nil {
		return err
	}
	defer func() { _ = out.Body.Close() }()
	buf, err := io.ReadAll(io.LimitReader(out.Body, end-off+1))
	if err != nil {
		return err
	}
	r.off, r.buf = off, buf
	return nil
}
