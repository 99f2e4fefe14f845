package flow

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/core"
)

// DefaultTTL is a flow's lifetime when the definition sets none.
const DefaultTTL = time.Hour

// Action is something a client may do in a state. The engine validates the
// submitted input against Inputs before Execute runs.
type Action struct {
	Name        string
	Description string
	Inputs      []Input
	// Suspended, when set and true, hides the action (for example because
	// its method is not configured, or the identity has no such credential):
	// it is not offered and is refused if submitted. It must not write.
	Suspended func(c *Context) bool
	// Targets optionally lists every state Execute may name in
	// ActionContext.Continue. When set, Build checks that they exist and the
	// engine refuses any other; when empty, any state of the definition is
	// allowed.
	Targets []string
	// Execute does the action's work inside the step's transaction and ends
	// with exactly one of ActionContext.Continue, Back or Error. A returned
	// error rolls the whole step back; Submit returns it.
	Execute func(c *ActionContext) error
	// Prepare, when set, runs before the step's transaction with the
	// validated input and a copy of the stash, for slow work such as
	// password hashing; Execute reads its result with
	// ActionContext.Prepared. See PrepareFunc.
	Prepare PrepareFunc
}

// HookFunc runs around states inside the step's transaction. A returned
// error rolls the whole step back; Submit or Start returns it.
type HookFunc func(c *Context) error

type hookKind int

const (
	hookBeforeState hookKind = iota
	hookAfterState
	hookAfterSubFlow
	hookBeforeEachAction
)

// Hook is a hook bound to the point where it runs; make one with
// BeforeState, AfterState, AfterSubFlow or BeforeEachAction.
type Hook struct {
	kind   hookKind
	target string
	fn     HookFunc
}

// BeforeState returns a hook that runs whenever the flow enters state by
// moving forward (at start, or after Continue, also when Continue re-enters
// the current state), before the state is rendered. It typically fills the
// payload or sends something (a passcode) through the store. A step back
// does not run it: the earlier state is shown as it was.
func BeforeState(state string, fn HookFunc) Hook {
	return Hook{kind: hookBeforeState, target: state, fn: fn}
}

// AfterState returns a hook that runs when an action in state continues the
// flow forward, after the action and before the next state is chosen. It
// does not run on a step back or when the state is shown again with an
// error.
func AfterState(state string, fn HookFunc) Hook {
	return Hook{kind: hookAfterState, target: state, fn: fn}
}

// AfterSubFlow returns a hook that runs when the flow leaves the sub-flow
// named subFlow forward, after the AfterState hooks of the state it leaves.
// States it schedules (Context.Schedule) come before the states that were
// already scheduled.
func AfterSubFlow(subFlow string, fn HookFunc) Hook {
	return Hook{kind: hookAfterSubFlow, target: subFlow, fn: fn}
}

// BeforeEachAction returns a hook that runs before every action's Execute,
// after its input was validated.
func BeforeEachAction(fn HookFunc) Hook {
	return Hook{kind: hookBeforeEachAction, fn: fn}
}

// SubFlow is a named group of states, with their hooks, that several
// definitions share (a passcode confirmation used by login, registration
// and profile). A flow enters it by continuing to one of its states,
// usually scheduling where to return
// (ActionContext.Continue("passcode_confirmation", "profile_init")), and the
// sub-flow hands back by continuing without naming a state.
//
// A SubFlow is only a declaration: it is checked and copied by the Build of
// each definition that includes it.
type SubFlow struct {
	name   string
	states []stateDecl
	hooks  []Hook
}

// NewSubFlow starts the declaration of a sub-flow.
func NewSubFlow(name string) *SubFlow { return &SubFlow{name: name} }

// State declares a state of the sub-flow and the actions offered in it.
func (s *SubFlow) State(name string, actions ...Action) *SubFlow {
	s.states = append(s.states, stateDecl{name: name, actions: actions})
	return s
}

// Hook adds BeforeState and AfterState hooks on the sub-flow's own states.
func (s *SubFlow) Hook(hooks ...Hook) *SubFlow {
	s.hooks = append(s.hooks, hooks...)
	return s
}

// Name returns the sub-flow's name.
func (s *SubFlow) Name() string { return s.name }

type stateDecl struct {
	name    string
	actions []Action
	end     bool
}

// Builder declares a flow definition; New returns one and Build checks and
// freezes it.
type Builder struct {
	name       string
	kind       core.FlowKind
	ttl        time.Duration
	states     []stateDecl
	initial    []string
	errorState string
	subFlows   []*SubFlow
	hooks      []Hook
	problems   []error
}

