package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite"
)

// openSQLite opens a file database with a table t(n) holding 1..3.
func openSQLite(t *testing.T, conns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "c.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// sumVia runs "SELECT SUM(n) + k FROM t" through the cache.
func sumVia(ctx context.Context, c *stmtCache, k int) (int, error) {
	e, err := c.acquire(ctx, fmt.Sprintf("SELECT SUM(n) + %d FROM t", k), false)
	if err != nil {
		return 0, err
	}
	defer e.release()
	var got int
	err = e.st.QueryRowContext(ctx).Scan(&got)
	return got, err
}

func TestStmtCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, c *stmtCache)
	}{
		{"hit reuses the statement", func(t *testing.T, c *stmtCache) {
			a, err := c.acquire(ctx, "SELECT n FROM t", false)
			if err != nil {
				t.Fatal(err)
			}
			a.release()
			b, err := c.acquire(ctx, "SELECT n FROM t", false)
			if err != nil {
				t.Fatal(err)
			}
			b.release()
			if a != b || c.len() != 1 {
				t.Errorf("second acquire: same entry %v, %d cached; want the same entry, 1 cached", a == b, c.len())
			}
		}},
		{"bounded by evicting", func(t *testing.T, c *stmtCache) {
			for k := range 10 {
				got, err := sumVia(ctx, c, k)
				if err != nil || got != 6+k {
					t.Fatalf("query %d: %d, %v; want %d", k, got, err, 6+k)
				}
				if c.len() > c.max {
					t.Fatalf("%d statements cached, more than the bound %d", c.len(), c.max)
				}
			}
		}},
		{"evicted statement in use stays open until released", func(t *testing.T, c *stmtCache) {
			e, err := c.acquire(ctx, "SELECT n FROM t ORDER BY n", false)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := e.st.QueryContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for k := range 2 * c.max { // evicts everything cached before
				if _, err := sumVia(ctx, c, 100+k); err != nil {
					t.Fatal(err)
				}
			}
			if !e.evicted.Load() {
				t.Fatal("the first statement was not evicted")
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil || n != 3 {
				t.Fatalf("rows of the evicted statement: %d, %v; want 3, nil", n, err)
			}
			var got int
			if err := e.st.QueryRowContext(ctx).Scan(&got); err != nil || got != 1 {
				t.Fatalf("evicted statement still acquired: %d, %v; want 1, nil", got, err)
			}
			e.release()
			if err := e.st.QueryRowContext(ctx).Scan(&got); err == nil {
				t.Fatal("an evicted, released statement still runs; want it closed")
			}
		}},
		{"miss inside a transaction is prepared afterwards", func(t *testing.T, c *stmtCache) {
			const q = "SELECT COUNT(*) FROM t"
			e, err := c.acquire(ctx, q, true)
			if e != nil || err != nil {
				t.Fatalf("acquire in a transaction: %v, %v; want nil, nil", e, err)
			}
			if c.len() != 0 {
				t.Fatalf("%d statements cached after a transaction's miss, want 0", c.len())
			}
			c.prepareMissing(ctx)
			if e, err = c.acquire(ctx, q, true); e == nil || err != nil {
				t.Fatalf("acquire after prepareMissing: %v, %v; want the statement", e, err)
			}
			e.release()
		}},
		{"prepare error is the query's error", func(t *testing.T, c *stmtCache) {
			if _, err := c.acquire(ctx, "SELECT nope FROM t", false); err == nil {
				t.Fatal("acquire of a bad query succeeded")
			}
			if c.len() != 0 {
				t.Errorf("%d statements cached after a failed prepare, want 0", c.len())
			}
		}},
		{"concurrent use with eviction", func(t *testing.T, c *stmtCache) {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Go(func() {
					for k := range 200 {
						want := 6 + (g+k)%5
						got, err := sumVia(ctx, c, (g+k)%5)
						if err == nil && got != want {
							err = fmt.Errorf("got %d, want %d", got, want)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newStmtCache(openSQLite(t, 4), 2)
			t.Cleanup(c.close)
			tc.run(t, c)
		})
	}
}

// TestStatementCacheConfig: Config.StatementCache sizes the cache of each
// SQLite handle; negative keeps none (queries still run).
func TestStatementCacheConfig(t *testing.T) {
	t.Parallel()
	dialect := Dialect{Flavor: SQLite, IsUniqueViolation: func(error) bool { return false }}
	for _, tc := range []struct {
		n, want int
	}{{0, DefaultStatementCache}, {7, 7}, {-1, 0}} {
		db := openSQLite(t, 1)
		s, err := New(Config{Dialect: dialect, Write: db, StatementCache: tc.n})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		if s.writeStmts != nil {
			got = s.writeStmts.max
		}
		if got != tc.want || (tc.want == 0) != (s.readStmts == nil) {
			t.Errorf("StatementCache %d: bound %d, want %d", tc.n, got, tc.want)
		}
		var n int
		if err := s.ops.queryRow(context.Background(), `SELECT SUM(n) FROM t`).Scan(&n); err != nil || n != 6 {
			t.Errorf("StatementCache %d: query %d, %v", tc.n, n, err)
		}
	}
}
