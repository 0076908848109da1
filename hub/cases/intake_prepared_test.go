package cases_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
)

// Intake makes a case's rows, messages and answer before its transaction and only writes them
// (prepareCase). This test holds what it made to what the hub reads back: for every example
// application, and one with an e-licence given as a material, the answer to the submission
// equals the case read afterwards, and each dispatch message references the materials that a
// dispatch after intake would read from the store.
func TestIntakeAnswersAndSendsWhatItStored(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		lic := issueFoodLicence(t, svc)
		paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
		if err != nil || len(paths) < 5 {
			t.Fatalf("examples: %v (%d)", err, len(paths))
		}
		type submission struct {
			name string
			app  cases.Application
			hash string
		}
		var subs []submission
		for _, p := range paths {
			name := strings.TrimSuffix(filepath.Base(p), ".json")
			app, hash := example(t, name)
			subs = append(subs, submission{name, app, hash})
		}
		app, hash := example(t, "open-bar-enterprise")
		withLicenceMaterial(&app, "food-business-licence-copy", foodLicence, lic.Number)
		app.Form["food.licence_number"] = lic.Number
		subs = append(subs, submission{"open-bar-enterprise with an e-licence as a material", app, hash})

		licenceRefs := 0
		for _, s := range subs {
			v, _, err := svc.Submit(ctx, s.app, s.hash, "")
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			got, err := svc.Get(ctx, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := json.Marshal(v)
			stored, _ := json.Marshal(got)
			if string(answer) != string(stored) {
				t.Errorf("%s: the answer differs from the case as stored:\nanswer %s\nstored %s", s.name, answer, stored)
			}
			if v.Owner != got.Owner || v.HolderID() != got.HolderID() {
				t.Errorf("%s: owner or holder differ", s.name)
			}
			var ids []string
			for _, sc := range v.Subcases {
				if sc.State == cases.StateDispatched {
					ids = append(ids, sc.ID)
				}
			}
			if len(ids) == 0 {
				continue
			}
			want, err := svc.DispatchMaterials(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				d := dispatchedOf(t, st, id)
				for i := range d.Materials {
					if l := d.Materials[i].Licence; l != nil {
						licenceRefs++
						if l.VerifiedAt.IsZero() {
							t.Errorf("%s: a licence material without its verification time", s.name)
						}
						l.VerifiedAt = want[id][i].Licence.VerifiedAt // the time of each verification
					}
				}
				if !reflect.DeepEqual(nonNilRefs(d.Materials), want[id]) {
					t.Errorf("%s: sub-case %d's message references\n%+v\nthe store links\n%+v", s.name, len(d.Materials), d.Materials, want[id])
				}
			}
		}
		if licenceRefs == 0 {
			t.Error("no dispatch message referenced an e-licence: the test proves less than it says")
		}
	})
}

func nonNilRefs(refs []event.MaterialRef) []event.MaterialRef {
	if refs == nil {
		return []event.MaterialRef{}
	}
	return refs
}
