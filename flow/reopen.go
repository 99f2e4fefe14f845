package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/store"
)

// Reopen takes back the end of a flow: the flow returns to the state it
// left with the step that ended it (its initial state when that step
// cleared the history), for a face whose answer to that step
// refused what the step decided (Kratos' web hook that interrupts a login
// after the credentials were checked, before a session is issued). The
// stash keeps what the step wrote (a code it used up stays used); write,
// when set, changes it further (the messages to show), and the flow's
// identity becomes identityID (the one it had before the step). The CSRF
// token is kept. It returns ErrNotFound, ErrExpired, ErrConflict when
// another request changed the flow meanwhile, and an error wrapping
// ErrDiscontinuity when the flow has not ended or has no state to return
// to.
func (e *Engine) Reopen(ctx context.Context, def *Definition, flowID, identityID string, write func(*Stash)) (*Result, error) {
	now := e.now()
	var res *Result
	err := e.store.Update(ctx, func(tx store.Tx) error {
		f, env, err := e.loadEnvelope(ctx, tx, def, flowID, now)
		if err != nil {
			return err
		}
		if !env.Ended {
			return fmt.Errorf("the flow has not ended: %w", ErrDiscontinuity)
		}
		// The state the ending step left; the initial state when the
		// step cleared the history.
		last := historyItem{State: def.initial[0]}
		if n := len(env.History); n > 0 {
			last = env.History[n-1]
			env.History = env.History[:n-1]
		}
		if st, ok := def.states[last.State]; !ok || st.end {
			return fmt.Errorf("state %q to return to: %w", last.State, ErrDiscontinuity)
		}
		env.Ended = false
		env.Scheduled = last.Scheduled
		env.Payload = last.Payload
		c := newContext(ctx, tx, def, f, env, now)
		c.state, f.State, f.IdentityID = last.State, last.State, identityID
		if write != nil {
			write(c.stash)
		}
		f.UpdatedAt = now
		if err := c.seal(); err != nil {
			return err
		}
		if err := tx.UpdateFlow(ctx, f); err != nil {
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: %w", ErrConflict, err)
			}
			return fmt.Errorf("update flow: %w", err)
		}
		res = c.result(nil)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reopen %s flow: %w", def.name, err)
	}
	return res, nil
}
