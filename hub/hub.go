// Package hub builds the hub's services on its store, bus and catalogue, each with its
// collaborators passed in explicitly: the one place where they are wired to one another.
// `yjshub serve` calls it, and so do the tests that need the services as they run in
// production. It builds; it starts nothing (the outbox relay runs when its owner runs it).
//
// The connectors are wired by the caller (cmd/yjshub, through package connectors): they
// depend on the hub, never the other way round.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"

	"yjshub/catalogue"
	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/deadline"
	"yjshub/hub/inbox"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/outbox"
	"yjshub/hub/pseudonym"
	"yjshub/hub/reform"
	"yjshub/hub/retention"
	"yjshub/hub/sharing"
	"yjshub/hub/store"
	"yjshub/hub/uploads"
	"yjshub/mapping"
)

// Config is what the services are built on.
type Config struct {
	// Catalogue is the loaded catalogue. Required.
	Catalogue *catalogue.Catalogue
	// Store is the SQL store, migrated. Required.
	Store *store.Store
	// Bus is the Kafka bus. Optional: without it there is no outbox relay (sub-cases wait in
	// the outbox) and no dead-letter store, so no inbox and no connector recorder either —
	// enough for the case flow and the API on SQL alone.
	Bus *bus.Bus
	// CallbackBase is the hub's public base URL, put in dispatched sub-cases for departments'
	// callbacks. Optional.
	CallbackBase string
	// Relay configures the outbox relay; its Logger defaults to Logger.
	Relay outbox.Config
	// Now is the clock of every service. Default time.Now.
	Now func() time.Time
	// Calendar computes working days. Default deadline.New().
	Calendar *deadline.Calendar
	// Logger receives the services' logs. Default slog.Default().
	Logger *slog.Logger
	// MaterialHosts are the hosts materials' files may be fetched from (cases.MaterialHosts).
	MaterialHosts []string
	// Pseudonyms makes the keyed pseudonyms that stand for holders in consents and the audit
	// log. Default: one key made in memory for this process (pseudonym.Ephemeral), whose
	// pseudonyms nothing matches after a restart — serve passes the keyring of its data
	// directory.
	Pseudonyms *pseudonym.Keyring
	// Tracing makes the spans of intake, dispatch and department events; the relay's
	// (Relay.Tracing) defaults to it. Default tracing.Default(): no export, but every case
	// has a trace id that its messages carry.
	Tracing trace.TracerProvider
	// Division is the division code (GB/T 2260) case numbers begin with (cases.Config.Division).
	// Default cases.DefaultDivision, 320707 (赣榆区).
	Division string

	// DataDir is the hub's data directory: the default blob store keeps the materials' files
	// under DataDir/blobs, and uploads in flight wait under DataDir/uploads. Optional: without
	// it, and without Blobs, the hub keeps no files and serves no uploads.
	DataDir string
	// Blobs keeps the materials' files by their sha256. Default: with DataDir, a blobs.Disk
	// under DataDir/blobs (the embedded default); without, none.
	Blobs blobs.Store
	// LinkKeys sign and verify the links through which departments read the files. Default,
	// when there is a blob store: one key made in memory for this process (links.Ephemeral),
	// whose links stop verifying at a restart — serve passes the keyring of its data directory.
	LinkKeys *links.Keyring
	// LinkVia names the kind of connector (restpush, restpull, frontdb, kafka) that carries a
	// department's messages, written into the links they carry so that the audit log of reads
	// says through which connector each material was read. Nil: links name none.
	LinkVia func(department string) string
	// Clients authenticate the uploads, when their handler is served on its own; behind the
	// API's guard the client it authenticated is taken. Nil: the API does not authenticate,
	// and an upload is owned by AnonymousUploader.
	Clients *auth.Clients
	// UploadDir holds uploads in flight. Default DataDir/uploads. Every instance that serves
	// uploads must see the same directory.
	UploadDir string
	// UploadMaxAge is how long an unfinished upload is kept. Default uploads.DefaultMaxAge (24h).
	UploadMaxAge time.Duration
	// UploadStore is where uploads in flight are kept: uploads.InFlightDisk under UploadDir, or
	// uploads.InFlightS3 in the bucket of Blobs, which must then be a *blobs.S3. Default disk.
	UploadStore uploads.InFlightStore
	// UploadMaxSize bounds each material type's files in bytes; a type not listed takes
	// uploads.DefaultMaxSize (50 MiB).
	UploadMaxSize map[string]int64
	// UploadPutMaxSize bounds a file PUT whole (PUT /api/v1/files/{sha256}). Default
	// uploads.DefaultPutMaxSize (10 MiB).
	UploadPutMaxSize int64
	// UploadAccept lists the content types a material may have. Default uploads.DefaultAccept
	// (PDF, OFD, JPEG, PNG).
	UploadAccept []string
	// Retention says how long the materials the hub holds are kept, per type. Default
	// retention.Default(): 30 days after its upload for a material no case named, 365 days
	// after the last case naming it ended for the others.
	Retention *retention.Rules
}

