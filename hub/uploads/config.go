package uploads

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/store"
)

// Defaults of Config.
const (
	// DefaultMaxSize bounds a material of a type without a limit of its own: 50 MiB holds a
	// scanned document of a few hundred pages.
	DefaultMaxSize int64 = 50 << 20
	// DefaultMaxAge is how long an unfinished upload is kept: a day lets an applicant resume
	// the next morning without keeping abandoned halves for ever.
	DefaultMaxAge = 24 * time.Hour
	// DefaultPrefix is where the tus endpoint is mounted.
	DefaultPrefix = "/api/v1/uploads"
	// DefaultMaterialsPrefix is where a material object's record is served.
	DefaultMaterialsPrefix = "/api/v1/material-objects"
	// DefaultFilesPrefix is where a small file is PUT whole: DefaultFilesPrefix/{sha256}.
	DefaultFilesPrefix = "/api/v1/files"
	// DefaultPutMaxSize bounds a file PUT in one request: 10 MiB holds an e-licence or a scan
	// of a few pages, and a larger file is better sent resumably (tus).
	DefaultPutMaxSize int64 = 10 << 20
)

// LicenceAccept lists the content types an e-licence's file may have, whatever Config.Accept
// says: e-licences are issued as OFD (GB/T 33190) or PDF.
var LicenceAccept = []string{ContentTypePDF, ContentTypeOFD}

// DefaultAccept lists the content types a material may have unless Config.Accept says
// otherwise: what the reform's materials and e-licences are issued as.
var DefaultAccept = []string{ContentTypePDF, ContentTypeOFD, "image/jpeg", "image/png"}

// Content types the hub names itself.
const (
	ContentTypePDF = "application/pdf"
	// ContentTypeOFD is GB/T 33190 OFD, the national format of e-licences: a zip whose root
	// holds OFD.xml.
	ContentTypeOFD = "application/ofd"
)

// Authenticator tells who sent a request: the client and true, or false when the request
// carries no credentials the hub knows.
type Authenticator func(r *http.Request) (auth.Client, bool)

// BearerKeys authenticates the request's "Authorization: Bearer <key>" against cs, for a
// handler served on its own.
func BearerKeys(cs *auth.Clients) Authenticator {
	return func(r *http.Request) (auth.Client, bool) {
		scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			return auth.Client{}, false
		}
		return cs.Authenticate(strings.TrimSpace(key))
	}
}

// FromContext takes the client that the API's guard authenticated already, for a handler
// mounted behind it.
func FromContext(r *http.Request) (auth.Client, bool) { return auth.FromContext(r.Context()) }

