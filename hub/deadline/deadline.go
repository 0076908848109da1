// Package deadline computes time limits as Chinese law counts them, in working days or in
// calendar days. Weekends and official public holidays are off, adjusted weekend workdays (调休)
// are on. The official schedule comes from github.com/6tail/lunar-go's HolidayUtil, which
// carries the State Council's notices; years it does not cover fall back to Monday–Friday, are
// reported by Covered, and a deadline in such a year is provisional (Provisional).
//
// Limits count from the day after the start (期限从次日起算): one working day from a Friday
// submission is the next Monday, unless that Monday is a holiday. A limit in calendar days (日)
// whose last day is a day off ends on the next working day instead (《民法典》第二百零三条: 期间的
// 最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日).
package deadline

import (
	"fmt"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// China is the time zone every deadline date is in (China has no daylight saving time).
var China = time.FixedZone("CST", 8*60*60)

// Calendar answers whether a date is a working day. The zero value is not usable; use New.
// It is safe for concurrent use.
type Calendar struct {
	mu    sync.Mutex
	years map[int]*year
}

type year struct {
	covered bool
	// special holds the dates whose status differs from the weekday rule: true = working
	// day (调休), false = holiday.
	special map[string]bool
}

// New returns a calendar backed by the official holiday schedule.
func New() *Calendar { return &Calendar{years: map[int]*year{}} }

func (c *Calendar) year(y int) *year {
	c.mu.Lock()
	defer c.mu.Unlock()
	if yr, ok := c.years[y]; ok {
		return yr
	}
	yr := &year{special: map[string]bool{}}
	l := HolidayUtil.GetHolidaysByYear(y)
	for e := l.Front(); e != nil; e = e.Next() {
		h := e.Value.(*HolidayUtil.Holiday)
		yr.special[h.GetDay()] = h.IsWork()
		yr.covered = true
	}
	c.years[y] = yr
	return yr
}

// Covered reports whether the official schedule of a year is known; when it is not, only
// weekends are off.
func (c *Calendar) Covered(y int) bool { return c.year(y).covered }

// IsWorkday reports whether the date of t (in China's time zone) is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	d := t.In(China)
	if work, ok := c.year(d.Year()).special[d.Format(time.DateOnly)]; ok {
		return work
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// Date returns the calendar date of t in China as midnight China time.
func Date(t time.Time) time.Time {
	d := t.In(China)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, China)
}

// AddWorkingDays returns the date that is n working days after the date of start: the n-th
// working day counted from the next day. n ≤ 0 returns the date of start.
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	d := Date(start)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}

// WorkingDaysBetween counts the working days in (from, to]: the days after the date of from up
// to and including the date of to. It is 0 when to is not after from.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	a, b := Date(from), Date(to)
	n := 0
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if c.IsWorkday(d) {
			n++
		}
	}
	return n
}

// Units a limit is counted in (the catalogue's Limit.Unit).
const (
	WorkingDays  = "working"
	CalendarDays = "calendar"
)

// AddCalendarDays returns the last day of a limit of n calendar days from the date of start: the
// n-th day counted from the next day, moved to the next working day when it is a day off. n ≤ 0
// returns the date of start.
func (c *Calendar) AddCalendarDays(start time.Time, n int) time.Time {
	d := Date(start)
	if n <= 0 {
		return d
	}
	d = d.AddDate(0, 0, n)
	for !c.IsWorkday(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// Add returns the last day of a limit of n days in unit (WorkingDays or CalendarDays) from the
// date of start. It panics on another unit: units come from the catalogue, which checks them.
func (c *Calendar) Add(start time.Time, n int, unit string) time.Time {
	switch unit {
	case WorkingDays:
		return c.AddWorkingDays(start, n)
	case CalendarDays:
		return c.AddCalendarDays(start, n)
	}
	panic(fmt.Sprintf("deadline: unknown unit %q", unit))
}

// Between counts the days in unit in (from, to]: the days after the date of from up to and
// including the date of to; 0 when to is not after from.
func (c *Calendar) Between(from, to time.Time, unit string) int {
	if unit == CalendarDays {
		a, b := Date(from), Date(to)
		if !b.After(a) {
			return 0
		}
		return int(b.Sub(a).Hours()+12) / 24 // China has no daylight saving time; +12 rounds
	}
	return c.WorkingDaysBetween(from, to)
}

// Provisional reports whether a deadline falls in a year whose official holiday schedule is not
// known: it was counted Monday–Friday there and may move once the State Council publishes the
// year's schedule.
func (c *Calendar) Provisional(due time.Time) bool { return !c.Covered(due.In(China).Year()) }

// CoveredUntil returns the last day of the last year, from the year of now on, whose official
// schedule is known without a gap; the zero time when even the year of now is not covered.
func (c *Calendar) CoveredUntil(now time.Time) time.Time {
	y := now.In(China).Year()
	if !c.Covered(y) {
		return time.Time{}
	}
	for c.Covered(y + 1) {
		y++
	}
	return time.Date(y, time.December, 31, 0, 0, 0, 0, China)
}

// Pause is an interval during which a limit's clock stands still (suspension for a special
// procedure, 特别程序; waiting for the applicant's supplement, 补正). An open pause has a zero
// End.
type Pause struct {
	Start, End time.Time
}

// Due returns the deadline of a limit of n days in unit that started at start, extended by the
// days (in the same unit) spent in pauses; an open pause counts up to now.
func (c *Calendar) Due(start time.Time, n int, unit string, pauses []Pause, now time.Time) time.Time {
	paused := 0
	for _, p := range pauses {
		end := p.End
		if end.IsZero() {
			end = now
		}
		paused += c.Between(p.Start, end, unit)
	}
	return c.Add(start, n+paused, unit)
}

// CoverageWarningDays is how near the end of the known official schedule a warning starts.
const CoverageWarningDays = 90

// CoverageWarning says, when the official holiday schedule the calendar knows ends within
// CoverageWarningDays of now (or has ended), when it ends and what that means for deadlines;
// "" otherwise. The hub logs it at start-up and /readyz reports it.
func (c *Calendar) CoverageWarning(now time.Time) string {
	until := c.CoveredUntil(now)
	if until.IsZero() {
		return fmt.Sprintf("the official holiday schedule of %d is not known: deadlines are counted Monday–Friday and flagged provisional; update github.com/6tail/lunar-go", now.In(China).Year())
	}
	left := int(until.Sub(Date(now)).Hours()/24 + 0.5)
	if left > CoverageWarningDays {
		return ""
	}
	return fmt.Sprintf("the official holiday schedule is known up to %s (%d days from today): deadlines after it are counted Monday–Friday and flagged provisional; update github.com/6tail/lunar-go once the State Council publishes %d's schedule",
		until.Format(time.DateOnly), left, until.Year()+1)
}
