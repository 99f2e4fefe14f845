package session

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Defaults of a Cache (config session.cache).
const (
	DefaultCacheEntries      = 512
	DefaultCacheSyncInterval = time.Second
	DefaultCacheMaxAge       = time.Minute
)

// ChangeLog is the part of the store a Cache polls; *sqlstore.Store
// satisfies it (store.SessionChangeLog).
type ChangeLog interface {
	LastSessionChange(ctx context.Context) (int64, error)
	SessionChangesAfter(ctx context.Context, after int64, limit int) ([]store.SessionChange, error)
}

// CacheOptions configures a Cache. Zero fields take the defaults.
type CacheOptions struct {
	MaxEntries   int              // default DefaultCacheEntries
	SyncInterval time.Duration    // how often the change log is read; default DefaultCacheSyncInterval
	MaxAge       time.Duration    // an entry is reloaded after this; default DefaultCacheMaxAge
	Now          func() time.Time // default time.Now
	// OnSyncError is told when reading the change log fails after it
	// succeeded (once per run of failures; the cache answers nothing from
	// three intervals on until a read succeeds again); nil ignores it.
	OnSyncError func(error)
}

// Cache remembers verified session checks: the session row, and the
// identity with its addresses (and credentials when asked for), keyed by
// the hash of the opaque token or by the session id. The database stays the
// source of truth; the cache only saves reading it again:
//
//   - On this process every committed write that changes a session or its
//     identity drops the affected entries at once (Evict, called by the
//     store after the commit, see store.SessionChangeLog): a revoked
//     session is refused on the very next request.
//   - Writes on other processes sharing the database reach it through the
//     session change log, which every such write appends to in its own
//     transaction and Run reads once per SyncInterval: the first read
//     begun after a change commits drops its entries, so they are seen
//     within one interval when reads keep time and within three at most:
//     when the last successful read began three intervals ago the cache
//     answers nothing until one succeeds.
//   - An entry is reloaded after MaxAge whatever happens (a backstop for a
//     change-log row committed more than gapWait after its id was taken).
//   - Only usable sessions are stored, and their expiry is checked on every
//     request by the Manager: an entry never outlives its session.
//
// The number of entries is bounded by MaxEntries; when full, the oldest
// entry makes room. Entries are handed out as copies. A nil *Cache caches
// nothing. It is safe for concurrent use.
type Cache struct {
	log      ChangeLog
	max      int
	maxAge   time.Duration
	interval time.Duration
	now      func() time.Time
	onErr    func(error)

	gen    atomic.Uint64 // advanced under mu by every eviction
	synced atomic.Int64  // Unix nanoseconds when the last successful read of the log began; 0 never

	mu         sync.RWMutex
	m          map[cacheKey]*cacheEntry
	byIdentity map[string][]*cacheEntry
	bySession  map[string][]*cacheEntry
	ring       []*cacheEntry // insertion order; a slot's entry is replaced when the ring comes round
	next       int

	// The poller's state (Run's goroutine only).
	maxSeen int64
	gaps    map[int64]time.Time // ids below maxSeen not seen yet, with when they were noticed

	hits, loads atomic.Int64
}

// cacheKind says what an entry holds and how it is keyed.
type cacheKind uint8

const (
	kindToken        cacheKind = iota + 1 // by token hash: session, identity with addresses
	kindID                                // by session id: session
	kindIDIdentity                        // by session id: session, identity with addresses
	kindIDCredential                      // by session id: session, identity with addresses and credentials
)

type cacheKey struct {
	kind cacheKind
	hash [sha256.Size]byte
	id   string
}

type cacheEntry struct {
	key    cacheKey
	sess   *core.Session
	ident  *core.Identity // nil for kindID
	loaded time.Time
	dead   bool // removed (under mu)
	memo   [memoSlots]atomic.Pointer[[]byte]
}

// MemoSlot names a value a face derives from a cached check.
type MemoSlot uint8

// The memo slots: the encoded answers of the Kratos face's whoami and the
// Hanko face's /me and /sessions/validate (with the JWT it answered for),
// and the highest AAL the identity can reach (whoami's required_aal:
// highest_available check reads the identity's credentials).
const (
	MemoWhoami MemoSlot = iota
	MemoHankoMe
	MemoHighestAAL
	MemoHankoValidate
	memoSlots
)