// Config configures a Service. Store, Blobs, Dir, Authenticate and KnownType are required; S3
// too when InFlight is InFlightS3.
type Config struct {
	// Store keeps the materials_uploaded rows (migration 00028).
	Store *store.Store
	// Blobs keeps the bytes of finished uploads under their sha256.
	Blobs blobs.Store
	// Dir holds uploads in flight (tusd's filestore, with its lock files). It is created when
	// missing. With InFlightS3 it holds the lock files, the chunks being checked against their
	// Upload-Checksum and the parts being sent to S3, none of which outlives its request.
	Dir string
	// InFlight says where uploads in flight are kept: InFlightDisk under Dir, or InFlightS3 in
	// S3's bucket. Default InFlightDisk.
	InFlight InFlightStore
	// S3 is the store whose client and bucket keep uploads in flight with InFlightS3, under its
	// UploadsPrefix: the blob store itself, in a deployment, so that S3 is configured once.
	// Required with InFlightS3, unused otherwise.
	S3 *blobs.S3
	// Authenticate tells who sent a request; only platform and department clients may upload.
	Authenticate Authenticator
	// KnownType reports whether a material type code is in the catalogue.
	KnownType func(materialType string) bool
	// IssuedLicenceType reports whether department issues e-licences of licenceType (a
	// licence type of the result of one of its matters in the catalogue): a department's
	// client may upload such a licence's file under that type, before the approval that
	// names it, and only as a PDF or an OFD (LicenceAccept). Default nil: uploads are of
	// material types only.
	IssuedLicenceType func(department, licenceType string) bool
	// MaxSize bounds each material type's uploads in bytes; a type not listed takes
	// DefaultMaxSize (when zero, DefaultMaxSize).
	MaxSize map[string]int64
	// DefaultMaxSize bounds the types MaxSize does not list. Default DefaultMaxSize.
	DefaultMaxSize int64
	// Accept lists the content types a finished upload may have, as the sniffer names them.
	// Default DefaultAccept.
	Accept []string
	// MaxAge is how long an unfinished upload is kept before Sweep removes it. Default
	// DefaultMaxAge.
	MaxAge time.Duration
	// Prefix is the path the tus endpoint is mounted at. Default DefaultPrefix.
	Prefix string
	// MaterialsPrefix is the path of material records. Default DefaultMaterialsPrefix.
	MaterialsPrefix string
	// FilesPrefix is the path below which a file is PUT whole (FilesPrefix/{sha256}). Default
	// DefaultFilesPrefix.
	FilesPrefix string
	// PutMaxSize bounds a file PUT whole, whatever its type's limit (the smaller of the two
	// holds). Default DefaultPutMaxSize.
	PutMaxSize int64
	// Now is the clock of creation times and of Sweep. Default time.Now.
	Now func() time.Time
	// Logger receives what goes wrong (never an applicant's data). Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.InFlight == "" {
		c.InFlight = InFlightDisk
	}
	if c.DefaultMaxSize == 0 {
		c.DefaultMaxSize = DefaultMaxSize
	}
	if c.Accept == nil {
		c.Accept = DefaultAccept
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaterialsPrefix == "" {
		c.MaterialsPrefix = DefaultMaterialsPrefix
	}
	if c.FilesPrefix == "" {
		c.FilesPrefix = DefaultFilesPrefix
	}
	if c.PutMaxSize == 0 {
		c.PutMaxSize = DefaultPutMaxSize
	}
	c.Prefix = strings.TrimSuffix(c.Prefix, "/")
	c.MaterialsPrefix = strings.TrimSuffix(c.MaterialsPrefix, "/")
	c.FilesPrefix = strings.TrimSuffix(c.FilesPrefix, "/")
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("uploads: Store is required"))
	}
	if c.Blobs == nil {
		errs = append(errs, errors.New("uploads: Blobs is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("uploads: Dir is required"))
	}
	switch c.InFlight {
	case InFlightDisk:
	case InFlightS3:
		if c.S3 == nil {
			errs = append(errs, errors.New("uploads: InFlight s3 needs S3, the store whose bucket keeps them"))
		}
	default:
		errs = append(errs, fmt.Errorf("uploads: InFlight %q is neither disk nor s3", c.InFlight))
	}
	if c.Authenticate == nil {
		errs = append(errs, errors.New("uploads: Authenticate is required"))
	}
	if c.KnownType == nil {
		errs = append(errs, errors.New("uploads: KnownType is required"))
	}
	if c.DefaultMaxSize < 0 {
		errs = append(errs, fmt.Errorf("uploads: DefaultMaxSize %d is negative", c.DefaultMaxSize))
	}
	for t, n := range c.MaxSize {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("uploads: MaxSize of type %q is %d, want more than 0", t, n))
		}
	}
	if len(c.Accept) == 0 {
		errs = append(errs, errors.New("uploads: Accept lists no content type"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("uploads: MaxAge %s is negative", c.MaxAge))
	}
	if !strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("uploads: Prefix %q does not start with /", c.Prefix))
	}
	if !strings.HasPrefix(c.MaterialsPrefix, "/") {
		errs = append(errs, fmt.Errorf("uploads: MaterialsPrefix %q does not start with /", c.MaterialsPrefix))
	}
	if !strings.HasPrefix(c.FilesPrefix, "/") {
		errs = append(errs, fmt.Errorf("uploads: FilesPrefix %q does not start with /", c.FilesPrefix))
	}
	if c.PutMaxSize < 0 {
		errs = append(errs, fmt.Errorf("uploads: PutMaxSize %d is negative", c.PutMaxSize))
	}
	return errors.Join(errs...)
}

// maxSize is the limit of uploads of material type t.
func (c *Config) maxSize(t string) int64 {
	if n, ok := c.MaxSize[t]; ok {
		return n
	}
	return c.DefaultMaxSize
}

// largest is the largest limit of any type, which tusd enforces before the hub's own check.
func (c *Config) largest() int64 {
	n := c.DefaultMaxSize
	for _, m := range c.MaxSize {
		n = max(n, m)
	}
	return n
}
