package jsonnet

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	RunWorker()
	os.Exit(m.Run())
}

// mapper is a Kratos-style claims mapper as the documentation shows it.
const mapper = `
local claims = { email_verified: false } + std.extVar('claims');
{
  identity: {
    traits: {
      [if 'email' in claims && claims.email_verified then 'email' else null]: claims.email,
      name: { first: std.get(claims, 'given_name', ''), last: std.get(claims, 'family_name', '') },
    },
  },
}`

func newEvaluator(t *testing.T, o Options) *Evaluator {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	e := newEvaluator(t, Options{Timeout: 5 * time.Second})
	for _, tc := range []struct {
		name string
		code string
		vars map[string]json.RawMessage
		want string
	}{
		{"verified e-mail mapped", mapper, map[string]json.RawMessage{"claims": json.RawMessage(`{"sub":"1","email":"a@b.c","email_verified":true,"given_name":"Ann"}`)},
			`{"identity":{"traits":{"email":"a@b.c","name":{"first":"Ann","last":""}}}}`},
		{"unverified e-mail left out", mapper, map[string]json.RawMessage{"claims": json.RawMessage(`{"sub":"1","email":"a@b.c"}`)},
			`{"identity":{"traits":{"name":{"first":"","last":""}}}}`},
		{"two variables", `{c: std.extVar('ctx').a, s: std.extVar('session').b}`, map[string]json.RawMessage{"ctx": json.RawMessage(`{"a":1}`), "session": json.RawMessage(`{"b":"x"}`)},
			`{"c":1,"s":"x"}`},
		{"string output", `"plain"`, nil, `"plain"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.Evaluate(context.Background(), "test.jsonnet", tc.code, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestHostile runs programs that try to escape or exhaust the sandbox: each
// must fail with the right kind and leave the caller unharmed.
func TestHostile(t *testing.T) {
	t.Parallel()
	secret := t.TempDir() + "/secret.libsonnet"
	if err := os.WriteFile(secret, []byte(`{s: "leaked"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEvaluator(t, Options{Timeout: 3 * time.Second, MaxOutput: 64 << 10, MaxMemory: 48 << 20})
	for _, tc := range []struct {
		name    string
		code    string
		vars    map[string]json.RawMessage
		kind    Kind
		message string
	}{
		{"import from disk", `(import "` + secret + `").s`, nil, KindEval, "imports are disabled"},
		{"importstr from disk", `importstr "/etc/passwd"`, nil, KindEval, "imports are disabled"},
		{"importbin from disk", `importbin "/etc/passwd"`, nil, KindEval, "imports are disabled"},
		{"import over the network", `import "https://example.com/x.libsonnet"`, nil, KindEval, "imports are disabled"},
		{"infinite recursion", `local f(x) = f(x + 1) + 1; f(0)`, nil, KindEval, "max stack frames exceeded"},
		{"exponential time", `local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1); f(200)`, nil, KindTimeout, "longer than"},
		{"huge output", `std.makeArray(8000, function(i) "0123456789")`, nil, KindTooLarge, "larger than"},
		{"huge memory", `std.length(std.foldl(function(acc, i) acc + acc, std.range(1, 40), "xxxxxxxx"))`, nil, KindTooLarge, "memory"},
		{"error statement", `error "mapper refuses"`, nil, KindEval, "mapper refuses"},
		{"syntax error", `{ a: `, nil, KindEval, "test.jsonnet"},
		{"missing variable", `std.extVar('claims')`, nil, KindEval, "claims"},
		{"native function", `std.native("exec")("id")`, nil, KindEval, "expected function"},
		{"variable not JSON", `1`, map[string]json.RawMessage{"claims": json.RawMessage(`{`)}, KindEval, "not valid JSON"},
		{"function output", `function(x) x`, nil, KindEval, "function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Evaluate(context.Background(), "test.jsonnet", tc.code, tc.vars)
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if je.Kind != tc.kind || !strings.Contains(je.Message, tc.message) {
				t.Errorf("err = %v, want kind %s containing %q", err, tc.kind, tc.message)
			}
			if strings.Contains(je.Message, "leaked") {
				t.Error("the secret file was read")
			}
		})
	}
}

func TestEvaluateCancelled(t *testing.T) {
	t.Parallel()
	e := newEvaluator(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Evaluate(ctx, "x", `1`, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEvaluateTooLargeProgram(t *testing.T) {
	t.Parallel()
	e := newEvaluator(t, Options{})
	_, err := e.Evaluate(context.Background(), "x", strings.Repeat(" ", MaxCodeSize+1)+"1", nil)
	var je *Error
	if !errors.As(err, &je) || je.Kind != KindTooLarge {
		t.Fatalf("err = %v, want too_large", err)
	}
}

// TestWorkerMissing shows that a binary which does not call RunWorker gives a
// clear error instead of running something else.
func TestWorkerMissing(t *testing.T) {
	t.Parallel()
	e := newEvaluator(t, Options{Command: []string{"/bin/true"}})
	_, err := e.Evaluate(context.Background(), "x", `1`, nil)
	var je *Error
	if !errors.As(err, &je) || je.Kind != KindUnavailable || !strings.Contains(je.Message, "RunWorker") {
		t.Fatalf("err = %v, want unavailable naming RunWorker", err)
	}
}

// FuzzClaims feeds arbitrary provider claims to a mapper: the evaluation
// fails cleanly or returns JSON, never panics.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{`{}`, `{"email":"a@b.c","email_verified":true}`, `{"email":1}`, `[]`, `null`, `"x"`, `{"email_verified":"yes","email":"x"}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, claims string) {
		out, err := evaluate(request{Name: "fuzz", Code: mapper, Vars: map[string]json.RawMessage{"claims": json.RawMessage(claims)}, MaxOutput: 1 << 16, MaxStack: 100})
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("err = %v, want *Error", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output %q is not JSON", out)
		}
	})
}

// FuzzProgram runs arbitrary programs through the full sandbox.
func FuzzProgram(f *testing.F) {
	for _, s := range []string{`1`, `{a: std.extVar('claims')}`, `import "x"`, `local f(x) = f(x); f(1)`, `std.repeat("a", 10)`, `error "x"`} {
		f.Add(s)
	}
	e, err := New(Options{Timeout: 2 * time.Second, MaxOutput: 1 << 12, MaxMemory: 32 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code string) {
		out, err := e.Evaluate(context.Background(), "fuzz", code, map[string]json.RawMessage{"claims": json.RawMessage(`{"sub":"1"}`)})
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || je.Kind == KindUnavailable {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if !json.Valid(out) || len(out) > 1<<12 {
			t.Fatalf("output %q is not bounded JSON", out)
		}
	})
}

func TestEvaluateWithArgs(t *testing.T) {
	t.Parallel()
	e := newEvaluator(t, Options{Timeout: 5 * time.Second})
	for _, tc := range []struct {
		name, code, want string
	}{
		{"function of ctx", `function(ctx) { user_id: ctx.identity.id }`, `{"user_id":"u1"}`},
		{"not a function ignores args", `{a: 1}`, `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.EvaluateWithArgs(context.Background(), "body.jsonnet", tc.code, nil,
				map[string]json.RawMessage{"ctx": json.RawMessage(`{"identity":{"id":"u1"}}`)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	_, err := e.EvaluateWithArgs(context.Background(), "body.jsonnet", `function(ctx) error "cancel"`, nil,
		map[string]json.RawMessage{"ctx": json.RawMessage(`{}`)})
	var je *Error
	if !errors.As(err, &je) || !strings.Contains(je.Message, "cancel") {
		t.Errorf("error \"cancel\": got %v", err)
	}
}
