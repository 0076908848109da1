package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"yjshub/hub/audit"
	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// completedCase submits 开饮品店 for owner and approves every matter: a case ready to rate.
func completedCase(t *testing.T, svc *cases.Service, owner string) *cases.CaseView {
	t.Helper()
	ctx := context.Background()
	app, hash := example(t, "open-drink-shop-enterprise")
	v, _, err := svc.SubmitAs(ctx, owner, app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range v.Subcases {
		approve(t, svc, v, sc, i)
	}
	got, err := svc.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != cases.CaseCompleted {
		t.Fatalf("the case is %s after every matter was approved", got.State)
	}
	return got
}

// problemKeys lists a refusal's problems as path:rule, or fails the test when err is not one.
func problemKeys(t *testing.T, err error) []string {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want problems", err)
	}
	var out []string
	for _, p := range pe.Problems {
		out = append(out, p.Path+":"+p.Rule)
	}
	slices.Sort(out)
	return out
}

// The applicant rates each department of a completed case once; a bad rating opens a
// rectification the department sees until it answers; each rating and answer is audited, in
// the case's timeline and announced on yjs.case.event.
func TestACompletedCaseIsRatedOncePerDepartmentAndBadRatingsAreRectified(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		v := completedCase(t, svc, "jiangsu")
		depts := departments(v)
		if len(depts) < 2 {
			t.Fatalf("开饮品店 has %d departments; the test needs two", len(depts))
		}
		good, bad := depts[0], depts[1]
		before := outboxTopics(t, st)["yjs.case.event"]
		out, err := svc.Rate(ctx, "jiangsu", v.ID, cases.RatingRequest{Ratings: []cases.DepartmentRating{
			{Department: good, Level: cases.LevelVerySatisfied, Comment: "办得很快"},
			{Department: bad, Level: cases.LevelDissatisfied, Comment: "材料被要求重复提交"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[0].Rectification != nil || out[1].Rectification == nil || out[1].Rectification.State != cases.RectificationOpen ||
			out[0].LevelLabel != "非常满意" || out[1].LevelLabel != "不满意" {
			t.Fatalf("ratings %+v", out)
		}
		if after := outboxTopics(t, st)["yjs.case.event"]; after != before+1 {
			t.Errorf("case events %d → %d; want one case.updated for the rating", before, after)
		}
		got, _ := svc.Get(ctx, v.ID)
		if n := countSteps(got, cases.StepRated); n != 2 {
			t.Errorf("%d rated steps in the timeline; want 2", n)
		}

		open, err := svc.Rectifications(ctx, bad, cases.RectificationOpen)
		if err != nil || len(open) != 1 || open[0].ID != out[1].ID {
			t.Fatalf("the department's open rectifications: %+v %v", open, err)
		}
		if none, _ := svc.Rectifications(ctx, good, cases.RectificationOpen); len(none) != 0 {
			t.Errorf("a department rated 非常满意 has rectifications: %+v", none)
		}

		// Another department cannot answer it, as if it did not exist; the rated one does, once.
		if _, err := svc.Respond(ctx, good, "other-office", out[1].ID, cases.RatingResponse{Response: "已整改"}); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("another department's answer: %v; want not found", err)
		}
		if _, err := svc.Respond(ctx, good, "office", out[0].ID, cases.RatingResponse{Response: "谢谢"}); !errors.Is(err, cases.ErrConflict) {
			t.Errorf("an answer to a good rating: %v; want a conflict", err)
		}
		res, err := svc.Respond(ctx, bad, "office", out[1].ID, cases.RatingResponse{Response: "已电话回访，材料改为一次告知"})
		if err != nil || res.Rectification.State != cases.RectificationClosed || res.Rectification.RespondedBy != "office" || res.Rectification.RespondedAt == nil {
			t.Fatalf("the answer: %+v %v", res, err)
		}
		if _, err := svc.Respond(ctx, bad, "office", out[1].ID, cases.RatingResponse{Response: "再次答复"}); !errors.Is(err, cases.ErrConflict) {
			t.Errorf("a second answer: %v; want a conflict", err)
		}
		if open, _ := svc.Rectifications(ctx, bad, cases.RectificationOpen); len(open) != 0 {
			t.Errorf("an answered rating is still open: %+v", open)
		}
		if closed, _ := svc.Rectifications(ctx, "", cases.RectificationClosed); len(closed) != 1 {
			t.Errorf("closed rectifications: %+v", closed)
		}
		got, _ = svc.Get(ctx, v.ID)
		if n := countSteps(got, cases.StepRectified); n != 1 {
			t.Errorf("%d rectified steps in the timeline; want 1", n)
		}

		// Audited: the level and the department, never the comment.
		log := audit.New(st, nil)
		rated, err := log.Entries(ctx, cases.AuditRating, "")
		if err != nil {
			t.Fatal(err)
		}
		answered, _ := log.Entries(ctx, cases.AuditRatingResponse, "")
		if len(rated) != 2 || len(answered) != 1 {
			t.Fatalf("audited %d ratings and %d answers; want 2 and 1", len(rated), len(answered))
		}
		for _, r := range rated {
			if strings.Contains(string(r.Detail), "材料") || strings.Contains(string(r.Detail), "很快") || !strings.Contains(string(r.Detail), v.ID) {
				t.Errorf("audit detail %s: want the case, never the comment", r.Detail)
			}
		}

		// Read back by its owner only.
		if list, err := svc.Ratings(ctx, "jiangsu", v.ID); err != nil || len(list) != 2 || list[1].Rectification.State != cases.RectificationClosed {
			t.Errorf("the owner's read: %+v %v", list, err)
		}
		if _, err := svc.Ratings(ctx, "lianyungang", v.ID); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("another platform's read: %v; want not found", err)
		}
	})
}

