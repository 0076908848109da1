package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/tusclient"
)

// localFile is a material an application gives as a file on this machine ("file": "path",
// relative to the application), to upload before the application is sent.
type localFile struct {
	// index is the material's place in the application's materials.
	index int
	// typ is the material's type code; name the file name declared (the entry's filename,
	// else the file's base name).
	typ, name string
	// rel is the path as the application gives it, for messages; path is where it is.
	rel, path string
	size      int64
	sha256    string
}

// fileEntryKeys are the keys an entry with "file" may have besides it: the others (sha256,
// size, uri, licence, id) are what the upload gives the hub, and giving them too would say
// two things.
var fileEntryKeys = map[string]bool{"type": true, "file": true, "filename": true}

// decodeObject decodes an application keeping its numbers as they are written.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var app map[string]any
	if err := dec.Decode(&app); err != nil {
		return nil, err
	}
	return app, nil
}

// localFiles finds the materials of an application (already decoded without problems) given
// as local files, opens and hashes each, and reports every problem at once, by the entry's
// JSON Pointer and the file as the application names it.
func localFiles(appFile string, body []byte) ([]localFile, []fileProblem) {
	app, err := decodeObject(body)
	if err != nil {
		return nil, []fileProblem{{Message: "JSON: " + err.Error()}}
	}
	list, _ := app["materials"].([]any)
	dir := filepath.Dir(appFile)
	var files []localFile
	var problems []fileProblem
	for i, item := range list {
		entry, ok := item.(map[string]any)
		if !ok {
			continue // the form's schema says what is wrong with it
		}
		raw, has := entry["file"]
		if !has {
			continue
		}
		at := fmt.Sprintf("/materials/%d", i)
		rel, ok := raw.(string)
		if !ok || strings.TrimSpace(rel) == "" {
			problems = append(problems, fileProblem{Path: at + "/file", Message: "a file is the path of a local file, relative to the application"})
			continue
		}
		var extra []string
		for k := range entry {
			if !fileEntryKeys[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			problems = append(problems, fileProblem{Path: at, Message: "a material given as a file has only type, file and filename; the upload gives the hub " + quoteAll(extra)})
		}
		typ, _ := entry["type"].(string)
		if typ == "" {
			problems = append(problems, fileProblem{Path: at + "/type", Message: "required, missing: the material's type, which the upload declares"})
		}
		path := filepath.FromSlash(rel)
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		name, _ := entry["filename"].(string)
		if name == "" {
			name = filepath.Base(path)
		}
		lf := localFile{index: i, typ: typ, name: name, rel: rel, path: path}
		if err := lf.hash(); err != nil {
			problems = append(problems, fileProblem{Path: at + "/file", Message: err.Error()})
			continue
		}
		files = append(files, lf)
	}
	return files, problems
}

// hash reads the file through once for its size and sha256.
func (lf *localFile) hash() error {
	f, err := os.Open(lf.path)
	if err != nil {
		return fmt.Errorf("%s: %w", lf.rel, unwrapPath(err))
	}
	defer f.Close()
	info, err := f.Stat()
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", lf.rel, unwrapPath(err))
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", lf.rel)
	case info.Size() == 0:
		return fmt.Errorf("%s: the file is empty", lf.rel)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%s: reading it: %w", lf.rel, unwrapPath(err))
	}
	lf.size, lf.sha256 = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

// unwrapPath drops the path an *os.PathError repeats: the message names the file as the
// application does.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// withMaterials returns the application with the entries of files replaced by what replace
// makes of each; the rest is left as written (numbers included).
func withMaterials(body []byte, files []localFile, replace func(lf localFile) map[string]any) ([]byte, error) {
	app, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	list, _ := app["materials"].([]any)
	for _, lf := range files {
		list[lf.index] = replace(lf)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(app); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// standInURI is the uri the local check gives a file's entry: the form's schema asks a file
// for filename, sha256, size and uri, which the file has but for the uri.
const standInURI = "https://upload.invalid/"

// checkApplicationWithFiles checks an application as checkApplicationFile does, its local
// files included: each must be a readable, non-empty file, and the form's schema checks the
// application with each such entry standing for the file it names. It prints every problem
// and returns the local files, and whether the application may go on.
func checkApplicationWithFiles(cmd *cobra.Command, hub, file string, body []byte) ([]localFile, bool) {
	if _, problems := decodeApplication(body); len(problems) > 0 {
		return nil, checkApplicationFile(cmd, hub, file, body) // prints them, with lines and columns
	}
	files, problems := localFiles(file, body)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(cmd.ErrOrStderr(), p.String(file))
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d problem(s); nothing was sent\n", file, len(problems))
		return nil, false
	}
	if len(files) == 0 {
		return nil, checkApplicationFile(cmd, hub, file, body)
	}
	standIn, err := withMaterials(body, files, func(lf localFile) map[string]any {
		return map[string]any{"type": lf.typ, "filename": lf.name, "sha256": lf.sha256, "size": lf.size, "uri": standInURI + lf.sha256}
	})
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", file, err)
		return nil, false
	}
	return files, checkApplicationFile(cmd, hub, file, standIn)
}

// uploadOptions are the flags of the uploads of `yjshub submit`.
type uploadOptions struct {
	statePath string
	chunkMiB  int
	quiet     bool
}

func (o *uploadOptions) flags(cmd *cobra.Command) {
	def, _ := tusclient.DefaultStatePath()
	cmd.Flags().StringVar(&o.statePath, "upload-state", def, "the file that remembers uploads by sha256: one cut off is resumed by the next run, a finished one is not sent again while the hub keeps its material")
	cmd.Flags().IntVar(&o.chunkMiB, "chunk-mib", tusclient.DefaultChunkSize>>20, "the size of each part of an upload, in MiB")
	cmd.Flags().BoolVar(&o.quiet, "quiet", false, "print no progress bar on stderr while files upload")
}

// uploadFiles uploads the local files of an application, one after the other with a progress
// bar each on standard error, and returns the application with each entry replaced by
// {type, id}. A file that fails is named with what failed; files uploaded before it are kept
// by the hub and files cut off are resumed by the next run.
func uploadFiles(cmd *cobra.Command, hub, file string, body []byte, files []localFile, o uploadOptions) ([]byte, error) {
	app, problems := decodeApplication(body)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", file, problems[0].String(file))
	}
	holder := holderOf(app)
	if holder == "" {
		return nil, fmt.Errorf("%s: the applicant's USCC or ID number is missing from the form, and an upload belongs to it", file)
	}
	if o.chunkMiB < 1 {
		return nil, usageError{fmt.Errorf("--chunk-mib %d: want 1 or more", o.chunkMiB)}
	}
	c := &tusclient.Client{
		Endpoint:  hub + "/api/v1/uploads",
		HTTP:      uploadHTTPClient(cmd),
		Header:    http.Header{},
		ChunkSize: int64(o.chunkMiB) << 20,
		// As the submission's own retries, so that a hub restarting is waited for alike.
		RetryWait: retryBase / 2,
	}
	if key := os.Getenv(apiKeyEnv); key != "" {
		c.Header.Set("Authorization", "Bearer "+key)
	}
	if o.statePath != "" {
		c.State = tusclient.OpenState(o.statePath)
		c.Reuse = func(ctx context.Context, id string, f tusclient.File) bool {
			return materialFits(ctx, hub, id, f)
		}
	}
	stderr := cmd.ErrOrStderr()
	ids := map[localFile]string{}
	for _, lf := range files {
		key := localFile{typ: lf.typ, name: lf.name, sha256: lf.sha256}
		if ids[key] != "" {
			continue // the same file of the same type twice: one material
		}
		f, err := os.Open(lf.path)
		if err != nil {
			return nil, fmt.Errorf("%s: /materials/%d: %s: %w", file, lf.index, lf.rel, unwrapPath(err))
		}
		progress := func(int64) {}
		var bar *progressbar.ProgressBar
		if !o.quiet {
			bar = progressbar.NewOptions64(lf.size, progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(lf.rel), progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true),
				progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(false),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
			progress = func(sent int64) { _ = bar.Set64(sent) }
		}
		res, err := c.Upload(cmd.Context(), tusclient.File{Body: f, Size: lf.size, SHA256: lf.sha256,
			Filename: lf.name, Type: lf.typ, Holder: holder}, progress)
		_ = f.Close()
		if bar != nil {
			if err == nil {
				_ = bar.Finish()
			} else {
				fmt.Fprintln(stderr)
			}
		}
		if err != nil {
			hint := ""
			if c.State != nil && !isRefusal(err) {
				hint = "; run the command again to resume it"
			}
			return nil, fmt.Errorf("%s: /materials/%d: uploading %s: %w%s", file, lf.index, lf.rel, err, hint)
		}
		if res.Reused {
			fmt.Fprintf(stderr, "%s: uploaded by an earlier run, the hub still has it as %s\n", lf.rel, res.MaterialID)
		}
		if res.ResumedAt > 0 {
			fmt.Fprintf(stderr, "%s: resumed at %d of %d bytes\n", lf.rel, res.ResumedAt, lf.size)
		}
		ids[key] = res.MaterialID
	}
	return withMaterials(body, files, func(lf localFile) map[string]any {
		return map[string]any{"type": lf.typ, "id": ids[localFile{typ: lf.typ, name: lf.name, sha256: lf.sha256}]}
	})
}

