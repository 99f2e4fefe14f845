package session

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"sync"
	"time"
)

// Defaults of the verified-JWT cache (KeysOptions.VerifyCacheSize and
// VerifyCacheTTL).
const (
	DefaultVerifyCacheSize = 10_000
	DefaultVerifyCacheTTL  = time.Minute
)

// jwtCache remembers JWTs VerifyJWT has accepted, so checking the same
// token again skips parsing and the signature check (ECDSA verification is
// most of a session check's cost). An entry is keyed by the SHA-256 of the
// token and the verify options, and serves only while
//
//   - the clock is before the token's exp and the entry's TTL,
//   - the key that verified it is still in the ring, the same key (a
//     removed or replaced kid makes the entry miss; the whole cache is
//     cleared when a reload drops a kid).
//
// Only successful verifications are stored, under the hash of the exact
// token bytes, so a tampered token never matches an entry. Nothing about
// the session row is cached: callers check it on every request, so
// revoking a session ends it at once. It is safe for concurrent use.
type jwtCache struct {
	ttl time.Duration
	max int

	mu        sync.Mutex
	m         map[[sha256.Size]byte]verifiedJWT
	lastSweep time.Time
	hits      int64 // served entries, for tests
}

// verifiedJWT is a cache entry.
type verifiedJWT struct {
	claims *Claims
	kid    string
	key    *ringKey // the ring's key that verified the signature
	until  time.Time
}

func newJWTCache(size int, ttl time.Duration) *jwtCache {
	return &jwtCache{ttl: ttl, max: size, m: make(map[[sha256.Size]byte]verifiedJWT)}
}

// jwtCacheKey hashes the token with the options it was checked against;
// the options are length-prefixed, so no two inputs share a key.
func jwtCacheKey(token string, o VerifyOptions) [sha256.Size]byte {
	// The input is put together on the stack (a heap copy of the token
	// on every first-seen check otherwise): the bytes hashed are the same.
	var buf [1024]byte
	b := buf[:0]
	for _, s := range [...]string{o.Audience, o.Issuer} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(append(b, token...))
}

// get returns a copy of the claims cached under key when the entry is
// still usable at now with ring r.
func (c *jwtCache) get(key [sha256.Size]byte, now time.Time, r *ring) (*Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) || r.keys[e.kid] != e.key {
		delete(c.m, key)
		return nil, false
	}
	c.hits++
	return e.claims.clone(), true
}

// put caches a copy of claims verified at now by key kid, for as long as
// the token is unexpired and at most the TTL.
func (c *jwtCache) put(key [sha256.Size]byte, claims *Claims, kid string, k *ringKey, now time.Time) {
	until := now.Add(c.ttl)
	if claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	if !now.Before(until) || k == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		c.makeRoom(now)
	}
	c.m[key] = verifiedJWT{claims: claims.clone(), kid: kid, key: k, until: until}
}

// makeRoom drops the expired entries (at most once per TTL) and, if the
// cache is still full, one entry at random. c.mu is held.
func (c *jwtCache) makeRoom(now time.Time) {
	if now.Sub(c.lastSweep) >= c.ttl {
		c.lastSweep = now
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
		}
	}
	for len(c.m) >= c.max {
		for key := range c.m { // map order: a random victim
			delete(c.m, key)
			break
		}
	}
}

// clear drops every entry.
func (c *jwtCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// stats returns the number of entries and of hits so far.
func (c *jwtCache) stats() (entries int, hits int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.hits
}

// clone returns a copy of c whose Audience and Extra the caller may
// change without affecting c (Extra's values are shared: they are what
// JSON decoding produced and are only read).
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	out.Extra = maps.Clone(c.Extra)
	return &out
}
