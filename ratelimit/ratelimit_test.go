package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// windowStart is a minute boundary, so fixed windows of a minute start here.
var windowStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var secret = []byte("test secret")

// recordingCounters passes calls to a real store and remembers the keys.
type recordingCounters struct {
	store.Store
	mu   sync.Mutex
	keys []string
}

func (r *recordingCounters) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Store.Hit(ctx, key, window, now)
}

func TestDB(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Run("window rollover and retry after", func(t *testing.T) { testDBWindow(t, s) })
			t.Run("concurrency", func(t *testing.T) { testConcurrency(t, NewDB(s, (&clock{now: windowStart}).Now, secret)) })
			t.Run("reset", func(t *testing.T) { testReset(t, NewDB(s, (&clock{now: windowStart}).Now, secret)) })
			t.Run("keys are hashed", func(t *testing.T) {
				rc := &recordingCounters{Store: s}
				l := NewDB(rc, nil, secret)
				if _, err := l.Allow(context.Background(), Rule{Name: "login_identifier", Limit: 5, Window: time.Minute}, "alice@example.com"); err != nil {
					t.Fatal(err)
				}
				if len(rc.keys) != 1 || strings.Contains(rc.keys[0], "alice") || !strings.HasPrefix(rc.keys[0], "ratelimit:login_identifier:") {
					t.Fatalf("stored keys %v", rc.keys)
				}
			})
		})
	}
}

func testDBWindow(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := &clock{now: windowStart.Add(10 * time.Second)}
	l := NewDB(s, clk.Now, secret)
	rule := Rule{Name: "window", Limit: 3, Window: time.Minute}
	steps := []struct {
		name      string
		at        time.Duration // offset from windowStart
		key       string
		allowed   bool
		remaining int
		retry     time.Duration
	}{
		{name: "first", at: 10 * time.Second, key: "a", allowed: true, remaining: 2},
		{name: "second", at: 20 * time.Second, key: "a", allowed: true, remaining: 1},
		{name: "third", at: 30 * time.Second, key: "a", allowed: true, remaining: 0},
		{name: "over the limit", at: 45 * time.Second, key: "a", allowed: false, retry: 15 * time.Second},
		{name: "other key unaffected", at: 45 * time.Second, key: "b", allowed: true, remaining: 2},
		{name: "still over at the end", at: 59*time.Second + 500*time.Millisecond, key: "a", allowed: false, retry: 500 * time.Millisecond},
		{name: "next window", at: 60 * time.Second, key: "a", allowed: true, remaining: 2},
		{name: "two windows later", at: 150 * time.Second, key: "a", allowed: true, remaining: 2},
	}
	for _, st := range steps {
		clk.Set(windowStart.Add(st.at))
		d, err := l.Allow(ctx, rule, st.key)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := Decision{Allowed: st.allowed, Remaining: st.remaining, RetryAfter: st.retry}
		if d != want {
			t.Fatalf("%s: decision %+v, want %+v", st.name, d, want)
		}
	}
}

