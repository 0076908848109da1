package uploads

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// sweepLockWait bounds how long Sweep (or a retried finish) waits for an upload that a request
// is writing: the holder notices the request to let go within lockPoll and then stops reading.
const sweepLockWait = 10 * lockPoll

// Sweep removes every unfinished upload created more than Config.MaxAge ago by the Service's
// clock, and returns how many it removed. An upload a request is writing is asked to stop
// first (tusd's lock release), so that no half-written chunk outlives its upload. It returns
// every error met, having tried every upload.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ids, err := s.flight.ids(ctx)
	if err != nil && len(ids) == 0 {
		return 0, fmt.Errorf("uploads: sweep: %w", err)
	}
	now := s.cfg.Now()
	var errs []error
	if err != nil {
		// Some uploads could not be listed; the others are still swept.
		errs = append(errs, fmt.Errorf("uploads: sweep: %w", err))
	}
	removed := 0
	for _, id := range ids {
		gone, err := s.sweepOne(ctx, id, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("uploads: sweep upload %s: %w", id, err))
		}
		if gone {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

func (s *Service) sweepOne(ctx context.Context, id string, now time.Time) (bool, error) {
	up, err := s.flight.GetUpload(ctx, id)
	if err != nil {
		return false, err
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return false, err
	}
	created, err := time.Parse(time.RFC3339Nano, info.MetaData[metaCreated])
	if err != nil {
		// Not created through the hub's callback: nobody can own it, so it is removed too.
		created = time.Time{}
	}
	if now.Sub(created) < s.cfg.MaxAge {
		return false, nil
	}
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return false, err
	}
	lctx, cancel := context.WithTimeout(ctx, sweepLockWait)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	defer func() { _ = lock.Unlock() }()
	if err := s.flight.AsTerminatableUpload(up).Terminate(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// RunSweeper calls Sweep every interval until ctx is done, logging what it removed and what
// failed.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.Sweep(ctx)
			if n > 0 {
				s.cfg.Logger.Info("uploads: removed expired uploads", "count", n)
			}
			if err != nil {
				s.cfg.Logger.Warn("uploads: sweep", "err", err)
			}
		}
	}
}
