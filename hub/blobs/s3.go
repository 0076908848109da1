package blobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// maxSinglePut is the largest object one PutObject (and one CopyObject) may carry; a blob
// larger than that would need a multipart upload, which materials (scans and licences of a
// few megabytes) do not.
const maxSinglePut = 5 << 30

// S3 keeps blobs in an S3-compatible bucket as objects <prefix>/ab/cd/<sha256>, with the
// content type as the object's Content-Type.
//
// A Put first asks whether the blob is there (HeadObject); if not, it streams the bytes
// through a hasher to a temporary object <prefix>/tmp/<sha256>.<random>, then copies that to
// the blob's name only when hash and size match, and deletes the temporary object either way.
// S3 has no create-if-absent for a copy, so two Puts of the same new blob at once may both
// report created; both leave the same bytes under the same name.
type S3 struct {
	client *s3.Client
	cfg    S3Config
}

// NewS3 returns an S3 store for cfg, after checking that its bucket answers.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blobs: s3: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums only where S3 requires them: the hub verifies the SHA-256 itself, and
		// S3-compatible servers do not all know the SDK's newer default (CRC trailers).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	st := &S3{client: client, cfg: cfg}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		return nil, fmt.Errorf("blobs: s3: bucket %s at %s: %w", cfg.Bucket, st.where(), err)
	}
	return st, nil
}

func (s *S3) where() string {
	if s.cfg.Endpoint == "" {
		return "AWS " + s.cfg.Region
	}
	return s.cfg.Endpoint
}

// name returns the object name of a checked key.
func (s *S3) name(key string) string {
	return s.join(key[0:2] + "/" + key[2:4] + "/" + key)
}

// TempPrefix returns the prefix of the temporary objects of Puts in flight; one left there
// is from a Put that was interrupted, and may be deleted once it is a day old.
func (s *S3) TempPrefix() string { return s.join("tmp/") }

func (s *S3) join(rest string) string {
	if s.cfg.Prefix == "" {
		return rest
	}
	return s.cfg.Prefix + "/" + rest
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, size int64, contentType string, r io.Reader) (bool, error) {
	if err := checkPut(key, size); err != nil {
		return false, err
	}
	if size > maxSinglePut {
		return false, fmt.Errorf("blobs: put %s: %d bytes is more than the %d one S3 request may carry", key, size, int64(maxSinglePut))
	}
	if _, err := s.Stat(ctx, key); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}

	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := s.TempPrefix() + key + "." + hex.EncodeToString(rnd[:])
	v := newVerifier(r, size)
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(tmp),
		Body:          v,
		ContentLength: aws.Int64(size),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	// The body is a stream, read once: it is not hashed ahead for the signature (the hub checks
	// the bytes itself, and before they are kept).
	_, perr := s.client.PutObject(ctx, in, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if perr != nil {
		s.deleteTemp(tmp)
		// A source shorter than size makes the request fail; that is a mismatch, not an
		// outage.
		if v.short {
			return false, v.match(key)
		}
		return false, fmt.Errorf("blobs: put %s: %w", key, perr)
	}
	if err := v.match(key); err != nil {
		s.deleteTemp(tmp)
		return false, err
	}
	_, cerr := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.cfg.Bucket),
		Key:        aws.String(s.name(key)),
		CopySource: aws.String(s.cfg.Bucket + "/" + tmp),
	})
	s.deleteTemp(tmp)
	if cerr != nil {
		return false, fmt.Errorf("blobs: put %s: copy into place: %w", key, cerr)
	}
	return true, nil
}

// deleteTemp removes a temporary object, also when the Put's context is done: it must not
// be left behind because the caller gave up.
func (s *S3) deleteTemp(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
}

// Open implements Store. A ranged GetObject fetches only the bytes asked for.
func (s *S3) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Info, error) {
	if err := checkKey(key); err != nil {
		return nil, Info{}, err
	}
	if offset < 0 {
		return nil, Info{}, fmt.Errorf("%w: offset %d", ErrBadRange, offset)
	}
	if length == 0 {
		// No HTTP range is empty: ask for the description only.
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, Info{}, err
		}
		if _, err := checkRange(offset, length, info.Size); err != nil {
			return nil, Info{}, err
		}
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.name(key))}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if status(err) == http.StatusRequestedRangeNotSatisfiable {
			return s.openEmptyTail(ctx, key, offset)
		}
		return nil, Info{}, s.fail("open", key, err)
	}
	info := Info{SHA256: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), Created: aws.ToTime(out.LastModified).UTC()}
	if in.Range != nil {
		total, ok := totalOf(aws.ToString(out.ContentRange))
		if !ok {
			_ = out.Body.Close()
			return nil, Info{}, fmt.Errorf("blobs: open %s: the server answered a range with Content-Range %q", key, aws.ToString(out.ContentRange))
		}
		info.Size = total
	}
	return out.Body, info, nil
}

// openEmptyTail answers a range S3 refused: the empty tail of a blob (offset == size) is a
// valid read of nothing, anything past it is ErrBadRange.
func (s *S3) openEmptyTail(ctx context.Context, key string, offset int64) (io.ReadCloser, Info, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	if _, err := checkRange(offset, -1, info.Size); err != nil {
		return nil, Info{}, err
	}
	return io.NopCloser(strings.NewReader("")), info, nil
}

// totalOf reads the complete length from a Content-Range "bytes a-b/total".
func totalOf(contentRange string) (int64, bool) {
	i := strings.LastIndexByte(contentRange, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(contentRange[i+1:], 10, 64)
	return n, err == nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.name(key))})
	if err != nil {
		return Info{}, s.fail("stat", key, err)
	}
	return Info{SHA256: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), Created: aws.ToTime(out.LastModified).UTC()}, nil
}

// Delete implements Store; S3's DeleteObject is already quiet about a missing object.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.name(key))})
	if err != nil && status(err) != http.StatusNotFound {
		return fmt.Errorf("blobs: delete %s: %w", key, err)
	}
	return nil
}

// fail turns S3's "no such object" (NoSuchKey from GET, a bare 404 from HEAD) into
// ErrNotFound.
func (s *S3) fail(op, key string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") || status(err) == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("blobs: %s %s: %w", op, key, err)
}

// status returns the HTTP status of an S3 error, or 0.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
