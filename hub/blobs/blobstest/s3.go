package blobstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"yjshub/hub/blobs"
)

// The S3 API server of the tests: scripts/s3proxy.sh (make services) writes these into
// services.env.
const (
	EnvS3          = "YJSHUB_TEST_S3"
	EnvS3Region    = "YJSHUB_TEST_S3_REGION"
	EnvS3Bucket    = "YJSHUB_TEST_S3_BUCKET"
	EnvS3AccessKey = "YJSHUB_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "YJSHUB_TEST_S3_SECRET_KEY"
	EnvRequireReal = "YJSHUB_REQUIRE_REAL"
)

// S3Config returns the test server's configuration under a prefix no other test or run has
// used, skipping the test when there is no server (failing it when YJSHUB_REQUIRE_REAL is set),
// for the tests of packages that keep things in S3 beside the blob store.
func S3Config(t testing.TB) blobs.S3Config {
	t.Helper()
	endpoint := os.Getenv(EnvS3)
	if endpoint == "" {
		if os.Getenv(EnvRequireReal) != "" {
			t.Fatalf("%s is set but %s is not: this run must cover an S3 API server; run `make services` (scripts/s3proxy.sh) and source services.env", EnvRequireReal, EnvS3)
		}
		t.Skipf("S3 tests skipped: %s is unset (make services starts S3Proxy and writes it into services.env)", EnvS3)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return blobs.S3Config{
		Endpoint:  endpoint,
		Region:    os.Getenv(EnvS3Region),
		Bucket:    os.Getenv(EnvS3Bucket),
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		Prefix:    "t" + hex.EncodeToString(r[:]),
		PathStyle: true,
	}
}

// NewS3 returns an S3 store on the test server under a prefix of the test's own (see
// S3Config), and removes everything under that prefix when the test ends: objects and
// multipart uploads left open.
func NewS3(t testing.TB) (*blobs.S3, blobs.S3Config) {
	t.Helper()
	cfg := S3Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := blobs.NewS3(ctx, cfg)
	if err != nil {
		t.Fatalf("%s is set but the S3 store cannot be made: %v", EnvS3, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, b, p := st.Client(), aws.String(cfg.Bucket), aws.String(cfg.Prefix+"/")
		for _, k := range S3Objects(t, c, cfg.Bucket, cfg.Prefix+"/") {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(cfg.Prefix + "/" + k)})
		}
		if out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Prefix: p}); err == nil {
			for _, u := range out.Uploads {
				_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: u.Key, UploadId: u.UploadId})
			}
		}
	})
	return st, cfg
}

// RawClient is a client of the test server of its own, to see the bucket as it is.
func RawClient(cfg blobs.S3Config) *s3.Client {
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
}

// S3Objects lists every object under prefix, by its name after the prefix.
func S3Objects(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key)[len(prefix):])
		}
	}
	return out
}

// S3MultipartUploads lists the keys, after prefix, of the multipart uploads open under prefix.
func S3MultipartUploads(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("list the multipart uploads under %s/%s: %v", bucket, prefix, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key)[len(prefix):])
	}
	return keys
}
