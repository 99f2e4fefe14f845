package queue

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPoll(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// claimed is what each tick returns, in turn; after the last one
		// the test cancels.
		claimed  []int
		fail     []bool
		wantErrs int
	}{
		{"full batches poll again at once", []int{3, 3, 3, 1}, nil, 0},
		{"errors are reported and polling goes on", []int{3, 0, 1}, []bool{true, true, false}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var calls int
			var errs atomic.Int32
			done := make(chan struct{})
			tick := func(context.Context) (int, error) {
				i := calls
				calls++
				if i == len(tc.claimed)-1 {
					cancel()
				}
				if i < len(tc.fail) && tc.fail[i] {
					return tc.claimed[i], errors.New("store down")
				}
				return tc.claimed[i], nil
			}
			start := time.Now()
			go func() {
				defer close(done)
				// pullWait is long: a tick that claimed a full batch (and did
				// not fail) must be followed at once, others after 20ms.
				Poll(ctx, 20*time.Millisecond, 3, tick, func(error) { errs.Add(1) })
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Poll did not return after cancellation")
			}
			if calls != len(tc.claimed) {
				t.Errorf("ticks = %d, want %d", calls, len(tc.claimed))
			}
			if got := int(errs.Load()); got != tc.wantErrs {
				t.Errorf("errors reported = %d, want %d", got, tc.wantErrs)
			}
			waits := 0
			for i, n := range tc.claimed[:len(tc.claimed)-1] {
				if n != 3 || (i < len(tc.fail) && tc.fail[i]) {
					waits++
				}
			}
			if el := time.Since(start); el < time.Duration(waits)*20*time.Millisecond {
				t.Errorf("took %s, want at least %d pull waits", el, waits)
			}
		})
	}
}

func TestPollCancelledErrorNotReported(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	Poll(ctx, time.Hour, 1, func(context.Context) (int, error) {
		cancel()
		return 0, context.Canceled
	}, func(err error) { t.Errorf("onError(%v) after cancellation", err) })
}

func TestDrain(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name         string
		cancelAfter  int // deliveries before ctx is cancelled; -1 never
		failDeliver  string
		failRelease  string
		wantDeliver  string
		wantRelease  string
		wantErrCount int
	}{
		{"all delivered", -1, "", "", "abc", "", 0},
		{"cancelled after the first: rest released", 1, "", "", "a", "bc", 0},
		{"cancelled before any", 0, "", "", "", "abc", 0},
		{"errors joined", 2, "a", "c", "ab", "c", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancelAfter == 0 {
				cancel()
			}
			var delivered, released strings.Builder
			jobs := []string{"a", "b", "c"}
			err := Drain(ctx, jobs,
				func(ctx context.Context, j *string) error {
					delivered.WriteString(*j)
					if delivered.Len() == tc.cancelAfter {
						cancel()
					}
					if strings.Contains(tc.failDeliver, *j) {
						return errBoom
					}
					return nil
				},
				func(ctx context.Context, j *string) error {
					released.WriteString(*j)
					if strings.Contains(tc.failRelease, *j) {
						return errBoom
					}
					return nil
				})
			if delivered.String() != tc.wantDeliver || released.String() != tc.wantRelease {
				t.Errorf("delivered %q released %q, want %q and %q", delivered.String(), released.String(), tc.wantDeliver, tc.wantRelease)
			}
			var n int
			if err != nil {
				n = len(err.(interface{ Unwrap() []error }).Unwrap())
			}
			if n != tc.wantErrCount {
				t.Errorf("Drain error = %v, want %d joined errors", err, tc.wantErrCount)
			}
		})
	}
}

func TestDetached(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dctx, dcancel := Detached(ctx, time.Minute)
	defer dcancel()
	if dctx.Err() != nil {
		t.Fatalf("detached context is done: %v", dctx.Err())
	}
	if _, ok := dctx.Deadline(); !ok {
		t.Fatal("detached context has no deadline")
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		n      int
		jitter float64
		want   time.Duration
	}{
		{"first failure, no jitter", 1, 0, 5 * time.Second},
		{"first failure, full jitter", 1, 0.999999999, 10 * time.Second},
		{"third failure doubles twice", 3, 0, 20 * time.Second},
		{"capped", 30, 0, 30 * time.Minute},
		{"n below 1 counts as 1", 0, 0, 5 * time.Second},
		{"bad jitter is ignored", 1, 7, 5 * time.Second},
		{"negative jitter is ignored", 2, -1, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := Backoff{Base: 10 * time.Second, Max: time.Hour, Jitter: func() float64 { return tc.jitter }}
			if got := b.Delay(tc.n); got.Round(time.Millisecond) != tc.want {
				t.Errorf("Delay(%d) = %s, want %s", tc.n, got, tc.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		wantLen int
	}{
		{"short kept", "connection refused", len("connection refused")},
		{"long cut", strings.Repeat("x", 5000), MaxErrorLen},
		{"multi-byte rune not split", strings.Repeat("x", MaxErrorLen-1) + "é", MaxErrorLen - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ErrorText(errors.New(tc.text))
			if len(got) != tc.wantLen || !utf8.ValidString(got) || !strings.HasPrefix(tc.text, got) {
				t.Errorf("ErrorText: len %d valid %v, want len %d and a valid prefix", len(got), utf8.ValidString(got), tc.wantLen)
			}
		})
	}
}
