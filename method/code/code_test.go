package code

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newIssuer(t *testing.T, o Options, secrets ...string) (*Issuer, *clock) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{"0123456789abcdef0123456789abcdef"}
	}
	s, err := cipher.NewSigner(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	o.Now = c.now
	i, err := NewIssuer(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return i, c
}

func TestIssueFormat(t *testing.T) {
	t.Parallel()
	i, _ := newIssuer(t, Options{Digits: 6, TokenLength: 32})
	seen := map[string]bool{}
	for range 200 {
		plain, c, err := i.Issue("b")
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) != 6 || strings.Trim(plain, "0123456789") != "" {
			t.Fatalf("code %q is not 6 digits", plain)
		}
		if strings.Contains(string(c.MAC), plain) {
			t.Fatal("stored form contains the plain code")
		}
		seen[plain] = true
	}
	if len(seen) < 150 {
		t.Errorf("only %d distinct codes in 200", len(seen))
	}
	tok, _, err := i.IssueToken("b")
	if err != nil || len(tok) != 32 {
		t.Fatalf("token %q, %v", tok, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		submits []string // "" means the right code
		binding string   // binding for checks; default the issuing one
		advance time.Duration
		want    []error
	}{
		{name: "right code", submits: []string{""}, want: []error{nil}},
		{name: "right code once only", submits: []string{"", ""}, want: []error{nil, ErrUsed}},
		{name: "wrong then right", submits: []string{"000000x", ""}, want: []error{ErrInvalid, nil}},
		{name: "other flow's binding", submits: []string{""}, binding: "login:other", want: []error{ErrInvalid}},
		{name: "expired", submits: []string{""}, advance: 16 * time.Minute, want: []error{ErrExpired}},
		{name: "exactly at expiry", submits: []string{""}, advance: 15 * time.Minute, want: []error{ErrExpired}},
		{
			name:    "five wrong kill the code",
			submits: []string{"x", "x", "x", "x", "x", ""},
			want:    []error{ErrInvalid, ErrInvalid, ErrInvalid, ErrInvalid, ErrExhausted, ErrExhausted},
		},
		{name: "absurdly long submission", submits: []string{strings.Repeat("1", 10000)}, want: []error{ErrInvalid}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i, clk := newIssuer(t, Options{MaxAttempts: 5})
			plain, c, err := i.Issue("login:flow-1")
			if err != nil {
				t.Fatal(err)
			}
			clk.t = clk.t.Add(tc.advance)
			binding := tc.binding
			if binding == "" {
				binding = "login:flow-1"
			}
			for k, s := range tc.submits {
				if s == "" {
					s = plain
				}
				if err := i.Check(&c, binding, s); !errors.Is(err, tc.want[k]) {
					t.Fatalf("submission %d: err = %v, want %v", k, err, tc.want[k])
				}
			}
		})
	}
}

func TestRotatedSecretStillVerifies(t *testing.T) {
	t.Parallel()
	old, _ := newIssuer(t, Options{}, "old-secret-0123456789abcdef")
	plain, c, err := old.Issue("b")
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := newIssuer(t, Options{}, "new-secret-0123456789abcdef", "old-secret-0123456789abcdef")
	if err := rotated.Check(&c, "b", plain); err != nil {
		t.Fatalf("code issued under the old secret refused after rotation: %v", err)
	}
	other, _ := newIssuer(t, Options{}, "unrelated-secret-0123456789")
	_, c2, _ := old.Issue("b")
	if err := other.Check(&c2, "b", plain); err == nil {
		t.Fatal("code verified under an unrelated secret")
	}
}

func TestNewIssuerRejectsBadOptions(t *testing.T) {
	t.Parallel()
	s, _ := cipher.NewSigner("0123456789abcdef0123")
	for _, o := range []Options{{Digits: 2}, {Digits: 40}, {TokenLength: 4}, {TTL: -1}} {
		if _, err := NewIssuer(s, o); err == nil {
			t.Errorf("NewIssuer(%+v) accepted", o)
		}
	}
	if _, err := NewIssuer(nil, Options{}); err == nil {
		t.Error("NewIssuer(nil) accepted")
	}
}
