package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// callCounter counts the calls DB makes to its counters: each is one
// statement (MySQL's HitAll two) and, outside a transaction, one commit.
type callCounter struct {
	Counters
	calls int
}

func (c *callCounter) Hit(ctx context.Context, key string, w time.Duration, now time.Time) (int64, time.Time, error) {
	c.calls++
	return c.Counters.Hit(ctx, key, w, now)
}

func (c *callCounter) CountHits(ctx context.Context, key string, w time.Duration, now time.Time) (int64, time.Time, error) {
	c.calls++
	return c.Counters.CountHits(ctx, key, w, now)
}

func (c *callCounter) Unhit(ctx context.Context, key string, w time.Duration, now time.Time) error {
	c.calls++
	return c.Counters.Unhit(ctx, key, w, now)
}

func (c *callCounter) ResetCounter(ctx context.Context, key string) error {
	c.calls++
	return c.Counters.ResetCounter(ctx, key)
}

func (c *callCounter) HitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) ([]int64, error) {
	c.calls++
	return c.Counters.HitAll(ctx, hits, now)
}

func (c *callCounter) UnhitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) error {
	c.calls++
	return c.Counters.UnhitAll(ctx, hits, now)
}

func (c *callCounter) HitAllSeeing(ctx context.Context, hits []store.CounterWindow, seen store.CounterWindow, now time.Time) ([]int64, int64, int64, error) {
	c.calls++
	return c.Counters.HitAllSeeing(ctx, hits, seen, now)
}

func (c *callCounter) RecentHits(ctx context.Context, key string, w time.Duration, now time.Time) (int64, int64, error) {
	c.calls++
	return c.Counters.RecentHits(ctx, key, w, now)
}

// TestPolicyDBRoundTrips: over the store's counters an attempt costs a
// fixed, small number of statements however many rules it meets — the
// (identity, IP) counter with the known-IP read, and from an unknown IP
// one statement for all the other counters; a right attempt
// one read, one statement taking back the others, the reset, and marking
// the IP known unless it was marked in this window already.
func TestPolicyDBRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &callCounter{Counters: storetest.SQLite(t)}
	clk := &clock{now: windowStart.Add(time.Second)}
	p := newTestPolicy(t, NewDB(c, clk.Now, secret))
	steps := []struct {
		name string
		run  func() error
		want int
	}{
		{"first attempt from an IP (four rules)", func() error { return p.Check(ctx, Password, "id-1", "192.0.2.1") }, 2},
		{"its success", func() error { return p.Succeed(ctx, Password, "id-1", "192.0.2.1") }, 4},
		{"an attempt from the known IP (one rule)", func() error { return p.Check(ctx, Password, "id-1", "192.0.2.1") }, 1},
		{"its success, the IP marked known in this window", func() error { return p.Succeed(ctx, Password, "id-1", "192.0.2.1") }, 2},
		{"a send to an address from an IP", func() error { return p.Send(ctx, "zoe@example.com", "192.0.2.1") }, 1},
	}
	for _, s := range steps {
		c.calls = 0
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if c.calls != s.want {
			t.Errorf("%s: %d calls to the counters, want %d", s.name, c.calls, s.want)
		}
	}
	// A refused attempt: the (identity, IP) counter refuses it in the
	// statement that reads the known IP; nothing else is counted.
	for range 4 {
		if err := p.Check(ctx, Password, "id-2", "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
	}
	wantAllowed(t, "fifth", p.Check(ctx, Password, "id-2", "192.0.2.9"))
	c.calls = 0
	wantExceeded(t, "sixth", p.Check(ctx, Password, "id-2", "192.0.2.9"))
	if c.calls != 1 {
		t.Errorf("refused attempt: %d calls to the counters, want 1", c.calls)
	}
	// It was not counted against the IP or the identity: the identity's
	// first tier (8) still has three attempts from other IPs.
	for i := range 3 {
		wantAllowed(t, "other IP", p.Check(ctx, Password, "id-2", "198.51.100."+string(rune('1'+i))))
	}
	wantExceeded(t, "past the identity's tier", p.Check(ctx, Password, "id-2", "198.51.100.9"))
}

// TestAttemptSucceedRoundTrips: the success of an attempt Begin counted
// takes back what was counted without reading the known-IP state again:
// one statement fewer than Policy.Succeed.
func TestAttemptSucceedRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &callCounter{Counters: storetest.SQLite(t)}
	clk := &clock{now: windowStart.Add(time.Second)}
	p := newTestPolicy(t, NewDB(c, clk.Now, secret))
	for _, s := range []struct {
		name              string
		wantBegin, wantOK int
	}{
		{"first attempt from an IP (four rules): take back three, reset, mark known", 2, 3},
		{"an attempt from the IP marked known in this window: reset", 1, 1},
	} {
		c.calls = 0
		a, err := p.Begin(ctx, Password, "id-1", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if c.calls != s.wantBegin {
			t.Errorf("%s: Begin made %d calls to the counters, want %d", s.name, c.calls, s.wantBegin)
		}
		c.calls = 0
		if err := a.Succeed(ctx, p); err != nil {
			t.Fatal(err)
		}
		if c.calls != s.wantOK {
			t.Errorf("%s: Succeed made %d calls to the counters, want %d", s.name, c.calls, s.wantOK)
		}
	}
}
