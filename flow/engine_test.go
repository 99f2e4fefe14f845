package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// Typed stash keys of the test flow.
var (
	emailKey    = flow.NewKey[string]("email")
	attemptsKey = flow.NewStickyKey[int]("passcode_attempts")
	profileKey  = flow.NewKey[profile]("profile")
	wrongKey    = flow.NewKey[int]("email") // same name as emailKey, other type
)

type profile struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// clock is an injectable clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedReader makes a deterministic random source safe for goroutines.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// recorder collects the order in which hooks and actions ran.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

const testTTL = 10 * time.Minute

// loginFlow builds the test flow: preflight → login_init → passcode
// sub-flow → password → success.
func loginFlow(t *testing.T, rec *recorder) *flow.Definition {
	t.Helper()
	hook := func(name string) flow.HookFunc {
		return func(c *flow.Context) error { rec.add(name); return nil }
	}
	passcode := flow.NewSubFlow("passcode").
		State("passcode_confirmation",
			flow.Action{
				Name:   "verify_passcode",
				Inputs: []flow.Input{{Name: "code", Type: flow.TypeString, Required: true, MinLength: 6, MaxLength: 6}},
				Execute: func(c *flow.ActionContext) error {
					rec.add("exec:verify_passcode")
					if c.String("code") != "123456" {
						n, _ := attemptsKey.Get(c.Stash())
						attemptsKey.Set(c.Stash(), n+1)
						return c.Error(&flow.InputError{Name: "code", Code: "passcode_invalid", Message: "The passcode is invalid."})
					}
					return c.Continue()
				},
			},
			flow.BackAction("back", "Go back."),
		).
		Hook(flow.BeforeState("passcode_confirmation", func(c *flow.Context) error {
			rec.add("before:passcode_confirmation")
			email, _ := emailKey.Get(c.Stash())
			c.SetPayload("sent_to", email)
			return nil
		}))

	def, err := flow.New("login").
		TTL(testTTL).
		State("preflight", flow.Action{
			Name:    "register_client_capabilities",
			Inputs:  []flow.Input{{Name: "webauthn_available", Type: flow.TypeBoolean, Required: true}},
			Execute: func(c *flow.ActionContext) error { rec.add("exec:register_client_capabilities"); return c.Continue() },
		}).
		State("login_init",
			flow.Action{
				Name:    "continue_with_email",
				Inputs:  []flow.Input{{Name: "email", Type: flow.TypeEmail, Required: true, Preserve: true, TrimSpace: true, LowerCase: true}},
				Targets: []string{"passcode_confirmation", "password"},
				Execute: func(c *flow.ActionContext) error {
					rec.add("exec:continue_with_email")
					if c.String("email") == "taken@example.com" {
						return c.Error(&flow.InputError{Name: "email", Code: "email_already_exists", Message: "The e-mail is taken."})
					}
					emailKey.Set(c.Stash(), c.String("email"))
					return c.Continue("passcode_confirmation", "password")
				},
			},
			flow.Action{
				Name:      "thirdparty_oauth",
				Suspended: func(*flow.Context) bool { return true }, // provider not configured
				Execute:   func(c *flow.ActionContext) error { return c.Continue("success") },
			},
			flow.Action{
				Name:   "queue_message",
				Inputs: []flow.Input{{Name: "fail", Type: flow.TypeBoolean}},
				Execute: func(c *flow.ActionContext) error {
					m := &core.Message{ID: "0b4b2f2a-3a6e-4d8e-9a55-5b0f1f6d3c01", Channel: core.ChannelEmail, Recipient: "a@example.com",
						Subject: "code", Body: "123456", TemplateType: "login_code", Status: core.MessageQueued, NextAttempt: c.Now(),
						CreatedAt: c.Now(), UpdatedAt: c.Now()}
					if err := c.Tx().CreateMessage(c.Context(), m); err != nil {
						return fmt.Errorf("queue message: %w", err)
					}
					emailKey.Set(c.Stash(), "queued@example.com")
					if c.Bool("fail") {
						return errors.New("the mail template exploded")
					}
					return c.Continue("password")
				},
			},
			flow.Action{
				Name: "store_profile",
				Execute: func(c *flow.ActionContext) error {
					profileKey.Set(c.Stash(), profile{Name: "Ada", Roles: []string{"admin", "dev"}})
					emailKey.Set(c.Stash(), "ada@example.com")
					return c.Continue("login_init")
				},
			},
			flow.Action{
				Name: "read_wrong_type",
				Execute: func(c *flow.ActionContext) error {
					wrongKey.Get(c.Stash()) // the stored e-mail is a string, not an int
					return c.Continue("login_init")
				},
			},
			flow.Action{
				Name:    "no_outcome",
				Execute: func(c *flow.ActionContext) error { return nil },
			},
		).
		State("password",
			flow.Action{
				Name:   "password_login",
				Inputs: []flow.Input{{Name: "password", Type: flow.TypePassword, Required: true, MinLength: 8, Preserve: true}},
				Execute: func(c *flow.ActionContext) error {
					rec.add("exec:password_login")
					if c.String("password") != "correct horse" {
						return c.Error(&flow.InputError{Name: "password", Code: flow.CodeValueInvalid, Message: "wrong"})
					}
					c.ClearHistory()
					return c.Continue("success")
				},
			},
			flow.BackAction("back", "Go back."),
		).
		EndState("success").
		InitialState("preflight", "login_init").
		ErrorState("error").
		SubFlow(passcode).
		Hook(
			flow.BeforeEachAction(hook("each")),
			flow.AfterState("login_init", hook("after:login_init")),
			flow.AfterState("passcode_confirmation", hook("after:passcode_confirmation")),
			flow.AfterSubFlow("passcode", hook("after_sub:passcode")),
			flow.BeforeState("login_init", hook("before:login_init")),
			flow.BeforeState("password", hook("before:password")),
			flow.BeforeState("success", func(c *flow.Context) error {
				rec.add("before:success")
				c.SetPayload("user", map[string]string{"email": "a@example.com"})
				return nil
			}),
		).
		Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return def
}

