package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rivo/uniseg"
)

// Results of a check.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP"
)

// Check is one check of the contract and how the department did.
type Check struct {
	// ID names the check for tools: valid-delivery, repeated-key …
	ID string `json:"id"`
	// Title says what the contract asks, in a sentence.
	Title string `json:"title"`
	// Required checks decide the outcome; others are advice.
	Required bool `json:"required"`
	// Result is PASS, FAIL or SKIP.
	Result string `json:"result"`
	// Reason says what was seen: the answer, or what is wrong and why it matters.
	Reason string `json:"reason"`
}

// Report is the outcome of a run.
type Report struct {
	Kind string `json:"kind"`
	// Target is the endpoint checked, without credentials.
	Target     string    `json:"target"`
	Department string    `json:"department,omitempty"`
	Started    time.Time `json:"started"`
	Checks     []Check   `json:"checks"`
	// Passed: every required check passed (skipped ones aside).
	Passed bool `json:"passed"`
}

// Check returns the check with the id, if the report has it.
func (r *Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
}

func (r *Report) finish() {
	r.Passed = true
	for _, c := range r.Checks {
		if c.Required && c.Result == Fail {
			r.Passed = false
		}
	}
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report as a table for people: one line per check, its result, what it
// checks and why it passed or failed, then a summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	who := "the department"
	if r.Kind == KindPlatform {
		who = "the platform"
		fmt.Fprintf(&b, "Platform contract (%s) of %s\n\n", r.Kind, r.Target)
	} else {
		fmt.Fprintf(&b, "Department contract (%s) of %s, department %s\n\n", r.Kind, r.Target, r.Department)
	}
	rows := [][]string{{"RESULT", "CHECK", "DETAIL"}}
	required, passed, failed, skipped := 0, 0, 0, 0
	for _, c := range r.Checks {
		title := c.Title
		if !c.Required {
			title += " (advice)"
		}
		rows = append(rows, []string{c.Result, title, c.Reason})
		switch {
		case c.Result == Skip:
			skipped++
		case !c.Required:
		case c.Result == Pass:
			required++
			passed++
		default:
			required++
			failed++
		}
	}
	table(&b, rows)
	fmt.Fprintf(&b, "\n%d of %d required checks passed", passed, required)
	if skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", skipped)
	}
	if r.Passed {
		fmt.Fprintf(&b, ": %s meets the contract.\n", who)
	} else {
		fmt.Fprintf(&b, ": %d failed; the hub cannot rely on %s yet.\n", failed, strings.Replace(who, "the ", "this ", 1))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// table writes rows in columns, measuring width in terminal cells so that Chinese lines up.
func table(b *strings.Builder, rows [][]string) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			widths[i] = max(widths[i], uniseg.StringWidth(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}