// testConcurrency runs many goroutines against one key: exactly the limit is
// allowed.
func testConcurrency(t *testing.T, l Limiter) {
	t.Helper()
	const goroutines, limit = 24, 5
	rule := Rule{Name: fmt.Sprintf("concurrency_%d", time.Now().UnixNano()), Limit: limit, Window: time.Hour}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.Allow(context.Background(), rule, "10.0.0.1")
			if err != nil {
				errs <- err
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := allowed.Load(); got != limit {
		t.Fatalf("%d allowed, want exactly %d", got, limit)
	}
}

func testReset(t *testing.T, l Limiter) {
	t.Helper()
	ctx := context.Background()
	rule := Rule{Name: fmt.Sprintf("reset_%d", time.Now().UnixNano()), Limit: 1, Window: time.Hour}
	for i, want := range []bool{true, false} {
		d, err := l.Allow(ctx, rule, "k")
		if err != nil || d.Allowed != want {
			t.Fatalf("call %d: %+v %v, want allowed=%v", i, d, err, want)
		}
	}
	if err := l.Reset(ctx, rule, "k"); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Allow(ctx, rule, "k"); err != nil || !d.Allowed {
		t.Fatalf("after reset: %+v %v", d, err)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("burst, retry after and refill", func(t *testing.T) {
		t.Parallel()
		clk := &clock{now: windowStart}
		l := NewLocal(clk.Now, secret)
		rule := Rule{Name: "login_ip", Limit: 4, Window: time.Minute} // one token per 15 s
		steps := []struct {
			name string
			at   time.Duration
			want Decision
		}{
			{name: "1", at: 0, want: Decision{Allowed: true, Remaining: 3}},
			{name: "2", at: 0, want: Decision{Allowed: true, Remaining: 2}},
			{name: "3", at: 0, want: Decision{Allowed: true, Remaining: 1}},
			{name: "4", at: 0, want: Decision{Allowed: true, Remaining: 0}},
			{name: "empty", at: 0, want: Decision{Allowed: false, RetryAfter: 15 * time.Second}},
			{name: "refused calls do not drain", at: 5 * time.Second, want: Decision{Allowed: false, RetryAfter: 10 * time.Second}},
			{name: "one token back", at: 15 * time.Second, want: Decision{Allowed: true, Remaining: 0}},
			{name: "full after a window", at: 75 * time.Second, want: Decision{Allowed: true, Remaining: 3}},
		}
		for _, st := range steps {
			clk.Set(windowStart.Add(st.at))
			d, err := l.Allow(ctx, rule, "10.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if d != st.want {
				t.Fatalf("%s: %+v, want %+v", st.name, d, st.want)
			}
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		t.Parallel()
		testConcurrency(t, NewLocal((&clock{now: windowStart}).Now, secret))
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		testReset(t, NewLocal((&clock{now: windowStart}).Now, secret))
	})
	t.Run("idle buckets are dropped", func(t *testing.T) {
		t.Parallel()
		clk := &clock{now: windowStart}
		l := NewLocal(clk.Now, nil)
		rule := Rule{Name: "sweep", Limit: 1, Window: time.Second}
		for i := range sweepEvery - 1 {
			if _, err := l.Allow(ctx, rule, fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		if l.size() != sweepEvery-1 {
			t.Fatalf("%d buckets", l.size())
		}
		clk.Set(windowStart.Add(time.Second))
		if _, err := l.Allow(ctx, rule, "last"); err != nil {
			t.Fatal(err)
		}
		if l.size() != 1 {
			t.Fatalf("%d buckets after the sweep, want 1", l.size())
		}
	})
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("LATCHKEY_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("LATCHKEY_TEST_REDIS_URL is not set; CI must test the Redis limiter")
		}
		t.Skip("LATCHKEY_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("LATCHKEY_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return rdb
}

func TestRedis(t *testing.T) {
	t.Parallel()
	rdb := redisClient(t)
	ctx := context.Background()
	t.Run("limit and retry after", func(t *testing.T) {
		t.Parallel()
		l := NewRedis(rdb, secret)
		rule := Rule{Name: fmt.Sprintf("redis_limit_%d", time.Now().UnixNano()), Limit: 3, Window: time.Minute}
		t.Cleanup(func() { l.Reset(ctx, rule, "bob@example.com") })
		for i, remaining := range []int{2, 1, 0} {
			d, err := l.Allow(ctx, rule, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed || d.Remaining != remaining || d.RetryAfter != 0 {
				t.Fatalf("call %d: %+v, want allowed with %d remaining", i, d, remaining)
			}
		}
		d, err := l.Allow(ctx, rule, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		// GCRA: one event per 20 s; the next is allowed 20 s after the first.
		if d.Allowed || d.RetryAfter <= 15*time.Second || d.RetryAfter > 20*time.Second {
			t.Fatalf("over the limit: %+v, want refused with retry after ≈20s", d)
		}
		keys, err := rdb.Keys(ctx, "*"+rule.Name+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || strings.Contains(keys[0], "bob") {
			t.Fatalf("redis keys %v", keys)
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		t.Parallel()
		testConcurrency(t, NewRedis(rdb, secret))
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		testReset(t, NewRedis(rdb, secret))
	})
}

func TestInvalidRule(t *testing.T) {
	t.Parallel()
	limiters := map[string]Limiter{
		"local": NewLocal(nil, nil),
		"db":    NewDB(nil, nil, nil), // the rule is checked before the store is used
		"redis": NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), nil),
	}
	rules := map[string]Rule{
		"no name":     {Limit: 1, Window: time.Minute},
		"zero limit":  {Name: "x", Window: time.Minute},
		"zero window": {Name: "x", Limit: 1},
	}
	for lname, l := range limiters {
		for rname, rule := range rules {
			t.Run(lname+"/"+rname, func(t *testing.T) {
				t.Parallel()
				if _, err := l.Allow(context.Background(), rule, "k"); !errors.Is(err, ErrInvalidRule) {
					t.Fatalf("err = %v, want ErrInvalidRule", err)
				}
			})
		}
	}
}

func TestDecisionErr(t *testing.T) {
	t.Parallel()
	if err := (Decision{Allowed: true}).Err(); err != nil {
		t.Fatalf("allowed decision: %v", err)
	}
	err := fmt.Errorf("login: %w", Decision{RetryAfter: 30 * time.Second}.Err())
	if core.ErrorCode(err) != core.CodeRateLimited {
		t.Fatalf("code %s", core.ErrorCode(err))
	}
	var ex *ExceededError
	if !errors.As(err, &ex) || ex.RetryAfter != 30*time.Second {
		t.Fatalf("ExceededError %+v", ex)
	}
}