type harness struct {
	t     *testing.T
	store store.Store
	clock *clock
	eng   *flow.Engine
	def   *flow.Definition
	rec   *recorder
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := storetest.SQLite(t)
	return newHarnessOn(t, s, s)
}

func newHarnessOn(t *testing.T, s store.Store, engineStore flow.Store) *harness {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	rnd := &lockedReader{r: rand.NewChaCha8([32]byte{1, 2, 3})}
	rec := &recorder{}
	return &harness{t: t, store: s, clock: clk, eng: flow.NewEngine(engineStore, clk.Now, rnd), def: loginFlow(t, rec), rec: rec}
}

func (h *harness) start() *flow.Result {
	h.t.Helper()
	res, err := h.eng.Start(context.Background(), h.def, flow.Init{Face: "hanko"})
	if err != nil {
		h.t.Fatalf("start: %v", err)
	}
	return res
}

func (h *harness) submit(res *flow.Result, action, input string) (*flow.Result, error) {
	h.t.Helper()
	return h.eng.Submit(context.Background(), h.def, flow.Submission{
		FlowID: res.Flow.ID, Action: action, CSRFToken: res.Flow.CSRFToken, Input: json.RawMessage(input),
	})
}

func (h *harness) must(res *flow.Result, action, input string) *flow.Result {
	h.t.Helper()
	next, err := h.submit(res, action, input)
	if err != nil {
		h.t.Fatalf("submit %s: %v", action, err)
	}
	return next
}

// toPasscode walks a fresh flow to passcode_confirmation.
func (h *harness) toPasscode() *flow.Result {
	h.t.Helper()
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":false}`)
	return h.must(res, "continue_with_email", `{"email":" A@Example.com "}`)
}

func actionNames(res *flow.Result) []string {
	var names []string
	for _, a := range res.Actions {
		names = append(names, a.Name)
	}
	return names
}

func inputView(t *testing.T, res *flow.Result, action, input string) flow.InputView {
	t.Helper()
	for _, a := range res.Actions {
		if a.Name != action {
			continue
		}
		for _, in := range a.Inputs {
			if in.Name == input {
				return in
			}
		}
	}
	t.Fatalf("input %s.%s not rendered; actions %v", action, input, actionNames(res))
	return flow.InputView{}
}

func TestStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.start()
	if res.State != "preflight" || res.Ended || res.Error != nil {
		t.Fatalf("state %q ended %v error %v", res.State, res.Ended, res.Error)
	}
	if got := actionNames(res); !slices.Equal(got, []string{"register_client_capabilities"}) {
		t.Fatalf("actions = %v", got)
	}
	if len(res.Flow.CSRFToken) != 32 {
		t.Fatalf("csrf token %q, want 32 characters", res.Flow.CSRFToken)
	}
	if want := h.clock.Now().Add(testTTL); !res.Flow.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %s, want %s", res.Flow.ExpiresAt, want)
	}
	stored, err := h.store.GetFlow(context.Background(), res.Flow.ID)
	if err != nil {
		t.Fatalf("stored flow: %v", err)
	}
	if stored.Kind != core.FlowLogin || stored.Face != "hanko" || stored.State != "preflight" || stored.CSRFToken != res.Flow.CSRFToken {
		t.Fatalf("stored flow = %+v", stored)
	}
}

func TestWalkThroughWithHooksAndSubFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.start()
	if got := h.rec.take(); len(got) != 0 {
		t.Fatalf("start ran %v, want no hooks (preflight has none)", got)
	}

	steps := []struct {
		action, input string
		state         string
		calls         []string
	}{
		{
			action: "register_client_capabilities", input: `{"webauthn_available":true}`, state: "login_init",
			calls: []string{"each", "exec:register_client_capabilities", "before:login_init"},
		},
		{
			// Entering the sub-flow: AfterState of the state left, then the
			// sub-flow state's BeforeState hook.
			action: "continue_with_email", input: `{"email":"a@example.com"}`, state: "passcode_confirmation",
			calls: []string{"each", "exec:continue_with_email", "after:login_init", "before:passcode_confirmation"},
		},
		{
			// Leaving the sub-flow by continuing without a state: the
			// scheduled "password" is next, AfterSubFlow runs after AfterState.
			action: "verify_passcode", input: `{"code":"123456"}`, state: "password",
			calls: []string{"each", "exec:verify_passcode", "after:passcode_confirmation", "after_sub:passcode", "before:password"},
		},
		{
			action: "password_login", input: `{"password":"correct horse"}`, state: "success",
			calls: []string{"each", "exec:password_login", "before:success"},
		},
	}
	for _, st := range steps {
		prev := res
		res = h.must(res, st.action, st.input)
		if res.State != st.state {
			t.Fatalf("%s: state %q, want %q", st.action, res.State, st.state)
		}
		if res.Flow.CSRFToken == prev.Flow.CSRFToken {
			t.Fatalf("%s: CSRF token not rotated", st.action)
		}
		if res.Flow.Version != prev.Flow.Version+1 {
			t.Fatalf("%s: version %d after %d", st.action, res.Flow.Version, prev.Flow.Version)
		}
		if got := h.rec.take(); !slices.Equal(got, st.calls) {
			t.Fatalf("%s: calls %v, want %v", st.action, got, st.calls)
		}
		if st.state == "passcode_confirmation" && string(res.Payload["sent_to"]) != `"a@example.com"` {
			t.Fatalf("payload = %s", res.Payload)
		}
	}
	if !res.Ended || len(res.Actions) != 0 {
		t.Fatalf("success: ended %v actions %v", res.Ended, actionNames(res))
	}
	if string(res.Payload["user"]) != `{"email":"a@example.com"}` {
		t.Fatalf("success payload = %s", res.Payload["user"])
	}
	if _, err := h.submit(res, "password_login", `{"password":"correct horse"}`); !errors.Is(err, flow.ErrEnded) {
		t.Fatalf("submit after end: %v, want ErrEnded", err)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.start()
	second := h.must(first, "register_client_capabilities", `{"webauthn_available":true}`)

	tests := []struct {
		name  string
		token string
	}{
		{name: "previous token", token: first.Flow.CSRFToken},
		{name: "empty token", token: ""},
		{name: "prefix of the token", token: second.Flow.CSRFToken[:31]},
		{name: "other token", token: strings.Repeat("a", 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.eng.Submit(context.Background(), h.def, flow.Submission{
				FlowID: second.Flow.ID, Action: "continue_with_email", CSRFToken: tt.token, Input: json.RawMessage(`{"email":"a@example.com"}`),
			})
			if !errors.Is(err, flow.ErrCSRF) || core.ErrorCode(err) != core.CodeForbidden {
				t.Fatalf("err = %v, want ErrCSRF (forbidden)", err)
			}
		})
	}
	stored, err := h.store.GetFlow(context.Background(), second.Flow.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != second.Flow.Version || stored.State != "login_init" || stored.CSRFToken != second.Flow.CSRFToken {
		t.Fatalf("a refused submission changed the flow: %+v", stored)
	}
	if _, err := h.submit(second, "continue_with_email", `{"email":"a@example.com"}`); err != nil {
		t.Fatalf("current token refused: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.start()
	h.clock.Advance(testTTL - time.Second)
	res = h.must(res, "register_client_capabilities", `{"webauthn_available":true}`)
	h.clock.Advance(time.Second)
	if _, err := h.submit(res, "continue_with_email", `{"email":"a@example.com"}`); !errors.Is(err, flow.ErrExpired) || core.ErrorCode(err) != core.CodeExpired {
		t.Fatalf("submit: %v, want ErrExpired", err)
	}
	if _, err := h.eng.Fetch(context.Background(), h.def, res.Flow.ID); !errors.Is(err, flow.ErrExpired) {
		t.Fatalf("fetch: %v, want ErrExpired", err)
	}
}

// TestNotFound runs on every configured backend: ids that are not flow ids
// (NUL bytes, invalid UTF-8) must be not found, never a database error.
func TestNotFound(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			notFound(t, newHarnessOn(t, s, s))
		})
	}
}

