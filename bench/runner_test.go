package bench

import (
	"context"
	"errors"
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
	var measured atomic.Bool
	var warm, hot atomic.Int64
	st, err := Measure(context.Background(), Load{Concurrency: 3, Duration: 150 * time.Millisecond, Warmup: 50 * time.Millisecond},
		func(context.Context, int, int64) error {
			time.Sleep(time.Millisecond)
			if measured.Load() {
				hot.Add(1)
			} else {
				warm.Add(1)
			}
			return nil
		}, func() { measured.Store(true) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Elapsed < 150*time.Millisecond || st.Elapsed > 400*time.Millisecond {
		t.Errorf("elapsed %v, want about 150ms", st.Elapsed)
	}
	if warm.Load() == 0 {
		t.Error("no warm-up ops ran")
	}
	if st.Ops != hot.Load() {
		t.Errorf("counted %d ops, but %d ran after warm-up", st.Ops, hot.Load())
	}
	if !sortedAsc(st.Latencies) {
		t.Error("latencies not sorted")
	}
	if got := st.OpsPerSec(); got <= 0 {
		t.Errorf("ops/s = %v", got)
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
