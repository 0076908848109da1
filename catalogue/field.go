package catalogue

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"yjshub/format"
	"yjshub/problem"
)

// Violation is one rule a value breaks. Message never contains the value itself.
type Violation struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Check returns every rule of the field that v breaks; none means v is a valid value. v is a
// decoded JSON value (string, float64 or json.Number, bool). A field whose format another
// field chooses (FormatBy) is checked with the default choice; CheckIn judges it in its form.
func (f *Field) Check(v any) []Violation {
	return f.CheckIn(v, nil)
}

// FormatIn returns the name of the format that checks the field's value in form: Format, or
// for a FormatBy field the format of the value form gives the choosing field (the default
// while form does not have it). It is "" when the choosing field holds something outside its
// values: that field's own problem is then the one to report, and the number is not judged by
// a rule the applicant did not choose.
func (f *Field) FormatIn(form map[string]any) string {
	by := f.FormatBy
	if by == nil {
		return f.Format
	}
	v, given := form[by.Field]
	if !given {
		return by.Formats[by.Default]
	}
	s, _ := v.(string)
	return by.Formats[s]
}

// CheckIn is Check of a value given in form, whose other fields may choose the format
// (FormatBy).
func (f *Field) CheckIn(v any, form map[string]any) []Violation {
	formatName := f.FormatIn(form)
	var out []Violation
	add := func(rule, msg string, args ...any) {
		out = append(out, Violation{Rule: rule, Message: fmt.Sprintf(msg, args...)})
	}
	switch f.Type {
	case TypeString, TypeDate, TypeEnum:
		s, ok := v.(string)
		if !ok {
			add(problem.RuleType, "must be a string")
			return out
		}
		n := utf8.RuneCountInString(s)
		if !utf8.ValidString(s) {
			add(problem.RuleType, "must be valid UTF-8 text")
			return out
		}
		if f.MinLength != nil && n < *f.MinLength {
			add(problem.RuleMinLength, "must be at least %d characters", *f.MinLength)
		}
		if f.MaxLength != nil && n > *f.MaxLength {
			add(problem.RuleMaxLength, "must be at most %d characters", *f.MaxLength)
		}
		switch f.Type {
		case TypeDate:
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				add(problem.RuleDate, "must be a date written YYYY-MM-DD")
			}
		case TypeEnum:
			found := false
			for _, allowed := range f.Values {
				if s == allowed {
					found = true
					break
				}
			}
			if !found {
				add(problem.RuleEnum, "must be one of %v", f.Values)
			}
		}
		if formatName != "" {
			if err := format.Check(formatName, s); err != nil {
				var fe *format.Error
				if errors.As(err, &fe) {
					add(fe.Rule, "%s", fe.Reason)
				} else {
					add(formatName, "is not valid")
				}
			}
		}
		if f.pattern != nil && !f.pattern.MatchString(s) {
			add(problem.RulePattern, "must match the pattern %s", f.Pattern)
		}
	case TypeInteger, TypeNumber:
		x, ok := number(v)
		if !ok {
			add(problem.RuleType, "must be a number")
			return out
		}
		if f.Type == TypeInteger && x != math.Trunc(x) {
			add(problem.RuleType, "must be a whole number")
		}
		if f.Minimum != nil && x < *f.Minimum {
			add(problem.RuleMinimum, "must be at least %v", *f.Minimum)
		}
		if f.Maximum != nil && x > *f.Maximum {
			add(problem.RuleMaximum, "must be at most %v", *f.Maximum)
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			add(problem.RuleType, "must be true or false")
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}
