package uploads

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// A request writing an upload holds its lock; another request that needs the lock (the same
// client resuming after its connection broke, Sweep removing the expired upload) asks the
// holder to let go, and the holder stops reading its body. tusd's own way to stop it cancels
// the request's context, on which a goroutine of tusd's closes the request's body reader; that
// goroutine reads the reader's field without synchronising with the request that sets it (a
// data race in tusd v2.9.1, pkg/handler/context.go), and a stop asked before the field is set
// closes nothing. The hub stops the body itself instead: every PATCH and POST body is a
// stoppableBody, and the lock's release request stops that body under a mutex.

// stoppableBody is a request's body that fails every read once stopped, and makes a read waiting
// for the client's bytes return at once.
type stoppableBody struct {
	body io.ReadCloser
	rc   *http.ResponseController

	mu      sync.Mutex
	stopped bool
}

func (b *stoppableBody) isStopped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopped
}

// Read reads the body until it is stopped, then answers tusd's ErrUploadInterrupted, which tusd
// reports to the client of the stopped request (400, ERR_UPLOAD_INTERRUPTED).
func (b *stoppableBody) Read(p []byte) (int, error) {
	if b.isStopped() {
		return 0, tusd.ErrUploadInterrupted
	}
	n, err := b.body.Read(p)
	if err != nil && b.isStopped() {
		// The read was cut short by the deadline stop set: the reason is the stop.
		return n, tusd.ErrUploadInterrupted
	}
	return n, err
}

func (b *stoppableBody) Close() error { return b.body.Close() }

// stop makes the body's reads fail from now on; a read under way returns when the connection's
// read deadline, set to now, passes. It may be called more than once.
func (b *stoppableBody) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	// The body may be a spooled chunk (withChecksum) rather than the connection; its reads do
	// not wait, and the check before each read stops them.
	_ = b.rc.SetReadDeadline(time.Now())
}

type stoppableKey struct{}

// stoppable gives each PATCH and POST a stoppableBody, found by the upload's lock through the
// request's context (tusd passes the lock a context derived from the request's).
func stoppable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || (r.Method != http.MethodPatch && r.Method != http.MethodPost) {
			next.ServeHTTP(w, r)
			return
		}
		b := &stoppableBody{body: r.Body, rc: http.NewResponseController(w)}
		r = r.WithContext(context.WithValue(r.Context(), stoppableKey{}, b))
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

// stoppingLocker hands out locks whose release request, for a request with a stoppableBody,
// stops that body instead of running tusd's callback.
type stoppingLocker struct{ tusd.Locker }

func (l stoppingLocker) NewLock(id string) (tusd.Lock, error) {
	lock, err := l.Locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	return stoppingLock{inner: lock}, nil
}

type stoppingLock struct{ inner tusd.Lock }

func (l stoppingLock) Lock(ctx context.Context, requestRelease func()) error {
	if b, ok := ctx.Value(stoppableKey{}).(*stoppableBody); ok {
		requestRelease = b.stop
	}
	return l.inner.Lock(ctx, requestRelease)
}

func (l stoppingLock) Unlock() error { return l.inner.Unlock() }
