package flow

import (
	"context"
	"fmt"
	"time"
)

// Openable reports whether Open can start flows of d: its initial state
// has no BeforeState hooks (they run in Start's transaction).
func (d *Definition) Openable() bool {
	return len(d.states[d.initial[0]].before) == 0
}

// Open returns the flow Start would create, with id, csrf and now as its
// id, CSRF token and start, without storing it: nothing is read or written
// and Result.Flow.Version is 0. A Submission carrying that flow (Flow)
// runs its first step on it and stores it then, with the step (CreateFlow
// in the step's transaction; a flow of that id stored meanwhile fails the
// step with ErrConflict). Open gives the same flow for the same arguments,
// so a face can open a flow again where its first step arrives (another
// replica) from what it gave the client: it must make csrf such that only
// it can, and tell the first step's id and token from others.
//
// Suspended predicates see a nil Tx, as in Peek. Open refuses a definition
// that is not Openable and an id that is not a canonical UUID.
func (e *Engine) Open(ctx context.Context, def *Definition, init Init, id, csrf string, now time.Time) (*Result, error) {
	if !def.Openable() {
		return nil, fmt.Errorf("open %s flow: its initial state %q has BeforeState hooks", def.name, def.initial[0])
	}
	if !wellFormedID(id) {
		return nil, fmt.Errorf("open %s flow: %w", def.name, ErrNotFound)
	}
	c, err := e.initial(ctx, nil, def, init, id, csrf, now)
	if err != nil {
		return nil, fmt.Errorf("open %s flow: %w", def.name, err)
	}
	return c.result(nil), nil
}