func notFound(t *testing.T, h *harness) {
	res := h.start()
	other, err := flow.New("registration").State("registration_init").InitialState("registration_init").Build()
	if err != nil {
		t.Fatal(err)
	}
	// The other face's definition of the same kind (Kratos' login next to
	// Hanko's): its flows are not this definition's, whatever their state.
	sameKind, err := flow.New("kratos_login").Kind(core.FlowLogin).State("choose_method").InitialState("choose_method").Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		def  *flow.Definition
		id   string
	}{
		{name: "unknown id", def: h.def, id: "6f1c3c36-6a43-4b57-a3e5-0c1b2d1e6f00"},
		{name: "other kind", def: other, id: res.Flow.ID},
		{name: "same kind, other definition", def: sameKind, id: res.Flow.ID},
		{name: "NUL", def: h.def, id: "a\x00b"},
		{name: "invalid UTF-8", def: h.def, id: "a\xffb"},
		{name: "not canonical", def: h.def, id: strings.ToUpper(res.Flow.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.eng.Submit(context.Background(), tt.def, flow.Submission{FlowID: tt.id, Action: "register_client_capabilities", CSRFToken: res.Flow.CSRFToken})
			if !errors.Is(err, flow.ErrNotFound) {
				t.Fatalf("submit: err = %v, want ErrNotFound", err)
			}
			if _, err := h.eng.Fetch(context.Background(), tt.def, tt.id); !errors.Is(err, flow.ErrNotFound) {
				t.Fatalf("fetch: err = %v, want ErrNotFound", err)
			}
			if _, err := h.eng.Peek(context.Background(), tt.def, tt.id); !errors.Is(err, flow.ErrNotFound) {
				t.Fatalf("peek: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestInputValidationInEngine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		input     string
		inputCode string // expected error on the email input, "" for none
		field     string // expected flow-level error field
		value     any    // expected rendered value of the email input
	}{
		{name: "missing", input: `{}`, inputCode: flow.CodeValueMissing},
		{name: "null", input: `{"email":null}`, inputCode: flow.CodeValueMissing},
		{name: "wrong type", input: `{"email":42}`, inputCode: flow.CodeValueInvalid, value: json.Number("42")},
		{name: "not an address preserved", input: `{"email":"nobody"}`, inputCode: flow.CodeValueInvalid, value: "nobody"},
		{name: "unknown key", input: `{"email":"a@example.com","admin":true}`, field: "admin", value: "a@example.com"},
		{name: "error from the action", input: `{"email":"taken@example.com"}`, inputCode: "email_already_exists", value: "taken@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
			h.rec.take()
			got := h.must(res, "continue_with_email", tt.input)
			if got.State != "login_init" {
				t.Fatalf("state %q, want login_init again", got.State)
			}
			if got.Error == nil || got.Error.Code != core.CodeInvalid {
				t.Fatalf("flow error = %v, want code invalid", got.Error)
			}
			if got.Error.Field != tt.field {
				t.Fatalf("flow error field %q, want %q", got.Error.Field, tt.field)
			}
			if got.Flow.CSRFToken == res.Flow.CSRFToken {
				t.Fatal("CSRF token not rotated on a failed step")
			}
			in := inputView(t, got, "continue_with_email", "email")
			switch {
			case tt.inputCode == "" && in.Error != nil:
				t.Fatalf("input error %v, want none", in.Error)
			case tt.inputCode != "" && (in.Error == nil || in.Error.Code != tt.inputCode):
				t.Fatalf("input error %v, want %s", in.Error, tt.inputCode)
			}
			if fmt.Sprint(in.Value) != fmt.Sprint(tt.value) {
				t.Fatalf("rendered value %#v, want %#v", in.Value, tt.value)
			}
			calls := h.rec.take()
			ranAction := slices.Contains(calls, "exec:continue_with_email")
			if wantRan := tt.name == "error from the action"; ranAction != wantRan {
				t.Fatalf("action ran = %v (calls %v), want %v", ranAction, calls, wantRan)
			}
			// A fetch shows the same errors again.
			fetched, err := h.eng.Fetch(context.Background(), h.def, got.Flow.ID)
			if err != nil {
				t.Fatal(err)
			}
			if fetched.Error == nil || fetched.Error.Code != got.Error.Code || fetched.Error.Message != got.Error.Message {
				t.Fatalf("fetched error %v, want %v", fetched.Error, got.Error)
			}
			if fin := inputView(t, fetched, "continue_with_email", "email"); (fin.Error == nil) != (in.Error == nil) {
				t.Fatalf("fetched input error %v, want %v", fin.Error, in.Error)
			}
			// A correct submission then proceeds and clears the errors.
			ok := h.must(got, "continue_with_email", `{"email":"a@example.com"}`)
			if ok.State != "passcode_confirmation" || ok.Error != nil {
				t.Fatalf("after fix: state %q error %v", ok.State, ok.Error)
			}
		})
	}
}

func TestPasswordsAreNeverPreserved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.toPasscode(), "verify_passcode", `{"code":"123456"}`)
	got := h.must(res, "password_login", `{"password":"wrong password"}`)
	in := inputView(t, got, "password_login", "password")
	if in.Error == nil || in.Error.Code != flow.CodeValueInvalid {
		t.Fatalf("input error %v", in.Error)
	}
	if in.Value != nil {
		t.Fatalf("password rendered back: %v", in.Value)
	}
	if strings.Contains(string(got.Flow.Stash), "wrong password") {
		t.Fatal("password stored in the flow")
	}
}

func TestMalformedInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.start()
	_, err := h.submit(res, "register_client_capabilities", `[true]`)
	if !errors.Is(err, flow.ErrMalformedInput) || core.ErrorCode(err) != core.CodeInvalid {
		t.Fatalf("err = %v, want ErrMalformedInput", err)
	}
	if _, err := h.submit(res, "register_client_capabilities", `{"webauthn_available":"true"}`); err != nil {
		t.Fatalf("flow changed by a malformed submission: %v", err)
	}
}

func TestSuspendedAndUnknownActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	if slices.Contains(actionNames(res), "thirdparty_oauth") {
		t.Fatalf("suspended action offered: %v", actionNames(res))
	}
	for _, action := range []string{"thirdparty_oauth", "verify_passcode", "no_such_action"} {
		t.Run(action, func(t *testing.T) {
			_, err := h.submit(res, action, `{}`)
			if !errors.Is(err, flow.ErrActionNotAllowed) {
				t.Fatalf("err = %v, want ErrActionNotAllowed", err)
			}
		})
	}
	if _, err := h.submit(res, "continue_with_email", `{"email":"a@example.com"}`); err != nil {
		t.Fatalf("a refused action changed the flow: %v", err)
	}
}

func TestBackAndHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	if slices.Contains(actionNames(res), "back") {
		t.Fatal("back offered in a state without one")
	}
	res = h.must(res, "continue_with_email", `{"email":"first@example.com"}`)
	if !slices.Contains(actionNames(res), "back") {
		t.Fatalf("back not offered: %v", actionNames(res))
	}
	// One wrong passcode: the sticky attempt counter must survive going back.
	res = h.must(res, "verify_passcode", `{"code":"000000"}`)
	if n, _ := attemptsKey.Get(res.Stash); n != 1 {
		t.Fatalf("attempts = %d", n)
	}
	h.rec.take()
	res = h.must(res, "back", `{}`)
	if res.State != "login_init" || res.Error != nil {
		t.Fatalf("back: state %q error %v", res.State, res.Error)
	}
	if got := h.rec.take(); !slices.Equal(got, []string{"each"}) {
		t.Fatalf("back ran %v, want only BeforeEachAction (no state hooks)", got)
	}
	if _, ok := emailKey.Get(res.Stash); ok {
		t.Fatal("e-mail entered after login_init survived going back to it")
	}
	if n, _ := attemptsKey.Get(res.Stash); n != 1 {
		t.Fatalf("sticky attempts after back = %d, want 1", n)
	}
	// Forward again: the schedule was restored too, so the sub-flow hands
	// back to password, once.
	res = h.must(res, "continue_with_email", `{"email":"second@example.com"}`)
	if string(res.Payload["sent_to"]) != `"second@example.com"` {
		t.Fatalf("payload %s", res.Payload["sent_to"])
	}
	res = h.must(res, "verify_passcode", `{"code":"123456"}`)
	if res.State != "password" {
		t.Fatalf("state %q, want password", res.State)
	}
	// Back from password returns to the passcode state with its payload.
	back := h.must(res, "back", `{}`)
	if back.State != "passcode_confirmation" || string(back.Payload["sent_to"]) != `"second@example.com"` {
		t.Fatalf("back to %q with payload %s", back.State, back.Payload)
	}
	res = h.must(back, "verify_passcode", `{"code":"123456"}`)
	if res.State != "password" {
		t.Fatalf("state %q, want password", res.State)
	}
	if sched := scheduled(t, res); len(sched) != 0 {
		t.Fatalf("schedule %v after returning, want empty", sched)
	}
	// A wrong password re-renders without touching history; back still works.
	res = h.must(res, "password_login", `{"password":"incorrect!"}`)
	if !slices.Contains(actionNames(res), "back") {
		t.Fatal("back lost after an error")
	}
	// ClearHistory on success: the end state has no back either way, but the
	// stored history is empty.
	res = h.must(res, "password_login", `{"password":"correct horse"}`)
	if strings.Contains(string(res.Flow.Stash), `"history"`) {
		t.Fatalf("history kept after ClearHistory: %s", res.Flow.Stash)
	}
}

