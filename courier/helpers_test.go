package courier

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/sqlite"
	"github.com/latchkey/latchkey/store/sqlstore"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// openSQLite opens and migrates the SQLite database at dsn.
func openSQLite(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// brief describes a message's delivery state for failure output.
func brief(m *core.Message) string {
	if m == nil {
		return "<nil>"
	}
	var ds []string
	for _, d := range m.Dispatches {
		ds = append(ds, d.Status+":"+d.Error)
	}
	return fmt.Sprintf("{id %s to %s status %s sends %d next %s dispatches %q}",
		m.ID, m.Recipient, m.Status, m.SendCount, m.NextAttempt.Format(time.RFC3339), ds)
}