// AnonymousUploader owns the uploads of a hub whose API does not authenticate (on a loopback
// address): every upload needs an owner, and there is only one caller to own them.
const AnonymousUploader = "anonymous"

// Services are the hub's services, wired.
type Services struct {
	Catalogue *catalogue.Catalogue
	Store     *store.Store
	// Forms caches the one forms intake and prefill check against.
	Forms *mapping.Forms
	// Licences is the e-licence library: approvals record their licences in it, intake and
	// prefill read it, platforms import into it.
	Licences *licences.Library
	// Audit is the hash-chained log of shared personal data.
	Audit *audit.Log
	// Calendar is the working-day calendar every deadline is counted with.
	Calendar *deadline.Calendar
	// Pseudonyms makes the keyed pseudonyms that stand for holders in audit rows.
	Pseudonyms *pseudonym.Keyring
	// Cases runs the case flow.
	Cases *cases.Service
	// Sharing runs consents, prefill and the reuse report.
	Sharing *sharing.Service
	// Reform makes the report of the reform's results (改革成效) from the cases.
	Reform *reform.Service
	// Relay moves the outbox to Kafka (nil without a bus); run it with Relay.Run.
	Relay *outbox.Relay
	// DeadLetters keeps and replays the connectors' dead letters (nil without a bus).
	DeadLetters *deadletter.Store
	// Recorder records what became of each message a connector handled: deliveries in the
	// case flow, failures there too and as dead letters (nil without a bus).
	Recorder connector.Recorder
	// Inbox is the queue restpull departments poll (nil without a bus).
	Inbox *inbox.Inbox
	// Blobs keeps the materials' files (nil without Config.Blobs or Config.DataDir).
	Blobs blobs.Store
	// LinkKeys sign and verify the links to the files (nil without Blobs).
	LinkKeys *links.Keyring
	// Uploads serves resumable uploads and the material objects they become (nil without
	// Blobs); run Uploads.Sweep now and then to remove unfinished uploads past their age.
	Uploads *uploads.Service
	// Retention removes the materials whose retention has ended (nil without Blobs); run
	// Retention.Run, or Retention.Sweep now and then.
	Retention *retention.Sweeper
}

// AuditRead writes a read of a material's file to the hash-chained audit log (kind
// links.AuditKind): through a link, or copied by a connector into a department's database.
func (s *Services) AuditRead(ctx context.Context, read links.Read) error {
	_, err := s.Audit.AppendAlone(ctx, read.Entry())
	return err
}