func scheduled(t *testing.T, res *flow.Result) []string {
	t.Helper()
	var env struct {
		Scheduled []string `json:"scheduled"`
	}
	if err := json.Unmarshal(res.Flow.Stash, &env); err != nil {
		t.Fatal(err)
	}
	return env.Scheduled
}

func TestStashRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	res = h.must(res, "store_profile", `{}`)
	fetched, err := h.eng.Fetch(context.Background(), h.def, res.Flow.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := profileKey.Get(fetched.Stash)
	if !ok || p.Name != "Ada" || !slices.Equal(p.Roles, []string{"admin", "dev"}) {
		t.Fatalf("profile = %+v, %v", p, ok)
	}
	if email, ok := emailKey.Get(fetched.Stash); !ok || email != "ada@example.com" {
		t.Fatalf("email = %q, %v", email, ok)
	}
	if _, ok := attemptsKey.Get(fetched.Stash); ok {
		t.Fatal("unset key reported as set")
	}
	emailKey.Set(fetched.Stash, "changed@example.com") // a Result's stash is a copy
	again, err := h.eng.Fetch(context.Background(), h.def, res.Flow.ID)
	if err != nil {
		t.Fatal(err)
	}
	if email, _ := emailKey.Get(again.Stash); email != "ada@example.com" {
		t.Fatalf("writing to a result's stash changed the flow: %q", email)
	}

	// A stored value that does not decode into the key's type fails the step.
	_, err = h.submit(res, "read_wrong_type", `{}`)
	if err == nil || !strings.Contains(err.Error(), `stash key "email": decode`) {
		t.Fatalf("err = %v, want a stash decode error", err)
	}
	if _, err := h.submit(res, "store_profile", `{}`); err != nil {
		t.Fatalf("failed step changed the flow: %v", err)
	}
}

func TestActionWithoutOutcomeFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	_, err := h.submit(res, "no_outcome", `{}`)
	if !errors.Is(err, flow.ErrDiscontinuity) {
		t.Fatalf("err = %v, want ErrDiscontinuity", err)
	}
	if _, err := h.submit(res, "continue_with_email", `{"email":"a@example.com"}`); err != nil {
		t.Fatalf("failed step changed the flow: %v", err)
	}
}

func TestTransactionalSideEffects(t *testing.T) {
	t.Parallel()
	sideEffects(t, storetest.SQLite)
}

// TestOnEveryBackend repeats the tests that depend on the database's
// transactions and locking on every configured backend.
func TestOnEveryBackend(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		if name == "sqlite" {
			continue // the other tests cover it
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("race", func(t *testing.T) { raceOneStep(t, open(t)) })
			t.Run("side effects", func(t *testing.T) { sideEffects(t, open) })
			t.Run("walk and back", func(t *testing.T) {
				s := open(t)
				h := newHarnessOn(t, s, s)
				res := h.must(h.toPasscode(), "verify_passcode", `{"code":"000000"}`)
				res = h.must(res, "back", `{}`)
				res = h.must(res, "continue_with_email", `{"email":"a@example.com"}`)
				res = h.must(res, "verify_passcode", `{"code":"123456"}`)
				res = h.must(res, "password_login", `{"password":"correct horse"}`)
				if !res.Ended || res.State != "success" {
					t.Fatalf("state %q ended %v", res.State, res.Ended)
				}
				if n, _ := attemptsKey.Get(res.Stash); n != 1 {
					t.Fatalf("attempts %d", n)
				}
			})
		})
	}
}

