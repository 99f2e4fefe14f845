package flow

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Store is what the engine needs of storage; store.Store satisfies it.
type Store interface {
	// GetFlow returns the flow, or an error wrapping store.ErrNotFound.
	GetFlow(ctx context.Context, id string) (*core.Flow, error)
	// Update runs fn in one transaction (see store.Store.Update).
	Update(ctx context.Context, fn func(tx store.Tx) error) error
}

// maxHistory bounds the states remembered for stepping back; the oldest are
// forgotten first.
const maxHistory = 16

// csrfTokenLength is the length of a flow's CSRF token, as in Hanko.
const csrfTokenLength = 32

// Engine runs flow definitions against the store. It is safe for concurrent
// use; all flow state lives in the store.
type Engine struct {
	store  Store
	now    func() time.Time
	random io.Reader
}

// NewEngine returns an engine over s. now is the clock (time.Now when nil)
// and random the source of flow ids and CSRF tokens (crypto/rand when nil);
// tests inject both.
func NewEngine(s Store, now func() time.Time, random io.Reader) *Engine {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	return &Engine{store: s, now: now, random: random}
}

// Init describes a flow being started.
type Init struct {
	Face       string // "hanko" or "kratos", stored with the flow
	Type       string // Kratos' "browser" or "api"; empty for Hanko
	IdentityID string // set for flows about a known identity (profile, settings)
	// Seed, when set, writes the stash's first values (a return_to URL, the
	// session the flow belongs to) before the initial state's hooks run.
	Seed func(s *Stash)
}

// Submission is one submitted action.
type Submission struct {
	FlowID    string
	Action    string
	CSRFToken string
	// Input is the submitted input document: a JSON object, or empty for
	// none. Booleans and numbers may be sent as text (form posts).
	Input json.RawMessage
	// KeepCSRF leaves the flow's CSRF token as it is: for a step the face
	// submits on the server's side (a provider's callback) while the
	// client, holding the current token, is away.
	KeepCSRF bool
	// InTx, when set, runs inside the step's transaction once the step
	// went through, with its result: what it writes through tx commits
	// with the step, and an error rolls the whole step back (the face
	// queues the calls a finished step triggers there). It may run more
	// than once when the store runs the transaction again.
	InTx func(ctx context.Context, tx store.Tx, res *Result) error
	// Flow, when not nil, is the flow with id FlowID as the caller has
	// just read it (Result.Flow of a Peek), so Submit does not read it
	// again; it is checked like a flow Submit reads itself. A copy that
	// has gone stale fails the step with ErrConflict.
	Flow *core.Flow
}

// Result is a flow as a face renders it after a step.
type Result struct {
	// Flow is the stored record after the step; Flow.CSRFToken is the token
	// the next submission must carry.
	Flow  core.Flow
	State string
	// Actions are the actions offered in State (suspended ones left out), in
	// declaration order; none once the flow has ended.
	Actions []ActionView
	// Error is the flow-level error of the last step, nil when it succeeded.
	Error *core.Error
	// Payload is what the state's hooks and the last action put there.
	Payload map[string]json.RawMessage
	// Ended reports whether the flow reached an end state.
	Ended bool
	// Stash is the flow's stash after the step, for the face to read (for
	// example a return_to URL); writing to it has no effect.
	Stash *Stash
}

// ActionView is an offered action with its inputs.
type ActionView struct {
	Name        string
	Description string
	Inputs      []InputView
}

// InputView is a declared input as rendered: Value holds the default or the
// preserved submitted value, Error the input's error from the last step.
type InputView struct {
	Input
	Error *InputError
}

