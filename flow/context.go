package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Context is what hooks and Suspended predicates see of a flow during one
// step: the request's context, the step's transaction, the stash, the
// payload being built, and the flow record.
type Context struct {
	ctx          context.Context
	tx           store.Tx
	def          *Definition
	flow         *core.Flow // working copy; persisted at the end of the step
	env          *envelope
	stash        *Stash
	state        string // the current state, or the one being entered while its BeforeState hooks run
	now          time.Time
	payload      map[string]json.RawMessage // written during this step
	pending      []string                   // states scheduled by hooks during this step
	clearHistory bool
	err          error // first payload encoding error
}

// Context returns the request's context; request-scoped values a face puts
// there (client IP, language, the caller's session) are read from it.
func (c *Context) Context() context.Context { return c.ctx }

// Tx returns the store bound to the step's transaction. Everything written
// through it commits together with the flow update, or not at all. Never use
// another store handle inside a step.
func (c *Context) Tx() store.Tx { return c.tx }

// Stash returns the flow's stash, to be used with typed keys.
func (c *Context) Stash() *Stash { return c.stash }

// Definition returns the definition the flow runs on.
func (c *Context) Definition() *Definition { return c.def }

// FlowID returns the flow's id.
func (c *Context) FlowID() string { return c.flow.ID }

// Flow returns a copy of the flow record as it stands in this step (its
// Stash field holds the value loaded at the start of the step).
func (c *Context) Flow() core.Flow { return *c.flow }

// State returns the current state; inside a BeforeState hook, the state
// being entered.
func (c *Context) State() string { return c.state }

// Now returns the step's time, from the engine's clock.
func (c *Context) Now() time.Time { return c.now }

// IdentityID returns the identity the flow is about, or "".
func (c *Context) IdentityID() string { return c.flow.IdentityID }

// SetIdentityID records which identity the flow is about.
func (c *Context) SetIdentityID(id string) { c.flow.IdentityID = id }

// SetPayload puts a value into the payload rendered with the state the step
// ends in. A value that cannot be encoded as JSON fails the step (it rolls
// back and Submit returns the error).
func (c *Context) SetPayload(key string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		if c.err == nil {
			c.err = fmt.Errorf("payload %q: encode: %w", key, err)
		}
		return
	}
	c.payload[key] = raw
}

// Schedule adds states to visit, in order, before the states already
// scheduled; an action's Continue without a state name proceeds to the first
// of them. It returns an error (which the hook should return) when a state
// does not exist.
func (c *Context) Schedule(states ...string) error {
	for _, s := range states {
		if !c.def.HasState(s) {
			return fmt.Errorf("schedule unknown state %q: %w", s, ErrDiscontinuity)
		}
	}
	c.pending = append(c.pending, states...)
	return nil
}

// Scheduled returns the states scheduled to follow, the next first,
// including those scheduled during this step.
func (c *Context) Scheduled() []string {
	return append(slices.Clone(c.pending), c.env.Scheduled...)
}

// CanBack reports whether a step back is possible.
func (c *Context) CanBack() bool { return len(c.env.History) > 0 && !c.clearHistory }

// ClearHistory forgets every earlier state, so no step back can return
// behind this point (call it once the user has authenticated, for example).
func (c *Context) ClearHistory() { c.clearHistory = true }

type outcomeKind int

const (
	outcomeNone outcomeKind = iota
	outcomeContinue
	outcomeBack
	outcomeRerender
)

type outcome struct {
	kind        outcomeKind
	states      []string
	err         *core.Error
	inputErrors []InputError
}

// ActionContext is the Context of an action's Execute, with the validated
// input and the methods that choose how the step ends.
type ActionContext struct {
	*baseContext
	action   *Action
	input    map[string]any // validated, converted values of the inputs sent
	prepared any            // what the action's PrepareFunc returned
	outcome  outcome
}

// baseContext names the embedded Context so that its Context method is
// promoted to ActionContext.
type baseContext = Context

// Base returns the ActionContext's Context, for helpers shared with hooks.
func (c *ActionContext) Base() *Context { return c.baseContext }

// Action returns the name of the action being executed.
func (c *ActionContext) Action() string { return c.action.Name }

// Has reports whether the input was sent (and not empty).
func (c *ActionContext) Has(name string) bool {
	_, ok := c.input[name]
	return ok
}

// Value returns the validated value of an input: a string for textual
// types, float64 for numbers, bool for booleans, json.RawMessage for JSON;
// nil when not sent.
func (c *ActionContext) Value(name string) any { return c.input[name] }

// String returns a textual input's value, or "" when not sent.
func (c *ActionContext) String(name string) string {
	s, _ := c.input[name].(string)
	return s
}

// Bool returns a boolean input's value, or false when not sent.
func (c *ActionContext) Bool(name string) bool {
	b, _ := c.input[name].(bool)
	return b
}