// sideEffects checks that a message queued by an action commits with the
// flow update, and rolls back with it when the action fails.
func sideEffects(t *testing.T, open func(testing.TB) store.Store) {
	ctx := context.Background()
	tests := []struct {
		name     string
		input    string
		wantErr  bool
		messages int
	}{
		{name: "commit together", input: `{}`, messages: 1},
		{name: "roll back together", input: `{"fail":true}`, wantErr: true, messages: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			h := newHarnessOn(t, s, s)
			res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
			got, err := h.submit(res, "queue_message", tt.input)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			msgs, lerr := h.store.ListMessages(ctx, store.MessageQuery{})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(msgs) != tt.messages {
				t.Fatalf("%d messages stored, want %d", len(msgs), tt.messages)
			}
			stored, gerr := h.store.GetFlow(ctx, res.Flow.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tt.wantErr {
				if stored.Version != res.Flow.Version || stored.State != "login_init" || stored.CSRFToken != res.Flow.CSRFToken || strings.Contains(string(stored.Stash), "queued@") {
					t.Fatalf("failed step persisted: %+v", stored)
				}
				if !strings.Contains(err.Error(), "the mail template exploded") {
					t.Fatalf("cause lost: %v", err)
				}
				return
			}
			if stored.State != "password" || stored.Version != got.Flow.Version {
				t.Fatalf("stored flow %+v", stored)
			}
		})
	}
}

// barrierStore holds every outside GetFlow until n callers arrived, so n
// submissions of the same step all read the same version before any writes.
type barrierStore struct {
	store.Store
	wg *sync.WaitGroup
}

func (b barrierStore) GetFlow(ctx context.Context, id string) (*core.Flow, error) {
	f, err := b.Store.GetFlow(ctx, id)
	b.wg.Done()
	b.wg.Wait()
	return f, err
}

func TestConcurrentSubmissionsOneWins(t *testing.T) {
	t.Parallel()
	raceOneStep(t, storetest.SQLite(t))
}

// raceOneStep lets two submissions of the same step read the same version
// before either writes: exactly one wins, the other gets ErrConflict.
func raceOneStep(t *testing.T, s store.Store) {
	const n = 2
	setup := newHarnessOn(t, s, s)
	res := setup.must(setup.start(), "register_client_capabilities", `{"webauthn_available":true}`)

	var wg sync.WaitGroup
	wg.Add(n)
	racing := flow.NewEngine(barrierStore{Store: s, wg: &wg}, setup.clock.Now, &lockedReader{r: rand.NewChaCha8([32]byte{9})})
	errs := make([]error, n)
	var done sync.WaitGroup
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			_, errs[i] = racing.Submit(context.Background(), setup.def, flow.Submission{
				FlowID: res.Flow.ID, Action: "continue_with_email", CSRFToken: res.Flow.CSRFToken,
				Input: json.RawMessage(fmt.Sprintf(`{"email":"racer%d@example.com"}`, i)),
			})
		}()
	}
	done.Wait()
	var wins, conflicts int
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, flow.ErrConflict) && core.ErrorCode(err) == core.CodeConflict:
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("%d wins, %d conflicts; want 1 and %d", wins, conflicts, n-1)
	}
	stored, err := s.GetFlow(context.Background(), res.Flow.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != res.Flow.Version+1 {
		t.Fatalf("version %d, want %d", stored.Version, res.Flow.Version+1)
	}
}

func TestConcurrentSubmissionsFree(t *testing.T) {
	t.Parallel()
	const n = 8
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.eng.Submit(context.Background(), h.def, flow.Submission{
				FlowID: res.Flow.ID, Action: "continue_with_email", CSRFToken: res.Flow.CSRFToken,
				Input: json.RawMessage(`{"email":"a@example.com"}`),
			})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, flow.ErrConflict), errors.Is(err, flow.ErrCSRF):
			// lost the race before or after reading the flow
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d submissions won, want exactly 1", wins)
	}
}

func TestErrorResult(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name string
		err  error
		code core.Code
	}{
		{name: "internal", err: errors.New("disk on fire"), code: core.CodeInternal},
		{name: "domain", err: fmt.Errorf("wrapped: %w", flow.ErrExpired), code: core.CodeExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.def.ErrorResult(tt.err)
			if res.State != "error" || !res.Ended || res.Error.Code != tt.code {
				t.Fatalf("result = %+v", res)
			}
			if tt.code == core.CodeInternal && strings.Contains(res.Error.Message, "disk") {
				t.Fatalf("internal cause leaked into the message: %q", res.Error.Message)
			}
		})
	}
}