// Every way of rating wrongly is refused: problems of the request all at once (422), then the
// case's state and an earlier rating (409), and another platform's case is not found.
func TestRatingsAreRefusedWithEveryProblemNamed(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		v := completedCase(t, svc, "jiangsu")
		depts := departments(v)
		rate := func(owner, id string, rs ...cases.DepartmentRating) error {
			_, err := svc.Rate(ctx, owner, id, cases.RatingRequest{Ratings: rs})
			return err
		}
		if got := problemKeys(t, rate("jiangsu", v.ID)); !slices.Equal(got, []string{"/ratings:required"}) {
			t.Errorf("no rating: %v", got)
		}
		got := problemKeys(t, rate("jiangsu", v.ID,
			cases.DepartmentRating{Department: depts[0], Level: "good"},
			cases.DepartmentRating{Department: depts[0], Level: cases.LevelSatisfied, Comment: strings.Repeat("长", cases.MaxRatingComment+1)},
			cases.DepartmentRating{Department: "tobacco", Level: cases.LevelSatisfied, Comment: "a\u0007b"},
			cases.DepartmentRating{Department: "no-such-department"},
		))
		want := []string{"/ratings/0/level:enum", "/ratings/1/comment:max_length", "/ratings/1/department:duplicate",
			"/ratings/2/comment:control_character", "/ratings/2/department:department_not_in_case",
			"/ratings/3/department:enum", "/ratings/3/level:required"}
		if !slices.Equal(got, want) {
			t.Errorf("problems\n got %v\nwant %v", got, want)
		}
		if n := count(t, st, "case_ratings"); n != 0 {
			t.Errorf("a refused request stored %d ratings", n)
		}
		if err := rate("lianyungang", v.ID, cases.DepartmentRating{Department: depts[0], Level: cases.LevelSatisfied}); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("another platform rating: %v; want not found", err)
		}
		if err := rate("jiangsu", "cs_unknown", cases.DepartmentRating{Department: depts[0], Level: cases.LevelSatisfied}); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("an unknown case: %v; want not found", err)
		}
		if err := rate("jiangsu", v.ID, cases.DepartmentRating{Department: depts[0], Level: cases.LevelSatisfied}); err != nil {
			t.Fatal(err)
		}
		err := rate("jiangsu", v.ID, cases.DepartmentRating{Department: depts[0], Level: cases.LevelVeryDissatisfied},
			cases.DepartmentRating{Department: depts[1], Level: cases.LevelSatisfied})
		var ce *cases.ConflictError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, depts[0]) || strings.Contains(ce.Reason, depts[1]) {
			t.Errorf("a department rated twice: %v; want a conflict naming it alone", err)
		}
		if n := count(t, st, "case_ratings"); n != 1 {
			t.Errorf("%d ratings stored; the refused request stored some", n)
		}

		// A case in progress is not rated yet.
		app, hash := example(t, "open-drink-shop-enterprise")
		open, _, err := svc.SubmitAs(ctx, "jiangsu", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := rate("jiangsu", open.ID, cases.DepartmentRating{Department: depts[0], Level: cases.LevelSatisfied}); !errors.As(err, &ce) ||
			!strings.Contains(ce.Reason, cases.CaseInProgress) {
			t.Errorf("rating a case in progress: %v; want a conflict", err)
		}
		if _, err := svc.Respond(ctx, "", "office", "rt_unknown", cases.RatingResponse{Response: "x"}); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("answering an unknown rating: %v", err)
		}
		if got := problemKeys(t, func() error {
			_, err := svc.Respond(ctx, "", "office", "rt_unknown", cases.RatingResponse{Response: " "})
			return err
		}()); !slices.Equal(got, []string{"/response:required"}) {
			t.Errorf("an empty answer: %v", got)
		}
	})
}

