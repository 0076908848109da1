package problem

import (
	"errors"
	"testing"
)

func TestAListBecomesAnErrorOnlyWhenItHoldsProblems(t *testing.T) {
	var l List
	if err := l.Err(); err != nil {
		t.Fatalf("empty list: Err() = %v, want nil", err)
	}
	l.Add("/form/a", RuleRequired, "give %s", "a")
	l.Add("/materials/0/sha256", RuleSHA256, "must be hex")
	err := l.Err()
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Problems) != 2 {
		t.Fatalf("Err() = %#v, want an *Error with both problems", err)
	}
	if pe.Problems[0] != (Problem{Path: "/form/a", Rule: RuleRequired, Message: "give a"}) {
		t.Errorf("first problem %+v", pe.Problems[0])
	}
	if got, want := err.Error(), "invalid request: /form/a: required; /materials/0/sha256: sha256"; got != want {
		t.Errorf("Error() = %q, want %q (paths and rules, never messages)", got, want)
	}
}

func TestOneFormatsItsMessage(t *testing.T) {
	e := One("within", RuleRange, "must be %d to %d working days", 1, 60)
	if len(e.Problems) != 1 || e.Problems[0].Message != "must be 1 to 60 working days" || e.Problems[0].Path != "within" {
		t.Errorf("One = %+v", e.Problems)
	}
}