// New starts the declaration of a flow named name. Its kind defaults to
// core.FlowKind(name).
func New(name string) *Builder {
	return &Builder{name: name, kind: core.FlowKind(name)}
}

// Kind sets the kind stored with the definition's flows; a flow is found by
// Submit only through a definition of its kind.
func (b *Builder) Kind(k core.FlowKind) *Builder { b.kind = k; return b }

// TTL sets how long a flow lives after it starts (DefaultTTL when unset).
func (b *Builder) TTL(d time.Duration) *Builder { b.ttl = d; return b }

// State declares a state and the actions offered in it.
func (b *Builder) State(name string, actions ...Action) *Builder {
	b.states = append(b.states, stateDecl{name: name, actions: actions})
	return b
}

// EndState declares states that end the flow when entered (Hanko's
// "success"). They offer no action; their BeforeState hooks still run.
func (b *Builder) EndState(names ...string) *Builder {
	for _, n := range names {
		b.states = append(b.states, stateDecl{name: n, end: true})
	}
	return b
}

// InitialState names the state a flow starts in and, optionally, states
// scheduled to follow it (Hanko's preflight followed by login_init).
func (b *Builder) InitialState(name string, then ...string) *Builder {
	b.initial = append([]string{name}, then...)
	return b
}

// ErrorState declares the end state a face renders when a step fails with
// an internal error (see Definition.ErrorResult).
func (b *Builder) ErrorState(name string) *Builder {
	b.errorState = name
	b.states = append(b.states, stateDecl{name: name, end: true})
	return b
}

// SubFlow includes sub-flows; their states become states of the definition.
func (b *Builder) SubFlow(subs ...*SubFlow) *Builder {
	b.subFlows = append(b.subFlows, subs...)
	return b
}

// Hook adds hooks of any kind to the definition.
func (b *Builder) Hook(hooks ...Hook) *Builder {
	b.hooks = append(b.hooks, hooks...)
	return b
}

