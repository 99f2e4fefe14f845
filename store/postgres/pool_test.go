package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store/postgres"
	"github.com/latchkey/latchkey/store/sqlstore"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestPoolParams: Kratos' pool parameters in the DSN set the pool (they are
// not sent to the server, which refuses unknown parameters), the defaults
// apply without them, and a bad value stops Open naming the parameter.
func TestPoolParams(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	sep := "&"
	if !strings.Contains(dsn, "?") {
		sep = "?"
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn+sep+"max_conns=7&max_idle_conns=3&max_conn_lifetime=1h&max_conn_idle_time=30s")
	if err != nil {
		t.Fatalf("Open with Kratos' pool parameters: %v", err)
	}
	want := sqlstore.Pool{MaxOpen: 7, MaxIdle: 3, MaxLifetime: time.Hour, MaxIdleTime: 30 * time.Second}
	if got := s.Pool(); got != want {
		t.Errorf("pool %+v, want %+v", got, want)
	}
	if n := s.Stats().MaxOpenConnections; n != 7 {
		t.Errorf("database/sql MaxOpenConnections %d, want 7", n)
	}
	s.Close()

	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pool(); got != sqlstore.DefaultPool() || got.MaxIdle != got.MaxOpen {
		t.Errorf("default pool %+v, want %+v with as many idle as open", got, sqlstore.DefaultPool())
	}
	s.Close()

	for _, bad := range []string{"max_conns=0", "max_conns=many", "max_idle_conns=-1", "max_conn_lifetime=soon",
		"max_conn_idle_time=-5s", "max_conns=2&max_idle_conns=5"} {
		s, err := postgres.Open(ctx, dsn+sep+bad)
		if err == nil {
			s.Close()
			t.Errorf("%s: accepted", bad)
			continue
		}
		name, _, _ := strings.Cut(bad[strings.LastIndex(bad, "&")+1:], "=")
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want the parameter %s named", bad, err, name)
		}
	}
}

// TestDefaultPoolKeepsConnections: the connections a burst of queries
// opened are kept once it is over, not closed as surplus idle ones (with 2
// of 8 kept idle, 6 were closed after each burst and opened again for the
// next one: a PostgreSQL backend, its authentication and statements each).
func TestDefaultPoolKeepsConnections(t *testing.T) {
	t.Parallel()
	s, err := postgres.Open(context.Background(), storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, db := s.Handles()
	n := s.Pool().MaxOpen
	for range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.ExecContext(context.Background(), `SELECT pg_sleep(0.05)`)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	st := db.Stats()
	if st.MaxIdleClosed != 0 || st.Idle != n {
		t.Fatalf("after two bursts of %d queries: %d connections closed as surplus idle, %d idle; want 0 and %d", n, st.MaxIdleClosed, st.Idle, n)
	}
}
