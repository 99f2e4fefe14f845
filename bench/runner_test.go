package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p90 of 1..100", ms(hundred...), 90, 90 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"max", ms(hundred...), 100, 100 * time.Millisecond},
		{"tiny p is the minimum", ms(5, 6, 7), 0.0001, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMeasureRequestCap(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	st, err := Measure(context.Background(), Load{Concurrency: 4, Requests: 1000}, func(context.Context, int, int64) error {
		calls.Add(1)
		return nil
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ops != 1000 || calls.Load() != 1000 || len(st.Latencies) != 1000 {
		t.Fatalf("ops %d, calls %d, latencies %d; want 1000 each", st.Ops, calls.Load(), len(st.Latencies))
	}
}

func TestMeasureDurationAndWarmup(t *testing.T) {
	t.Parallel()
	// No bound on how many ops fit in the time, nor on how long past it
	// the phase ends: only what holds on any machine, however loaded.
	var measured atomic.Bool
	var warm, hot atomic.Int64
	var betweens atomic.Int64
	st, err := Measure(context.Background(), Load{Concurrency: 3, Duration: 150 * time.Millisecond, Warmup: 50 * time.Millisecond},
		func(context.Context, int, int64) error {
			if measured.Load() {
				hot.Add(1)
			} else {
				warm.Add(1)
			}
			return nil
		}, func() { betweens.Add(1); measured.Store(true) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Elapsed < 150*time.Millisecond {
		t.Errorf("elapsed %v, want at least the duration", st.Elapsed)
	}
	if betweens.Load() != 1 {
		t.Errorf("between ran %d times, want once", betweens.Load())
	}
	if st.Ops != hot.Load() || int64(len(st.Latencies)) != st.Ops {
		t.Errorf("counted %d ops and %d latencies, but %d ran after warm-up", st.Ops, len(st.Latencies), hot.Load())
	}
	if !sortedAsc(st.Latencies) {
		t.Error("latencies not sorted")
	}
}

func sortedAsc(d []time.Duration) bool {
	for i := 1; i < len(d); i++ {
		if d[i] < d[i-1] {
			return false
		}
	}
	return true
}

func TestMeasureErrors(t *testing.T) {
	t.Parallel()
	st, err := Measure(context.Background(), Load{Concurrency: 2, Requests: 100}, func(_ context.Context, _ int, i int64) error {
		if i%4 == 0 {
			return errors.New("boom")
		}
		return nil
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Errors != 25 || st.Ops != 75 || st.FirstError != "boom" {
		t.Fatalf("errors %d ops %d first %q; want 25, 75, boom", st.Errors, st.Ops, st.FirstError)
	}
	if len(st.ErrorKinds) != 1 || st.ErrorKinds["boom"] != 25 {
		t.Fatalf("error kinds %v, want boom: 25", st.ErrorKinds)
	}
}

func TestMeasureErrorKinds(t *testing.T) {
	t.Parallel()
	st, err := Measure(context.Background(), Load{Concurrency: 3, Requests: 90}, func(_ context.Context, _ int, i int64) error {
		switch i % 3 {
		case 0:
			return &StatusError{Method: "POST", URL: fmt.Sprintf("http://127.0.0.1:1/self-service/login?flow=%d", i), Status: 400,
				Body: fmt.Sprintf(`{"error":{"id":"session_already_available","code":400,"request":"%d"}}`, i)}
		case 1:
			return &StatusError{Method: "GET", URL: "http://127.0.0.1:1/me", Status: 401, Body: `{"code":401,"message":"Unauthorized"}`}
		}
		return nil
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"POST /self-service/login: HTTP 400: session_already_available 400": 30,
		"GET /me: HTTP 401: Unauthorized":                                   30,
	}
	if !maps.Equal(st.ErrorKinds, want) {
		t.Fatalf("error kinds %v, want %v", st.ErrorKinds, want)
	}
}

func TestErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("dial tcp 127.0.0.1:9: connection refused\nmore"), "dial tcp 127.0.0.1:9: connection refused"},
		{"query stripped", errors.New("POST http://127.0.0.1:1/login?flow=abc: EOF"), "POST http://127.0.0.1:1/login: EOF"},
		{"hanko flow error", &StatusError{Method: "POST", URL: "http://x/login?action=a@b", Status: 401,
			Body: `{"name":"login_passkey","status":401,"error":{"code":"passkey_invalid","message":"x"}}`}, "POST /login: HTTP 401: state login_passkey passkey_invalid x"},
		{"text body", &StatusError{Method: "GET", URL: "http://x/ui/login", Status: 502, Body: "bad gateway\nsecond"}, "GET /ui/login: HTTP 502: bad gateway"},
		{"skip", &SkipError{Reason: "why"}, "skipped: why"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ErrorKind(tt.err); got != tt.want {
				t.Fatalf("ErrorKind = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMeasureErrorKindsBounded(t *testing.T) {
	t.Parallel()
	st, err := Measure(context.Background(), Load{Concurrency: 1, Requests: 50}, func(_ context.Context, _ int, i int64) error {
		return fmt.Errorf("failure %d", i)
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, n := range st.ErrorKinds {
		sum += n
	}
	if len(st.ErrorKinds) != maxErrorKinds+1 || st.ErrorKinds[otherErrors] != 50-maxErrorKinds || sum != 50 {
		t.Fatalf("%d kinds, %d other, %d in all", len(st.ErrorKinds), st.ErrorKinds[otherErrors], sum)
	}
}

func TestBaselineLast(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want []string }{
		{[]string{"baseline", "whoami", "validate", "me"}, []string{"whoami", "validate", "me", "baseline"}},
		{[]string{"whoami", "baseline", "hash"}, []string{"whoami", "baseline", "hash"}},
		{[]string{"baseline", "whoami", "hash"}, []string{"whoami", "baseline", "hash"}},
		{[]string{"baseline", "hash"}, []string{"baseline", "hash"}},
		{[]string{"hash"}, []string{"hash"}},
	}
	for _, tt := range tests {
		if got := baselineLast(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("baselineLast(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMeasureRefusesBadLoad(t *testing.T) {
	t.Parallel()
	nop := func(context.Context, int, int64) error { return nil }
	for name, l := range map[string]Load{
		"no workers":        {Concurrency: 0, Duration: time.Second},
		"unbounded":         {Concurrency: 1},
		"negative duration": {Concurrency: 1, Duration: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := Measure(context.Background(), l, nop, nil, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestMeasureStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Measure(ctx, Load{Concurrency: 2, Duration: time.Minute}, func(ctx context.Context, _ int, _ int64) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			return nil
		}
	}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("took %v after cancel", time.Since(start))
	}
}

func TestParseScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"all", "all", len(scenarios), false},
		{"two", "whoami, baseline", 2, false},
		{"duplicates collapse", "whoami,whoami", 1, false},
		{"unknown", "whoami,nope", 0, true},
		{"empty", " , ", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseScenarios(tt.in)
			if (err != nil) != tt.wantErr || len(got) != tt.want {
				t.Fatalf("ParseScenarios(%q) = %v, %v; want %d names, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTOTPPool(t *testing.T) {
	t.Parallel()
	step := int64(33_333_334) // any step
	tests := []struct {
		name  string
		at    time.Time // now
		next  int64     // every user's first unused step, relative to now's step
		users int
		want  []int64 // steps handed out, relative to now's step, until spent
	}{
		{"two steps each: current and next", time.Unix(step*totpPeriod+5, 0), 0, 2, []int64{0, 0, 1, 1}},
		{"current step used at enrolment", time.Unix(step*totpPeriod+5, 0), 1, 2, []int64{1, 1}},
		{"near the end of a step only the next", time.Unix(step*totpPeriod+totpPeriod-1, 0), 0, 2, []int64{1, 1}},
		{"never beyond the server's skew", time.Unix(step*totpPeriod+5, 0), 2, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.at
			cur := now.Unix() / totpPeriod
			p := &totpPool{now: func() time.Time { return now }}
			for range tt.users {
				p.users = append(p.users, &totpUser{next: cur + tt.next})
			}
			var got []int64
			for {
				_, at, err := p.take()
				if err != nil {
					if !errors.Is(err, ErrExhausted) {
						t.Fatalf("take: %v, want ErrExhausted", err)
					}
					break
				}
				got = append(got, at.Unix()/totpPeriod-cur)
				if len(got) > 10 {
					t.Fatal("the pool never runs out")
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("steps %v, want %v", got, tt.want)
			}
		})
	}
}
