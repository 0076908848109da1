package mapping

import (
	"strings"
	"sync"

	"yjshub/catalogue"
	"yjshub/problem"
)

// DefaultFormsLimit is how many one forms a Forms keeps unless told otherwise. The largest
// seed bundle has 9 matters, so at most 512 selections per applicant type, and intake uses a
// handful of them: the limit only matters against requests that try every combination.
const DefaultFormsLimit = 1024

// Forms is a cache of one forms over one catalogue, keyed by bundle, applicant type and the
// sorted selection of matters, so that intake builds a form and compiles its schema once, not
// per request. It is safe for concurrent use; every caller asking for the same key gets the
// same *OneForm.
type Forms struct {
	// Limit bounds the number of cached forms; when full, an arbitrary one is dropped. Zero
	// means DefaultFormsLimit. Set it before the first Get.
	Limit int

	cat   *catalogue.Catalogue
	mu    sync.Mutex
	forms map[formsKey]*OneForm
}

// formsKey identifies a one form: the bundle, then the applicant type and the sorted matters.
type formsKey struct {
	bundle *catalogue.Bundle
	rest   string
}

// NewForms returns an empty cache of one forms over a catalogue.
func NewForms(cat *catalogue.Catalogue) *Forms {
	return &Forms{cat: cat, forms: map[formsKey]*OneForm{}}
}

// Get returns the one form of a bundle of the cache's catalogue for an applicant type and a
// selection of matters (empty: every matter open to the type), building it on first use. An
// invalid selection is a *problem.Error; errors are not cached.
func (fs *Forms) Get(bundle *catalogue.Bundle, applicantType string, matters []string) (*OneForm, error) {
	if bundle == nil {
		return nil, problem.New(problem.Problem{Path: "bundle", Rule: RuleUnknownBundle, Message: "no bundle was given"})
	}
	key := formsKey{bundle: bundle, rest: applicantType + "\x00" + strings.Join(sortedUnique(matters), "\x00")}

	fs.mu.Lock()
	f, ok := fs.forms[key]
	fs.mu.Unlock()
	if ok {
		return f, nil
	}

	// Built outside the lock: building takes a while and other keys need not wait. Two
	// callers racing on one key both build; the first stored wins and both get it.
	built, err := BuildOneForm(fs.cat, bundle, applicantType, matters)
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.forms[key]; ok {
		return f, nil
	}
	limit := fs.Limit
	if limit <= 0 {
		limit = DefaultFormsLimit
	}
	for k := range fs.forms {
		if len(fs.forms) < limit {
			break
		}
		delete(fs.forms, k)
	}
	fs.forms[key] = built
	return built, nil
}

// Len returns the number of cached forms.
func (fs *Forms) Len() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.forms)
}
