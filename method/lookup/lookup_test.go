package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
)

type ledger map[string]int64

func (l ledger) Hit(_ context.Context, key string, _ time.Duration, _ time.Time) (int64, time.Time, error) {
	l[key]++
	return l[key], time.Time{}, nil
}

type limiter struct{ n, max int }

func (l *limiter) Attempt(context.Context, string) (time.Duration, error) {
	l.n++
	if l.n > l.max {
		return 10 * time.Second, nil
	}
	return 0, nil
}

func newMethod(t *testing.T, o Options) *Method {
	t.Helper()
	c, err := cipher.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGenerate(t *testing.T) {
	m := newMethod(t, Options{})
	codes, err := m.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != Count {
		t.Fatalf("%d codes, want %d", len(codes), Count)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !regexp.MustCompile(`^[a-z0-9]{8}$`).MatchString(c.Code) || c.UsedAt != nil || seen[c.Code] {
			t.Fatalf("bad code %+v", c)
		}
		seen[c.Code] = true
	}
}

func TestRedeem(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	m := newMethod(t, Options{Now: func() time.Time { return now }})
	codes, _ := m.Generate()
	cfg, err := m.Seal("id-1", codes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if strings.Contains(string(cfg), c.Code) {
			t.Fatal("sealed config contains a code")
		}
	}
	ctx := context.Background()
	load := func() (json.RawMessage, error) { return cfg, nil }
	tests := []struct {
		name, code string
		want       error
	}{
		{"wrong", "zzzzzzzz", ErrInvalid},
		{"empty", "", ErrInvalid},
		{"prefix", codes[0].Code[:4], ErrInvalid},
		{"right", codes[0].Code, nil},
		{"used", codes[0].Code, ErrUsed},
		{"another", " " + codes[5].Code + " ", nil},
	}
	for _, tc := range tests {
		next, err := m.Redeem(ctx, ledger{}, "id-1", load, tc.code, "")
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: Redeem = %v, want %v", tc.name, err, tc.want)
		}
		if err == nil {
			cfg = next
		}
	}
	got, err := m.Open("id-1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].UsedAt == nil || !got[0].UsedAt.Equal(now) || got[5].UsedAt == nil || Remaining(got) != Count-2 {
		t.Fatalf("used marks wrong: %+v", got)
	}
	if _, err := m.Open("id-2", cfg); err == nil {
		t.Fatal("codes sealed for one identity opened for another")
	}
	if _, err := m.Redeem(ctx, ledger{}, "id-1", func() (json.RawMessage, error) { return nil, nil }, codes[1].Code, ""); !errors.Is(err, ErrNotSetUp) {
		t.Fatalf("no codes: %v, want ErrNotSetUp", err)
	}
}

func TestRedeemLimited(t *testing.T) {
	l := &limiter{max: 2}
	m := newMethod(t, Options{PerID: l})
	codes, _ := m.Generate()
	cfg, _ := m.Seal("id", codes)
	load := func() (json.RawMessage, error) { return cfg, nil }
	ctx := context.Background()
	for range 2 {
		if _, err := m.Redeem(ctx, ledger{}, "id", load, "nope", ""); !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	}
	var rl *RateLimitError
	if _, err := m.Redeem(ctx, ledger{}, "id", load, codes[0].Code, ""); !errors.As(err, &rl) {
		t.Fatalf("after limit: %v, want RateLimitError", err)
	}
}

func TestSealRefusesEmpty(t *testing.T) {
	m := newMethod(t, Options{})
	if _, err := m.Seal("id", nil); err == nil {
		t.Fatal("sealed no codes")
	}
	if _, err := m.Seal("id", []Code{{Code: " "}}); err == nil {
		t.Fatal("sealed an empty code")
	}
}
