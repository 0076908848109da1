package store_test

import (
	"errors"
	"testing"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// Instances sharing a database must share a public URL; one without --public-url may only
// follow its own earlier run on its own host.
func TestInstancesOnOneDatabaseShareTheirPublicURL(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			ctx := t.Context()
			lb := "https://hub.example.gov.cn"
			if err := st.RegisterInstance(ctx, store.Instance{ID: "a", PublicURL: lb, Host: "h1"}, false); err != nil {
				t.Fatalf("first instance: %v", err)
			}
			if err := st.RegisterInstance(ctx, store.Instance{ID: "b", PublicURL: lb, Host: "h2"}, false); err != nil {
				t.Fatalf("second instance, same public URL: %v", err)
			}
			var conflict *store.PublicURLConflict
			err := st.RegisterInstance(ctx, store.Instance{ID: "c", PublicURL: "https://other.example", Host: "h3"}, false)
			if !errors.As(err, &conflict) || len(conflict.Others) != 2 || conflict.Implicit {
				t.Errorf("another public URL: %v; want a conflict naming both", err)
			}
			err = st.RegisterInstance(ctx, store.Instance{ID: "d", PublicURL: lb, Host: "h3"}, true)
			if !errors.As(err, &conflict) || !conflict.Implicit {
				t.Errorf("the same URL, not given, on another host: %v; want --public-url required", err)
			}
			// Both stop; an instance without --public-url then runs alone, and after it is
			// killed (its row left behind) it restarts on its own host.
			for _, id := range []string{"a", "b"} {
				if err := st.DeregisterInstance(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			own := "http://127.0.0.1:8080"
			if err := st.RegisterInstance(ctx, store.Instance{ID: "e", PublicURL: own, Host: "h1"}, true); err != nil {
				t.Fatalf("alone without --public-url: %v", err)
			}
			if err := st.RegisterInstance(ctx, store.Instance{ID: "f", PublicURL: own, Host: "h1"}, true); err != nil {
				t.Errorf("its restart on its host after a kill: %v", err)
			}
			if err := st.TouchInstance(ctx, "f"); err != nil {
				t.Error(err)
			}
		})
	}
}