// Memo keeps values derived from one cached check, such as a face's encoded
// answer, so that the next request answered by the same entry skips that
// work. It goes with the entry: any write that changes the session or its
// identity (WebAuthn credentials included) drops both. A value stored must
// be derived only from the check's session and identity, the process's
// configuration and data whose writes are in the session change log. The
// zero Memo keeps nothing. Its methods are safe for concurrent use.
type Memo struct{ e *cacheEntry }

// Load returns the value in slot, or nil.
func (m Memo) Load(slot MemoSlot) []byte {
	if m.e == nil || slot >= memoSlots {
		return nil
	}
	if p := m.e.memo[slot].Load(); p != nil {
		return *p
	}
	return nil
}

// Store keeps b in slot; b must not be changed afterwards.
func (m Memo) Store(slot MemoSlot, b []byte) {
	if m.e != nil && slot < memoSlots {
		m.e.memo[slot].Store(&b)
	}
}

// The change-log poller's limits.
const (
	// gapWait is how long an id below the highest one seen is waited for:
	// a transaction that took it and has not committed yet, or one that
	// rolled back.
	gapWait = 30 * time.Second
	// maxGaps bounds the ids waited for.
	maxGaps = 1024
	// syncPage is how many log rows one statement reads.
	syncPage = 1000
	// staleIntervals: with no successful read of the log for this many
	// intervals the cache answers nothing.
	staleIntervals = 3
	// startBacklog is how many ids below the highest one the first read of
	// the log checks for changes still in flight (start), meant to exceed
	// the change rows the write transactions of every process sharing the
	// database hold uncommitted at once. An id among them that never
	// shows (rolled back, swept) costs re-reading up to this many rows per
	// interval for gapWait.
	startBacklog = 256
)

