package cases_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/hub/cases"
	"yjshub/hub/store"
	"yjshub/schemas"
)

// TestEveryEmittedMessageMatchesTheEventSchemas validates each outbox message of a case's whole
// life against schemas/events: the envelope and, by type, its data.
func TestEveryEmittedMessageMatchesTheEventSchemas(t *testing.T) {
	envelope, err := schemas.Compile("events/envelope.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "marine-fishery-chain-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			cur, _ := svc.Get(ctx, v.ID)
			for _, sc := range cur.Subcases {
				if sc.State == "dispatched" {
					approve(t, svc, cur, sc, i)
				}
			}
		}
		pending, err := st.PendingOutbox(ctx, 10000)
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]int{}
		for _, m := range pending {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := envelope.Validate(doc); err != nil {
				t.Errorf("%s on %s does not match the schema: %v", m.EventID, m.Topic, err)
			}
			types[m.Headers["ce_type"]]++
		}
		if types["cn.yjshub.subcase.dispatched"] < 8 || types["cn.yjshub.case.updated"] < 8 {
			t.Fatalf("message types emitted: %v", types)
		}
	})
}
