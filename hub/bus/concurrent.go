package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// maxConcurrency bounds SubscribeConfig.Concurrency.
const maxConcurrency = 256

// commitEvery is how often the committer of a concurrent subscription commits what was handled.
const commitEvery = 50 * time.Millisecond

// consumeConcurrently is consume with cfg.Concurrency workers. The fetching loop hands each
// message to the worker its key hashes to (a message without a key to its partition's), so the
// messages of a key are handled in order; a worker's queue is short, so a slow key holds back
// the fetching only once its worker's queue is full. Each handled message is marked done in
// its partition's window; the committer commits, per partition, the last message before the
// first one not yet done. Whatever happens, nothing is committed before it was handled.
//
// A handler error stops the fetching; the workers finish what they hold (messages after the
// failed one, of other keys, may be handled — at least once, as ever), what was handled before
// the failed message is committed, and the error is returned.
func (b *Bus) consumeConcurrently(ctx context.Context, r *kafka.Reader, cfg SubscribeConfig, handle Handler) error {
	n := cfg.Concurrency
	w := newWindows()
	hctx, stopHandlers := context.WithCancel(ctx)
	defer stopHandlers()

	var failOnce sync.Once
	var failure error
	fail := func(err error) {
		failOnce.Do(func() { failure = err; stopHandlers() })
	}

	queues := make([]chan *tracked, n)
	var workers sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan *tracked, 4)
		workers.Add(1)
		go func(q <-chan *tracked) {
			defer workers.Done()
			for t := range q {
				if hctx.Err() != nil {
					continue // stopping: leave it uncommitted
				}
				if err := handle(hctx, received(t.m, b.cfg.Namespace)); err != nil {
					fail(fmt.Errorf("bus: handler failed on topic %q partition %d offset %d, not committed: %w",
						t.m.Topic, t.m.Partition, t.m.Offset, err))
					continue
				}
				w.done(t)
			}
		}(queues[i])
	}

	commit := func() error {
		ms := w.committable()
		if len(ms) == 0 {
			return nil
		}
		// The effect is done: commit even if the subscription is stopping, else the messages
		// would be handled twice for nothing.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.CommitTimeout)
		defer cancel()
		if err := r.CommitMessages(cctx, ms...); err != nil {
			return fmt.Errorf("bus: commit topic %q for group %q: %w", cfg.Topic, cfg.GroupID, err)
		}
		return nil
	}
	committerDone := make(chan error, 1)
	stopCommitter := make(chan struct{})
	go func() {
		t := time.NewTicker(commitEvery)
		defer t.Stop()
		for {
			select {
			case <-stopCommitter:
				committerDone <- nil
				return
			case <-t.C:
				if err := commit(); err != nil {
					fail(err)
					committerDone <- err
					return
				}
			}
		}
	}()

	var fetchErr error
	for {
		m, err := r.FetchMessage(hctx)
		if hctx.Err() != nil {
			break
		}
		if err != nil {
			fetchErr = fmt.Errorf("bus: fetch from topic %q for group %q: %w", cfg.Topic, cfg.GroupID, err)
			break
		}
		t := w.add(m)
		select {
		case queues[worker(m, n)] <- t:
		case <-hctx.Done():
		}
		if hctx.Err() != nil {
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	workers.Wait()
	close(stopCommitter)
	cerr := <-committerDone
	if cerr == nil {
		cerr = commit() // what was handled last
	}
	switch {
	case failure != nil:
		return errors.Join(failure, fetchErr)
	case fetchErr != nil:
		return errors.Join(fetchErr, cerr)
	default:
		return cerr
	}
}

// worker is the worker a message goes to: by key, else by partition.
func worker(m kafka.Message, n int) int {
	h := fnv.New32a()
	if len(m.Key) > 0 {
		_, _ = h.Write(m.Key)
	} else {
		_, _ = fmt.Fprintf(h, "%d", m.Partition)
	}
	return int(h.Sum32() % uint32(n))
}

// tracked is a fetched message and whether it has been handled.
type tracked struct {
	m       kafka.Message
	handled bool
}

// windows holds, per partition, the messages fetched and not yet committed, in offset order.
type windows struct {
	mu    sync.Mutex
	parts map[int][]*tracked
}

func newWindows() *windows { return &windows{parts: map[int][]*tracked{}} }

func (w *windows) add(m kafka.Message) *tracked {
	t := &tracked{m: m}
	w.mu.Lock()
	w.parts[m.Partition] = append(w.parts[m.Partition], t)
	w.mu.Unlock()
	return t
}

func (w *windows) done(t *tracked) {
	w.mu.Lock()
	t.handled = true
	w.mu.Unlock()
}

// committable takes from each partition's window the handled messages at its head and returns
// the last of them, per partition: committing it commits all before it.
func (w *windows) committable() []kafka.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []kafka.Message
	for p, ts := range w.parts {
		i := 0
		for i < len(ts) && ts[i].handled {
			i++
		}
		if i == 0 {
			continue
		}
		out = append(out, ts[i-1].m)
		w.parts[p] = ts[i:]
	}
	return out
}