// NewCache returns a cache over log. It answers nothing until Run has read
// the log once.
func NewCache(log ChangeLog, o CacheOptions) *Cache {
	c := &Cache{log: log, max: o.MaxEntries, maxAge: o.MaxAge, interval: o.SyncInterval, now: o.Now, onErr: o.OnSyncError,
		m: map[cacheKey]*cacheEntry{}, byIdentity: map[string][]*cacheEntry{}, bySession: map[string][]*cacheEntry{},
		gaps: map[int64]time.Time{}}
	if c.max <= 0 {
		c.max = DefaultCacheEntries
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultCacheMaxAge
	}
	if c.interval <= 0 {
		c.interval = DefaultCacheSyncInterval
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.ring = make([]*cacheEntry, c.max)
	return c
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Stats returns how many checks the cache answered and how many it had to
// leave to the store since it was made.
func (c *Cache) Stats() (hits, loads int64) { return c.hits.Load(), c.loads.Load() }

// Ready reports whether the cache answers: the change log was read within
// the last three sync intervals.
func (c *Cache) Ready() bool { return c.fresh(c.now()) }

// fresh reports whether the change log was read recently enough at now.
func (c *Cache) fresh(now time.Time) bool {
	s := c.synced.Load()
	return s != 0 && now.UnixNano()-s < int64(staleIntervals*c.interval)
}

// get returns the entry for k if it may answer at now.
func (c *Cache) get(k cacheKey, now time.Time) *cacheEntry {
	if c == nil {
		return nil
	}
	if !c.fresh(now) {
		return nil
	}
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e == nil || now.Sub(e.loaded) >= c.maxAge {
		c.loads.Add(1)
		return nil
	}
	c.hits.Add(1)
	return e
}

// generation returns the value put must be given for what is read from
// the store from now on.
func (c *Cache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// put stores copies of s and i under k, if s is usable at now and no
// eviction happened since gen was taken (the store read may predate a
// write whose eviction has run). It returns the entry, nil when it stored
// none.
func (c *Cache) put(k cacheKey, gen uint64, s *core.Session, i *core.Identity, now time.Time) *cacheEntry {
	if c == nil || !s.Usable(now) {
		return nil
	}
	e := &cacheEntry{key: k, sess: copySession(s), loaded: now}
	if i != nil {
		e.ident = copyIdentity(i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return nil
	}
	if old := c.m[k]; old != nil {
		c.remove(old)
	}
	if slot := c.ring[c.next]; slot != nil && !slot.dead {
		c.remove(slot)
	}
	c.ring[c.next] = e
	c.next = (c.next + 1) % len(c.ring)
	c.m[k] = e
	c.byIdentity[s.IdentityID] = append(c.byIdentity[s.IdentityID], e)
	c.bySession[s.ID] = append(c.bySession[s.ID], e)
	return e
}

// remove drops e from the indexes (under mu).
func (c *Cache) remove(e *cacheEntry) {
	e.dead = true
	if c.m[e.key] == e {
		delete(c.m, e.key)
	}
	drop := func(idx map[string][]*cacheEntry, key string) {
		l := slices.DeleteFunc(idx[key], func(x *cacheEntry) bool { return x == e })
		if len(l) == 0 {
			delete(idx, key)
		} else {
			idx[key] = l
		}
	}
	drop(c.byIdentity, e.sess.IdentityID)
	drop(c.bySession, e.sess.ID)
}

// Evict drops the entries the changes name: every entry of a change's
// identity (only those of its session when the change names one too), or
// of its session. Loads that began before it are not stored.
func (c *Cache) Evict(changes []store.SessionChange) {
	if c == nil || len(changes) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, ch := range changes {
		var list []*cacheEntry
		if ch.IdentityID != "" {
			list = c.byIdentity[ch.IdentityID]
		} else {
			list = c.bySession[ch.SessionID]
		}
		for _, e := range slices.Clone(list) {
			if ch.SessionID == "" || e.sess.ID == ch.SessionID {
				c.remove(e)
			}
		}
	}
}

// Clear drops every entry.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	clear(c.m)
	clear(c.byIdentity)
	clear(c.bySession)
	for k, e := range c.ring {
		if e != nil {
			e.dead = true
		}
		c.ring[k] = nil
	}
	c.next = 0
}

// Run reads the change log every SyncInterval and evicts what other
// processes changed, until ctx ends. It starts near the newest change (see
// start). It returns ctx's error.
func (c *Cache) Run(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	started, failing := false, false
	for {
		var err error
		if !started {
			if err = c.start(ctx); err == nil {
				started = true
			}
		} else {
			err = c.Sync(ctx)
		}
		// Told once per run of failures (an outage is logged by the store).
		if err != nil && !failing && c.onErr != nil && ctx.Err() == nil {
			c.onErr(err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// start makes the first read of the change log: the rows up to
// startBacklog ids below the highest committed one are taken as seen; the
// ids above that are read as by Sync, so that one among them not committed
// yet (its transaction in flight on another process when this one starts)
// is waited for like any gap. Taking the highest id as the start instead
// would skip such a change for good, and an entry loaded before it
// committed would answer until MaxAge. What was cached before is dropped.
func (c *Cache) start(ctx context.Context) error {
	n, err := c.log.LastSessionChange(ctx)
	if err != nil {
		return err
	}
	c.maxSeen = max(n-startBacklog, 0)
	clear(c.gaps)
	return c.Sync(ctx) // never fresh before: Sync clears the cache
}

// Sync reads the change log once, evicts the entries its new rows name and
// marks the cache as fresh. Run calls it; it must not run concurrently with
// itself or Run.
func (c *Cache) Sync(ctx context.Context) error {
	start := c.now()
	after := c.maxSeen
	for id := range c.gaps {
		after = min(after, id-1)
	}
	var batch []store.SessionChange
	for {
		rows, err := c.log.SessionChangesAfter(ctx, after, syncPage)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.ID > c.maxSeen {
				for g := c.maxSeen + 1; g < r.ID && len(c.gaps) < maxGaps; g++ {
					c.gaps[g] = start
				}
				c.maxSeen = r.ID
				batch = append(batch, r)
			} else if _, ok := c.gaps[r.ID]; ok {
				delete(c.gaps, r.ID)
				batch = append(batch, r)
			}
		}
		if len(rows) < syncPage {
			break
		}
		after = rows[len(rows)-1].ID
	}
	for id, seen := range c.gaps {
		if start.Sub(seen) > gapWait {
			delete(c.gaps, id)
		}
	}
	if !c.fresh(start) {
		// Entries stored while the log could not be read may have missed
		// rows the clean-up sweep removed since: start over.
		c.Clear()
	}
	c.Evict(batch)
	c.synced.Store(start.UnixNano())
	return nil
}

// copySession returns a copy of s that shares no slice the callers change.
func copySession(s *core.Session) *core.Session {
	c := *s
	c.Methods = slices.Clone(s.Methods)
	c.Devices = slices.Clone(s.Devices)
	return &c
}

// copyIdentity returns a copy of i that shares no slice or map the callers
// change (traits and metadata are replaced, never written into).
func copyIdentity(i *core.Identity) *core.Identity {
	c := *i
	c.Addresses = slices.Clone(i.Addresses)
	if i.Credentials != nil {
		c.Credentials = maps.Clone(i.Credentials)
	}
	return &c
}
