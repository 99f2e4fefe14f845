package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/core"
)

// availability follows whether the database answers, so that an outage is
// reported once when it starts and once when it ends, however many
// statements fail meanwhile.
type availability struct {
	mu     sync.Mutex
	down   bool
	since  time.Time
	notify func(up bool, cause error, downFor time.Duration)
	// isDown is read on every statement without the lock.
	isDown atomic.Bool
}

// OnAvailability makes the store call fn when the database stops
// answering (up false, with the first error) and when it answers again (up
// true, with how long it was down). Call it before the store is used.
func (s *Store) OnAvailability(fn func(up bool, cause error, downFor time.Duration)) {
	s.avail.notify = fn
}

// check classifies err: an error that says the database cannot be reached
// is returned wrapped with core.ErrUnavailable (so both faces answer 503)
// and marks the database down; success marks it up again.
func (a *availability) check(d *Dialect, err error) error {
	if err == nil {
		if a.isDown.Load() {
			a.set(false, nil)
		}
		return nil
	}
	if errors.Is(err, core.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// A request that was cancelled or ran out of time says nothing
		// about the database.
		return err
	}
	if !unreachable(d, err) {
		return err
	}
	a.set(true, err)
	return fmt.Errorf("%w: %w", core.ErrUnavailable, err)
}

func (a *availability) set(down bool, cause error) {
	a.mu.Lock()
	if a.down == down {
		a.mu.Unlock()
		return
	}
	a.down = down
	a.isDown.Store(down)
	var downFor time.Duration
	if down {
		a.since = time.Now()
	} else {
		downFor = time.Since(a.since)
	}
	notify := a.notify
	a.mu.Unlock()
	if notify != nil {
		notify(!down, cause, downFor)
	}
}

// unreachable reports whether err means the database could not be
// reached: a refused or dropped connection, a connection the driver gave
// up on, or the engine's own signs (Dialect.IsUnavailable).
func unreachable(d *Dialect, err error) bool {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed), errors.As(err, &oe):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return d.IsUnavailable != nil && d.IsUnavailable(err)
}
