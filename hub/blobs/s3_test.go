package blobs_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"yjshub/hub/blobs"
	"yjshub/hub/blobs/blobstest"
)

type s3Store struct {
	*blobs.S3
	cfg blobs.S3Config
}

func s3Harness() blobstest.Harness {
	return blobstest.Harness{
		New: func(t testing.TB) blobs.Store {
			st, cfg := blobstest.NewS3(t) // removes what the test left under its prefix
			return s3Store{st, cfg}
		},
		List: func(t testing.TB, st blobs.Store) []string {
			s := st.(s3Store)
			return blobstest.S3Objects(t, blobstest.RawClient(s.cfg), s.cfg.Bucket, s.cfg.Prefix+"/")
		},
	}
}

func TestS3Conformance(t *testing.T) {
	blobstest.S3Config(t) // skip (or fail) once, not in every case of the suite
	blobstest.Run(t, s3Harness())
}

func BenchmarkS3(b *testing.B) {
	blobstest.S3Config(b)
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
	out, err := blobstest.RawClient(st.cfg).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(name)})
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
	cfg := blobstest.S3Config(t)
	cfg.Bucket = "no-such-bucket-" + cfg.Prefix
	_, err := blobs.NewS3(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Fatalf("NewS3 with a missing bucket: %v; want an error naming it", err)
	}
	if strings.Contains(err.Error(), cfg.SecretKey) {
		t.Errorf("the error %q carries the secret key", err)
	}
}
