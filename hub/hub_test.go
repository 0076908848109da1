package hub_test

import (
	"strings"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

func TestNewNamesEveryMissingPart(t *testing.T) {
	_, err := hub.New(hub.Config{})
	if err == nil {
		t.Fatal("New without a catalogue and a store: no error")
	}
	for _, want := range []string{"Catalogue is required", "Store is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Without a bus the services for SQL alone are built, and those that need the bus are not.
func TestNewWithoutABusBuildsTheServicesOfTheStore(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	s, err := hub.New(hub.Config{Catalogue: cat, Store: st, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cases == nil || s.Sharing == nil || s.Reform == nil || s.Licences == nil || s.Forms == nil || s.Audit == nil {
		t.Errorf("services missing: %+v", s)
	}
	if s.Relay != nil || s.DeadLetters != nil || s.Recorder != nil || s.Inbox != nil {
		t.Errorf("services that need a bus were built without one: %+v", s)
	}
}
