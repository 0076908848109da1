package deadline

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, China)
	if err != nil {
		panic(err)
	}
	return t
}

func TestTheOfficialScheduleIsUsed(t *testing.T) {
	c := New()
	cases := []struct {
		date string
		work bool
		why  string
	}{
		{"2026-10-01", false, "National Day"},
		{"2026-10-07", false, "the last day of the National Day holiday"},
		{"2026-10-09", true, "an ordinary Friday"},
		{"2026-10-10", true, "a Saturday made a working day (调休) for National Day 2026"},
		{"2026-11-28", false, "an ordinary Saturday"},
		{"2026-11-27", true, "an ordinary Friday"},
		{"2026-02-17", false, "Spring Festival 2026"},
		{"2026-02-14", true, "a Saturday made a working day for Spring Festival 2026"},
	}
	for _, cs := range cases {
		if got := c.IsWorkday(day(cs.date)); got != cs.work {
			t.Errorf("%s (%s): workday=%v", cs.date, cs.why, got)
		}
	}
	if !c.Covered(2026) || !c.Covered(2027) {
		t.Fatal("the schedule should cover 2026 and 2027")
	}
	if c.Covered(2099) {
		t.Fatal("2099 cannot be covered")
	}
}

func TestLimitsCountFromTheNextDay(t *testing.T) {
	c := New()
	cases := []struct {
		start string
		n     int
		want  string
	}{
		{"2026-11-27", 1, "2026-11-30"},  // Friday + 1 → Monday
		{"2026-11-27", 10, "2026-12-11"}, // two weeks of weekdays
		{"2026-09-30", 1, "2026-10-08"},  // over the National Day holiday (10-01 to 10-07)
		{"2026-09-30", 3, "2026-10-10"},  // the 调休 Saturday counts
		{"2026-11-27", 0, "2026-11-27"},
	}
	for _, cs := range cases {
		if got := c.AddWorkingDays(day(cs.start), cs.n).Format(time.DateOnly); got != cs.want {
			t.Errorf("%s + %d working days = %s, want %s", cs.start, cs.n, got, cs.want)
		}
	}
	if got := c.WorkingDaysBetween(day("2026-09-30"), day("2026-10-11")); got != 3 {
		t.Errorf("working days after 09-30 up to 10-11 = %d, want 3 (10-08, 10-09 and the 调休 10-10)", got)
	}
}

func TestPausesExtendTheDeadline(t *testing.T) {
	c := New()
	start := day("2026-11-27")
	plain := c.Due(start, 10, WorkingDays, nil, start)
	// A supplement request from Tuesday 12-01 answered on Friday 12-04 pauses three working days.
	paused := c.Due(start, 10, WorkingDays, []Pause{{Start: day("2026-12-01"), End: day("2026-12-04")}}, day("2026-12-10"))
	if got := c.WorkingDaysBetween(plain, paused); got != 3 {
		t.Fatalf("the deadline moved by %d working days, want 3 (%s → %s)", got, plain.Format(time.DateOnly), paused.Format(time.DateOnly))
	}
	// An open pause counts until now.
	open := c.Due(start, 10, WorkingDays, []Pause{{Start: day("2026-12-01")}}, day("2026-12-02"))
	if got := c.WorkingDaysBetween(plain, open); got != 1 {
		t.Fatalf("an open pause moved the deadline by %d, want 1", got)
	}
}