// Start creates a flow of def in its initial state, runs the initial state's
// BeforeState hooks, and stores it, all in one transaction. It returns the
// hooks' error, or an error wrapping a store error, when that fails; nothing
// is stored then.
func (e *Engine) Start(ctx context.Context, def *Definition, init Init) (*Result, error) {
	now := e.now()
	id, err := uuid.NewRandomFromReader(e.random)
	if err != nil {
		return nil, fmt.Errorf("start %s flow: flow id: %w", def.name, err)
	}
	csrf, err := e.token()
	if err != nil {
		return nil, fmt.Errorf("start %s flow: %w", def.name, err)
	}
	var res *Result
	err = e.store.Update(ctx, func(tx store.Tx) error {
		c, err := e.initial(ctx, tx, def, init, id.String(), csrf, now)
		if err != nil {
			return err
		}
		if err := tx.CreateFlow(ctx, c.flow); err != nil {
			return fmt.Errorf("create flow: %w", err)
		}
		res = c.result(nil)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start %s flow: %w", def.name, err)
	}
	return res, nil
}

// initial builds a flow of def in its initial state, with its seed and
// the initial state's BeforeState hooks run (tx is nil when Open builds
// it), sealed but not stored: Start stores it, Open leaves it to the first
// step.
func (e *Engine) initial(ctx context.Context, tx store.Tx, def *Definition, init Init, id, csrf string, now time.Time) (*Context, error) {
	f := &core.Flow{
		ID:         id,
		Kind:       def.kind,
		Face:       init.Face,
		Type:       init.Type,
		State:      def.initial[0],
		CSRFToken:  csrf,
		IdentityID: init.IdentityID,
		ExpiresAt:  now.Add(def.ttl),
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	env := &envelope{Def: def.name, Data: make(map[string]json.RawMessage), Scheduled: slices.Clone(def.initial[1:])}
	c := newContext(ctx, tx, def, f, env, now)
	if init.Seed != nil {
		init.Seed(c.stash)
	}
	if err := c.enter(def.initial[0]); err != nil {
		return nil, err
	}
	env.Payload = c.payload
	if err := c.seal(); err != nil {
		return nil, err
	}
	return c, nil
}

// Fetch returns the flow as it stands, without changing it (Kratos' GET of a
// flow; a re-fetch after a failed step shows its errors again). It returns
// ErrNotFound when no flow of def's (of its kind, started by it) has the id and ErrExpired when it
// expired.
//
// Nothing is written, so no transaction is opened: the flow is one read,
// and Suspended predicates see the store itself as their Tx when it is a
// store.Tx (each of their reads on its own), else a nil Tx as in Peek.
// Result.Flow can be handed to Submit (Submission.Flow).
func (e *Engine) Fetch(ctx context.Context, def *Definition, flowID string) (*Result, error) {
	now := e.now()
	res, err := e.fetch(ctx, def, flowID, now)
	if err != nil {
		return nil, fmt.Errorf("fetch %s flow: %w", def.name, err)
	}
	return res, nil
}

func (e *Engine) fetch(ctx context.Context, def *Definition, flowID string, now time.Time) (*Result, error) {
	f, env, err := e.loadEnvelope(ctx, e.store, def, flowID, now)
	if err != nil {
		return nil, err
	}
	if _, ok := def.states[f.State]; !ok {
		return nil, fmt.Errorf("stored state %q: %w", f.State, ErrDiscontinuity)
	}
	reads, _ := e.store.(store.Tx)
	c := newContext(ctx, reads, def, f, env, now)
	res := c.result(nil)
	if err := c.stash.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// Submit runs one action of a flow of def. It returns ErrNotFound when no
// flow of def's (of its kind, started by it) has the id, ErrExpired when it
// expired, ErrCSRF when the token does not match (compared in constant time), ErrMalformedInput when
// the input is not a JSON object, ErrEnded when the flow has ended, and
// ErrActionNotAllowed when the action is not offered in the current state
// (unknown or suspended); in all these cases nothing is changed.
//
// Otherwise the whole step runs in one transaction: input validation (a
// failure shows the state again with per-input errors and skips the action),
// BeforeEachAction hooks, the action, AfterState and AfterSubFlow hooks, the
// next state's BeforeState hooks, CSRF rotation and the flow update with
// optimistic locking. When a hook or the action returns an error the
// transaction rolls back and Submit returns it wrapped; when another
// submission of the same step committed first it returns ErrConflict.
func (e *Engine) Submit(ctx context.Context, def *Definition, sub Submission) (*Result, error) {
	now := e.now()
	var seen *core.Flow
	var err error
	if sub.Flow != nil && sub.Flow.ID == sub.FlowID {
		seen, err = sub.Flow, e.check(def, sub.Flow, now)
	} else {
		seen, err = e.load(ctx, e.store, def, sub.FlowID, now)
	}
	if err != nil {
		return nil, fmt.Errorf("submit %s flow: %w", def.name, err)
	}
	if subtle.ConstantTimeCompare([]byte(sub.CSRFToken), []byte(seen.CSRFToken)) != 1 {
		return nil, fmt.Errorf("submit %s flow: %w", def.name, ErrCSRF)
	}
	input, err := decodeInput(sub.Input)
	if err != nil {
		return nil, fmt.Errorf("submit %s flow: %w: %w", def.name, ErrMalformedInput, err)
	}
	csrf, err := e.token()
	if err != nil {
		return nil, fmt.Errorf("submit %s flow: %w", def.name, err)
	}
	if sub.KeepCSRF {
		csrf = seen.CSRFToken
	}
	prepared, err := e.prepare(ctx, def, seen, sub.Action, input, now)
	if err != nil {
		return nil, fmt.Errorf("submit %s flow: action %q: prepare: %w", def.name, sub.Action, err)
	}
	var res *Result
	run := func(tx store.Tx) error {
		// The step runs on the flow as read above, not read again: the
		// flow's update at its end is conditional on that version, so a
		// submission that committed in between makes this one fail with
		// ErrConflict and roll back, as a second read would have. Each
		// attempt starts from its own copy.
		f := *seen
		var err error
		res, err = e.step(ctx, tx, def, &f, sub.Action, input, prepared, csrf, now)
		if err != nil || sub.InTx == nil {
			return err
		}
		return sub.InTx(ctx, tx, res)
	}
	err = e.store.Update(ctx, run)
	if lostUniqueRace(err) {
		// A write of the step lost a race on a unique value (two
		// registrations of one address, say) and rolled everything back.
		// Run the step once more: it now sees the winner's row, and its
		// own checks answer as they do when the two come one after the
		// other.
		err = e.store.Update(ctx, run)
	}
	if err != nil {
		return nil, fmt.Errorf("submit %s flow: action %q: %w", def.name, sub.Action, err)
	}
	return res, nil
}

// lostUniqueRace reports whether err is a unique violation of a write in the
// step (store.ErrConflict), not the flow's own optimistic lock.
func lostUniqueRace(err error) bool {
	return err != nil && errors.Is(err, store.ErrConflict) && !errors.Is(err, ErrConflict)
}

// stepSnapshot is what forward may change, kept to undo it on a Refusal.
type stepSnapshot struct {
	state, flowState, identityID string
	history                      []historyItem
	scheduled, pending           []string
	ended                        bool
	payload, envPayload          map[string]json.RawMessage
	render                       *render
	stash                        map[string]json.RawMessage
	sticky                       map[string]bool
	clearHistory                 bool
}

func (c *Context) snapshot() stepSnapshot {
	return stepSnapshot{state: c.state, flowState: c.flow.State, identityID: c.flow.IdentityID,
		history: slices.Clone(c.env.History), scheduled: slices.Clone(c.env.Scheduled), pending: slices.Clone(c.pending),
		ended: c.env.Ended, payload: maps.Clone(c.payload), envPayload: c.env.Payload, render: c.env.Render,
		stash: maps.Clone(c.stash.data), sticky: maps.Clone(c.stash.sticky), clearHistory: c.clearHistory}
}

func (c *Context) restore(s stepSnapshot) {
	c.state, c.flow.State, c.flow.IdentityID = s.state, s.flowState, s.identityID
	c.env.History, c.env.Scheduled, c.pending = s.history, s.scheduled, s.pending
	c.env.Ended, c.payload, c.env.Payload, c.env.Render = s.ended, s.payload, s.envPayload, s.render
	if c.payload == nil {
		c.payload = make(map[string]json.RawMessage)
	}
	c.stash.data, c.stash.sticky, c.clearHistory = s.stash, s.sticky, s.clearHistory
	if c.stash.data == nil {
		c.stash.data = make(map[string]json.RawMessage)
	}
	if c.stash.sticky == nil {
		c.stash.sticky = make(map[string]bool)
	}
}

// flowGetter is the part of a store or transaction that load needs.
type flowGetter interface {
	GetFlow(ctx context.Context, id string) (*core.Flow, error)
}

// load returns the flow if it belongs to def and is not expired.
func (e *Engine) load(ctx context.Context, g flowGetter, def *Definition, id string, now time.Time) (*core.Flow, error) {
	if !wellFormedID(id) {
		return nil, ErrNotFound
	}
	f, err := g.GetFlow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load flow: %w", err)
	}
	if err := e.check(def, f, now); err != nil {
		return nil, err
	}
	return f, nil
}

// loadEnvelope is load with the flow's decoded stash envelope.
func (e *Engine) loadEnvelope(ctx context.Context, g flowGetter, def *Definition, id string, now time.Time) (*core.Flow, *envelope, error) {
	f, err := e.load(ctx, g, def, id, now)
	if err != nil {
		return nil, nil, err
	}
	env, err := decodeEnvelope(f.Stash)
	if err != nil {
		return nil, nil, err
	}
	return f, env, nil
}

// check returns ErrNotFound when f is not a flow of def's and ErrExpired
// when it has expired at now.
func (e *Engine) check(def *Definition, f *core.Flow, now time.Time) error {
	if !wellFormedID(f.ID) || !belongsTo(f, def) {
		return ErrNotFound
	}
	if f.Expired(now) {
		return ErrExpired
	}
	return nil
}

// wellFormedID reports whether id can be a flow id: flow ids are UUIDs in
// canonical form. Anything else (a NUL byte, invalid UTF-8, which some
// databases refuse to compare) is not looked up at all.
func wellFormedID(id string) bool { return core.IsID(id) }

// step runs one action on f inside tx and stores the outcome.
func (e *Engine) step(ctx context.Context, tx store.Tx, def *Definition, f *core.Flow, actionName string, raw map[string]any, prepared any, csrf string, now time.Time) (*Result, error) {
	env, err := decodeEnvelope(f.Stash)
	if err != nil {
		return nil, err
	}
	if env.Ended {
		return nil, ErrEnded
	}
	st, ok := def.states[f.State]
	if !ok {
		return nil, fmt.Errorf("stored state %q: %w", f.State, ErrDiscontinuity)
	}
	act, ok := st.action(actionName)
	if !ok {
		return nil, ErrActionNotAllowed
	}
	c := newContext(ctx, tx, def, f, env, now)
	if act.Suspended != nil && act.Suspended(c) {
		return nil, ErrActionNotAllowed
	}
	ac := &ActionContext{baseContext: c, action: act, prepared: prepared}
	before := historyItem{
		State:     f.State,
		Data:      maps.Clone(env.Data),
		Scheduled: slices.Clone(env.Scheduled),
		Payload:   env.Payload,
	}

	values, inputErrors, formErr := validateSubmission(act, raw)
	if formErr != nil || len(inputErrors) > 0 {
		if formErr == nil {
			formErr = ErrFormInvalid
		}
		ac.outcome = outcome{kind: outcomeRerender, err: formErr, inputErrors: inputErrors}
	} else {
		ac.input = values
		for _, h := range def.beforeEach {
			if err := h(c); err != nil {
				return nil, fmt.Errorf("before each action: %w", err)
			}
		}
		if err := act.Execute(ac); err != nil {
			return nil, err
		}
		if ac.outcome.kind == outcomeNone {
			return nil, fmt.Errorf("the action chose no outcome: %w", ErrDiscontinuity)
		}
	}
	if err := c.stash.Err(); err != nil {
		return nil, err
	}

	var flowErr *core.Error
	switch ac.outcome.kind {
	case outcomeContinue:
		snap := c.snapshot()
		if err := c.forward(st, ac.outcome.states, before); err != nil {
			var rf *Refusal
			if !errors.As(err, &rf) {
				return nil, err
			}
			c.restore(snap)
			flowErr, inputErrors, _ := domainErrors(rf.err)
			ac.outcome = outcome{kind: outcomeRerender, err: flowErr, inputErrors: inputErrors}
		}
	}
	switch ac.outcome.kind {
	case outcomeContinue:
	case outcomeBack:
		c.back()
	case outcomeRerender:
		flowErr = ac.outcome.err
		env.Payload = mergePayload(env.Payload, c.payload)
		env.Render = &render{
			Action:      act.Name,
			InputErrors: ac.outcome.inputErrors,
			Values:      preserved(act, raw),
			Error:       &storedError{Code: string(flowErr.Code), Message: flowErr.Message, Field: flowErr.Field},
		}
		if len(c.pending) > 0 {
			env.Scheduled = append(c.pending, env.Scheduled...)
			c.pending = nil
		}
	}
	f.CSRFToken = csrf
	f.UpdatedAt = now
	if err := c.seal(); err != nil {
		return nil, err
	}
	write, verb := tx.UpdateFlow, "update"
	if f.Version == 0 { // opened (Open), stored by its first step
		write, verb = tx.CreateFlow, "create"
	}
	if err := write(ctx, f); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return nil, fmt.Errorf("%s flow: %w", verb, err)
	}
	return c.result(flowErr), nil
}

func newContext(ctx context.Context, tx store.Tx, def *Definition, f *core.Flow, env *envelope, now time.Time) *Context {
	s := newStash(env.Data)
	for _, name := range env.Sticky {
		s.sticky[name] = true
	}
	return &Context{
		ctx:     ctx,
		tx:      tx,
		def:     def,
		flow:    f,
		env:     env,
		stash:   s,
		state:   f.State,
		now:     now,
		payload: make(map[string]json.RawMessage),
	}
}

// forward moves the flow on from st after the action continued, running the
// AfterState, AfterSubFlow and BeforeState hooks in that order.
func (c *Context) forward(st *state, explicit []string, before historyItem) error {
	for _, h := range st.after {
		if err := h(c); err != nil {
			return fmt.Errorf("after state %q: %w", st.name, err)
		}
	}
	queue := func() []string {
		q := append(slices.Clone(explicit), c.pending...)
		return append(q, c.env.Scheduled...)
	}
	q := queue()
	if st.subFlow != "" && (len(q) == 0 || c.def.states[q[0]].subFlow != st.subFlow) {
		for _, h := range c.def.afterSub[st.subFlow] {
			if err := h(c); err != nil {
				return fmt.Errorf("after sub-flow %q: %w", st.subFlow, err)
			}
		}
		q = queue()
	}
	if len(q) == 0 {
		return fmt.Errorf("no state to continue to from %q: %w", st.name, ErrDiscontinuity)
	}
	next := q[0]
	c.env.Scheduled = q[1:]
	c.pending = nil
	if next != st.name {
		c.env.History = append(c.env.History, before)
		if n := len(c.env.History); n > maxHistory {
			c.env.History = slices.Clone(c.env.History[n-maxHistory:])
		}
	}
	c.env.Render = nil
	if err := c.enter(next); err != nil {
		return err
	}
	c.env.Payload = c.payload
	return nil
}

// enter makes next the current state and runs its BeforeState hooks.
func (c *Context) enter(next string) error {
	st := c.def.states[next]
	c.state = next
	c.flow.State = next
	if st.end {
		c.env.Ended = true
	}
	for _, h := range st.before {
		if err := h(c); err != nil {
			return fmt.Errorf("before state %q: %w", next, err)
		}
	}
	if len(c.pending) > 0 {
		c.env.Scheduled = append(c.pending, c.env.Scheduled...)
		c.pending = nil
	}
	return nil
}

// back restores the most recent history item; sticky stash keys keep their
// current values.
func (c *Context) back() {
	last := len(c.env.History) - 1
	h := c.env.History[last]
	c.env.History = c.env.History[:last]
	data := maps.Clone(h.Data)
	if data == nil {
		data = make(map[string]json.RawMessage)
	}
	for name := range c.stash.sticky {
		if v, ok := c.stash.data[name]; ok {
			data[name] = v
		} else {
			delete(data, name)
		}
	}
	c.stash.data = data
	c.env.Scheduled = h.Scheduled
	c.env.Payload = mergePayload(h.Payload, c.payload)
	c.env.Render = nil
	c.state = h.State
	c.flow.State = h.State
}

// seal writes the stash and bookkeeping into the flow record.
func (c *Context) seal() error {
	if err := c.stash.Err(); err != nil {
		return err
	}
	if c.err != nil {
		return c.err
	}
	if c.clearHistory {
		c.env.History = nil
	}
	c.env.Data = c.stash.data
	c.env.Sticky = c.env.Sticky[:0]
	for name := range c.stash.sticky {
		c.env.Sticky = append(c.env.Sticky, name)
	}
	sort.Strings(c.env.Sticky)
	raw, err := c.env.encode()
	if err != nil {
		return err
	}
	c.flow.Stash = raw
	return nil
}

// result renders the flow as it now stands. flowErr, when set, is the error
// of this step (with its cause, for the face's log); otherwise a stored error
// of an earlier failed step is shown.
func (c *Context) result(flowErr *core.Error) *Result {
	env := c.env
	res := &Result{
		Flow:    *c.flow,
		State:   c.flow.State,
		Payload: maps.Clone(env.Payload),
		Ended:   env.Ended,
		Stash:   &Stash{data: maps.Clone(c.stash.data), sticky: maps.Clone(c.stash.sticky)},
	}
	if res.Payload == nil {
		res.Payload = make(map[string]json.RawMessage)
	}
	if env.Render != nil {
		res.Error = flowErr
		if res.Error == nil && env.Render.Error != nil {
			res.Error = &core.Error{Code: core.Code(env.Render.Error.Code), Message: env.Render.Error.Message, Field: env.Render.Error.Field}
		}
	}
	if env.Ended {
		return res
	}
	st := c.def.states[c.flow.State]
	for i := range st.actions {
		a := &st.actions[i]
		if a.Suspended != nil && a.Suspended(c) {
			continue
		}
		view := ActionView{Name: a.Name, Description: a.Description, Inputs: make([]InputView, len(a.Inputs))}
		var r *render
		if env.Render != nil && env.Render.Action == a.Name {
			r = env.Render
		}
		for j, in := range a.Inputs {
			iv := InputView{Input: in}
			iv.AllowedValues = slices.Clone(in.AllowedValues)
			if r != nil {
				if v, ok := r.Values[in.Name]; ok {
					iv.Value = v
				}
				for k := range r.InputErrors {
					if r.InputErrors[k].Name == in.Name {
						ie := r.InputErrors[k]
						iv.Error = &ie
						break
					}
				}
			}
			view.Inputs[j] = iv
		}
		res.Actions = append(res.Actions, view)
	}
	return res
}

// ErrorResult renders err in the definition's error state, for a face to
// answer a failed step the way Hanko does (its "error" state). The error is
// err's *core.Error when it has one, otherwise a generic internal error whose
// Cause is err. Nothing is stored.
func (d *Definition) ErrorResult(err error) *Result {
	var ce *core.Error
	if !errors.As(err, &ce) {
		ce = &core.Error{Code: core.CodeInternal, Message: core.ErrorMessage(err), Cause: err}
	}
	return &Result{State: d.errorState, Error: ce, Ended: true, Payload: map[string]json.RawMessage{}, Stash: newStash(nil)}
}

// validateSubmission checks raw against the action's inputs. It returns the
// converted values, per-input errors, and a flow-level error for an unknown
// input key (no unknown key is accepted silently).
func validateSubmission(act *Action, raw map[string]any) (map[string]any, []InputError, *core.Error) {
	var formErr *core.Error
	unknown := make([]string, 0)
	for k := range raw {
		if !slices.ContainsFunc(act.Inputs, func(in Input) bool { return in.Name == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		formErr = &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The input %q is not accepted by this action.", unknown[0]), Field: unknown[0]}
	}
	values := make(map[string]any)
	var inputErrors []InputError
	for i := range act.Inputs {
		in := &act.Inputs[i]
		v, present := raw[in.Name]
		val, ierr := in.validate(v, present)
		if ierr != nil {
			inputErrors = append(inputErrors, *ierr)
			continue
		}
		if val != nil {
			values[in.Name] = val
		}
	}
	return values, inputErrors, formErr
}

// preserved returns the submitted values of the action's inputs marked
// Preserve (never passwords), for showing the state again.
func preserved(act *Action, raw map[string]any) map[string]any {
	var out map[string]any
	for _, in := range act.Inputs {
		if !in.Preserve || in.Type == TypePassword {
			continue
		}
		v, ok := raw[in.Name]
		if !ok || v == nil {
			continue
		}
		if conv, code := in.convert(v); code == "" {
			v = conv
		} else {
			v = generic(v)
		}
		if out == nil {
			out = make(map[string]any)
		}
		out[in.Name] = v
	}
	return out
}

func mergePayload(base, over map[string]json.RawMessage) map[string]json.RawMessage {
	if len(over) == 0 {
		return base
	}
	m := maps.Clone(base)
	if m == nil {
		m = make(map[string]json.RawMessage, len(over))
	}
	maps.Copy(m, over)
	return m
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// token returns a fresh CSRF token of csrfTokenLength characters drawn
// uniformly from tokenAlphabet.
func (e *Engine) token() (string, error) {
	out := make([]byte, 0, csrfTokenLength)
	buf := make([]byte, csrfTokenLength*2)
	limit := byte(256 - 256%len(tokenAlphabet)) // reject bytes that would bias the choice
	for len(out) < csrfTokenLength {
		if _, err := io.ReadFull(e.random, buf); err != nil {
			return "", fmt.Errorf("csrf token: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(out) < csrfTokenLength {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out), nil
}
