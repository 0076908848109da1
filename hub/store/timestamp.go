package store

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Timestamp is a time.Time as the store keeps it: a BIGINT of microseconds
// since the Unix epoch, which PostgreSQL and SQLite order, compare and return
// alike. Writing truncates to the microsecond; reading yields UTC. The zero
// Time is written as NULL and NULL reads as the zero Time, so a nullable
// column needs no separate type.
//
// Use it for every timestamp column of every table, including tables kept by
// other packages, so that all of them share one representation.
type Timestamp struct {
	time.Time
}

// NewTimestamp returns t as the store will write it: UTC, whole microseconds.
func NewTimestamp(t time.Time) Timestamp {
	if t.IsZero() {
		return Timestamp{}
	}
	return Timestamp{Time: time.UnixMicro(t.UnixMicro()).UTC()}
}

// Value implements driver.Valuer.
func (t Timestamp) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.UnixMicro(), nil
}

// Scan implements sql.Scanner.
func (t *Timestamp) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case int64:
		t.Time = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("store: scan timestamp: want BIGINT microseconds, got %T", src)
	}
	return nil
}

// now is the store's clock for the times it records itself.
func now() Timestamp { return NewTimestamp(time.Now()) }