// The catalogue's limits in calendar days (日), counted as the law counts them, against the
// same number taken as working days (as the catalogue once stored them): each alarm came weeks
// late.
func TestCalendarDayLimitsEndOnTheNextWorkingDay(t *testing.T) {
	c := New()
	cases := []struct {
		what              string
		start             string
		n                 int
		want, asIfWorking string
		workingDays       int
	}{
		// 民办非企业单位登记, 60日: 60 days from 09-01 is Saturday 10-31, so Monday 11-02.
		{"民办非企业单位登记", "2026-09-01", 60, "2026-11-02", "2026-11-30", 60},
		// 公共场所卫生许可, 20日: 10-11 is a Sunday after the National Day holiday, so 10-12.
		{"公共场所卫生许可", "2026-09-21", 20, "2026-10-12", "2026-10-26", 20},
		// 工伤认定, 60日 across the year end: 2027-02-18, a Thursday after the Spring Festival
		// holiday; once stored as 42 working days (×5/7), it gave 02-23.
		{"工伤认定", "2026-12-20", 60, "2027-02-18", "2027-02-23", 42},
	}
	for _, cs := range cases {
		if got := c.Add(day(cs.start), cs.n, CalendarDays).Format(time.DateOnly); got != cs.want {
			t.Errorf("%s: %s + %d日 = %s, want %s", cs.what, cs.start, cs.n, got, cs.want)
		}
		if got := c.Add(day(cs.start), cs.workingDays, WorkingDays).Format(time.DateOnly); got != cs.asIfWorking {
			t.Errorf("%s: %s + %d working days = %s, want %s", cs.what, cs.start, cs.workingDays, got, cs.asIfWorking)
		}
	}
	// A last day that is a working day stays: 10 days from Friday 11-27 is Monday 12-07.
	if got := c.AddCalendarDays(day("2026-11-27"), 10).Format(time.DateOnly); got != "2026-12-07" {
		t.Errorf("11-27 + 10日 = %s, want 2026-12-07", got)
	}
	// A 调休 Saturday is a working day: 10-10-2026 ends a limit there.
	if got := c.AddCalendarDays(day("2026-09-30"), 10).Format(time.DateOnly); got != "2026-10-10" {
		t.Errorf("09-30 + 10日 = %s, want the 调休 Saturday 2026-10-10", got)
	}
	if got := c.AddCalendarDays(day("2026-11-27"), 0).Format(time.DateOnly); got != "2026-11-27" {
		t.Errorf("+0日 = %s, want the start", got)
	}
}

func TestCalendarDayPausesCountEveryDay(t *testing.T) {
	c := New()
	start := day("2026-11-02")
	// A pause from Friday 11-06 to Monday 11-09 stands the clock still for three calendar days
	// (11-07, 11-08, 11-09), where a working-day limit loses one.
	pauses := []Pause{{Start: day("2026-11-06"), End: day("2026-11-09")}}
	if got := c.Between(day("2026-11-06"), day("2026-11-09"), CalendarDays); got != 3 {
		t.Fatalf("calendar days in (11-06, 11-09] = %d, want 3", got)
	}
	plain, paused := c.Due(start, 20, CalendarDays, nil, start), c.Due(start, 20, CalendarDays, pauses, start)
	if plain.Format(time.DateOnly) != "2026-11-23" || paused.Format(time.DateOnly) != "2026-11-25" {
		t.Fatalf("20日 from 11-02: %s, paused 3 days: %s; want 2026-11-23 (11-22 is a Sunday) and 2026-11-25", plain.Format(time.DateOnly), paused.Format(time.DateOnly))
	}
}

func TestTheCalendarSaysWhereItsScheduleEnds(t *testing.T) {
	c := New()
	if got := c.CoveredUntil(day("2026-12-05")).Format(time.DateOnly); got != "2027-12-31" {
		t.Fatalf("covered until %s, want 2027-12-31 (the library's last published year)", got)
	}
	if !c.CoveredUntil(day("2099-01-01")).IsZero() {
		t.Fatal("a year not covered cannot be covered until anything")
	}
	if c.Provisional(day("2027-12-31")) || !c.Provisional(day("2028-01-03")) {
		t.Fatal("a deadline in 2028 is provisional, one in 2027 is not")
	}
}

func TestTheCalendarWarnsWithinNinetyDaysOfItsEdge(t *testing.T) {
	c := New()
	if w := c.CoverageWarning(day("2027-10-01")); w != "" {
		t.Errorf("91 days before the edge: %q, want no warning", w)
	}
	w := c.CoverageWarning(day("2027-10-02"))
	if !strings.Contains(w, "2027-12-31 (90 days from today)") || !strings.Contains(w, "2028") {
		t.Errorf("90 days before the edge: %q", w)
	}
	if w := c.CoverageWarning(day("2028-02-01")); !strings.Contains(w, "2028 is not known") {
		t.Errorf("past the edge: %q", w)
	}
}

func BenchmarkAddWorkingDays(b *testing.B) {
	c := New()
	start := day("2026-11-27")
	for i := 0; i < b.N; i++ {
		c.AddWorkingDays(start, 20)
	}
}
