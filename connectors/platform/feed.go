package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"yjshub/connectors/delivery"
)

// maxPage bounds the size of one page.
const maxPage = 32 << 20

// Page is one answer of a list the platform pages by cursor (README.md): Page[Item] from
// pull_url, Page[LicenceItem] from licences_url.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// remoteError is a pull that the platform did not answer as the contract says: the connector
// waits and tries again rather than failing.
type remoteError struct{ reason string }

func (e *remoteError) Error() string { return e.reason }

// feed is one list the connector pulls from the platform page by page (its submitted
// applications, its e-licences), each with the same loop: the cursor is stored only after
// every item of the page is recorded, and a platform that does not answer is tried again with
// backoff.
type feed struct {
	// what names the list in notes and logs: applications, licences.
	what string
	url  string
	// cursors is the table holding the list's cursor (appCursors, licenceCursors).
	cursors string
	// take records what became of one item of a page. It returns only errors that may pass
	// (the store's), after which the page is pulled again; anything about the item itself it
	// records and returns nil, so that one item never holds up the next.
	take func(ctx context.Context, item json.RawMessage) error
	// afterRound, if set, runs after every pull, whether it succeeded or not.
	afterRound func(ctx context.Context) error

	pulls atomic.Int64

	mu          sync.Mutex
	cursor      string
	lastPull    time.Time
	lastSuccess time.Time
}

// state returns the feed's cursor, and when it was last pulled and last pulled whole.
func (f *feed) state() (cursor string, lastPull, lastSuccess time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor, f.lastPull, f.lastSuccess
}

// pullLoop pulls f's pages until ctx ends; it returns only the store's errors.
func (c *Connector) pullLoop(ctx context.Context, f *feed) error {
	failures := 0
	for {
		more, err := c.pullOnce(ctx, f)
		if ctx.Err() != nil {
			return nil
		}
		var re *remoteError
		switch {
		case errors.As(err, &re):
			failures++
			c.note("pulling " + f.what + ": " + re.reason)
			c.log.WarnContext(ctx, "platform: pull failed; will try again", "list", f.what, "reason", re.reason, "failures", failures)
		case err != nil:
			return err
		default:
			failures = 0
		}
		if f.afterRound != nil {
			if err := f.afterRound(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		wait := c.cfg.PollInterval
		switch {
		case failures > 0:
			wait = min(delivery.Backoff(failures, c.cfg.Retry, rand.Float64()), c.cfg.PollInterval)
		case more:
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// pullOnce pulls one page of f from the stored cursor, takes every item, and only then stores
// the next cursor. more says whether the platform may have more right away.
func (c *Connector) pullOnce(ctx context.Context, f *feed) (more bool, err error) {
	cur, err := c.tables.cursor(ctx, f.cursors)
	if err != nil {
		return false, err
	}
	f.pulls.Add(1)
	page, err := c.fetch(ctx, f.url, cur)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	f.lastPull = time.Now()
	f.mu.Unlock()
	for _, it := range page.Items {
		if err := f.take(ctx, it); err != nil {
			return false, err
		}
	}
	next := page.NextCursor
	advanced := next != "" && next != cur
	if advanced {
		if err := c.tables.saveCursor(ctx, f.cursors, next); err != nil {
			return false, err
		}
		cur = next
	}
	f.mu.Lock()
	f.cursor, f.lastSuccess = cur, time.Now()
	f.mu.Unlock()
	return advanced && len(page.Items) >= c.cfg.Limit, nil
}

// fetch GETs one page of the list at rawURL; its items are left for the feed to decode, so
// that one malformed item is that item's problem, not the page's.
func (c *Connector) fetch(ctx context.Context, rawURL, cursor string) (*Page[json.RawMessage], error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &remoteError{"the URL does not parse"}
	}
	q := u.Query()
	q.Set("cursor", cursor)
	q.Set("limit", strconv.Itoa(c.cfg.Limit))
	u.RawQuery = q.Encode()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &remoteError{"building the request failed"}
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "yjshub-platform")
	resp, err := c.pull.Do(req)
	if err != nil {
		return nil, &remoteError{delivery.ErrorKind(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, &remoteError{fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	case err != nil:
		return nil, &remoteError{"reading the page: " + delivery.ErrorKind(err)}
	case len(body) > maxPage:
		return nil, &remoteError{fmt.Sprintf("the page is larger than %d bytes", maxPage)}
	}
	var p Page[json.RawMessage]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &remoteError{"the page is not {items, next_cursor} JSON"}
	}
	return &p, nil
}
