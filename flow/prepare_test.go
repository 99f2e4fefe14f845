package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestPrepare checks the pre-transaction phase of an action: it sees the
// validated input and the stash as submitted, runs outside the step's
// transaction (so the store's single SQLite writer is free meanwhile), and
// hands its result to Execute; invalid input skips it; its error fails the
// submission with nothing written.
func TestPrepare(t *testing.T) {
	t.Parallel()
	nameKey := flow.NewKey[string]("name")
	var (
		prepares  int
		sawTxFree bool
		failNext  bool
	)
	st := storetest.SQLite(t)
	def, err := flow.New("prepare_test").Kind(core.FlowLogin).
		State("init", flow.Action{Name: "name", Inputs: []flow.Input{{Name: "name", Type: flow.TypeString, Required: true}},
			Execute: func(c *flow.ActionContext) error {
				nameKey.Set(c.Stash(), c.String("name"))
				return c.Continue("secret")
			}}).
		State("secret", flow.Action{Name: "secret",
			Inputs: []flow.Input{{Name: "password", Type: flow.TypePassword, Required: true, MinLength: 3}},
			Prepare: func(p *flow.PrepareContext) (any, error) {
				prepares++
				if failNext {
					return nil, errors.New("hashing failed")
				}
				// The step's transaction has not begun: another writer
				// gets through at once.
				ctx, cancel := context.WithTimeout(p.Context(), 2*time.Second)
				defer cancel()
				sawTxFree = st.Update(ctx, func(store.Tx) error { return nil }) == nil
				name, _ := nameKey.Get(p.Stash())
				nameKey.Set(p.Stash(), "overwritten") // a copy: discarded
				return name + ":" + p.String("password"), nil
			},
			Execute: func(c *flow.ActionContext) error {
				got, _ := c.Prepared().(string)
				nameKey.Set(c.Stash(), got)
				return c.Continue("done")
			}}).
		EndState("done").
		InitialState("init").Build()
	if err != nil {
		t.Fatal(err)
	}
	eng := flow.NewEngine(st, time.Now, rand.NewChaCha8([32]byte{9}))
	ctx := context.Background()
	res, err := eng.Start(ctx, def, flow.Init{Face: "test"})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(res *flow.Result, action, input string) (*flow.Result, error) {
		return eng.Submit(ctx, def, flow.Submission{FlowID: res.Flow.ID, Action: action, CSRFToken: res.Flow.CSRFToken, Input: json.RawMessage(input)})
	}
	if res, err = submit(res, "name", `{"name":"ada"}`); err != nil {
		t.Fatal(err)
	}

	// Too short: the state re-renders with an input error; Prepare skipped.
	if res, err = submit(res, "secret", `{"password":"x"}`); err != nil || res.State != "secret" || prepares != 0 {
		t.Fatalf("invalid input: state %v err %v prepares %d", res.State, err, prepares)
	}

	// Prepare fails: the submission fails and the flow is unchanged.
	failNext = true
	before := res.Flow.Version
	if _, err = submit(res, "secret", `{"password":"abc"}`); err == nil || prepares != 1 {
		t.Fatalf("failing prepare: err %v prepares %d", err, prepares)
	}
	if f, _ := st.GetFlow(ctx, res.Flow.ID); f.Version != before || f.State != "secret" {
		t.Fatalf("flow changed by a failed prepare: version %d state %s", f.Version, f.State)
	}

	failNext = false
	if res, err = submit(res, "secret", `{"password":"abc"}`); err != nil {
		t.Fatal(err)
	}
	if !sawTxFree {
		t.Error("Prepare ran while the step held the store's writer")
	}
	if got, _ := nameKey.Get(res.Stash); res.State != "done" || got != "ada:abc" {
		t.Fatalf("state %s, stash name %q; want done and the prepared value", res.State, got)
	}
}
