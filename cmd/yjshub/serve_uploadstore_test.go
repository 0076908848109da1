package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"yjshub/hub/blobs/blobstest"
	"yjshub/hub/links"
)

// serve refuses --upload-store values it does not know and s3 without the S3 blob store whose
// bucket would keep them, naming these with every other problem of the file flags at once.
func TestServeNamesEveryProblemOfTheUploadStoreFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"uploads in S3 on the disk blob store", []string{"--upload-store=s3"},
			[]string{`--upload-store=s3 keeps uploads in flight in the S3 blob store's bucket, and --blob-store is "disk"`}},
		{"an unknown upload store with an unknown blob store and a negative age", []string{"--upload-store=nfs", "--blob-store=nfs", "--upload-max-age=-1s"},
			[]string{`--upload-store "nfs": want disk or s3`, `--blob-store "nfs"`, "--upload-max-age -1s"}},
		{"uploads in S3 whose S3 store lacks a bucket", []string{"--upload-store=s3", "--blob-store=s3"},
			[]string{"bucket is required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envS3AccessKey, "")
			t.Setenv(envS3SecretKey, "")
			args := append([]string{"serve", "--addr=127.0.0.1:0", "--data-dir=" + t.TempDir()}, c.args...)
			code, _, stderr := runCLI(t, args...)
			if code == 0 {
				t.Fatalf("serve %v: exit 0; want it refused", c.args)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("serve %v: %q does not name %q", c.args, stderr, w)
				}
			}
		})
	}
}

// serve --blob-store=s3 --upload-store=s3 keeps an upload in flight in the bucket, under the
// S3 prefix's uploads/, and nothing of it once it is a material: the bytes are the blob's.
func TestServeKeepsUploadsInFlightInTheS3Bucket(t *testing.T) {
	files, ok := fileBackends(t)["s3"]
	if !ok {
		blobstest.S3Config(t) // skips, or fails under YJSHUB_REQUIRE_REAL
	}
	files.uploadStore = "s3"
	var o serveOptions
	o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
	keys := writeClients(t, o.clientsFile, "platform")
	o.files = files
	o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
	hub, _ := startSimulatedHub(t, o)
	platform := keys["platform"]
	c := blobstest.RawClient(files.s3)
	uploadsPrefix := files.s3.Prefix + "/uploads/"
	t.Cleanup(func() {
		for _, k := range blobstest.S3Objects(t, c, files.s3.Bucket, files.s3.Prefix+"/") {
			_, _ = c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(files.s3.Bucket), Key: aws.String(files.s3.Prefix + "/" + k)})
		}
	})

	content := samplePDF(6<<20 + 321)
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	res, b := tusRequest(t, http.MethodPost, hub+"/api/v1/uploads", platform, nil, map[string]string{
		"Upload-Length":   strconv.Itoa(len(content)),
		"Upload-Metadata": tusMetadata("filename", "form.pdf", "type", "application-form", "holder", "11010519491231002X", "sha256", want),
	})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("creating the upload: %d %s", res.StatusCode, b)
	}
	upload := res.Header.Get("Location")
	if !strings.HasPrefix(upload, "http") {
		upload = hub + upload
	}
	id, _, _ := strings.Cut(upload[strings.LastIndexByte(upload, '/')+1:], "+")
	half := 1 << 20
	res, b = tusRequest(t, http.MethodPatch, upload, platform, content[:half], map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("the first chunk: %d %s", res.StatusCode, b)
	}
	if got := blobstest.S3Objects(t, c, files.s3.Bucket, uploadsPrefix); !slices.Contains(got, id+".info") || !slices.Contains(got, id+".part") {
		t.Errorf("in flight, the bucket holds %v under %s; want %s.info and the first MiB in %s.part", got, uploadsPrefix, id, id)
	}
	res, b = tusRequest(t, http.MethodPatch, upload, platform, content[half:], map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(half)})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Upload-Material-Id") == "" {
		t.Fatalf("the last chunk: %d material %q %s", res.StatusCode, res.Header.Get("Upload-Material-Id"), b)
	}
	if got := blobstest.S3Objects(t, c, files.s3.Bucket, uploadsPrefix); len(got) != 0 {
		t.Errorf("after the material was made the bucket holds %v under %s; want nothing", got, uploadsPrefix)
	}
	blob := files.s3.Prefix + "/" + want[:2] + "/" + want[2:4] + "/" + want
	if got := blobstest.S3Objects(t, c, files.s3.Bucket, files.s3.Prefix+"/"); !slices.Contains(got, blob[len(files.s3.Prefix)+1:]) {
		t.Errorf("the bucket holds %v; want the blob %s", got, blob)
	}
}