// Number returns a number input's value, or 0 when not sent.
func (c *ActionContext) Number(name string) float64 {
	f, _ := c.input[name].(float64)
	return f
}

// JSON returns a JSON input's value, or nil when not sent.
func (c *ActionContext) JSON(name string) json.RawMessage {
	r, _ := c.input[name].(json.RawMessage)
	return r
}

var errOutcomeChosen = errors.New("the action already chose how the step ends")

// Continue moves the flow forward. With states, the first is the next state
// and the others are scheduled to follow it, before anything scheduled
// earlier; without, the flow proceeds to the next scheduled state (this is
// how a sub-flow hands back). It returns an error, which Execute should
// return, when a state does not exist, is not among the action's Targets,
// or an outcome was already chosen.
func (c *ActionContext) Continue(states ...string) error {
	if c.outcome.kind != outcomeNone {
		return errOutcomeChosen
	}
	for _, s := range states {
		if !c.def.HasState(s) {
			return fmt.Errorf("continue to unknown state %q: %w", s, ErrDiscontinuity)
		}
		if len(c.action.Targets) > 0 && !slices.Contains(c.action.Targets, s) {
			return fmt.Errorf("action %q may not continue to %q: %w", c.action.Name, s, ErrDiscontinuity)
		}
	}
	c.outcome = outcome{kind: outcomeContinue, states: slices.Clone(states)}
	return nil
}

// Back returns the flow to the state it was in before the current one, with
// the stash values (except sticky keys), schedule and payload it had then.
// It returns an error, which Execute should return, when there is no earlier
// state or an outcome was already chosen.
func (c *ActionContext) Back() error {
	if c.outcome.kind != outcomeNone {
		return errOutcomeChosen
	}
	if !c.CanBack() {
		return fmt.Errorf("back: %w", errNoHistory)
	}
	c.outcome = outcome{kind: outcomeBack}
	return nil
}

// Error ends the step by showing the current state again with err. err may
// be, or wrap (also through errors.Join), *InputError values, which are
// attached to the action's inputs, and a *core.Error, which becomes the
// flow-level error (ErrFormInvalid when there are input errors only). The
// step still commits: stash writes and the CSRF rotation are kept, so
// attempt counters work.
//
// Error returns nil when err carries such a domain error, so Execute can
// `return c.Error(err)`. Any other error is returned unchanged, which fails
// and rolls back the step as if Execute had returned it.
func (c *ActionContext) Error(err error) error {
	if c.outcome.kind != outcomeNone {
		return errOutcomeChosen
	}
	flowErr, inputErrors, ok := domainErrors(err)
	if !ok {
		if err == nil {
			return errors.New("flow: Error called with a nil error")
		}
		return err
	}
	c.outcome = outcome{kind: outcomeRerender, err: flowErr, inputErrors: inputErrors}
	return nil
}

// domainErrors collects the *InputError values and the first *core.Error in
// err's chain (also through errors.Join). ok is false when there is none;
// flowErr is ErrFormInvalid when there are input errors only.
func domainErrors(err error) (flowErr *core.Error, inputErrors []InputError, ok bool) {
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
			return
		case *InputError:
			inputErrors = append(inputErrors, *x)
			return
		case *core.Error:
			if flowErr == nil {
				flowErr = x
			}
			// A core.Error may wrap input errors in its cause.
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	if flowErr == nil && len(inputErrors) == 0 {
		return nil, nil, false
	}
	if flowErr == nil {
		flowErr = ErrFormInvalid
	}
	return flowErr, inputErrors, true
}

// Refusal is what Refuse returns; see there.
type Refusal struct{ err error }

func (r *Refusal) Error() string { return "refused: " + r.err.Error() }
func (r *Refusal) Unwrap() error { return r.err }

// Refuse lets a hook that runs after the action (AfterState, AfterSubFlow,
// BeforeState) turn the step into a refusal: the flow stays in the state
// the action ran in and shows it again with err, exactly as if the action
// had called ActionContext.Error(err) — the stash as the action left it,
// the schedule, history and payload as they were before the hooks ran. err
// must carry an *InputError or a *core.Error (else the step fails with it).
// Whatever the hooks wrote through the transaction before the refusal is
// committed with the step, so a hook refuses before it writes. The hook
// returns what Refuse returns.
func Refuse(err error) error {
	if _, _, ok := domainErrors(err); !ok {
		return err
	}
	return &Refusal{err: err}
}

// BackAction returns the usual action that steps back one state: it is
// offered only when there is an earlier state.
func BackAction(name, description string) Action {
	return Action{
		Name:        name,
		Description: description,
		Suspended:   func(c *Context) bool { return !c.CanBack() },
		Execute:     func(c *ActionContext) error { return c.Back() },
	}
}