// The report counts each level per department from the ratings given, computes the
// satisfaction rate as its formula says, counts the open rectifications, and keeps to its
// period and department.
func TestTheRatingReportCountsAKnownSetOfRatings(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		day1 := testNow
		day2 := testNow.Add(72 * time.Hour)
		levels := [][]string{ // per case: the level of its first and second department
			{cases.LevelVerySatisfied, cases.LevelDissatisfied},
			{cases.LevelSatisfied, cases.LevelVeryDissatisfied},
			{cases.LevelBasicallySatisfied, cases.LevelSatisfied},
		}
		type key struct{ dept, level string }
		want := map[key]int{}
		wantDay1 := map[key]int{}
		openBad := map[string]int{}
		var depts []string
		var answer string
		for i, ls := range levels {
			setClock(t, svc, day1)
			v := completedCase(t, svc, "jiangsu")
			depts = departments(v)
			at := day1
			if i == 2 {
				at = day2
			}
			setClock(t, svc, at)
			var rs []cases.DepartmentRating
			for j, l := range ls {
				rs = append(rs, cases.DepartmentRating{Department: depts[j], Level: l})
				want[key{depts[j], l}]++
				if at == day1 {
					wantDay1[key{depts[j], l}]++
				}
				if cases.IsBadRating(l) {
					openBad[depts[j]]++
				}
			}
			out, err := svc.Rate(ctx, "jiangsu", v.ID, cases.RatingRequest{Ratings: rs})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				answer = out[1].ID // answered below: no longer open
			}
		}
		if _, err := svc.Respond(ctx, "", "office", answer, cases.RatingResponse{Response: "已整改"}); err != nil {
			t.Fatal(err)
		}
		openBad[depts[1]]--

		check := func(name string, rep *cases.RatingReport, want map[key]int, open map[string]int) {
			t.Helper()
			total := map[string]int{}
			for _, d := range rep.Departments {
				n, good := 0, 0
				for _, l := range cases.Levels {
					if d.Levels[l] != want[key{d.Department.Code, l}] {
						t.Errorf("%s: %s %s = %d; want %d", name, d.Department.Code, l, d.Levels[l], want[key{d.Department.Code, l}])
					}
					n += d.Levels[l]
					total[l] += d.Levels[l]
					if !cases.IsBadRating(l) {
						good += d.Levels[l]
					}
				}
				if d.Ratings != n || d.Bad != n-good {
					t.Errorf("%s: %s counts %d ratings, %d bad; the levels say %d and %d", name, d.Department.Code, d.Ratings, d.Bad, n, n-good)
				}
				wantRate := math.Round(float64(good)/float64(n)*10000) / 10000
				if d.SatisfactionRate == nil || *d.SatisfactionRate != wantRate {
					t.Errorf("%s: %s satisfaction %v; want %v", name, d.Department.Code, d.SatisfactionRate, wantRate)
				}
				if open != nil && d.OpenRectifications != open[d.Department.Code] {
					t.Errorf("%s: %s has %d open rectifications; want %d", name, d.Department.Code, d.OpenRectifications, open[d.Department.Code])
				}
			}
			sum := 0
			for k, n := range want {
				sum += n
				if total[k.level] < n {
					t.Errorf("%s: the departments count %d %s; want at least %d", name, total[k.level], k.level, n)
				}
			}
			if rep.Total.Ratings != sum {
				t.Errorf("%s: total %d; want %d", name, rep.Total.Ratings, sum)
			}
		}
		all, err := svc.RatingReport(ctx, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		check("all", all, want, openBad)
		if len(all.Departments) != 2 || all.Formula == "" {
			t.Errorf("the report: %+v", all)
		}
		d1 := day1.In(deadline.China).Format(time.DateOnly)
		first, err := svc.RatingReport(ctx, d1, d1, "")
		if err != nil {
			t.Fatal(err)
		}
		check("day 1", first, wantDay1, nil)
		one, err := svc.RatingReport(ctx, "", "", depts[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Departments) != 1 || one.Departments[0].Department.Code != depts[1] || one.Total.Ratings != len(levels) {
			t.Errorf("one department's report: %+v", one)
		}
		empty, err := svc.RatingReport(ctx, "2020-01-01", "2020-01-31", "tobacco")
		if err != nil || len(empty.Departments) != 1 || empty.Departments[0].SatisfactionRate != nil || empty.Total.Ratings != 0 {
			t.Errorf("a period without ratings: %+v %v", empty, err)
		}
		_, err = svc.RatingReport(ctx, "2026-13-01", "2026-01-01", "nowhere")
		if got := problemKeys(t, err); !slices.Equal(got, []string{"department:enum", "from:date"}) {
			t.Errorf("a bad query: %v", got)
		}
		_, err = svc.RatingReport(ctx, "2026-02-01", "2026-01-01", "")
		if got := problemKeys(t, err); !slices.Equal(got, []string{"to:range"}) {
			t.Errorf("a period ending before it starts: %v", got)
		}
	})
}

