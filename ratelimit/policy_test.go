package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/storetest"
)

// testPolicyConfig is the default policy with smaller per-identity tiers, so
// the cases stay short.
func testPolicyConfig() PolicyConfig {
	c := DefaultPolicyConfig()
	c.Identity = []Limit{{Limit: 8, Window: 15 * time.Minute}, {Limit: 12, Window: 24 * time.Hour}}
	c.IP = Limit{Limit: 30, Window: time.Minute}
	c.SendAddress = Limit{Limit: 4, Window: time.Hour}
	c.SendIP = Limit{Limit: 6, Window: time.Hour}
	return c
}

// policyLimiters returns a fresh limiter per backend: the store's counters
// on every configured database, process memory, and Redis when configured.
func policyLimiters(t *testing.T) map[string]func(t *testing.T) Limiter {
	t.Helper()
	out := map[string]func(t *testing.T) Limiter{
		"memory": func(*testing.T) Limiter { return NewLocal((&clock{now: windowStart.Add(time.Second)}).Now, secret) },
	}
	for name, open := range storetest.Backends(t) {
		out[name] = func(t *testing.T) Limiter {
			return NewDB(open(t), (&clock{now: windowStart.Add(time.Second)}).Now, secret)
		}
	}
	if os.Getenv("LATCHKEY_TEST_REDIS_URL") != "" || os.Getenv("CI") != "" {
		rdb := redisClient(t)
		out["redis"] = func(t *testing.T) Limiter {
			// A fresh secret per test keeps the keys of parallel runs apart.
			return NewRedis(rdb, []byte(fmt.Sprintf("policy %s %d", t.Name(), time.Now().UnixNano())))
		}
	}
	return out
}

func newTestPolicy(t *testing.T, l Limiter) *Policy {
	t.Helper()
	p, err := NewPolicy(l, testPolicyConfig())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantExceeded fails t unless err is an *ExceededError with a positive
// RetryAfter and a rate_limited core error in its chain.
func wantExceeded(t *testing.T, what string, err error) {
	t.Helper()
	var ex *ExceededError
	if !errors.As(err, &ex) || ex.RetryAfter < time.Second || core.ErrorCode(err) != core.CodeRateLimited {
		t.Fatalf("%s: %v, want an *ExceededError with retry after >= 1s", what, err)
	}
}

func wantAllowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v, want allowed", what, err)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, p *Policy)
	}{
		{"per (identity, IP): the sixth wrong attempt from one IP is refused, another IP goes on", func(t *testing.T, p *Policy) {
			for i := range 5 {
				wantAllowed(t, fmt.Sprintf("attempt %d", i+1), p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			wantExceeded(t, "attempt 6", p.Check(ctx, Password, "id-1", "192.0.2.1"))
			wantAllowed(t, "other IP", p.Check(ctx, Password, "id-1", "192.0.2.2"))
		}},
		{"per identity across IPs: wrong attempts from many IPs add up", func(t *testing.T, p *Policy) {
			for i := range 8 {
				wantAllowed(t, fmt.Sprintf("attempt %d", i+1), p.Check(ctx, Password, "id-1", fmt.Sprintf("198.51.100.%d", i)))
			}
			wantExceeded(t, "attempt 9 from a fresh IP", p.Check(ctx, Password, "id-1", "203.0.113.9"))
			wantAllowed(t, "another identity", p.Check(ctx, Password, "id-2", "203.0.113.9"))
		}},
		{"lockout resistance: the user's known IP gets in while another IP exhausts the identity", func(t *testing.T, p *Policy) {
			wantAllowed(t, "user's first login", p.Check(ctx, Password, "id-1", "192.0.2.7"))
			wantAllowed(t, "Succeed", p.Succeed(ctx, Password, "id-1", "192.0.2.7"))
			for i := range 8 {
				wantAllowed(t, fmt.Sprintf("attacker %d", i+1), p.Check(ctx, Password, "id-1", fmt.Sprintf("198.51.100.%d", i)))
			}
			wantExceeded(t, "attacker past the identity limit", p.Check(ctx, Password, "id-1", "203.0.113.1"))
			wantExceeded(t, "a new IP of the user is refused too (documented)", p.Check(ctx, Password, "id-1", "192.0.2.8"))
			// From the known IP: a typo, then the right password.
			wantAllowed(t, "user's typo", p.Check(ctx, Password, "id-1", "192.0.2.7"))
			wantAllowed(t, "user's right password", p.Check(ctx, Password, "id-1", "192.0.2.7"))
			wantAllowed(t, "Succeed", p.Succeed(ctx, Password, "id-1", "192.0.2.7"))
		}},
		{"right attempts use up nothing and reset the (identity, IP) count", func(t *testing.T, p *Policy) {
			for i := range 4 {
				wantAllowed(t, fmt.Sprintf("wrong %d", i+1), p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			wantAllowed(t, "right", p.Check(ctx, Password, "id-1", "192.0.2.1"))
			wantAllowed(t, "Succeed", p.Succeed(ctx, Password, "id-1", "192.0.2.1"))
			for i := range 5 {
				wantAllowed(t, fmt.Sprintf("wrong %d after the reset", i+1), p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			wantExceeded(t, "sixth after the reset", p.Check(ctx, Password, "id-1", "192.0.2.1"))
		}},
		{"an attempt from Begin succeeds as Succeed does: nothing used up, the IP known", func(t *testing.T, p *Policy) {
			for i := range 4 {
				wantAllowed(t, fmt.Sprintf("wrong %d", i+1), p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			a, err := p.Begin(ctx, Password, "id-1", "192.0.2.1")
			wantAllowed(t, "right", err)
			wantAllowed(t, "its Succeed", a.Succeed(ctx, p))
			for i := range 5 {
				wantAllowed(t, fmt.Sprintf("wrong %d after the reset", i+1), p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			wantExceeded(t, "sixth after the reset", p.Check(ctx, Password, "id-1", "192.0.2.1"))
			// The address is known for the identity: it gets in while
			// another exhausts the identity.
			a, err = p.Begin(ctx, Password, "id-2", "192.0.2.7")
			wantAllowed(t, "id-2's first login", err)
			wantAllowed(t, "its Succeed", a.Succeed(ctx, p))
			for i := range 8 {
				wantAllowed(t, fmt.Sprintf("attacker %d", i+1), p.Check(ctx, Password, "id-2", fmt.Sprintf("198.51.100.%d", i)))
			}
			wantExceeded(t, "attacker past the identity limit", p.Check(ctx, Password, "id-2", "203.0.113.1"))
			wantAllowed(t, "id-2 from its known IP", p.Check(ctx, Password, "id-2", "192.0.2.7"))
			if err := (Attempt{}).Succeed(ctx, p); err != nil {
				t.Fatalf("the zero Attempt's Succeed: %v", err)
			}
		}},
		{"many users behind one IP logging in rightly never meet the IP limit", func(t *testing.T, p *Policy) {
			for i := range 40 {
				id := fmt.Sprintf("user-%d", i)
				wantAllowed(t, id, p.Check(ctx, Password, id, "192.0.2.1"))
				wantAllowed(t, id+" Succeed", p.Succeed(ctx, Password, id, "192.0.2.1"))
			}
		}},
		{"per IP across identities: spraying from one IP is refused", func(t *testing.T, p *Policy) {
			for i := range 30 {
				wantAllowed(t, fmt.Sprintf("spray %d", i+1), p.Check(ctx, Password, fmt.Sprintf("user-%d", i), "192.0.2.66"))
			}
			wantExceeded(t, "spray 31", p.Check(ctx, Password, "user-31", "192.0.2.66"))
		}},
		{"kinds count apart", func(t *testing.T, p *Policy) {
			for range 5 {
				wantAllowed(t, "password", p.Check(ctx, Password, "id-1", "192.0.2.1"))
			}
			wantExceeded(t, "password", p.Check(ctx, Password, "id-1", "192.0.2.1"))
			wantAllowed(t, "code", p.Check(ctx, Code, "id-1", "192.0.2.1"))
			wantAllowed(t, "totp", p.Check(ctx, TOTP, "id-1", "192.0.2.1"))
		}},
		{"sends: per address across IPs, per IP across addresses", func(t *testing.T, p *Policy) {
			for i := range 4 {
				wantAllowed(t, "send", p.Send(ctx, "zoe@example.com", fmt.Sprintf("198.51.100.%d", i)))
			}
			wantExceeded(t, "fifth to the address", p.Send(ctx, "zoe@example.com", "203.0.113.1"))
			// The refused fifth was not counted against the IP.
			for i := range 6 {
				wantAllowed(t, "send from one IP", p.Send(ctx, fmt.Sprintf("a%d@example.com", i), "203.0.113.1"))
			}
			wantExceeded(t, "seventh from the IP", p.Send(ctx, "b@example.com", "203.0.113.1"))
		}},
		{"parallel guesses cannot slip past the limit", func(t *testing.T, p *Policy) {
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					err := p.Check(ctx, Code, "id-1", "192.0.2.1")
					var ex *ExceededError
					switch {
					case err == nil:
						allowed.Add(1)
					case !errors.As(err, &ex):
						t.Errorf("Check: %v", err)
					}
				})
			}
			wg.Wait()
			if n := allowed.Load(); n != 5 {
				t.Fatalf("%d of 20 parallel attempts allowed, want 5", n)
			}
		}},
	}
	for name, newLimiter := range policyLimiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newTestPolicy(t, newLimiter(t)))
				})
			}
		})
	}
}

