package uploads

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tus/tusd/v2/pkg/filelocker"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	xslog "golang.org/x/exp/slog"

	"yjshub/hub/auth"
	"yjshub/hub/sharing"
	"yjshub/problem"
)

// Metadata keys of an upload (tus Upload-Metadata).
const (
	// MetaFilename is the file's name as the applicant had it.
	MetaFilename = "filename"
	// MetaType is the catalogue's material type code.
	MetaType = "type"
	// MetaHolder is the USCC or ID number of the applicant the material belongs to.
	MetaHolder = "holder"
	// MetaSHA256 is the sha256 the client declares (64 hex digits), checked when the upload
	// finishes.
	MetaSHA256 = "sha256"

	// metaOwner, metaCreated and metaLicence are set by the hub, never taken from the client:
	// whose the upload is, when it was created (RFC 3339, the Service's clock), for Sweep, and
	// "1" when its type is a licence type the uploading department issues (a PDF or an OFD only).
	metaOwner   = "owner"
	metaCreated = "created"
	metaLicence = "licence"
)

// HeaderMaterialID names, in the answer to the request that completes an upload, the material
// object it became.
const HeaderMaterialID = "Upload-Material-Id"

// lockPoll is how often the holder of an upload's lock looks whether another request asks for it.
const lockPoll = time.Second

// Service serves resumable uploads and the material objects they become. It is safe for
// concurrent use.
type Service struct {
	cfg     Config
	flight  inFlight
	locker  filelocker.FileLocker
	tus     *tusd.UnroutedHandler
	handler http.Handler
}

// New returns a Service that keeps uploads in flight where cfg.InFlight says.
func New(cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("uploads: create the directory of uploads in flight: %w", err)
	}
	// The lock files stay on the local disk with either store: tusd ships no lock that spans
	// instances (its memorylocker, its default for S3, spans one process), and the filelocker's
	// release requests are what lets a resuming client or Sweep take over an upload.
	locker := filelocker.New(cfg.Dir)
	// A request waiting for an upload's lock (a client resuming after its connection broke,
	// Sweep) asks the holder to let go; the holder looks every HolderPollInterval. tusd's 5 s
	// would keep a resuming client waiting that long, a stat a second per upload is cheap.
	locker.HolderPollInterval, locker.AcquirerPollInterval = lockPoll, lockPoll/4
	s := &Service{cfg: cfg, flight: newInFlight(cfg), locker: locker}
	composer := tusd.NewStoreComposer()
	s.flight.useIn(composer)
	composer.UseLocker(stoppingLocker{s.locker})
	// A deferred length would escape the size limit checked at creation.
	composer.UsesLengthDeferrer = false
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer:             composer,
		BasePath:                  cfg.Prefix + "/",
		MaxSize:                   cfg.largest(),
		DisableDownload:           true, // the bytes are served by signed links, not here
		DisableConcatenation:      true, // a partial upload has no type of its own to check
		Cors:                      &tusd.CorsConfig{Disable: true},
		PreUploadCreateCallback:   s.preCreate,
		PreFinishResponseCallback: s.preFinish,
		Logger:                    xslog.New(warnOnly{cfg.Logger}),
	})
	if err != nil {
		return nil, fmt.Errorf("uploads: tusd handler: %w", err)
	}
	s.tus = h
	s.handler = s.routes()
	return s, nil
}

// Handler serves the tus endpoint under Config.Prefix and material records under
// Config.MaterialsPrefix, each request authenticated by Config.Authenticate.
func (s *Service) Handler() http.Handler { return s.handler }

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	p := s.cfg.Prefix
	// tusd takes the upload's id from the path below its base path.
	tus := http.StripPrefix(p, s.owned(withChecksum(s.cfg.Dir, s.cfg.largest(), stoppable(s.tus.Middleware(http.HandlerFunc(s.tusMethods))))))
	mux.Handle(p, tus)
	mux.Handle(p+"/", tus)
	mux.HandleFunc("GET "+s.cfg.MaterialsPrefix+"/{id}", s.getMaterial)
	mux.HandleFunc("PUT "+s.cfg.FilesPrefix+"/{sha256}", s.put)
	return s.authenticated(mux)
}