// isRefusal reports whether the hub refused an upload for what it is (4xx), which running
// again does not change.
func isRefusal(err error) bool {
	var he *tusclient.Error
	return errors.As(err, &he) && he.Status >= 400 && he.Status < 500
}

// uploadHTTPClient is the hub's client (--ca, --cert) without the whole-request timeout of
// the API's calls: a part of 4 MiB on a slow line takes longer than an API call may.
func uploadHTTPClient(cmd *cobra.Command) *http.Client {
	c := *httpClientFrom(cmd.Context())
	c.Timeout = 5 * time.Minute
	return &c
}

// holderOf is the applicant the uploads belong to: the enterprise's or individual business's
// USCC, else the person's ID number, as the hub reads the application.
func holderOf(app cases.Application) string {
	str := func(k string) string { v, _ := app.Form[k].(string); return v }
	switch {
	case app.ApplicantType == catalogue.Enterprise:
		return str("enterprise.uscc")
	case cases.IndividualBusiness(app.ApplicantType, app.Form):
		return str("individual_business.uscc")
	}
	return str("applicant.id_number")
}

// materialFits reports whether the material id an earlier run made is still at the hub and
// is f: the same bytes, type, file name and applicant. Anything else — gone, another
// applicant's, the hub not answering — and the file is sent again, which costs time, never
// a wrong material.
func materialFits(ctx context.Context, hub, id string, f tusclient.File) bool {
	var m struct {
		SHA256   string `json:"sha256"`
		Size     int64  `json:"size"`
		Type     string `json:"type"`
		Filename string `json:"filename"`
		Holder   string `json:"holder"`
	}
	if _, err := call(ctx, http.MethodGet, hub+"/api/v1/material-objects/"+url.PathEscape(id), nil, nil, &m); err != nil {
		return false
	}
	return m.SHA256 == f.SHA256 && m.Size == f.Size && m.Type == f.Type && m.Filename == f.Filename && m.Holder == f.Holder
}
