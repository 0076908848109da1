package blobs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// S3Config says where an S3 store keeps its blobs. The zero value is not usable: Bucket is
// required.
type S3Config struct {
	// Endpoint is the S3 API's base URL, e.g. http://127.0.0.1:19300 for S3Proxy or
	// https://oss-cn-hangzhou.aliyuncs.com. Default: empty, AWS's own endpoint for Region.
	Endpoint string `yaml:"endpoint" json:"endpoint"`
	// Region is the bucket's region, part of every request's signature. Default: us-east-1,
	// which S3-compatible servers that do not care about regions accept.
	Region string `yaml:"region" json:"region"`
	// Bucket holds the blobs; it must exist (NewS3 checks that it answers). Required.
	Bucket string `yaml:"bucket" json:"bucket"`
	// AccessKey and SecretKey sign the requests; both or neither. Default: neither, and the
	// SDK's own chain (environment, shared files, instance role) provides the credentials, so
	// that a deployment need not put a secret in the hub's configuration.
	AccessKey string `yaml:"access_key" json:"access_key"`
	// SecretKey: see AccessKey. Never logged.
	SecretKey string `yaml:"secret_key" json:"-"`
	// Prefix comes before every object name ("<prefix>/ab/cd/<sha256>"), so that one bucket can
	// serve several hubs or other data. Default: empty, the blobs at the bucket's root.
	Prefix string `yaml:"prefix" json:"prefix"`
	// PathStyle addresses the bucket in the path (endpoint/bucket/key) rather than as a host
	// name (bucket.endpoint/key). Default: false, virtual-host style as AWS prefers; S3Proxy,
	// MinIO and most servers on a bare address need true.
	PathStyle bool `yaml:"path_style" json:"path_style"`
}

func (c *S3Config) setDefaults() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
}

// Validate returns every problem of the configuration at once, or nil.
func (c S3Config) Validate() error {
	var problems []error
	if c.Bucket == "" {
		problems = append(problems, errors.New("blobs: s3: bucket is required"))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		problems = append(problems, errors.New("blobs: s3: access_key and secret_key go together: give both or neither"))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			problems = append(problems, errors.New("blobs: s3: endpoint is not a URL"))
		case u.Scheme != "http" && u.Scheme != "https":
			problems = append(problems, fmt.Errorf("blobs: s3: endpoint scheme %q is neither http nor https", u.Scheme))
		case u.Host == "":
			problems = append(problems, errors.New("blobs: s3: endpoint has no host"))
		case u.User != nil:
			problems = append(problems, errors.New("blobs: s3: endpoint must not carry credentials: use access_key and secret_key"))
		}
	}
	return errors.Join(problems...)
}
