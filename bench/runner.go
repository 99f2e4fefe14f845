package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one operation of a scenario, run by worker (0 ≤ worker <
// concurrency) for the i-th time overall. It returns nil on success; any
// error counts against the scenario. Ops run concurrently.
type Op func(ctx context.Context, worker int, i int64) error

// ErrExhausted, returned (wrapped) by an op, ends its worker's loop
// without counting a failure: the op's supply (codes, tokens) is used up.
// Stats.Exhausted says it happened.
var ErrExhausted = errors.New("the scenario's supply is used up")

// Load bounds a measurement.
type Load struct {
	Concurrency int           // workers in the closed loop (at least 1)
	Duration    time.Duration // measured time; the loop stops starting ops after it
	Warmup      time.Duration // unmeasured time before it (0 for none)
	Requests    int64         // cap on measured ops (0 for none)
}

// Stats is what one measurement saw.
type Stats struct {
	Ops        int64            // successful operations
	Errors     int64            // failed operations
	FirstError string           // the text of the first failure, empty when none
	ErrorKinds map[string]int64 // failures by kind (ErrorKind), at most maxErrorKinds kinds
	Exhausted  string           // the ErrExhausted error that ended the phase early, if any
	Elapsed    time.Duration    // wall time of the measured phase
	Latencies  []time.Duration  // of the successful operations, sorted ascending
}

// OpsPerSec is successful operations per second of wall time.
func (s *Stats) OpsPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of the
// latencies, or 0 when there are none.
func (s *Stats) Percentile(p float64) time.Duration {
	return percentile(s.Latencies, p)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Measure runs op in a closed loop: Concurrency workers each start the next
// op as soon as their last one returns. It first runs the warm-up, whose
// results are discarded, then calls between (when not nil; it reads
// counters such as the server's CPU time), then the measured phase, which
// ends when Duration has passed or Requests ops have started, whichever is
// first; ops in flight at the deadline are finished and counted. progress,
// when not nil, gets a one-line status every 250 ms while measuring.
// Measure returns early with ctx's error when ctx ends.
func Measure(ctx context.Context, l Load, op Op, between func(), progress func(done, errs int64, elapsed time.Duration)) (*Stats, error) {
	if l.Concurrency < 1 {
		return nil, errors.New("measure: concurrency must be at least 1")
	}
	if l.Duration <= 0 && l.Requests <= 0 {
		return nil, errors.New("measure: a duration or a request cap is required")
	}
	var seq atomic.Int64
	if l.Warmup > 0 {
		run(ctx, l.Concurrency, l.Warmup, 0, &seq, op, nil)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if between != nil {
		between()
	}
	st := run(ctx, l.Concurrency, l.Duration, l.Requests, &seq, op, progress)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st, nil
}

// run is one phase of Measure.
func run(ctx context.Context, workers int, d time.Duration, limit int64, seq *atomic.Int64, op Op,
	progress func(done, errs int64, elapsed time.Duration)) *Stats {
	var (
		started  atomic.Int64
		ok, errs atomic.Int64
		firstErr atomic.Pointer[string]
		kindsMu  sync.Mutex
		kinds    = map[string]int64{}
		spent    atomic.Pointer[string]
		wg       sync.WaitGroup
		lats     = make([][]time.Duration, workers)
	)
	start := time.Now()
	var deadline time.Time
	if d > 0 {
		deadline = start.Add(d)
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if progress == nil {
			return
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				progress(ok.Load(), errs.Load(), time.Since(start))
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					break
				}
				if limit > 0 && started.Add(1) > limit {
					break
				}
				i := seq.Add(1) - 1
				t0 := time.Now()
				err := op(ctx, w, i)
				lat := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					if errors.Is(err, ErrExhausted) {
						s := err.Error()
						spent.CompareAndSwap(nil, &s)
						break
					}
					if errs.Add(1) == 1 {
						s := err.Error()
						firstErr.Store(&s)
					}
					k := ErrorKind(err)
					kindsMu.Lock()
					if _, ok := kinds[k]; !ok && len(kinds) >= maxErrorKinds {
						k = otherErrors
					}
					kinds[k]++
					kindsMu.Unlock()
					continue
				}
				ok.Add(1)
				mine = append(mine, lat)
			}
			lats[w] = mine
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone
	st := &Stats{Ops: ok.Load(), Errors: errs.Load(), Elapsed: elapsed}
	if len(kinds) > 0 {
		st.ErrorKinds = kinds
	}
	if p := spent.Load(); p != nil {
		st.Exhausted = *p
	}
	if p := firstErr.Load(); p != nil {
		st.FirstError = *p
	}
	n := 0
	for _, l := range lats {
		n += len(l)
	}
	st.Latencies = make([]time.Duration, 0, n)
	for _, l := range lats {
		st.Latencies = append(st.Latencies, l...)
	}
	slices.Sort(st.Latencies)
	return st
}

// progressLine returns a Measure progress function that redraws one status
// line on w (a terminal) for scenario name.
func progressLine(w io.Writer, name string, l Load) func(done, errs int64, elapsed time.Duration) {
	if w == nil {
		return nil
	}
	return func(done, errs int64, elapsed time.Duration) {
		total := ""
		if l.Duration > 0 {
			total = "/" + l.Duration.Round(time.Second).String()
		}
		fmt.Fprintf(w, "\r\033[K%-16s %5.1fs%s  %d ops  %d errors  %.0f ops/s",
			name, elapsed.Seconds(), total, done, errs, float64(done)/max(elapsed.Seconds(), 1e-9))
	}
}
