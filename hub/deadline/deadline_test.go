package deadline

import (
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
	plain := c.Due(start, 10, nil, start)
	// A supplement request from Tuesday 12-01 answered on Friday 12-04 pauses three working days.
	paused := c.Due(start, 10, []Pause{{Start: day("2026-12-01"), End: day("2026-12-04")}}, day("2026-12-10"))
	if got := c.WorkingDaysBetween(plain, paused); got != 3 {
		t.Fatalf("the deadline moved by %d working days, want 3 (%s → %s)", got, plain.Format(time.DateOnly), paused.Format(time.DateOnly))
	}
	// An open pause counts until now.
	open := c.Due(start, 10, []Pause{{Start: day("2026-12-01")}}, day("2026-12-02"))
	if got := c.WorkingDaysBetween(plain, open); got != 1 {
		t.Fatalf("an open pause moved the deadline by %d, want 1", got)
	}
}

func BenchmarkAddWorkingDays(b *testing.B) {
	c := New()
	start := day("2026-11-27")
	for i := 0; i < b.N; i++ {
		c.AddWorkingDays(start, 20)
	}
}
