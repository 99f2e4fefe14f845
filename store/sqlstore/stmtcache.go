package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// DefaultStatementCache bounds the prepared statements a stmtCache keeps
// per handle unless Config.StatementCache says otherwise. The store's
// fixed queries number about a hundred, and the hot ones are a few dozen;
// queries built with variable IN lists or LIMIT/OFFSET literals add more.
// When the cache is full one entry is evicted at random (and closed once
// no caller uses it), so a burst of one-off queries cannot grow it. Every
// statement is prepared on each connection of the handle that runs it and
// holds SQLite memory there.
const DefaultStatementCache = 128

// stmtCache keeps one *sql.Stmt per query text for a handle, so a query
// the driver would otherwise parse and plan on every call (modernc's
// SQLite does: it has no statement cache of its own) is prepared once per
// connection. database/sql prepares a Stmt lazily on each pooled
// connection it runs on and re-prepares it on new ones. It is safe for
// concurrent use.
type stmtCache struct {
	db  *sql.DB
	max int

	mu      sync.RWMutex
	m       map[string]*cachedStmt
	missing map[string]struct{} // missed inside transactions, to prepare after them
}

// cachedStmt is a prepared statement and the number of callers using it;
// an evicted statement is closed when the last of them releases it.
type cachedStmt struct {
	st      *sql.Stmt
	refs    atomic.Int32
	evicted atomic.Bool
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, m: make(map[string]*cachedStmt), missing: make(map[string]struct{})}
}

// acquire returns the prepared statement for q, preparing it on a miss. The
// caller must release it after the call that uses it has returned (open
// rows keep the statement alive by themselves). It returns the prepare
// error, which is the error running q would have reported.
//
// Inside a transaction (inTx) a miss returns nil, nil: preparing on the
// handle needs a connection, and on SQLite's one-connection write handle
// the transaction holds it. The query is remembered instead, and
// prepareMissing prepares it once the transaction has ended.
func (c *stmtCache) acquire(ctx context.Context, q string, inTx bool) (*cachedStmt, error) {
	c.mu.RLock()
	e := c.m[q]
	if e != nil {
		e.refs.Add(1)
	}
	c.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	if inTx {
		c.mu.Lock()
		if len(c.missing) < c.max {
			c.missing[q] = struct{}{}
		}
		c.mu.Unlock()
		return nil, nil
	}
	return c.prepare(ctx, q)
}

// prepare prepares q, caches it and returns it acquired.
func (c *stmtCache) prepare(ctx context.Context, q string) (*cachedStmt, error) {
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil { // another caller prepared it meanwhile
		old.refs.Add(1)
		_ = st.Close()
		return old, nil
	}
	if len(c.m) >= c.max {
		for k, v := range c.m { // map order: a random victim
			delete(c.m, k)
			v.evict()
			break
		}
	}
	e := &cachedStmt{st: st}
	e.refs.Add(1)
	c.m[q] = e
	return e, nil
}

// prepareMissing prepares the queries transactions missed. Failures are
// not errors: the query runs unprepared and is tried again.
func (c *stmtCache) prepareMissing(ctx context.Context) {
	c.mu.Lock()
	if len(c.missing) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.missing))
	for q := range c.missing {
		qs = append(qs, q)
		delete(c.missing, q)
	}
	c.mu.Unlock()
	for _, q := range qs {
		if e, err := c.prepare(ctx, q); err == nil {
			e.release()
		}
	}
}

// release ends one use of e.
func (e *cachedStmt) release() {
	if e.refs.Add(-1) == 0 && e.evicted.Load() {
		_ = e.st.Close()
	}
}

// evict marks e as no longer cached and closes it unless it is in use;
// the last release closes it then. Closing twice is harmless.
func (e *cachedStmt) evict() {
	e.evicted.Store(true)
	if e.refs.Load() == 0 {
		_ = e.st.Close()
	}
}

// len returns the number of cached statements.
func (c *stmtCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		delete(c.m, k)
		v.evict()
	}
}
