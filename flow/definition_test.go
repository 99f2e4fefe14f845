package flow

import (
	"strings"
	"testing"
	"time"
)

func noop(c *ActionContext) error { return c.Continue() }

func TestBuildRejects(t *testing.T) {
	t.Parallel()
	act := func(name string) Action { return Action{Name: name, Execute: noop} }
	hook := func(*Context) error { return nil }
	passcode := NewSubFlow("passcode").State("passcode_confirmation", act("verify"))
	tests := []struct {
		name  string
		build func() *Builder
		want  []string // every fragment must appear in the error
	}{
		{
			name:  "missing initial state",
			build: func() *Builder { return New("login").State("a", act("x")).InitialState("nope") },
			want:  []string{`initial state "nope" does not exist`},
		},
		{
			name:  "no initial state",
			build: func() *Builder { return New("login").State("a", act("x")) },
			want:  []string{"no initial state"},
		},
		{
			name:  "scheduled initial state missing",
			build: func() *Builder { return New("login").State("a", act("x")).InitialState("a", "b") },
			want:  []string{`initial state "b" does not exist`},
		},
		{
			name:  "duplicate state",
			build: func() *Builder { return New("login").State("a", act("x")).State("a").InitialState("a") },
			want:  []string{`state "a" declared twice`},
		},
		{
			name: "sub-flow state clashes",
			build: func() *Builder {
				return New("login").State("passcode_confirmation").InitialState("passcode_confirmation").SubFlow(passcode)
			},
			want: []string{`state "passcode_confirmation" declared twice`},
		},
		{
			name:  "sub-flow included twice",
			build: func() *Builder { return New("login").State("a").InitialState("a").SubFlow(passcode, passcode) },
			want:  []string{`sub-flow "passcode" included twice`},
		},
		{
			name:  "duplicate action",
			build: func() *Builder { return New("login").State("a", act("x"), act("x")).InitialState("a") },
			want:  []string{`action "x" declared twice`},
		},
		{
			name:  "action without execute",
			build: func() *Builder { return New("login").State("a", Action{Name: "x"}).InitialState("a") },
			want:  []string{`action "x": no Execute`},
		},
		{
			name: "duplicate input",
			build: func() *Builder {
				a := act("x")
				a.Inputs = []Input{{Name: "e", Type: TypeEmail}, {Name: "e", Type: TypeString}}
				return New("login").State("a", a).InitialState("a")
			},
			want: []string{`input "e" declared twice`},
		},
		{
			name: "insane input",
			build: func() *Builder {
				a := act("x")
				a.Inputs = []Input{{Name: "p", Type: TypePassword, MinLength: 9, MaxLength: 3}}
				return New("login").State("a", a).InitialState("a")
			},
			want: []string{`input "p": min length 9 exceeds max length 3`},
		},
		{
			name: "target missing",
			build: func() *Builder {
				a := act("x")
				a.Targets = []string{"success", "ghost"}
				return New("login").State("a", a).EndState("success").InitialState("a")
			},
			want: []string{`action "x" targets unknown state "ghost"`},
		},
		{
			name:  "hook on missing state",
			build: func() *Builder { return New("login").State("a").InitialState("a").Hook(BeforeState("ghost", hook)) },
			want:  []string{`hook on unknown state "ghost"`},
		},
		{
			name:  "hook after missing sub-flow",
			build: func() *Builder { return New("login").State("a").InitialState("a").Hook(AfterSubFlow("ghost", hook)) },
			want:  []string{`hook after unknown sub-flow "ghost"`},
		},
		{
			name: "sub-flow hook outside the sub-flow",
			build: func() *Builder {
				sf := NewSubFlow("s").State("inner").Hook(BeforeState("a", hook))
				return New("login").State("a").InitialState("a").SubFlow(sf)
			},
			want: []string{`sub-flow "s": hook on unknown state "a"`},
		},
		{
			name:  "negative ttl",
			build: func() *Builder { return New("login").State("a").InitialState("a").TTL(-time.Second) },
			want:  []string{"negative TTL"},
		},
		{
			name: "every problem listed",
			build: func() *Builder {
				return New("login").State("a", act("x"), act("x")).InitialState("nope").Hook(AfterState("ghost", hook))
			},
			want: []string{`action "x" declared twice`, `initial state "nope"`, `unknown state "ghost"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def, err := tt.build().Build()
			if err == nil {
				t.Fatalf("Build() = %v, want an error", def)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBuildAccepts(t *testing.T) {
	t.Parallel()
	passcode := NewSubFlow("passcode").
		State("passcode_confirmation", Action{Name: "verify_passcode", Execute: noop}, BackAction("back", "Go back.")).
		Hook(BeforeState("passcode_confirmation", func(*Context) error { return nil }))
	def, err := New("login").
		State("login_init", Action{Name: "continue", Targets: []string{"passcode_confirmation", "success"}, Execute: noop}).
		EndState("success").
		InitialState("preflight", "login_init").
		State("preflight", Action{Name: "register_client_capabilities", Execute: noop}).
		ErrorState("error").
		SubFlow(passcode).
		Hook(AfterSubFlow("passcode", func(*Context) error { return nil })).
		Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if def.TTL() != DefaultTTL || def.InitialState() != "preflight" || def.ErrorState() != "error" {
		t.Fatalf("definition = ttl %s initial %q error %q", def.TTL(), def.InitialState(), def.ErrorState())
	}
	for _, s := range []string{"login_init", "success", "preflight", "error", "passcode_confirmation"} {
		if !def.HasState(s) {
			t.Errorf("state %q missing", s)
		}
	}
	if got := def.Actions("passcode_confirmation"); strings.Join(got, ",") != "verify_passcode,back" {
		t.Errorf("actions = %v", got)
	}
}