func TestPolicyNil(t *testing.T) {
	t.Parallel()
	var p *Policy
	ctx := context.Background()
	a, err := p.Begin(ctx, Password, "id", "ip")
	if p.Check(ctx, Password, "id", "ip") != nil || p.Succeed(ctx, Password, "id", "ip") != nil || p.Send(ctx, "a", "ip") != nil ||
		err != nil || a.Succeed(ctx, p) != nil {
		t.Fatal("a nil policy limited something")
	}
}

func TestPolicyConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultPolicyConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		name   string
		change func(*PolicyConfig)
	}{
		{"identity_ip", func(c *PolicyConfig) { c.IdentityIP.Limit = 0 }},
		{"identity", func(c *PolicyConfig) { c.Identity = nil }},
		{"identity[1]", func(c *PolicyConfig) { c.Identity[1].Window = 0 }},
		{"ip", func(c *PolicyConfig) { c.IP.Window = time.Millisecond }},
		{"known_ip_for", func(c *PolicyConfig) { c.KnownIPFor = time.Second }},
		{"send.address", func(c *PolicyConfig) { c.SendAddress.Limit = -1 }},
		{"send.ip", func(c *PolicyConfig) { c.SendIP = Limit{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultPolicyConfig()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !containsWord(err.Error(), tc.name) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.name)
			}
			if _, err := NewPolicy(NewLocal(nil, nil), c); err == nil {
				t.Fatal("NewPolicy accepted an invalid config")
			}
		})
	}
	if _, err := NewPolicy(nil, DefaultPolicyConfig()); err == nil {
		t.Fatal("NewPolicy accepted a nil limiter")
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i+len(w) == len(s) || s[i+len(w)] == ':') {
			return true
		}
	}
	return false
}
