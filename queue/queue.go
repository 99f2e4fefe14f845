package queue

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// Poll runs tick until ctx is cancelled, then returns: the first time at
// once, then every pullWait, or at once again when tick claimed a full
// batch (batchSize jobs) and more may be due. An error from tick is passed
// to onError (unless ctx was cancelled meanwhile) and the loop goes on: the
// next poll retries.
func Poll(ctx context.Context, pullWait time.Duration, batchSize int, tick func(context.Context) (int, error), onError func(error)) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		n, err := tick(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := pullWait
		if err != nil {
			onError(err)
		} else if n == batchSize {
			wait = 0
		}
		timer.Reset(wait)
	}
}

// Drain delivers the claimed jobs one after another with deliver. Once ctx
// is cancelled, the job in flight is finished (deliver should use Detached
// for its work) and the remaining ones are handed back with release instead.
// It returns the errors of deliver and release joined, or nil.
func Drain[T any](ctx context.Context, jobs []T, deliver, release func(context.Context, *T) error) error {
	var errs []error
	for i := range jobs {
		job := &jobs[i]
		if ctx.Err() != nil {
			if err := release(ctx, job); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := deliver(ctx, job); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Detached returns a context with ctx's values that outlives ctx's
// cancellation but ends after d, so a send or record that started is
// finished on shutdown. The caller must call the CancelFunc.
func Detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Backoff is jittered exponential back-off: the delay after the first
// failure is Base, doubled after each further one up to Max, and jittered
// to between half and all of it. Base and Max must be positive with Max >=
// Base; the workers set their defaults before building one.
type Backoff struct {
	Base, Max time.Duration
	// Jitter returns a number in [0, 1); a number outside it counts as 0.
	Jitter func() float64
}

// Delay returns the delay after the n-th failed attempt (n >= 1; a smaller
// n counts as 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	j := b.Jitter()
	if j < 0 || j >= 1 {
		j = 0
	}
	return d/2 + time.Duration(j*float64(d/2))
}

// MaxErrorLen is how many bytes of an attempt's error text ErrorText keeps.
const MaxErrorLen = 1024

// ErrorText returns err's text cut to at most MaxErrorLen bytes without
// splitting a UTF-8 sequence, for storing on a job or its attempt record.
func ErrorText(err error) string {
	s := err.Error()
	if len(s) <= MaxErrorLen {
		return s
	}
	s = s[:MaxErrorLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
