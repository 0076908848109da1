package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/hub/blobs"
	"yjshub/hub/links"
	"yjshub/hub/retention"
	"yjshub/hub/uploads"
)

// Where the files of materials are kept: --blob-store.
const (
	blobStoreDisk = "disk"
	blobStoreS3   = "s3"
)

// The environment variables of the S3 credentials: a secret is never a flag (it would show in
// the process list) and never logged.
const (
	envS3AccessKey = "YJSHUB_S3_ACCESS_KEY"
	envS3SecretKey = "YJSHUB_S3_SECRET_KEY"
)

// fileOptions are serve's settings of the materials' files: where they are kept, the keys that
// sign the links to them, and the uploads in flight.
type fileOptions struct {
	blobStore string         // disk or s3
	s3        blobs.S3Config // with --blob-store=s3; the keys from the environment
	linkKeys  string         // the link keyring file; "": <data-dir>/links.key
	uploadDir string         // uploads in flight; "": <data-dir>/uploads
	maxAge    time.Duration  // how long an unfinished upload is kept
	putMax    int64          // the largest file PUT whole
	// uploadStore keeps uploads in flight: disk (under uploadDir) or s3 (the blob store's
	// bucket; uploadDir keeps the lock files and the parts on their way).
	uploadStore string
	retention   string // the retention rules file; "": retention.Default()
	// retentionEvery is how often the retention sweeper runs.
	retentionEvery time.Duration
	// s3Flags records which --s3-* flags were given, so that one given with --blob-store=disk
	// is named rather than ignored.
	s3Flags []string
}

// fileFlags adds the flags of the materials' files to serve.
func fileFlags(cmd *cobra.Command, o *fileOptions) {
	f := cmd.Flags()
	f.StringVar(&o.blobStore, "blob-store", blobStoreDisk, "where the materials' files are kept: disk (under --data-dir/blobs) or s3 (--s3-*; keys from "+envS3AccessKey+" and "+envS3SecretKey+")")
	f.StringVar(&o.s3.Endpoint, "s3-endpoint", "", "with --blob-store=s3: the S3 API's base URL (default AWS's own for --s3-region)")
	f.StringVar(&o.s3.Region, "s3-region", "", "with --blob-store=s3: the bucket's region (default us-east-1)")
	f.StringVar(&o.s3.Bucket, "s3-bucket", "", "with --blob-store=s3: the bucket that keeps the files (required)")
	f.StringVar(&o.s3.Prefix, "s3-prefix", "", "with --blob-store=s3: the prefix of every object name (default none)")
	f.BoolVar(&o.s3.PathStyle, "s3-path-style", false, "with --blob-store=s3: address the bucket in the path, as S3Proxy and MinIO on a bare address need")
	f.StringVar(&o.linkKeys, "link-keys", "", "the keyring that signs links to files, made on first start (default --data-dir/"+links.FileName+")")
	f.StringVar(&o.uploadDir, "upload-dir", "", "where uploads in flight wait (default --data-dir/uploads); every instance needs the same directory")
	f.StringVar(&o.uploadStore, "upload-store", string(uploads.InFlightDisk), "where uploads in flight are kept: disk (--upload-dir) or s3 (the --blob-store=s3 bucket, under --s3-prefix/uploads/; --upload-dir keeps the lock files)")
	f.Int64Var(&o.putMax, "put-max-size", uploads.DefaultPutMaxSize, "the largest file, in bytes, a client may PUT whole (PUT /api/v1/files/{sha256}); larger ones go through the resumable uploads")
	f.DurationVar(&o.maxAge, "upload-max-age", uploads.DefaultMaxAge, "how long an unfinished upload is kept before it is removed (0: the default)")
	f.StringVar(&o.retention, "retention", "", "a YAML file of how long materials are kept (unlinked, after_case, types; default 30d after upload when no case named one, 365d after the last case naming it ended)")
	f.DurationVar(&o.retentionEvery, "retention-interval", retention.DefaultInterval, "how often the retention sweeper removes the materials due (0: the default)")
}

// fileFlagsFromCommand reads the credentials from the environment and notes the --s3-* flags
// given, once cobra has parsed the command line.
func fileFlagsFromCommand(cmd *cobra.Command, o *fileOptions) {
	o.s3.AccessKey, o.s3.SecretKey = os.Getenv(envS3AccessKey), os.Getenv(envS3SecretKey)
	for _, name := range []string{"s3-endpoint", "s3-region", "s3-bucket", "s3-prefix", "s3-path-style"} {
		if cmd.Flags().Changed(name) {
			o.s3Flags = append(o.s3Flags, "--"+name)
		}
	}
}

// withDefaults fills what the command line leaves at its zero value (serve called from a test):
// the disk store, and uploads kept uploads.DefaultMaxAge.
func (o fileOptions) withDefaults() fileOptions {
	if o.blobStore == "" {
		o.blobStore = blobStoreDisk
	}
	if o.maxAge == 0 {
		o.maxAge = uploads.DefaultMaxAge
	}
	if o.uploadStore == "" {
		o.uploadStore = string(uploads.InFlightDisk)
	}
	if o.retentionEvery == 0 {
		o.retentionEvery = retention.DefaultInterval
	}
	return o
}

