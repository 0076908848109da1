package tusclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultChunkSize is the size of each PATCH: large enough that a fast link is not slowed by
// round trips, small enough that an interruption loses little and a chunk's checksum is
// computed in memory.
const DefaultChunkSize = 4 << 20

// DefaultRetries is how many times a chunk is sent again within one run.
const DefaultRetries = 3

// headerMaterialID names the material a completed upload became (hub/uploads.HeaderMaterialID;
// not imported, so that a client does not link the hub's server code).
const headerMaterialID = "Upload-Material-Id"

// statusChecksumMismatch is the tus checksum extension's answer to a chunk that arrived
// damaged: the hub kept nothing of it, and it is worth sending again.
const statusChecksumMismatch = 460

// Client uploads files to one tus endpoint. Its zero value is not usable: Endpoint is
// required. A Client is safe for concurrent use once configured.
type Client struct {
	// Endpoint is the tus endpoint's URL, e.g. https://hub.example/api/v1/uploads. Required.
	Endpoint string
	// HTTP sends the requests. Default http.DefaultClient.
	HTTP *http.Client
	// Header is added to every request (the Authorization of the hub's API key).
	Header http.Header
	// ChunkSize is the size of each PATCH in bytes. Default DefaultChunkSize.
	ChunkSize int64
	// Retries is how many times, within one run, a chunk is sent again after no answer, a
	// 5xx or a damaged chunk (460), each time from the offset HEAD reports. Default
	// DefaultRetries; negative for none.
	Retries int
	// RetryWait is the first wait before sending again; each next wait doubles. Default 500ms.
	RetryWait time.Duration
	// State remembers unfinished uploads across runs. Default nil: an upload cut off is
	// started over by the next run.
	State *State
	// Reuse, when set with State, is asked whether the material an earlier run made of the
	// same file (same sha256, same endpoint) will do for f — the hub still has it, with f's
	// type, name and holder; when it answers true, Upload returns that material and sends
	// nothing. Default nil: a finished upload is forgotten, and the file sent again next time.
	Reuse func(ctx context.Context, materialID string, f File) bool
}

// File is one file to upload.
type File struct {
	// Body reads the file's bytes at any offset (an *os.File).
	Body io.ReaderAt
	// Size is the file's length in bytes (more than 0).
	Size int64
	// SHA256 is the hex sha256 of the bytes: the key of the State, and declared to the hub,
	// which refuses an upload whose bytes do not match it.
	SHA256 string
	// Filename, Type (the catalogue's material type code) and Holder (the applicant's USCC
	// or ID number) are the upload's metadata.
	Filename, Type, Holder string
}

// Result is a finished upload.
type Result struct {
	// MaterialID names the material the hub made of the file ("mo_…").
	MaterialID string
	// URL is the upload's URL.
	URL string
	// ResumedAt is the offset an upload of an earlier run was resumed from, -1 when the
	// upload was created by this run.
	ResumedAt int64
	// Reused says that the material is one an earlier run made and nothing was sent.
	Reused bool
}

// Error is an answer of the hub that ends an upload: what the client was doing, the status,
// and the hub's error body when it sent one (code, message and problems, which never carry
// the metadata's values).
type Error struct {
	Op       string
	Status   int
	Code     string
	Message  string
	Problems []string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the hub answered %d", e.Op, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "; %s", p)
	}
	return b.String()
}

// retryable reports whether an upload may go on after err: no answer, a 5xx, a damaged chunk
// or an offset the hub disagrees with (409), all of which a HEAD sorts out.
func retryable(err error) bool {
	var he *Error
	if !errors.As(err, &he) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return he.Status >= 500 || he.Status == statusChecksumMismatch || he.Status == http.StatusConflict
}

// gone reports whether a remembered upload no longer exists at the hub (finished, swept or
// never ours), so that it is created anew.
func gone(err error) bool {
	var he *Error
	return errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone || he.Status == http.StatusForbidden)
}

