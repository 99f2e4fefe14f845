package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Peek returns the flow as it stands whatever its expiry, without changing
// it. A face uses it to build the replacement of an expired flow (Kratos
// carries the expired flow's request URL and return_to over) and to answer
// with when it expired. Suspended predicates run with a nil Tx here, as
// nothing is read or written in a transaction. It returns ErrNotFound when no flow of def's (of its kind, started by it) has
// the id, and a wrapped store or decoding error otherwise.
func (e *Engine) Peek(ctx context.Context, def *Definition, flowID string) (*Result, error) {
	if !wellFormedID(flowID) {
		return nil, fmt.Errorf("peek %s flow: %w", def.name, ErrNotFound)
	}
	f, err := e.store.GetFlow(ctx, flowID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("peek %s flow: %w", def.name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("peek %s flow: load flow: %w", def.name, err)
	}
	return e.PeekFlow(ctx, def, f)
}

// PeekFlow is Peek of a flow the caller has just read from the store. It
// returns ErrNotFound when f is not a flow of def's.
func (e *Engine) PeekFlow(ctx context.Context, def *Definition, f *core.Flow) (*Result, error) {
	if !wellFormedID(f.ID) || !belongsTo(f, def) {
		return nil, fmt.Errorf("peek %s flow: %w", def.name, ErrNotFound)
	}
	env, err := decodeEnvelope(f.Stash)
	if err != nil {
		return nil, fmt.Errorf("peek %s flow: %w", def.name, err)
	}
	if _, ok := def.states[f.State]; !ok {
		return nil, fmt.Errorf("peek %s flow: stored state %q: %w", def.name, f.State, ErrDiscontinuity)
	}
	c := newContext(ctx, nil, def, f, env, e.now())
	res := c.result(nil)
	if err := c.stash.Err(); err != nil {
		return nil, fmt.Errorf("peek %s flow: %w", def.name, err)
	}
	return res, nil
}

// Admits reports whether Submit would run action on the flow as res (from
// Fetch) holds it: the flow has not ended, its state offers the action
// (res.Actions, suspended ones left out) and input passes the action's
// declared inputs. A face uses it to answer a step that would change
// nothing in the flow without writing it (Kratos' browser redirect to an
// OIDC provider, whose round trip the browser carries sealed); when it
// says false, Submit answers as it always does.
func (e *Engine) Admits(def *Definition, res *Result, action string, input json.RawMessage) bool {
	if res == nil || res.Ended || !slices.ContainsFunc(res.Actions, func(a ActionView) bool { return a.Name == action }) {
		return false
	}
	st, ok := def.states[res.State]
	if !ok {
		return false
	}
	act, ok := st.action(action)
	if !ok {
		return false
	}
	raw, err := decodeInput(input)
	if err != nil {
		return false
	}
	_, inputErrors, formErr := validateSubmission(act, raw)
	return formErr == nil && len(inputErrors) == 0
}
