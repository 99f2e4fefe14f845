package flow

import (
	"context"
	"maps"
	"time"

	"github.com/latchkey/latchkey/core"
)

// PrepareFunc does an action's slow, store-independent work before the
// step's transaction begins: hashing or verifying a password, say, which
// must not hold SQLite's single writer (or a transaction on the server
// databases) for a tenth of a second. It sees the validated input and a copy
// of the stash as they were when the step was submitted; what it returns is
// handed to Execute through ActionContext.Prepared. It may read from and
// write to the store on its own (outside the step), but its writes are not
// rolled back with the step. An error it returns fails the submission like
// an error of Execute, with nothing written by the step.
type PrepareFunc func(p *PrepareContext) (any, error)

// PrepareContext is what a PrepareFunc sees.
type PrepareContext struct {
	ctx   context.Context
	flow  core.Flow
	stash *Stash
	input map[string]any
	now   time.Time
}

// Context returns the request's context.
func (p *PrepareContext) Context() context.Context { return p.ctx }

// Flow returns a copy of the flow record as submitted.
func (p *PrepareContext) Flow() core.Flow { return p.flow }

// Stash returns a copy of the flow's stash; writes to it are discarded.
func (p *PrepareContext) Stash() *Stash { return p.stash }

// Now returns the time of the step.
func (p *PrepareContext) Now() time.Time { return p.now }

// String returns a textual input's value, or "" when not sent.
func (p *PrepareContext) String(name string) string {
	s, _ := p.input[name].(string)
	return s
}

// Bool returns a boolean input's value, or false when not sent.
func (p *PrepareContext) Bool(name string) bool {
	b, _ := p.input[name].(bool)
	return b
}

// Has reports whether the input was sent (and not empty).
func (p *PrepareContext) Has(name string) bool {
	_, ok := p.input[name]
	return ok
}

// Prepared returns what the action's PrepareFunc returned for this step, or
// nil when the action has none (or the input did not validate, in which case
// Execute does not run either).
func (c *ActionContext) Prepared() any { return c.prepared }

// prepare runs the PrepareFunc of the action the submission names, outside
// any transaction, on the flow as loaded before the step. It returns nil
// (and runs nothing) when the action has no PrepareFunc or is not offered
// in the flow's state, or when the input does not validate: the step itself
// then refuses the submission or re-renders the state, exactly as without a
// PrepareFunc. (Suspension is left to the step, whose Suspended predicates
// may read the transaction; a PrepareFunc of a suspended action runs, and
// its result is discarded when the step refuses the action.)
func (e *Engine) prepare(ctx context.Context, def *Definition, f *core.Flow, actionName string, raw map[string]any, now time.Time) (any, error) {
	st, ok := def.states[f.State]
	if !ok {
		return nil, nil
	}
	act, ok := st.action(actionName)
	if !ok || act.Prepare == nil {
		return nil, nil
	}
	env, err := decodeEnvelope(f.Stash)
	if err != nil || env.Ended {
		return nil, nil
	}
	values, inputErrors, formErr := validateSubmission(act, raw)
	if formErr != nil || len(inputErrors) > 0 {
		return nil, nil
	}
	s := newStash(maps.Clone(env.Data))
	return act.Prepare(&PrepareContext{ctx: ctx, flow: *f, stash: s, input: values, now: now})
}
