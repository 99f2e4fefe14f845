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
	"github.com/latchkey/latchkey/ratelimit"
)

type ledger map[string]int64

func (l ledger) Hit(_ context.Context, key string, _ time.Duration, _ time.Time) (int64, time.Time, error) {
	l[key]++
	return l[key], time.Time{}, nil
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
		next, err := m.Redeem(ctx, (*ratelimit.Policy)(nil), ledger{}, "id-1", load, tc.code, "")
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
	if _, err := m.Use(ctx, ledger{}, "id-1", func() (json.RawMessage, error) { return nil, nil }, codes[1].Code); !errors.Is(err, ErrNotSetUp) {
		t.Fatalf("no codes: %v, want ErrNotSetUp", err)
	}
}

func TestRedeemLimited(t *testing.T) {
	c := ratelimit.DefaultPolicyConfig()
	c.IdentityIP = ratelimit.Limit{Limit: 2, Window: time.Minute}
	p, err := ratelimit.NewPolicy(ratelimit.NewLocal(time.Now, []byte("k")), c)
	if err != nil {
		t.Fatal(err)
	}
	m := newMethod(t, Options{})
	codes, _ := m.Generate()
	cfg, _ := m.Seal("id", codes)
	load := func() (json.RawMessage, error) { return cfg, nil }
	ctx := context.Background()
	for range 2 {
		if _, err := m.Redeem(ctx, p, ledger{}, "id", load, "nope", "192.0.2.1"); !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	}
	var ex *ratelimit.ExceededError
	if _, err := m.Redeem(ctx, p, ledger{}, "id", load, codes[0].Code, "192.0.2.1"); !errors.As(err, &ex) {
		t.Fatalf("after limit: %v, want ExceededError", err)
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