// validate names every problem of the file settings at once.
func (o fileOptions) validate() error {
	var errs []error
	switch o.blobStore {
	case blobStoreDisk:
		for _, f := range o.s3Flags {
			errs = append(errs, fmt.Errorf("%s is for --blob-store=s3, and the store is disk", f))
		}
		if o.s3.AccessKey != "" || o.s3.SecretKey != "" {
			errs = append(errs, fmt.Errorf("%s or %s is set, and the store is disk: unset them or give --blob-store=s3", envS3AccessKey, envS3SecretKey))
		}
	case blobStoreS3:
		if err := o.s3.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--blob-store=s3: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("--blob-store %q: want disk or s3", o.blobStore))
	}
	switch uploads.InFlightStore(o.uploadStore) {
	case uploads.InFlightDisk:
	case uploads.InFlightS3:
		if o.blobStore != blobStoreS3 {
			errs = append(errs, fmt.Errorf("--upload-store=s3 keeps uploads in flight in the S3 blob store's bucket, and --blob-store is %q: give --blob-store=s3 with its --s3-* flags", o.blobStore))
		}
	default:
		errs = append(errs, fmt.Errorf("--upload-store %q: want disk or s3", o.uploadStore))
	}
	if o.maxAge <= 0 {
		errs = append(errs, fmt.Errorf("--upload-max-age %s: must be more than 0 (0 takes the default, %s)", o.maxAge, uploads.DefaultMaxAge))
	}
	if o.putMax < 0 {
		errs = append(errs, fmt.Errorf("--put-max-size %d: must be 0 or more (0 takes the default, %d)", o.putMax, uploads.DefaultPutMaxSize))
	}
	if o.retentionEvery <= 0 {
		errs = append(errs, fmt.Errorf("--retention-interval %s: must be more than 0 (0 takes the default, %s)", o.retentionEvery, retention.DefaultInterval))
	}
	return errors.Join(errs...)
}

// openBlobs opens the store of the materials' files: a disk under <data-dir>/blobs, or the S3
// bucket, which must answer.
func openBlobs(ctx context.Context, o fileOptions, dataDir string, logger *slog.Logger) (blobs.Store, error) {
	if o.blobStore == blobStoreS3 {
		st, err := blobs.NewS3(ctx, o.s3)
		if err != nil {
			return nil, fmt.Errorf("the S3 blob store: %w", err)
		}
		logger.Info("blob store ready", "backend", "s3", "endpoint", o.s3.Endpoint, "bucket", o.s3.Bucket, "prefix", o.s3.Prefix)
		return st, nil
	}
	d, err := blobs.NewDisk(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("the disk blob store: %w", err)
	}
	logger.Info("blob store ready", "backend", "disk", "dir", d.Dir())
	return d, nil
}

// linkKeysPath is where the link keyring is: --link-keys, or links.key in the data directory.
func linkKeysPath(o fileOptions, dataDir string) string {
	if o.linkKeys != "" {
		return o.linkKeys
	}
	return filepath.Join(dataDir, links.FileName)
}

// openLinkKeys reads the link keyring, making it on first start.
func openLinkKeys(o fileOptions, dataDir string, logger *slog.Logger) (*links.Keyring, error) {
	path := linkKeysPath(o, dataDir)
	keys, created, err := links.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the link keyring: %w", err)
	}
	if created {
		logger.Info("link keyring created: keep it secret and give every hub instance the same file", "path", path, "key", keys.Current())
	} else {
		logger.Info("link keyring loaded", "path", path, "current", keys.Current(), "keys", len(keys.IDs()))
	}
	return keys, nil
}

// uploadDir is where uploads in flight wait: --upload-dir, or uploads in the data directory.
func uploadDir(o fileOptions, dataDir string) string {
	if o.uploadDir != "" {
		return o.uploadDir
	}
	return filepath.Join(dataDir, "uploads")
}

// sweepUploads removes the unfinished uploads past their age, every tenth of that age (at
// least a minute, at most an hour), until ctx ends.
func sweepUploads(svc *uploads.Service, maxAge time.Duration, logger *slog.Logger) func(context.Context) error {
	every := min(max(maxAge/10, time.Minute), time.Hour)
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			n, err := svc.Sweep(ctx)
			if n > 0 {
				logger.Info("unfinished uploads removed", "count", n)
			}
			if err != nil && ctx.Err() == nil {
				logger.Warn("sweeping unfinished uploads", "error", err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// inFlight is the store of uploads in flight that --upload-store names.
func (o fileOptions) inFlight() uploads.InFlightStore { return uploads.InFlightStore(o.uploadStore) }

// loadRetention reads the retention rules of --retention, checked against the catalogue's
// material types (every problem named at once); without the flag, the built-in rules.
func loadRetention(o fileOptions, cat *catalogue.Catalogue, logger *slog.Logger) (*retention.Rules, error) {
	rules := retention.Default()
	if o.retention != "" {
		var err error
		if rules, err = retention.Load(o.retention, func(code string) bool { _, ok := cat.Material(code); return ok }); err != nil {
			return nil, err
		}
	}
	logger.Info("retention rules", "file", o.retention, "unlinked", retention.FormatPeriod(rules.Unlinked),
		"after_case", retention.FormatPeriod(rules.AfterCase), "types", len(rules.Types))
	return &rules, nil
}

// sweepRetention removes the materials whose retention has ended, and the blob store's
// leftover temporary files, every interval until ctx ends.
func sweepRetention(sw *retention.Sweeper, every time.Duration) func(context.Context) error {
	return func(ctx context.Context) error { return sw.Run(ctx, every) }
}
