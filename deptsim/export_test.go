package deptsim

import "time"

// WithCallbackBackoff sets the first and the longest wait between callback attempts, so that
// tests can run through many attempts quickly.
func WithCallbackBackoff(first, longest time.Duration) Option {
	return func(s *Simulator) { s.callbackBackoff, s.callbackMaxBackoff = first, longest }
}
