package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"yjshub/connectors/platform/platformsim"
	"yjshub/connectors/signing"
	"yjshub/hub/cases"
)

// platformFormats are the simulator's application layouts, by name.
var platformFormats = map[string]platformsim.Format{"jiangsu": platformsim.Jiangsu, "lianyungang": platformsim.Lianyungang}

type platformsimOptions struct {
	addr, applications, example, format, secret, hub, answers, filesURL string
	generate                                                            int
}

func platformsimCommand() *cobra.Command {
	var o platformsimOptions
	cmd := &cobra.Command{
		Use:   "platformsim",
		Short: "Run a SIMULATED integrated platform (江苏政务服务网 / 连云港 一体化平台) for the platform connector",
		Long: `Run a simulated integrated platform speaking the platform connector's contract
(connectors/platform/README.md):

  GET  /applications?cursor=…&limit=…   the applications offered (pull_url)
  GET  /licences?cursor=…&limit=…       e-licences (licences_url; none offered)
  POST /progress                        the hub's pushes: 受理, 补正, 出件, 办结, 退件, 撤件, 撤销 (push_url)
  GET  /pushes                          every push received, with the simulator's answer

Applications come from --applications (a JSON file, or a directory of them: an array of
{app_id, submitted_at, body}, {"items": [...]}, one item, or one application in the platform's
own format, whose app_id is then the file's name) and/or --generate N copies of --example
written in --format's layout (jiangsu or lianyungang, as in connectors/platform/testdata/platforms.yaml).

With --signing-secret (the connector's signing_secret) every push must carry a valid Standard
Webhooks signature; one that does not is refused with 401.

With --hub, the simulator answers every 补正 (supplement) push as the applicant would:
POST {hub}/api/v1/cases/{case id}/supplements with a generated file reference (https, the
SHA-256 of generated content) for each missing material and, for each missing field, the value
--answers gives it (YAML or JSON: canonical field → value). The API key is read from
YJSHUB_API_KEY (never a flag: flags show in the process list). The answer reads the hub's field
names (step, case_id, supplement): configure the connector without renaming them.

Progress lines go to standard error; documents and personal data are never printed.

Examples:
  yjshub platformsim --addr 127.0.0.1:8091 --generate 3 --format jiangsu
  yjshub platformsim --applications ./apps/ --signing-secret "$SECRET"
  YJSHUB_API_KEY=yjk_… yjshub platformsim --generate 1 --hub http://127.0.0.1:8080 --answers answers.yaml
  curl -s http://127.0.0.1:8091/pushes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			sim, err := o.build(cmd.Context(), logger)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", o.addr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			base := "http://" + ln.Addr().String()
			logger.Warn("SIMULATED platform serving", "pull_url", base+"/applications", "push_url", base+"/progress",
				"licences_url", base+"/licences", "pushes", base+"/pushes")
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8091", "listen address")
	f.StringVar(&o.applications, "applications", "", "a JSON file, or a directory of *.json files, of applications to offer")
	f.IntVar(&o.generate, "generate", 0, "offer this many copies of --example in --format's layout (app ids SIM-<format>-0001 …)")
	f.StringVar(&o.example, "example", "examples/open-drink-shop-individual.json", "the hub application that --generate writes in the platform's layout")
	f.StringVar(&o.format, "format", "jiangsu", "the platform's layout for --generate: "+strings.Join(slices.Sorted(mapsKeysOf(platformFormats)), ", "))
	f.StringVar(&o.secret, "signing-secret", os.Getenv("YJSHUB_SIGNING_SECRET"), "refuse (401) pushes whose Standard Webhooks signature does not verify under this secret (env YJSHUB_SIGNING_SECRET)")
	f.StringVar(&o.hub, "hub", "", "the hub's base URL: answer 补正 pushes by supplementing the case there (API key from YJSHUB_API_KEY)")
	f.StringVar(&o.answers, "answers", "", "YAML or JSON file: canonical field → the value to give when a 补正 asks for that field")
	f.StringVar(&o.filesURL, "files-url", "https://files.example.org/platformsim", "base https URL of the generated supplement files")
	hubTLSFlags(cmd, new(hubTLSOptions))
	return cmd
}

func mapsKeysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// build checks every flag at once and returns the simulator, its applications offered.
func (o platformsimOptions) build(ctx context.Context, logger *slog.Logger) (*platformsim.Sim, error) {
	var errs []error
	format, ok := platformFormats[o.format]
	if !ok {
		errs = append(errs, fmt.Errorf("--format %q: not one of %s", o.format, strings.Join(slices.Sorted(mapsKeysOf(platformFormats)), ", ")))
	}
	if o.generate < 0 {
		errs = append(errs, fmt.Errorf("--generate %d: negative", o.generate))
	}
	if o.secret != "" {
		if err := signing.CheckSecret(o.secret); err != nil {
			errs = append(errs, fmt.Errorf("--signing-secret: %w", err))
		}
	}
	if o.hub != "" && !strings.HasPrefix(o.hub, "http://") && !strings.HasPrefix(o.hub, "https://") {
		errs = append(errs, fmt.Errorf("--hub: not an http or https URL"))
	}
	if !strings.HasPrefix(o.filesURL, "https://") {
		errs = append(errs, fmt.Errorf("--files-url: must be an https URL"))
	}
	var items []platformsim.Item
	if o.applications != "" {
		got, err := readApplications(o.applications)
		errs = append(errs, err)
		items = append(items, got...)
	}
	if o.generate > 0 && ok {
		got, err := generateApplications(o.example, format, o.format, o.generate)
		errs = append(errs, err)
		items = append(items, got...)
	}
	answers := map[string]any{}
	if o.answers != "" {
		b, err := os.ReadFile(o.answers)
		if err == nil {
			err = yaml.Unmarshal(b, &answers) // YAML reads JSON too
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--answers: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	sim := platformsim.New()
	seen := map[string]int{}
	for _, it := range items {
		sim.OfferItem(it)
		seen[it.AppID]++
	}
	sim.VerifySignatures(o.secret)
	logger.Info("platformsim: applications offered", "count", len(items), "app_ids", len(seen), "signatures_checked", o.secret != "")
	replies := make(chan platformsim.Push, 64)
	sim.OnTaken(func(p platformsim.Push) {
		logger.Info("platformsim: push taken", "key", p.Key, "step", p.Doc["step"])
		if o.hub != "" && p.Doc["step"] == "supplement" {
			select {
			case replies <- p:
			default:
				logger.Warn("platformsim: too many 补正 waiting; this one is not answered", "key", p.Key)
			}
		}
	})
	if o.hub != "" {
		go answerSupplements(ctx, logger, replies, strings.TrimRight(o.hub, "/"), answers, o.filesURL)
	}
	return sim, nil
}

// answerSupplements supplements each case a 补正 push names, one at a time, outside the
// push's request so that the platform answers the hub at once.
func answerSupplements(ctx context.Context, logger *slog.Logger, pushes <-chan platformsim.Push, hub string, answers map[string]any, filesURL string) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-pushes:
			r, _, err := platformsim.ReplyToSupplement(p.Doc, answers, filesURL, time.Now())
			if err != nil {
				logger.Warn("platformsim: cannot answer the 补正", "key", p.Key, "reason", err.Error())
				continue
			}
			if len(r.Unanswered) > 0 {
				logger.Warn("platformsim: --answers has no value for fields the 补正 asks for; left out", "case_id", r.CaseID, "fields", r.Unanswered)
			}
			body, _ := json.Marshal(r.Body)
			if _, err := call(ctx, http.MethodPost, hub+r.Path, body, nil, nil); err != nil {
				logger.Warn("platformsim: supplementing failed", "case_id", r.CaseID, "reason", err.Error())
				continue
			}
			logger.Info("platformsim: supplemented", "case_id", r.CaseID, "materials", len(r.Body.Materials), "fields", len(r.Body.Form))
		}
	}
}

// readApplications reads a JSON file of applications, or every *.json file of a directory in
// name order; every file's problems are reported.
func readApplications(path string) ([]platformsim.Item, error) {
	files := []string{path}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--applications: %w", err)
	} else if st.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*.json")); err != nil {
			return nil, err
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("--applications: %s holds no *.json file", path)
		}
	}
	var items []platformsim.Item
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := platformsim.ReadItems(f, b)
		errs = append(errs, err)
		items = append(items, got...)
	}
	return items, errors.Join(errs...)
}

// generateApplications writes n copies of a hub application in a platform's layout.
func generateApplications(example string, format platformsim.Format, name string, n int) ([]platformsim.Item, error) {
	b, err := os.ReadFile(example)
	if err != nil {
		return nil, fmt.Errorf("--example: %w", err)
	}
	app, _, err := cases.DecodeApplication(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("--example %s: %w", example, err)
	}
	body, err := format.Encode(app)
	if err != nil {
		return nil, fmt.Errorf("--example %s in the %s layout: %w", example, name, err)
	}
	items := make([]platformsim.Item, n)
	for i := range items {
		items[i] = platformsim.Item{AppID: fmt.Sprintf("SIM-%s-%04d", name, i+1), Body: body}
	}
	return items, nil
}
