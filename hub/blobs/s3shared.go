package blobs

import "github.com/aws/aws-sdk-go-v2/service/s3"

// Client returns the S3 client the store signs its requests with (endpoint, region,
// credentials, path style and checksum settings of its S3Config), so that what else the hub
// keeps in the same bucket — uploads in flight — is reached the same way and configured once.
func (s *S3) Client() *s3.Client { return s.client }

// Bucket returns the bucket the store keeps its blobs in.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// UploadsPrefix returns the prefix of the objects of uploads in flight ("<prefix>/uploads/"):
// beside the blobs (<prefix>/ab/cd/<sha256>) and the temporary objects of Puts
// (<prefix>/tmp/), never among them, so that neither is mistaken for the other.
func (s *S3) UploadsPrefix() string { return s.join("uploads/") }