// Build checks the declaration once and returns the immutable definition.
// It returns one error listing every problem: a state, action, input or
// sub-flow declared twice, a reference (initial, scheduled, hook, action
// target) to a state or sub-flow that does not exist, an insane input
// declaration, an action without Execute, a missing initial state or a
// non-positive TTL.
func (b *Builder) Build() (*Definition, error) {
	d := &Definition{
		name:       b.name,
		kind:       b.kind,
		ttl:        b.ttl,
		initial:    slices.Clone(b.initial),
		errorState: b.errorState,
		states:     make(map[string]*state),
		afterSub:   make(map[string][]HookFunc),
	}
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if b.name == "" {
		bad("flow without a name")
	}
	if d.ttl == 0 {
		d.ttl = DefaultTTL
	}
	if d.ttl < 0 {
		bad("negative TTL %s", d.ttl)
	}

	add := func(sub string, decl stateDecl) {
		where := "state"
		if sub != "" {
			where = fmt.Sprintf("sub-flow %q: state", sub)
		}
		if decl.name == "" {
			bad("%s without a name", where)
			return
		}
		if _, dup := d.states[decl.name]; dup {
			bad("state %q declared twice", decl.name)
			return
		}
		st := &state{name: decl.name, subFlow: sub, end: decl.end, actionIndex: make(map[string]int)}
		for _, a := range decl.actions {
			if problem := checkAction(&a); problem != nil {
				bad("state %q: %w", decl.name, problem)
				continue
			}
			if _, dup := st.actionIndex[a.Name]; dup {
				bad("state %q: action %q declared twice", decl.name, a.Name)
				continue
			}
			a.Inputs = slices.Clone(a.Inputs)
			a.Targets = slices.Clone(a.Targets)
			st.actionIndex[a.Name] = len(st.actions)
			st.actions = append(st.actions, a)
		}
		d.states[decl.name] = st
		d.order = append(d.order, decl.name)
	}
	for _, decl := range b.states {
		add("", decl)
	}
	subNames := make(map[string]bool)
	for _, sf := range b.subFlows {
		if sf == nil {
			bad("nil sub-flow")
			continue
		}
		if sf.name == "" {
			bad("sub-flow without a name")
			continue
		}
		if subNames[sf.name] {
			bad("sub-flow %q included twice", sf.name)
			continue
		}
		subNames[sf.name] = true
		for _, decl := range sf.states {
			add(sf.name, decl)
		}
	}

	// Hooks: the sub-flows' own first, then the definition's, each in
	// declaration order.
	attach := func(owner string, h Hook, allowed func(*state) bool) {
		if h.fn == nil {
			bad("%s: hook without a function", owner)
			return
		}
		switch h.kind {
		case hookBeforeState, hookAfterState:
			st, ok := d.states[h.target]
			if !ok || !allowed(st) {
				bad("%s: hook on unknown state %q", owner, h.target)
				return
			}
			if h.kind == hookBeforeState {
				st.before = append(st.before, h.fn)
			} else {
				st.after = append(st.after, h.fn)
			}
		case hookAfterSubFlow:
			if !subNames[h.target] {
				bad("%s: hook after unknown sub-flow %q", owner, h.target)
				return
			}
			d.afterSub[h.target] = append(d.afterSub[h.target], h.fn)
		case hookBeforeEachAction:
			d.beforeEach = append(d.beforeEach, h.fn)
		}
	}
	for _, sf := range b.subFlows {
		if sf == nil {
			continue
		}
		owner := fmt.Sprintf("sub-flow %q", sf.name)
		for _, h := range sf.hooks {
			if h.kind != hookBeforeState && h.kind != hookAfterState {
				bad("%s: only BeforeState and AfterState hooks belong to a sub-flow", owner)
				continue
			}
			attach(owner, h, func(st *state) bool { return st.subFlow == sf.name })
		}
	}
	for _, h := range b.hooks {
		attach("flow", h, func(*state) bool { return true })
	}

	if len(d.initial) == 0 {
		bad("no initial state")
	}
	for _, name := range d.initial {
		if _, ok := d.states[name]; !ok {
			bad("initial state %q does not exist", name)
		}
	}
	for _, name := range d.order {
		for _, a := range d.states[name].actions {
			for _, t := range a.Targets {
				if _, ok := d.states[t]; !ok {
					bad("state %q: action %q targets unknown state %q", name, a.Name, t)
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("flow %q: %w", b.name, errors.Join(problems...))
	}
	return d, nil
}

func checkAction(a *Action) error {
	if a.Name == "" {
		return errors.New("action without a name")
	}
	if a.Execute == nil {
		return fmt.Errorf("action %q: no Execute", a.Name)
	}
	seen := make(map[string]bool)
	var problems []error
	for i := range a.Inputs {
		in := &a.Inputs[i]
		if err := in.check(); err != nil {
			problems = append(problems, err)
			continue
		}
		if seen[in.Name] {
			problems = append(problems, fmt.Errorf("input %q declared twice", in.Name))
		}
		seen[in.Name] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("action %q: %w", a.Name, errors.Join(problems...))
	}
	return nil
}

// Definition is a built flow: immutable, checked, shared by every request.
type Definition struct {
	name       string
	kind       core.FlowKind
	ttl        time.Duration
	initial    []string
	errorState string
	states     map[string]*state
	order      []string
	afterSub   map[string][]HookFunc
	beforeEach []HookFunc
}

type state struct {
	name        string
	subFlow     string // "" for the definition's own states
	end         bool
	actions     []Action
	actionIndex map[string]int
	before      []HookFunc
	after       []HookFunc
}

func (s *state) action(name string) (*Action, bool) {
	i, ok := s.actionIndex[name]
	if !ok {
		return nil, false
	}
	return &s.actions[i], true
}

// Name returns the flow's name.
func (d *Definition) Name() string { return d.name }

// Kind returns the kind stored with the definition's flows.
func (d *Definition) Kind() core.FlowKind { return d.kind }

// TTL returns a flow's lifetime.
func (d *Definition) TTL() time.Duration { return d.ttl }

// InitialState returns the state a flow starts in.
func (d *Definition) InitialState() string { return d.initial[0] }

// ErrorState returns the error state's name, or "" when none is declared.
func (d *Definition) ErrorState() string { return d.errorState }

// States returns the names of all states in declaration order (the
// definition's own, then each sub-flow's).
func (d *Definition) States() []string { return slices.Clone(d.order) }

// HasState reports whether the definition has the state.
func (d *Definition) HasState(name string) bool {
	_, ok := d.states[name]
	return ok
}

// Actions returns the names of the actions declared in state, suspended or
// not, in declaration order; nil for an unknown state.
func (d *Definition) Actions(stateName string) []string {
	st, ok := d.states[stateName]
	if !ok {
		return nil
	}
	names := make([]string, len(st.actions))
	for i, a := range st.actions {
		names[i] = a.Name
	}
	return names
}
