package mysql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store/mysql"
	"github.com/latchkey/latchkey/store/sqlstore"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestPoolParams: Kratos' pool parameters in the DSN set the pool (they are
// not sent to the server, which refuses unknown parameters), the defaults
// apply without them, and a bad value stops Open naming the parameter.
func TestPoolParams(t *testing.T) {
	t.Parallel()
	dsn := storetest.MySQLDSN(t)
	sep := "&"
	if !strings.Contains(dsn, "?") {
		sep = "?"
	}
	ctx := context.Background()
	s, err := mysql.Open(ctx, dsn+sep+"max_conns=7&max_idle_conns=3&max_conn_lifetime=1h&max_conn_idle_time=30s")
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

	s, err = mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pool(); got != sqlstore.DefaultPool() || got.MaxIdle != got.MaxOpen {
		t.Errorf("default pool %+v, want %+v with as many idle as open", got, sqlstore.DefaultPool())
	}
	s.Close()

	for _, bad := range []string{"max_conns=0", "max_conns=many", "max_idle_conns=-1", "max_conn_lifetime=soon",
		"max_conn_idle_time=-5s", "max_conns=2&max_idle_conns=5"} {
		s, err := mysql.Open(ctx, dsn+sep+bad)
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
