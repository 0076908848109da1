package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"yjshub/catalogue"
	"yjshub/examples"
	"yjshub/format"
	"yjshub/hub/cases"
)

// defaultBenchMix weighs the example applications as a district's service hall sees them:
// 开酒吧 (open-bar) most of all, the other shop openings next, then the social-security
// bundles of individuals, and the rarer enterprise bundles last.
const defaultBenchMix = "open-bar-enterprise=25,open-bar-individual=15," +
	"open-drink-shop-enterprise=10,open-drink-shop-individual=8,open-barbershop-enterprise=10," +
	"social-security-card-individual=12,unemployment-individual=12," +
	"road-excavation-enterprise=4,marine-fishery-chain-enterprise=4"

// benchApp is one example application of the mix.
type benchApp struct {
	name   string
	weight int
	app    cases.Application
	// idFields are the form fields that identify someone — a resident ID, a unified social
	// credit code, a mobile number — by format, each given a value of its own per case.
	idFields map[string][]string
}

// benchMix makes the applications a bench submits: the n-th is one of the example
// applications, drawn by weight, whose identifying fields are made anew for a distinct
// applicant. It is safe for concurrent use: an application depends on n alone.
type benchMix struct {
	apps  []benchApp
	total int
	ids   identifiers
}

// exampleNames lists the embedded example applications, by name without .json.
func exampleNames() []string {
	files, _ := fs.Glob(examples.FS, "*.json")
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(f, ".json")
	}
	return names
}

// parseBenchMix reads "name=weight,name=weight" over the embedded example applications and
// reports every problem of the spec at once. seed places the run's identifiers.
func parseBenchMix(spec string, cat *catalogue.Catalogue, seed uint64) (*benchMix, error) {
	m := &benchMix{ids: identifiers{base: seed}}
	known := exampleNames()
	var errs []error
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("--mix: %q is not NAME=WEIGHT", part))
			continue
		}
		weight, err := strconv.Atoi(w)
		if err != nil || weight < 1 {
			errs = append(errs, fmt.Errorf("--mix: the weight of %s must be a whole number of 1 or more", name))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("--mix: %s is named twice", name))
			continue
		}
		seen[name] = true
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("--mix: no example application %q (there are %s)", name, strings.Join(known, ", ")))
			continue
		}
		a, err := loadBenchApp(name, cat)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.weight = weight
		m.apps = append(m.apps, a)
		m.total += weight
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func loadBenchApp(name string, cat *catalogue.Catalogue) (benchApp, error) {
	b, err := examples.FS.ReadFile(name + ".json")
	if err != nil {
		return benchApp{}, fmt.Errorf("--mix: %s: %w", name, err)
	}
	app, _, err := cases.DecodeApplication(bytes.NewReader(b))
	if err != nil {
		return benchApp{}, fmt.Errorf("--mix: example %s: %w", name, err)
	}
	a := benchApp{name: name, app: app, idFields: map[string][]string{}}
	for _, code := range slices.Sorted(maps.Keys(app.Form)) {
		// FormatIn: an identity number's format is the one its document type chooses.
		if f, ok := cat.Field(code); ok && identifierFormats[f.FormatIn(app.Form)] {
			a.idFields[f.FormatIn(app.Form)] = append(a.idFields[f.FormatIn(app.Form)], code)
		}
	}
	return a, nil
}

// identifierFormats are the formats of the fields that tell one applicant from another.
var identifierFormats = map[string]bool{format.GB11643: true, format.GB32100: true, format.IndividualBusinessCode: true, format.Mobile: true}

// pick returns the index of the application the n-th case submits: a hash of n, so that
// workers draw without sharing a random source, spread over the weights.
func (m *benchMix) pick(n uint64) int {
	r := int(splitmix64(n) % uint64(m.total))
	for i, a := range m.apps {
		if r < a.weight {
			return i
		}
		r -= a.weight
	}
	return len(m.apps) - 1
}

// application returns the body of the n-th case and the name of its example: the example with
// ref as its external reference and identifiers of its own.
func (m *benchMix) application(n uint64, ref string) ([]byte, string, error) {
	a := m.apps[m.pick(n)]
	app := a.app
	app.Form = maps.Clone(a.app.Form)
	app.ExternalRef = ref
	// Room for eight identifiers of a format per case: the examples have at most three.
	for f, codes := range a.idFields {
		for k, code := range codes {
			app.Form[code] = m.ids.make(f, n*8+uint64(k))
		}
	}
	b, err := json.Marshal(app)
	return b, a.name, err
}

// identifiers makes the i-th resident ID number, unified social credit code and mobile number
// of a run: distinct for distinct i, valid by the format package's checks, and placed by
// base so that runs against the same hub do not repeat each other's applicants.
type identifiers struct{ base uint64 }

// residentIDDays is the span of birth dates, 1960 to 1999, that resident ID numbers are
// made over: with a three-digit sequence, 14.6 million distinct numbers.
const residentIDDays = 40 * 365

var residentIDEpoch = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)

func (g identifiers) make(f string, i uint64) string {
	i += g.base
	switch f {
	case format.GB11643:
		i %= residentIDDays * 1000
		birth := residentIDEpoch.AddDate(0, 0, int(i/1000))
		// 320707 is 赣榆区; 17 digits cannot fail to complete.
		id, _ := format.CompleteResidentID(fmt.Sprintf("320707%s%03d", birth.Format("20060102"), i%1000))
		return id
	case format.GB32100:
		return uscc("91", i) // 9 (market regulation) 1 (enterprise)
	case format.IndividualBusinessCode:
		return uscc("92", i) // 9 (market regulation) 2 (个体工商户)
	default: // format.Mobile
		return fmt.Sprintf("139%08d", i%100_000_000)
	}
}

// uscc makes the i-th code of a registration authority and category (prefix), 赣榆区, then i in
// the code's alphabet.
func uscc(prefix string, i uint64) string {
	const alphabet = format.USCCAlphabet
	org := []byte("000000000")
	for k := len(org) - 1; k >= 0 && i > 0; k-- {
		org[k] = alphabet[i%uint64(len(alphabet))]
		i /= uint64(len(alphabet))
	}
	code, _ := format.CompleteUSCC(prefix + "320707" + string(org))
	return code
}

// splitmix64 scatters n over 64 bits (Steele, Lea and Flood's SplittableRandom finaliser).
func splitmix64(n uint64) uint64 {
	n += 0x9e3779b97f4a7c15
	n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9
	n = (n ^ (n >> 27)) * 0x94d049bb133111eb
	return n ^ (n >> 31)
}