// owned lets a request naming an upload through only when the upload is the client's own,
// before any of its body is read.
func (s *Service) owned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := s.uploadID(r); id != "" && r.Method != http.MethodOptions && !s.ownUpload(r, id) {
			// Never tell another client that the upload exists.
			writeError(w, http.StatusNotFound, codeNotFound, "no such upload")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// uploadID is the id a tus request names, from its path below Config.Prefix.
func (s *Service) uploadID(r *http.Request) string { return strings.Trim(r.URL.Path, "/") }

// tusMethods routes tus requests to tusd's handlers.
func (s *Service) tusMethods(w http.ResponseWriter, r *http.Request) {
	if s.uploadID(r) == "" {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "an upload is created by POST "+s.cfg.Prefix)
			return
		}
		s.tus.PostFile(w, r)
		return
	}
	switch r.Method {
	case http.MethodHead:
		s.tus.HeadFile(w, r)
	case http.MethodPatch:
		if !s.retryFinish(w, r, s.uploadID(r)) {
			s.tus.PatchFile(w, r)
		}
	case http.MethodDelete:
		s.tus.DelFile(w, r)
	default:
		w.Header().Set("Allow", "HEAD, PATCH, DELETE, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "an upload takes HEAD, PATCH and DELETE")
	}
}

// ownUpload reports whether upload id exists and belongs to the request's client.
func (s *Service) ownUpload(r *http.Request, id string) bool {
	if !s.flight.validID(id) {
		return false
	}
	c, _ := auth.FromContext(r.Context())
	up, err := s.flight.GetUpload(r.Context(), id)
	if err != nil {
		return false
	}
	info, err := up.GetInfo(r.Context())
	return err == nil && info.MetaData[metaOwner] == c.Name && c.Name != ""
}

