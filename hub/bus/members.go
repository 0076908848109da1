package bus

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// joinPoll is how often a new member looks whether it has joined its group.
const joinPoll = 50 * time.Millisecond

// memberState is one running subscription, as readiness sees it.
type memberState struct {
	name   string // group on topic
	joined bool
}

// member records a running subscription until the returned function is called, and watches
// it join its group: kafka-go counts a rebalance in the reader's stats once the member has a
// generation (and its partitions, if any). Nothing else here reads the reader's stats, which
// are reset on each read.
func (b *Bus) member(ctx context.Context, cfg SubscribeConfig, r *kafka.Reader) (leave func()) {
	st := &memberState{name: fmt.Sprintf("group %q on topic %q", cfg.GroupID, cfg.Topic)}
	b.mu.Lock()
	if b.members == nil {
		b.members = map[*memberState]bool{}
	}
	b.members[st] = true
	b.mu.Unlock()
	wctx, stop := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(joinPoll)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if r.Stats().Rebalances > 0 {
					b.mu.Lock()
					st.joined = true
					b.mu.Unlock()
					return
				}
			}
		}
	}()
	return func() {
		stop()
		b.mu.Lock()
		delete(b.members, st)
		b.mu.Unlock()
	}
}

// Joined reports whether every running subscription has joined its consumer group; the error
// names those still joining. A hub that answers before its consumers have joined would take
// cases whose deliveries wait for them (a restart costs a rebalance): /readyz uses it.
func (b *Bus) Joined(context.Context) error {
	b.mu.Lock()
	var waiting []string
	for st := range b.members {
		if !st.joined {
			waiting = append(waiting, st.name)
		}
	}
	b.mu.Unlock()
	if len(waiting) == 0 {
		return nil
	}
	sort.Strings(waiting)
	return fmt.Errorf("bus: %d consumer%s still joining: %s", len(waiting), plural(len(waiting)), strings.Join(waiting, "; "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
