package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
)

// TestOpen checks that Open stores nothing, that the first step on the
// flow it returns creates the flow (the state it goes on to, the history
// of the initial state, the version of a created flow), that opening the
// same flow again and stepping it once more is a conflict that changes
// nothing, and that Open refuses a definition whose initial state has
// hooks and an id that is not a UUID.
func TestOpen(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const id = "5b0e4c1e-7f7a-4c55-9d0b-8d9c3f1c2a10"
	now := h.clock.Now()
	open := func() *flow.Result {
		t.Helper()
		res, err := h.eng.Open(ctx, h.def, flow.Init{Face: "hanko"}, id, "opened-token", now)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := open()
	if res.State != "preflight" || res.Flow.Version != 0 || res.Flow.CSRFToken != "opened-token" ||
		!res.Flow.ExpiresAt.Equal(now.Add(testTTL)) || len(res.Actions) != 1 || res.Actions[0].Name != "register_client_capabilities" {
		t.Fatalf("opened %+v", res)
	}
	if _, err := h.store.GetFlow(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFlow after Open: %v, want not found", err)
	}
	sub := flow.Submission{FlowID: id, Action: "register_client_capabilities", CSRFToken: "opened-token",
		Input: json.RawMessage(`{"webauthn_available":true}`), Flow: &res.Flow}
	next, err := h.eng.Submit(ctx, h.def, sub)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.store.GetFlow(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if next.State != "login_init" || stored.State != "login_init" || stored.Version != 1 || next.Flow.Version != 1 ||
		stored.CSRFToken == "opened-token" || stored.CSRFToken != next.Flow.CSRFToken || !stored.ExpiresAt.Equal(now.Add(testTTL)) {
		t.Fatalf("after the first step: result %+v, stored %+v", next.Flow, stored)
	}
	// The same flow opened again (its first step replayed on another
	// replica) cannot be stored a second time.
	back, err := h.eng.Open(ctx, h.def, flow.Init{Face: "hanko"}, id, "opened-token", now)
	if err != nil {
		t.Fatal(err)
	}
	sub.Flow = &back.Flow
	if _, err := h.eng.Submit(ctx, h.def, sub); !errors.Is(err, flow.ErrConflict) {
		t.Fatalf("first step again on the flow opened again: %v, want ErrConflict", err)
	}
	if again, err := h.store.GetFlow(ctx, id); err != nil || again.Version != 1 || again.CSRFToken != stored.CSRFToken {
		t.Fatalf("the conflict changed the flow: %+v, %v", again, err)
	}
	sub.Flow = nil
	if _, err := h.eng.Submit(ctx, h.def, sub); !errors.Is(err, flow.ErrCSRF) {
		t.Fatalf("first step again on the stored flow: %v, want ErrCSRF", err)
	}

	if _, err := h.eng.Open(ctx, h.def, flow.Init{Face: "hanko"}, "not-a-uuid", "t", now); !errors.Is(err, flow.ErrNotFound) {
		t.Fatalf("Open with a malformed id: %v", err)
	}
	hooked, err := flow.New("hooked").State("first", flow.Action{Name: "go",
		Execute: func(c *flow.ActionContext) error { return c.Continue("end") }}).
		EndState("end").InitialState("first").ErrorState("error").
		Hook(flow.BeforeState("first", func(*flow.Context) error { return nil })).Build()
	if err != nil {
		t.Fatal(err)
	}
	if hooked.Openable() || !h.def.Openable() {
		t.Fatalf("Openable: %v for a hooked initial state, %v for the test flow", hooked.Openable(), h.def.Openable())
	}
	if _, err := h.eng.Open(ctx, hooked, flow.Init{}, id, "t", now); err == nil {
		t.Fatal("Open ran a definition whose initial state has hooks")
	}
}