// authenticated lets through requests of platform and department clients, with the client in
// the request's context; OPTIONS (tus discovery) needs no client.
func (s *Service) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		c, ok := s.cfg.Authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="yjshub"`)
			writeError(w, http.StatusUnauthorized, codeUnauthenticated, "uploads need an API key: Authorization: Bearer <key>")
			return
		}
		if c.Role != auth.RolePlatform && c.Role != auth.RoleDepartment {
			writeError(w, http.StatusForbidden, codeForbidden,
				"uploads are for platform or department clients; "+c.Name+" is a "+string(c.Role)+" client")
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), c)))
	})
}

// preCreate checks an upload's metadata and size before tusd creates it, reporting every
// problem at once, and keeps only the metadata the hub knows, with the owner and creation time
// it sets itself.
func (s *Service) preCreate(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	c, ok := auth.FromContext(hook.Context)
	if !ok {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(http.StatusUnauthorized, codeUnauthenticated, "uploads need an API key")
	}
	md := hook.Upload.MetaData
	typ := md[MetaType]
	ps, licence := s.checkMetadata(c, "/metadata", md)
	if h, ok := md[MetaSHA256]; ok && !isSHA256(h) {
		ps.Add("/metadata/sha256", problem.RuleSHA256, "the declared sha256 must be 64 lower-case hex digits")
	}
	switch {
	case hook.Upload.SizeIsDeferred:
		ps.Add("/headers/Upload-Length", problem.RuleRequired, "the upload's length must be declared at creation (Upload-Defer-Length is not accepted)")
	case typ != "" && hook.Upload.Size > s.cfg.maxSize(typ):
		ps.Add("/headers/Upload-Length", problem.RuleMaxSize, "the upload is larger than the %d bytes a material of its type may have", s.cfg.maxSize(typ))
	}
	if len(ps) > 0 {
		status, code := http.StatusUnprocessableEntity, codeUnprocessable
		if len(ps) == 1 && ps[0].Rule == problem.RuleMaxSize {
			status, code = http.StatusRequestEntityTooLarge, codeTooLarge
		}
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(status, code, "the upload cannot be created", ps...)
	}
	keep := tusd.MetaData{
		MetaFilename: md[MetaFilename],
		MetaType:     typ,
		MetaHolder:   md[MetaHolder],
		metaOwner:    c.Name,
		metaCreated:  s.cfg.Now().UTC().Format(time.RFC3339Nano),
	}
	if h, ok := md[MetaSHA256]; ok {
		keep[MetaSHA256] = h
	}
	if licence {
		keep[metaLicence] = "1"
	}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{ID: newID("up_"), MetaData: keep}, nil
}

// checkMetadata checks what client c declares of a file, an upload's or a PUT's (md: type,
// holder, filename), at paths under at, every problem at once. licence is true when the type
// is not a material type but a licence type the client's department issues
// (Config.IssuedLicenceType): such a file is accepted only as a PDF or an OFD.
func (s *Service) checkMetadata(c auth.Client, at string, md map[string]string) (ps problem.List, licence bool) {
	typ := md[MetaType]
	switch {
	case typ == "":
		ps.Add(at+"/type", problem.RuleRequired, "the material type (type) is required")
	case s.cfg.KnownType(typ):
	case c.Role == auth.RoleDepartment && s.cfg.IssuedLicenceType != nil && s.cfg.IssuedLicenceType(c.Department, typ):
		licence = true
	case c.Role == auth.RoleDepartment:
		ps.Add(at+"/type", problem.RuleEnum, "the type is neither one of the catalogue's material types nor a licence type department %s issues", c.Department)
	default:
		ps.Add(at+"/type", problem.RuleEnum, "the material type is not one of the catalogue's")
	}
	// The same check as a case's holder: a file a case or a licence could never use is refused
	// now.
	if p := sharing.HolderProblem(at+"/holder", "", md[MetaHolder]); p != nil {
		ps = append(ps, *p)
	}
	if name := md[MetaFilename]; name == "" {
		ps.Add(at+"/filename", problem.RuleRequired, "the file name (filename) is required")
	} else if !validFilename(name) {
		ps.Add(at+"/filename", problem.RuleFilename, "the file name must be a name without a directory or control characters, at most 255 bytes")
	}
	return ps, licence
}

func newID(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

func validFilename(name string) bool {
	if len(name) > 255 || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func isSHA256(h string) bool {
	return len(h) == 64 && !strings.ContainsFunc(h, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'f')
	})
}

// accepted reports whether content type ct is one Config.Accept lists, or for a licence's file
// one LicenceAccept lists.
func (s *Service) accepted(ct string, licence bool) bool {
	if licence {
		return slices.Contains(LicenceAccept, ct)
	}
	return slices.Contains(s.cfg.Accept, ct)
}

// acceptedTypes lists the content types accepted for a file, as accepted decides.
func (s *Service) acceptedTypes(licence bool) []string {
	if licence {
		return LicenceAccept
	}
	return s.cfg.Accept
}

// warnOnly passes tusd's warnings and errors to the hub's logger and drops its lines per
// request, which would drown the hub's own. tusd logs through golang.org/x/exp/slog, whose
// types are not log/slog's, hence the bridge.
type warnOnly struct{ l *slog.Logger }

func (w warnOnly) Enabled(ctx context.Context, l xslog.Level) bool {
	return l >= xslog.LevelWarn && w.l.Enabled(ctx, slog.Level(l))
}

func (w warnOnly) Handle(ctx context.Context, r xslog.Record) error {
	attrs := make([]slog.Attr, 0, r.NumAttrs()+1)
	attrs = append(attrs, slog.String("component", "tusd"))
	r.Attrs(func(a xslog.Attr) bool {
		attrs = append(attrs, slog.Any(a.Key, a.Value.Any()))
		return true
	})
	w.l.LogAttrs(ctx, slog.Level(r.Level), r.Message, attrs...)
	return nil
}

func (w warnOnly) WithAttrs(as []xslog.Attr) xslog.Handler {
	args := make([]any, 0, len(as))
	for _, a := range as {
		args = append(args, slog.Any(a.Key, a.Value.Any()))
	}
	return warnOnly{w.l.With(args...)}
}

func (w warnOnly) WithGroup(g string) xslog.Handler { return warnOnly{w.l.WithGroup(g)} }
