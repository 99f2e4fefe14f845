package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store/storetest"
)

var noteKey = flow.NewKey[string]("note")

// TestReopen: an ended flow returns to the state its last step left, with
// the stash as the step left it plus what the face writes, and takes a
// new submission; a flow that has not ended is not reopened.
func TestReopen(t *testing.T) {
	t.Parallel()
	def, err := flow.New("reopen").InitialState("ask").
		State("ask", flow.Action{Name: "go", Execute: func(c *flow.ActionContext) error {
			noteKey.Set(c.Base().Stash(), "step wrote this")
			c.Base().SetIdentityID("11111111-1111-4111-8111-111111111111")
			return c.Continue("done")
		}}).
		EndState("done").Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name  string
		steps int // steps before Reopen
		want  error
	}{
		{"ended by a step", 1, nil},
		{"not ended", 0, flow.ErrDiscontinuity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng := flow.NewEngine(storetest.SQLite(t), nil, nil)
			res, err := eng.Start(ctx, def, flow.Init{Face: "kratos"})
			if err != nil {
				t.Fatal(err)
			}
			for range tc.steps {
				if res, err = eng.Submit(ctx, def, flow.Submission{FlowID: res.Flow.ID, Action: "go", CSRFToken: res.Flow.CSRFToken, Input: json.RawMessage(`{}`)}); err != nil || !res.Ended {
					t.Fatalf("step: ended %v, %v", res != nil && res.Ended, err)
				}
			}
			again, err := eng.Reopen(ctx, def, res.Flow.ID, "", func(st *flow.Stash) { flow.NewKey[string]("message").Set(st, "stopped") })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Reopen: %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if again.Ended || again.State != "ask" || again.Flow.IdentityID != "" || len(again.Actions) != 1 {
				t.Fatalf("reopened: ended %v, state %q, identity %q, actions %v", again.Ended, again.State, again.Flow.IdentityID, again.Actions)
			}
			if n, _ := noteKey.Get(again.Stash); n != "step wrote this" {
				t.Fatalf("the step's stash was not kept: %q", n)
			}
			if m, _ := flow.NewKey[string]("message").Get(again.Stash); m != "stopped" {
				t.Fatalf("the face's write is missing: %q", m)
			}
			fetched, err := eng.Fetch(ctx, def, res.Flow.ID)
			if err != nil || fetched.Ended || fetched.State != "ask" {
				t.Fatalf("stored: %+v, %v", fetched, err)
			}
			if _, err := eng.Submit(ctx, def, flow.Submission{FlowID: res.Flow.ID, Action: "go", CSRFToken: again.Flow.CSRFToken, Input: json.RawMessage(`{}`)}); err != nil {
				t.Fatalf("a new step after Reopen: %v", err)
			}
		})
	}
}
