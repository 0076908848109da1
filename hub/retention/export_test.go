package retention

// SetBeforeRemove makes s call f between finding a material due and removing it.
func SetBeforeRemove(s *Sweeper, f func(id string)) { s.beforeRemove = f }
