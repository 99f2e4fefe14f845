package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// fakeLog is a change log whose visible rows the test controls.
type fakeLog struct {
	mu   sync.Mutex
	rows []store.SessionChange // visible (committed) rows, any order
	err  error
}

func (l *fakeLog) add(rows ...store.SessionChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows = append(l.rows, rows...)
}

func (l *fakeLog) LastSessionChange(context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, r := range l.rows {
		n = max(n, r.ID)
	}
	return n, l.err
}

func (l *fakeLog) SessionChangesAfter(_ context.Context, after int64, limit int) ([]store.SessionChange, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	var out []store.SessionChange
	for id := after + 1; len(out) < limit; id++ {
		found, more := false, false
		for _, r := range l.rows {
			if r.ID == id {
				out, found = append(out, r), true
			}
			more = more || r.ID > id
		}
		if !found && !more {
			break
		}
	}
	return out, nil
}

// cachedSession returns a usable session of identity with an identity.
func cachedSession(identity, id string, now time.Time) (*core.Session, *core.Identity) {
	return &core.Session{ID: id, IdentityID: identity, Active: true, ExpiresAt: now.Add(time.Hour)},
		&core.Identity{ID: identity, State: core.IdentityActive}
}

func TestCache(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	type env struct {
		c   *Cache
		log *fakeLog
		clk *fakeClock
	}
	key := func(id string) cacheKey { return cacheKey{kind: kindIDIdentity, id: id} }
	put := func(e env, identity, id string) {
		s, i := cachedSession(identity, id, e.clk.Now())
		e.c.put(key(id), e.c.generation(), s, i, e.clk.Now())
	}
	has := func(e env, id string) bool { return e.c.get(key(id), e.clk.Now()) != nil }
	sync := func(t *testing.T, e env) {
		t.Helper()
		if err := e.c.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		opts CacheOptions
		run  func(t *testing.T, e env)
	}{
		{"answers nothing before the log was read", CacheOptions{}, func(t *testing.T, e env) {
			e.c.synced.Store(0)
			put(e, "i1", "s1")
			if has(e, "s1") {
				t.Fatal("answered before the first read of the change log")
			}
		}},
		{"evicts what the log names, and only that", CacheOptions{}, func(t *testing.T, e env) {
			put(e, "i1", "s1")
			put(e, "i1", "s2")
			put(e, "i2", "s3")
			put(e, "i3", "s4")
			e.log.add(store.SessionChange{ID: 1, IdentityID: "i1", SessionID: "s1"}, store.SessionChange{ID: 2, SessionID: "s3"})
			sync(t, e)
			if has(e, "s1") || !has(e, "s2") || has(e, "s3") || !has(e, "s4") {
				t.Fatalf("after evicting s1 and s3: s1 %v s2 %v s3 %v s4 %v", has(e, "s1"), has(e, "s2"), has(e, "s3"), has(e, "s4"))
			}
			e.log.add(store.SessionChange{ID: 3, IdentityID: "i1"})
			sync(t, e)
			if has(e, "s2") || !has(e, "s4") {
				t.Fatal("a change of identity i1 did not evict exactly its sessions")
			}
		}},
		{"a late commit below the highest id is still seen", CacheOptions{}, func(t *testing.T, e env) {
			put(e, "i1", "s1")
			e.log.add(store.SessionChange{ID: 2, IdentityID: "i9"}) // id 1 taken, not committed yet
			sync(t, e)
			if !has(e, "s1") {
				t.Fatal("s1 evicted by another identity's change")
			}
			e.log.add(store.SessionChange{ID: 1, IdentityID: "i1"}) // commits now
			sync(t, e)
			if has(e, "s1") {
				t.Fatal("the change committed after a higher id was missed")
			}
		}},
		{"a change in flight when the cache starts is still seen", CacheOptions{}, func(t *testing.T, e env) {
			// Not started.
			e.c.synced.Store(0)
			e.log.add(store.SessionChange{ID: 1, IdentityID: "i9"}, store.SessionChange{ID: 3, IdentityID: "i8"}) // id 2 taken, not committed yet
			if err := e.c.start(context.Background()); err != nil {
				t.Fatal(err)
			}
			put(e, "i1", "s1") // loaded before change 2 commits
			if !has(e, "s1") {
				t.Fatal("the started cache does not answer")
			}
			e.log.add(store.SessionChange{ID: 2, IdentityID: "i1"}) // commits now
			sync(t, e)
			if has(e, "s1") {
				t.Fatal("a change below the highest id when the cache started was missed")
			}
		}},
		{"what was loaded before the cache started is dropped", CacheOptions{}, func(t *testing.T, e env) {
			// Not started.
			e.c.synced.Store(0)
			put(e, "i1", "s1")                                      // loaded before the first read of the log
			e.log.add(store.SessionChange{ID: 1, IdentityID: "i1"}) // committed before it
			if err := e.c.start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if has(e, "s1") {
				t.Fatal("an entry loaded before the first read of the log answered")
			}
		}},
		{"a change seen twice evicts once", CacheOptions{}, func(t *testing.T, e env) {
			e.log.add(store.SessionChange{ID: 2, IdentityID: "i9"}, store.SessionChange{ID: 3, IdentityID: "i1"}) // gap at 1
			sync(t, e)
			put(e, "i1", "s1") // loaded after change 3
			sync(t, e)         // re-reads from the gap: 3 again
			if !has(e, "s1") {
				t.Fatal("an entry loaded after a change was evicted by it on a later read")
			}
		}},
		{"a load that began before an eviction is not stored", CacheOptions{}, func(t *testing.T, e env) {
			gen := e.c.generation()
			s, i := cachedSession("i1", "s1", e.clk.Now()) // read from the store before the write committed
			e.c.Evict([]store.SessionChange{{IdentityID: "i1"}})
			e.c.put(key("s1"), gen, s, i, e.clk.Now())
			if has(e, "s1") {
				t.Fatal("stored a load older than an eviction")
			}
		}},
		{"bounded: the oldest entry makes room", CacheOptions{MaxEntries: 3}, func(t *testing.T, e env) {
			for _, id := range []string{"s1", "s2", "s3", "s4"} {
				put(e, "i-"+id, id)
			}
			if e.c.Len() != 3 || has(e, "s1") || !has(e, "s4") {
				t.Fatalf("%d entries, s1 %v, s4 %v", e.c.Len(), has(e, "s1"), has(e, "s4"))
			}
			put(e, "i-s2", "s2") // replacing an entry keeps the bound
			put(e, "i-s5", "s5")
			if e.c.Len() != 3 {
				t.Fatalf("%d entries", e.c.Len())
			}
		}},
		{"entries older than max age miss", CacheOptions{MaxAge: 10 * time.Second}, func(t *testing.T, e env) {
			put(e, "i1", "s1")
			e.clk.Add(11 * time.Second)
			e.c.synced.Store(e.clk.Now().UnixNano())
			if has(e, "s1") {
				t.Fatal("an entry older than max age answered")
			}
		}},
		{"unusable sessions are not stored", CacheOptions{}, func(t *testing.T, e env) {
			s, i := cachedSession("i1", "s1", e.clk.Now())
			s.Active = false
			e.c.put(key("s1"), e.c.generation(), s, i, e.clk.Now())
			if has(e, "s1") {
				t.Fatal("a revoked session was cached")
			}
		}},
		{"a log that cannot be read stops the answers", CacheOptions{SyncInterval: time.Second}, func(t *testing.T, e env) {
			put(e, "i1", "s1")
			e.log.err = errors.New("database down")
			e.clk.Add(3 * time.Second)
			if err := e.c.Sync(context.Background()); err == nil {
				t.Fatal("Sync hid the error")
			}
			if has(e, "s1") {
				t.Fatal("answered with the change log unread for three intervals")
			}
			e.log.err = nil
			sync(t, e)
			if e.c.Len() != 0 {
				t.Fatal("entries from before the outage survived it")
			}
		}},
		{"a nil cache caches nothing", CacheOptions{}, func(t *testing.T, e env) {
			var c *Cache
			s, i := cachedSession("i1", "s1", e.clk.Now())
			c.put(key("s1"), c.generation(), s, i, e.clk.Now())
			c.Evict([]store.SessionChange{{IdentityID: "i1"}})
			if c.get(key("s1"), e.clk.Now()) != nil {
				t.Fatal("a nil cache answered")
			}
		}},
		{"entries are copies", CacheOptions{}, func(t *testing.T, e env) {
			s, i := cachedSession("i1", "s1", e.clk.Now())
			i.Addresses = []core.Address{{Value: "a@example.com"}}
			e.c.put(key("s1"), e.c.generation(), s, i, e.clk.Now())
			s.Active, i.Addresses[0].Value = false, "changed"
			got := e.c.get(key("s1"), e.clk.Now())
			if !got.sess.Active || got.ident.Addresses[0].Value != "a@example.com" {
				t.Fatal("the cache shares the caller's session or identity")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{t: base}
			tc.opts.Now = clk.Now
			log := &fakeLog{}
			c := NewCache(log, tc.opts)
			c.synced.Store(clk.Now().UnixNano())
			tc.run(t, env{c: c, log: log, clk: clk})
		})
	}
}

// TestManagerCache: the Manager answers repeated checks from the cache,
// checks expiry on every answer and hands out copies.
func TestManagerCache(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	createIdentity(t, st, alice)
	clk := newClock()
	c := NewCache(&fakeLog{}, CacheOptions{Now: clk.Now})
	c.synced.Store(clk.Now().UnixNano())
	m, err := NewManager(st, newSigner(t), Options{Now: clk.Now, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, tok, err := m.Issue(ctx, alice, core.AuthMethod{Method: "password"}, core.Device{}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, _, err := m.VerifyWithIdentity(ctx, tok)
		if err != nil || got.ID != s.ID {
			t.Fatalf("VerifyWithIdentity = %v, %v", got, err)
		}
		got.Active = false // a caller's change stays its own
	}
	if h, _ := c.Stats(); h != 2 {
		t.Fatalf("%d cache hits, want 2", h)
	}
	clk.Add(time.Minute)
	c.synced.Store(clk.Now().UnixNano())
	if _, _, err := m.VerifyWithIdentity(ctx, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired cached session: %v, want ErrExpired", err)
	}
}