// New builds the services; the error names every missing part at once, or the service that
// could not be built.
func New(cfg Config) (*Services, error) {
	var errs []error
	if cfg.Catalogue == nil {
		errs = append(errs, errors.New("hub: Catalogue is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("hub: Store is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Calendar == nil {
		cfg.Calendar = deadline.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Relay.Logger == nil {
		cfg.Relay.Logger = cfg.Logger
	}
	if cfg.Relay.Tracing == nil {
		cfg.Relay.Tracing = cfg.Tracing
	}
	if cfg.Pseudonyms == nil {
		cfg.Pseudonyms = pseudonym.Ephemeral()
	}

	s := &Services{Catalogue: cfg.Catalogue, Store: cfg.Store, Pseudonyms: cfg.Pseudonyms, Forms: mapping.NewForms(cfg.Catalogue),
		Audit: audit.New(cfg.Store, cfg.Now), Calendar: cfg.Calendar}
	notify := func() {}
	if cfg.Bus != nil {
		s.Relay = outbox.New(cfg.Store, cfg.Bus, cfg.Relay)
		s.DeadLetters = deadletter.New(cfg.Store, cfg.Bus)
		notify = s.Relay.Notify
	}
	var err error
	if s.Licences, err = licences.New(licences.Config{Store: cfg.Store, Catalogue: cfg.Catalogue, Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("hub: the e-licence library: %w", err)
	}
	// The files first: the case service signs the links to them in its messages.
	if err := s.buildFiles(cfg); err != nil {
		return nil, err
	}
	if s.Cases, err = cases.New(cases.Config{Catalogue: cfg.Catalogue, Store: cfg.Store, Licences: s.Licences, Forms: s.Forms,
		CallbackBase: cfg.CallbackBase, Calendar: cfg.Calendar, Now: cfg.Now, Notify: notify, Logger: cfg.Logger,
		MaterialHosts: cfg.MaterialHosts, Tracing: cfg.Tracing, Audit: s.Audit, Pseudonyms: cfg.Pseudonyms, Division: cfg.Division,
		Links: s.LinkKeys, FilesBase: cfg.CallbackBase, LinkVia: cfg.LinkVia, AnonymousUploads: anonymousOwner(cfg.Clients)}); err != nil {
		return nil, fmt.Errorf("hub: the case service: %w", err)
	}
	if s.Sharing, err = sharing.New(sharing.Config{Catalogue: cfg.Catalogue, Store: cfg.Store, Licences: s.Licences,
		Forms: s.Forms, Audit: s.Audit, Pseudonyms: cfg.Pseudonyms, Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("hub: the sharing service: %w", err)
	}
	if s.Reform, err = reform.New(reform.Config{Catalogue: cfg.Catalogue, Store: cfg.Store, Forms: s.Forms, Sharing: s.Sharing,
		Calendar: cfg.Calendar, Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("hub: the reform report: %w", err)
	}
	if cfg.Bus != nil {
		s.Recorder = Recorder(s.Cases, s.DeadLetters)
		if s.Inbox, err = inbox.New(cfg.Store, s.Recorder, inbox.WithLogger(cfg.Logger), inbox.WithClock(cfg.Now),
			inbox.WithLinks(s.LinkKeys, cfg.CallbackBase, 0)); err != nil {
			return nil, fmt.Errorf("hub: the restpull inbox: %w", err)
		}
	}
	return s, nil
}

// buildFiles makes the blob store, the link keys and the upload service, when the hub keeps
// files (Config.Blobs or Config.DataDir).
func (s *Services) buildFiles(cfg Config) error {
	s.Blobs, s.LinkKeys = cfg.Blobs, cfg.LinkKeys
	if s.Blobs == nil && cfg.DataDir != "" {
		d, err := blobs.NewDisk(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			return fmt.Errorf("hub: the blob store: %w", err)
		}
		s.Blobs = d
	}
	if s.Blobs == nil {
		return nil
	}
	if s.LinkKeys == nil {
		s.LinkKeys = links.Ephemeral()
	}
	dir := cfg.UploadDir
	if dir == "" && cfg.DataDir != "" {
		dir = filepath.Join(cfg.DataDir, "uploads")
	}
	s3, _ := s.Blobs.(*blobs.S3) // uploads.New names the mistake of InFlightS3 without it
	up, err := uploads.New(uploads.Config{Store: cfg.Store, Blobs: s.Blobs, Dir: dir, InFlight: cfg.UploadStore, S3: s3, Authenticate: uploader(cfg.Clients),
		KnownType:         func(code string) bool { _, ok := cfg.Catalogue.Material(code); return ok },
		IssuedLicenceType: func(dept, typ string) bool { return issuesLicenceType(cfg.Catalogue, dept, typ) },
		MaxSize:           cfg.UploadMaxSize, PutMaxSize: cfg.UploadPutMaxSize, Accept: cfg.UploadAccept, MaxAge: cfg.UploadMaxAge, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("hub: the upload service: %w", err)
	}
	s.Uploads = up
	rules := cfg.Retention
	if rules != nil {
		if err := rules.Validate(func(code string) bool { _, ok := cfg.Catalogue.Material(code); return ok }); err != nil {
			return fmt.Errorf("hub: the retention rules: %w", err)
		}
	}
	if s.Retention, err = retention.New(retention.Config{Store: cfg.Store, Blobs: s.Blobs, Rules: rules, Audit: s.Audit,
		Pseudonyms: cfg.Pseudonyms, Now: cfg.Now, Logger: cfg.Logger}); err != nil {
		return fmt.Errorf("hub: the retention sweeper: %w", err)
	}
	return nil
}

// anonymousOwner is who owns the uploads a case submitted by no client may name: without
// clients, every upload is AnonymousUploader's and every case has no owner; with clients, none.
func anonymousOwner(cs *auth.Clients) string {
	if cs == nil {
		return AnonymousUploader
	}
	return ""
}

// issuesLicenceType reports whether department dept handles a matter (for any applicant type)
// whose result is an e-licence of type typ: the type under which it uploads that licence's file.
func issuesLicenceType(cat *catalogue.Catalogue, dept, typ string) bool {
	for _, m := range cat.Matters {
		handles := m.Department.Default == dept
		for _, d := range m.Department.ByApplicantType {
			handles = handles || d == dept
		}
		if !handles {
			continue
		}
		for _, t := range m.LicenceTypes() {
			if t.Name == typ {
				return true
			}
		}
	}
	return false
}

// uploader authenticates an upload: the client the API's guard authenticated already, else the
// request's own key; without clients every caller is AnonymousUploader, a platform.
func uploader(cs *auth.Clients) uploads.Authenticator {
	if cs == nil {
		return func(r *http.Request) (auth.Client, bool) {
			if c, ok := uploads.FromContext(r); ok {
				return c, true
			}
			return auth.Client{Name: AnonymousUploader, Role: auth.RolePlatform}, true
		}
	}
	keys := uploads.BearerKeys(cs)
	return func(r *http.Request) (auth.Client, bool) {
		if c, ok := uploads.FromContext(r); ok {
			return c, true
		}
		return keys(r)
	}
}

// Recorder records connector outcomes: a delivery in the case flow; a failure as a dead letter
// and, when it concerns a sub-case, in the case flow too.
func Recorder(svc *cases.Service, dlq *deadletter.Store) connector.Recorder {
	return connector.RecorderFuncs{
		DeliveredFunc: svc.RecordDelivered,
		FailedFunc: func(ctx context.Context, f connector.Failure) error {
			id, err := dlq.Add(ctx, f)
			if err != nil {
				return err
			}
			if f.SubcaseID == "" {
				return nil
			}
			return svc.RecordFailed(ctx, f.Delivery, f.Reason, id)
		},
		RetryingFunc: svc.RecordRetrying,
	}
}

// Topics lists the topics the hub needs: one per department, the results and the case events.
func Topics(cat *catalogue.Catalogue) []bus.TopicSpec {
	specs := []bus.TopicSpec{{Name: bus.TopicResult}, {Name: bus.TopicCaseEvent}}
	for _, d := range cat.Departments {
		specs = append(specs, bus.TopicSpec{Name: bus.SubcaseTopic(d.Code)})
	}
	return specs
}