// Upload sends f and returns the material it became. progress, when not nil, is called with
// the number of bytes of f sent so far (it may go back after a chunk is sent again). An
// upload that fails for want of an answer stays in the State for the next run.
func (c *Client) Upload(ctx context.Context, f File, progress func(sent int64)) (Result, error) {
	if c.Endpoint == "" {
		return Result{}, errors.New("tusclient: Endpoint is required")
	}
	if f.Size <= 0 {
		return Result{}, errors.New("the file is empty")
	}
	if progress == nil {
		progress = func(int64) {}
	}
	res := Result{ResumedAt: -1}
	var offset int64
	if c.State != nil {
		e, err := c.State.lookup(f.SHA256, c.Endpoint, f.Size)
		if err != nil {
			return res, err
		}
		if e.Material != "" && c.Reuse != nil && c.Reuse(ctx, e.Material, f) {
			progress(f.Size)
			return Result{MaterialID: e.Material, ResumedAt: -1, Reused: true}, nil
		}
		if u := e.URL; u != "" {
			off, err := c.head(ctx, u)
			switch {
			case err == nil && off <= f.Size:
				res.URL, res.ResumedAt, offset = u, off, off
			case err == nil || gone(err):
				// Finished, swept, or not this file's: start over.
				if err := c.State.forget(f.SHA256, c.Endpoint); err != nil {
					return res, err
				}
			default:
				return res, err
			}
		}
	}
	if res.URL == "" {
		u, err := c.create(ctx, f)
		if err != nil {
			return res, err
		}
		res.URL = u
		if c.State != nil {
			if err := c.State.remember(f.SHA256, c.Endpoint, f.Size, u); err != nil {
				return res, err
			}
		}
	}
	progress(offset)

	chunk := c.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	retries, wait := c.Retries, c.RetryWait
	if retries == 0 {
		retries = DefaultRetries
	}
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	buf := make([]byte, min(chunk, f.Size))
	failures := 0
	for {
		n := min(chunk, f.Size-offset)
		part := buf[:n]
		if _, err := f.Body.ReadAt(part, offset); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
			return res, fmt.Errorf("reading the file at %d: %w", offset, err)
		}
		next, id, err := c.patch(ctx, res.URL, offset, part, progress)
		if err != nil {
			if failures >= retries || !retryable(err) || ctx.Err() != nil {
				return res, err
			}
			failures++
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
			off, herr := c.head(ctx, res.URL)
			if herr != nil {
				return res, fmt.Errorf("%w (and asking where to resume: %v)", err, herr)
			}
			offset = off
			progress(offset)
			continue
		}
		failures = 0
		offset = next
		progress(offset)
		if offset >= f.Size {
			if id == "" {
				return res, &Error{Op: "finish", Status: http.StatusNoContent, Message: "the completing PATCH names no material (" + headerMaterialID + ")"}
			}
			res.MaterialID = id
			switch {
			case c.State != nil && c.Reuse != nil:
				if err := c.State.finished(f.SHA256, c.Endpoint, f.Size, id); err != nil {
					return res, err
				}
			case c.State != nil:
				if err := c.State.forget(f.SHA256, c.Endpoint); err != nil {
					return res, err
				}
			}
			return res, nil
		}
	}
}

// create POSTs the upload and returns its URL.
func (c *Client) create(ctx context.Context, f File) (string, error) {
	md := map[string]string{"filename": f.Filename, "type": f.Type, "holder": f.Holder, "sha256": f.SHA256}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(md)) {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(md[k])))
	}
	req, err := c.request(ctx, http.MethodPost, c.Endpoint, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(f.Size, 10))
	req.Header.Set("Upload-Metadata", strings.Join(parts, ","))
	resp, err := c.do(req, "create")
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated {
		return "", answerError("create", resp)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return "", &Error{Op: "create", Status: resp.StatusCode, Message: "no usable Location for the upload"}
	}
	base, err := url.Parse(c.Endpoint)
	if err != nil {
		return "", fmt.Errorf("tusclient: Endpoint: %w", err)
	}
	return base.ResolveReference(loc).String(), nil
}

// head returns the offset the hub holds of the upload at u.
func (c *Client) head(ctx context.Context, u string) (int64, error) {
	req, err := c.request(ctx, http.MethodHead, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req, "resume")
	if err != nil {
		return 0, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, answerError("resume", resp)
	}
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 {
		return 0, &Error{Op: "resume", Status: resp.StatusCode, Message: "no valid Upload-Offset"}
	}
	return off, nil
}

// patch sends part at offset and returns the new offset and, when it completed the upload,
// the material's id.
func (c *Client) patch(ctx context.Context, u string, offset int64, part []byte, progress func(int64)) (int64, string, error) {
	sum := sha256.Sum256(part)
	body := &counting{r: bytes.NewReader(part), base: offset, progress: progress}
	req, err := c.request(ctx, http.MethodPatch, u, body)
	if err != nil {
		return 0, "", err
	}
	req.ContentLength = int64(len(part))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	req.Header.Set("Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(sum[:]))
	resp, err := c.do(req, "send")
	body.stop()
	if err != nil {
		return 0, "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusNoContent {
		return 0, "", answerError(fmt.Sprintf("send at %d", offset), resp)
	}
	next, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || next < offset {
		return 0, "", &Error{Op: "send", Status: resp.StatusCode, Message: "no valid Upload-Offset"}
	}
	return next, resp.Header.Get(headerMaterialID), nil
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	return req, nil
}

func (c *Client) do(req *http.Request, op string) (*http.Response, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp, nil
}

// answerError reads the hub's error body, when the answer has one.
func answerError(op string, resp *http.Response) error {
	e := &Error{Op: op, Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Problems []struct {
				Path    string `json:"path"`
				Rule    string `json:"rule"`
				Message string `json:"message"`
			} `json:"problems"`
		} `json:"error"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16)); err == nil && json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		for _, p := range body.Error.Problems {
			e.Problems = append(e.Problems, strings.TrimSpace(fmt.Sprintf("%s [%s] %s", p.Path, p.Rule, p.Message)))
		}
	}
	return e
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
}

// counting reports the bytes of a chunk as the transport reads them, for a progress bar that
// moves within a chunk. The transport may go on reading a body after Do has returned (a hub
// that answered before reading it all); stop ends that, so that the chunk's buffer can be
// used again and progress is never called once the PATCH is over.
type counting struct {
	mu       sync.Mutex
	r        io.Reader
	base, n  int64
	progress func(int64)
	stopped  bool
}

func (c *counting) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, errStopped
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(c.base + c.n)
	return n, err
}

func (c *counting) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// errStopped ends the reading of a chunk whose PATCH is over.
var errStopped = errors.New("tusclient: the request is over")
