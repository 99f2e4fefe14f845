package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/latchkey/latchkey/core"
)

// Stash holds the data a flow carries from step to step (the e-mail address
// entered, the id of the passcode sent, a WebAuthn session …) as one JSON
// document stored with the flow record. It is read and written only through
// typed keys ([Key]).
//
// Writing a value that cannot be encoded as JSON, or reading a stored value
// that does not decode into the key's type, does not return an error at the
// call site: the stash records the first such error and the engine fails the
// step with it (rolling the step back), so call sites stay short and no error
// is lost.
type Stash struct {
	data   map[string]json.RawMessage
	sticky map[string]bool // keys whose values survive a step back
	err    error
}

func newStash(data map[string]json.RawMessage) *Stash {
	if data == nil {
		data = make(map[string]json.RawMessage)
	}
	return &Stash{data: data, sticky: make(map[string]bool)}
}

// Err returns the first encoding or decoding error the stash recorded, or
// nil.
func (s *Stash) Err() error { return s.err }

func (s *Stash) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// clone returns an independent copy of the stash values (raw JSON values are
// never mutated in place, so sharing their bytes is safe).
func (s *Stash) clone() map[string]json.RawMessage { return maps.Clone(s.data) }

// Key is a typed name for a stash value. Declare keys once, as package
// variables next to the flow that uses them:
//
//	var EmailKey = flow.NewKey[string]("email")
//
// Two keys must not share a name.
type Key[T any] struct {
	name   string
	sticky bool
}

// NewKey returns a key for values of type T stored under name. A step back
// (see [ActionContext.Back]) restores the value the key had in the state
// gone back to.
func NewKey[T any](name string) Key[T] { return Key[T]{name: name} }

// NewStickyKey returns a key whose value survives a step back: going back
// keeps the current value instead of restoring the earlier one. Use it for
// counters that must not be reset by navigating, such as passcode attempts.
func NewStickyKey[T any](name string) Key[T] { return Key[T]{name: name, sticky: true} }

// Name returns the name the key stores its value under.
func (k Key[T]) Name() string { return k.name }

// Get returns the value stored under the key and whether there is one. A
// stored value that does not decode into T reports false and is recorded as
// the stash's error (see [Stash]).
func (k Key[T]) Get(s *Stash) (T, bool) {
	var v T
	raw, ok := s.data[k.name]
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		s.fail(fmt.Errorf("stash key %q: decode: %w", k.name, err))
		var zero T
		return zero, false
	}
	return v, true
}

// Set stores v under the key. A value that cannot be encoded as JSON is not
// stored and is recorded as the stash's error (see [Stash]).
func (k Key[T]) Set(s *Stash, v T) {
	raw, err := json.Marshal(v)
	if err != nil {
		s.fail(fmt.Errorf("stash key %q: encode: %w", k.name, err))
		return
	}
	s.data[k.name] = raw
	if k.sticky {
		s.sticky[k.name] = true
	}
}

// Delete removes the key's value, if any.
func (k Key[T]) Delete(s *Stash) {
	delete(s.data, k.name)
	if k.sticky {
		s.sticky[k.name] = true
	}
}

// Raw returns the key's value as stored (its JSON), without decoding it,
// and whether there is one: for a caller that keeps what it decoded from
// the same bytes. The bytes must not be changed.
func (k Key[T]) Raw(s *Stash) (json.RawMessage, bool) {
	raw, ok := s.data[k.name]
	return raw, ok
}

// Has reports whether a value is stored under the key.
func (k Key[T]) Has(s *Stash) bool {
	_, ok := s.data[k.name]
	return ok
}

// envelope is the JSON document stored in core.Flow.Stash: the stash values
// plus the engine's own bookkeeping.
type envelope struct {
	// Def is the name of the definition that started the flow: flows of
	// one kind started by another definition (the other face's login) are
	// not found through this one.
	Def       string                     `json:"def,omitempty"`
	Data      map[string]json.RawMessage `json:"data"`
	Sticky    []string                   `json:"sticky,omitempty"`    // names of sticky keys ever written
	Scheduled []string                   `json:"scheduled,omitempty"` // states to visit next, first is next
	History   []historyItem              `json:"history,omitempty"`   // for back, last is the most recent
	Payload   map[string]json.RawMessage `json:"payload,omitempty"`   // the current state's payload
	Render    *render                    `json:"render,omitempty"`    // errors and kept values of the last failed step
	Ended     bool                       `json:"ended,omitempty"`
}

// historyItem is a state the flow left forward, with what it had then.
type historyItem struct {
	State     string                     `json:"state"`
	Data      map[string]json.RawMessage `json:"data"`
	Scheduled []string                   `json:"scheduled,omitempty"`
	Payload   map[string]json.RawMessage `json:"payload,omitempty"`
}

// render is what is shown again when the current state is rendered after a
// failed step.
type render struct {
	Action      string         `json:"action,omitempty"`
	InputErrors []InputError   `json:"input_errors,omitempty"`
	Values      map[string]any `json:"values,omitempty"` // preserved input values
	Error       *storedError   `json:"error,omitempty"`
}

// storedError is the part of a core.Error that is shown to the client.
type storedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// belongsTo reports whether a stored flow is one of def's: of its kind and,
// when the stash names the definition that started it, started by def.
// Flows stored before the name was recorded are matched by kind alone.
func belongsTo(f *core.Flow, def *Definition) bool {
	if f.Kind != def.kind {
		return false
	}
	owner, ok := stashDef(f.Stash)
	return ok && (owner == "" || owner == def.name)
}

// defPrefix is how an envelope naming its definition starts: encode writes
// Def first.
var defPrefix = []byte(`{"def":"`)

// stashDef returns the definition name an envelope records ("" for none),
// and false when the stash is not a JSON document. An envelope as encode
// writes it is read from its first bytes (a flow is checked on every load,
// and decoding the whole stash for its first field was most of the
// check); anything else (an older flow, a name with escapes) is decoded.
func stashDef(stash []byte) (string, bool) {
	if rest, ok := bytes.CutPrefix(stash, defPrefix); ok {
		if n := bytes.IndexByte(rest, '"'); n >= 0 && bytes.IndexByte(rest[:n], '\\') < 0 {
			return string(rest[:n]), true
		}
	}
	var owner struct {
		Def string `json:"def"`
	}
	if len(stash) > 0 && json.Unmarshal(stash, &owner) != nil {
		return "", false
	}
	return owner.Def, true
}

func decodeEnvelope(raw json.RawMessage) (*envelope, error) {
	env := &envelope{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, env); err != nil {
			return nil, fmt.Errorf("decode flow stash: %w", err)
		}
	}
	if env.Data == nil {
		env.Data = make(map[string]json.RawMessage)
	}
	return env, nil
}

func (env *envelope) encode() (json.RawMessage, error) {
	raw, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode flow stash: %w", err)
	}
	return raw, nil
}

// errNoHistory is returned by a step back with nowhere to go.
var errNoHistory = errors.New("no earlier state to go back to")