// A rating's case.updated message is an ordinary one: the case's current state, so that a
// platform following the stream sees the case again after it was rated.
func TestARatingAnnouncesTheCaseOnItsStream(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		v := completedCase(t, svc, "")
		pending, err := st.PendingOutbox(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range pending {
			seen[m.EventID] = true
		}
		if _, err := svc.Rate(ctx, "", v.ID, cases.RatingRequest{Ratings: []cases.DepartmentRating{{Department: v.Subcases[0].Department.Code, Level: cases.LevelSatisfied}}}); err != nil {
			t.Fatal(err)
		}
		pending, _ = st.PendingOutbox(ctx, 1000)
		var fresh []store.OutboxMessage
		for _, m := range pending {
			if !seen[m.EventID] {
				fresh = append(fresh, m)
			}
		}
		if len(fresh) != 1 || fresh[0].Headers["ce_type"] != event.TypeCaseUpdated || fresh[0].Key != v.ID {
			t.Fatalf("messages of the rating: %+v", fresh)
		}
		var env struct {
			Data cases.CaseUpdated `json:"data"`
		}
		if err := json.Unmarshal(fresh[0].Payload, &env); err != nil || env.Data.State != cases.CaseCompleted {
			t.Errorf("the message: %s %v", fresh[0].Payload, err)
		}
	})
}
