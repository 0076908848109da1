package retention

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of Rules.
const (
	// DefaultUnlinked is how long a material object that no case ever named is kept after its
	// upload. An applicant's platform uploads the files just before it submits; a month covers
	// an application left half done over a holiday, and the hub does not keep for longer a
	// file nobody asked it to use.
	DefaultUnlinked = 30 * Day
	// DefaultAfterCase is how long a material named by cases is kept after the last of them
	// ended: a year covers the period within which an applicant may ask for an administrative
	// review of the decision (60 days) or bring an action against it (6 months), with a margin
	// for a review's own time, during which the department may need to read the file again.
	DefaultAfterCase = 365 * Day
)

// Day is 24 hours: retention periods are written in days ("30d").
const Day = 24 * time.Hour

// maxPeriod bounds a period: a hundred years, beyond which a date would no longer be a date.
const maxPeriod = 100 * 365 * Day

// Rules say how long material objects are kept, per material type. Default() gives the
// built-in rules; every field is taken as it is (a zero AfterCase means no time at all).
type Rules struct {
	// Unlinked is how long a material object that no case ever named is kept after its upload.
	// Default() sets DefaultUnlinked; it must be more than 0 (an object must outlive the time between
	// its upload and the application that names it).
	Unlinked time.Duration
	// AfterCase is how long a material named by cases is kept after the last case naming it
	// ended (completed, whatever its outcome, or withdrawn); a case still open keeps it
	// however long it stays open. Default() sets DefaultAfterCase; 0 removes it as soon as
	// the last case ended.
	AfterCase time.Duration
	// Types overrides AfterCase for the material types it lists (catalogue material codes):
	// an ID card scan, say, kept for less time than a business licence.
	Types map[string]time.Duration
}

// Default returns the built-in rules.
func Default() Rules { return Rules{Unlinked: DefaultUnlinked, AfterCase: DefaultAfterCase} }

// Validate reports every problem of the rules at once: a period not more than 0 (Unlinked) or
// negative, longer than a hundred years, and a type that known does not know (nil known: the
// types are not checked).
func (r Rules) Validate(known func(materialType string) bool) error {
	var errs []error
	if r.Unlinked <= 0 {
		errs = append(errs, fmt.Errorf("unlinked: %s must be more than 0", FormatPeriod(r.Unlinked)))
	}
	errs = append(errs, checkPeriod("after_case", r.AfterCase))
	for _, t := range slices.Sorted(maps.Keys(r.Types)) {
		if known != nil && !known(t) {
			errs = append(errs, fmt.Errorf("types.%s: not a material type of the catalogue", t))
		}
		errs = append(errs, checkPeriod("types."+t, r.Types[t]))
	}
	return errors.Join(errs...)
}

func checkPeriod(at string, d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("%s: %s is negative", at, FormatPeriod(d))
	case d > maxPeriod:
		return fmt.Errorf("%s: %s is longer than a hundred years", at, FormatPeriod(d))
	}
	return nil
}

// afterCase is how long a material of type t is kept after its last case ended.
func (r Rules) afterCase(t string) time.Duration {
	if d, ok := r.Types[t]; ok {
		return d
	}
	return r.AfterCase
}

// file is a retention file as written: every period a string, so that each bad one is named.
type file struct {
	Unlinked  *string           `yaml:"unlinked"`
	AfterCase *string           `yaml:"after_case"`
	Types     map[string]string `yaml:"types"`
}

// Parse reads a retention file, strictly (an unknown key is an error):
//
//	unlinked: 30d      # an object no case named, after its upload
//	after_case: 365d   # a material named by cases, after the last one ended
//	types:             # after_case of some material types
//	  id-card: 90d
//
// A period is a number of days ("30d") or a Go duration ("36h"). What the file leaves out
// keeps its default. Every problem is reported at once — a period that is not one, negative or
// too long, a material type that known does not know — each named by its key.
func Parse(b []byte, known func(materialType string) bool) (Rules, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Rules{}, fmt.Errorf("not a retention file: %w", err)
	}
	r := Default()
	var errs []error
	period := func(at, s string) (time.Duration, bool) {
		d, err := ParsePeriod(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			return 0, false
		}
		return d, true
	}
	if f.Unlinked != nil {
		if d, ok := period("unlinked", *f.Unlinked); ok {
			r.Unlinked = d
		}
	}
	if f.AfterCase != nil {
		if d, ok := period("after_case", *f.AfterCase); ok {
			r.AfterCase = d
		}
	}
	if len(f.Types) > 0 {
		r.Types = map[string]time.Duration{}
	}
	for _, t := range slices.Sorted(maps.Keys(f.Types)) {
		if d, ok := period("types."+t, f.Types[t]); ok {
			r.Types[t] = d
		} else if known != nil && !known(t) {
			errs = append(errs, fmt.Errorf("types.%s: not a material type of the catalogue", t))
		}
	}
	if err := r.Validate(known); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// Load reads the retention file at path (see Parse); the error names the file.
func Load(path string, known func(materialType string) bool) (Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("retention file: %w", err)
	}
	r, err := Parse(b, known)
	if err != nil {
		return Rules{}, fmt.Errorf("retention file %s: %w", path, err)
	}
	return r, nil
}

// ParsePeriod reads a period: whole days ("30d", "-1d") or a Go duration ("36h", "90m").
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > int64(maxPeriod/Day)*2 || n < -int64(maxPeriod/Day)*2 {
			return 0, fmt.Errorf("%q is not a period: write whole days (30d) or a duration (36h)", s)
		}
		return time.Duration(n) * Day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a period: write whole days (30d) or a duration (36h)", s)
	}
	return d, nil
}

// FormatPeriod writes d as ParsePeriod reads it: whole days as "30d", anything else as a Go
// duration.
func FormatPeriod(d time.Duration) string {
	if d%Day == 0 && d != 0 {
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	}
	return d.String()
}