// readCounter counts the flow reads of the engine, outside and inside its
// transactions.
type readCounter struct {
	store.Store
	reads *atomic.Int64
}

func (c readCounter) GetFlow(ctx context.Context, id string) (*core.Flow, error) {
	c.reads.Add(1)
	return c.Store.GetFlow(ctx, id)
}

func (c readCounter) Update(ctx context.Context, fn func(store.Tx) error) error {
	return c.Store.Update(ctx, func(tx store.Tx) error { return fn(readCounterTx{tx, c.reads}) })
}

type readCounterTx struct {
	store.Tx
	reads *atomic.Int64
}

func (c readCounterTx) GetFlow(ctx context.Context, id string) (*core.Flow, error) {
	c.reads.Add(1)
	return c.Tx.GetFlow(ctx, id)
}

// TestSubmitReadsTheFlowOnce: a step reads its flow once (its update is
// conditional on that version), not at all when the caller passes the flow
// it has just read, and a passed copy that went stale is a conflict.
func TestSubmitReadsTheFlowOnce(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	var reads atomic.Int64
	h := newHarnessOn(t, s, readCounter{s, &reads})
	res := h.start()
	reads.Store(0)
	res = h.must(res, "register_client_capabilities", `{"webauthn_available":true}`)
	if n := reads.Load(); n != 1 {
		t.Fatalf("Submit read the flow %d times, want 1", n)
	}

	stale, err := s.GetFlow(context.Background(), res.Flow.ID)
	if err != nil {
		t.Fatal(err)
	}
	reads.Store(0)
	sub := flow.Submission{FlowID: res.Flow.ID, Action: "continue_with_email", CSRFToken: res.Flow.CSRFToken,
		Input: json.RawMessage(`{"email":"a@example.com"}`), Flow: stale}
	next, err := h.eng.Submit(context.Background(), h.def, sub)
	if err != nil {
		t.Fatal(err)
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("Submit with the flow read it %d times, want 0", n)
	}
	if next.Flow.Version != stale.Version+1 {
		t.Fatalf("version %d, want %d", next.Flow.Version, stale.Version+1)
	}
	// stale is now one version behind the stored flow.
	sub.CSRFToken = stale.CSRFToken
	if _, err := h.eng.Submit(context.Background(), h.def, sub); !errors.Is(err, flow.ErrConflict) {
		t.Fatalf("Submit of a stale flow: %v, want ErrConflict", err)
	}
	// A flow of another id than FlowID is not used.
	other := *stale
	other.ID = "00000000-0000-4000-8000-000000000000"
	sub.Flow, sub.CSRFToken = &other, next.Flow.CSRFToken
	// (FlowID's stored flow has moved on to a state without the action.)
	if _, err := h.eng.Submit(context.Background(), h.def, sub); !errors.Is(err, flow.ErrActionNotAllowed) {
		t.Fatalf("Submit with a flow of another id than FlowID: %v, want ErrActionNotAllowed from FlowID's stored flow", err)
	}
}

// TestAdmits: Admits says true exactly where Submit would run the action:
// an offered action with valid input, never a suspended, unknown or
// elsewhere-offered action, invalid or malformed input, or an ended flow.
func TestAdmits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res := h.must(h.start(), "register_client_capabilities", `{"webauthn_available":true}`)
	for _, tc := range []struct {
		action, input string
		want          bool
	}{
		{"continue_with_email", `{"email":"a@example.com"}`, true},
		{"continue_with_email", `{}`, false},
		{"continue_with_email", `{"email":42}`, false},
		{"continue_with_email", `{"email":"a@example.com","admin":true}`, false},
		{"continue_with_email", `[true]`, false},
		{"thirdparty_oauth", `{}`, false},
		{"verify_passcode", `{"code":"123456"}`, false},
		{"no_such_action", `{}`, false},
	} {
		if got := h.eng.Admits(h.def, res, tc.action, json.RawMessage(tc.input)); got != tc.want {
			t.Errorf("Admits(%s, %s) = %v, want %v", tc.action, tc.input, got, tc.want)
		}
	}
	ended := *res
	ended.Ended = true
	if h.eng.Admits(h.def, &ended, "continue_with_email", json.RawMessage(`{"email":"a@example.com"}`)) {
		t.Error("Admits an action of an ended flow")
	}
}
