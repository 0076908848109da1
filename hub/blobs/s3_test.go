package blobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"yjshub/hub/blobs"
	"yjshub/hub/blobs/blobstest"
)

// The S3 API server of the tests: scripts/s3proxy.sh (make services) writes these into
// services.env.
const (
	envS3          = "YJSHUB_TEST_S3"
	envS3Region    = "YJSHUB_TEST_S3_REGION"
	envS3Bucket    = "YJSHUB_TEST_S3_BUCKET"
	envS3AccessKey = "YJSHUB_TEST_S3_ACCESS_KEY"
	envS3SecretKey = "YJSHUB_TEST_S3_SECRET_KEY"
	envRequireReal = "YJSHUB_REQUIRE_REAL"
)

// s3Config returns the test server's configuration under a prefix no other test or run has
// used, skipping the test when there is no server (failing it when YJSHUB_REQUIRE_REAL is set).
func s3Config(t testing.TB) blobs.S3Config {
	t.Helper()
	endpoint := os.Getenv(envS3)
	if endpoint == "" {
		if os.Getenv(envRequireReal) != "" {
			t.Fatalf("%s is set but %s is not: this run must cover an S3 API server; run `make services` (scripts/s3proxy.sh) and source services.env", envRequireReal, envS3)
		}
		t.Skipf("S3 tests skipped: %s is unset (make services starts S3Proxy and writes it into services.env)", envS3)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return blobs.S3Config{
		Endpoint:  endpoint,
		Region:    os.Getenv(envS3Region),
		Bucket:    os.Getenv(envS3Bucket),
		AccessKey: os.Getenv(envS3AccessKey),
		SecretKey: os.Getenv(envS3SecretKey),
		Prefix:    "t" + hex.EncodeToString(r[:]),
		PathStyle: true,
	}
}

// rawClient is a client of the test server of its own, to see the bucket as it is.
func rawClient(cfg blobs.S3Config) *s3.Client {
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

// objects lists every object under prefix.
func objects(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), prefix+"/"))
		}
	}
	return out
}

type s3Store struct {
	*blobs.S3
	cfg blobs.S3Config
}

func s3Harness() blobstest.Harness {
	return blobstest.Harness{
		New: func(t testing.TB) blobs.Store {
			cfg := s3Config(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := blobs.NewS3(ctx, cfg)
			if err != nil {
				t.Fatalf("%s is set but the S3 store cannot be made: %v", envS3, err)
			}
			c := rawClient(cfg)
			t.Cleanup(func() {
				for _, k := range objects(t, c, cfg.Bucket, cfg.Prefix) {
					_, _ = c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(cfg.Prefix + "/" + k)})
				}
			})
			return s3Store{st, cfg}
		},
		List: func(t testing.TB, st blobs.Store) []string {
			s := st.(s3Store)
			return objects(t, rawClient(s.cfg), s.cfg.Bucket, s.cfg.Prefix)
		},
	}
}

func TestS3Conformance(t *testing.T) {
	s3Config(t) // skip (or fail) once, not in every case of the suite
	blobstest.Run(t, s3Harness())
}

func BenchmarkS3(b *testing.B) {
	s3Config(b)
	blobstest.Bench(b, s3Harness(), 4<<20)
}

func TestS3KeepsABlobUnderPrefixAndHashWithItsContentType(t *testing.T) {
	h := s3Harness()
	st := h.New(t).(s3Store)
	b := blobstest.NewBlob(1, 1000)
	if _, err := st.Put(t.Context(), b.Key, 1000, "application/ofd", strings.NewReader(string(b.Data))); err != nil {
		t.Fatal(err)
	}
	name := st.cfg.Prefix + "/" + b.Key[:2] + "/" + b.Key[2:4] + "/" + b.Key
	out, err := rawClient(st.cfg).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(name)})
	if err != nil {
		t.Fatalf("head %s: %v", name, err)
	}
	if got := aws.ToString(out.ContentType); got != "application/ofd" {
		t.Errorf("the object's Content-Type is %q; want application/ofd", got)
	}
	if got := h.List(t, st); len(got) != 1 {
		t.Errorf("the bucket holds %v under the prefix; want the blob alone", got)
	}
}

func TestS3ConfigNamesEveryProblem(t *testing.T) {
	err := blobs.S3Config{AccessKey: "k", Endpoint: "ftp://x"}.Validate()
	if err == nil {
		t.Fatal("a config without bucket, with half the credentials and an ftp endpoint was valid")
	}
	for _, want := range []string{"bucket is required", "access_key and secret_key go together", `scheme "ftp"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestNewS3RefusesABucketThatDoesNotAnswer(t *testing.T) {
	cfg := s3Config(t)
	cfg.Bucket = "no-such-bucket-" + cfg.Prefix
	_, err := blobs.NewS3(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Fatalf("NewS3 with a missing bucket: %v; want an error naming it", err)
	}
	if strings.Contains(err.Error(), cfg.SecretKey) {
		t.Errorf("the error %q carries the secret key", err)
	}
}
