package session

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

// BenchmarkVerify measures the opaque-token check: hash, one indexed lookup
// on SQLite, state checks.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	createIdentity(b, st, alice)
	clk := newClock()
	m := newManager(b, st, clk)
	// Other rows, so the lookup goes through a real index.
	for range 1000 {
		if _, _, err := m.Issue(ctx, alice, password, browser, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	_, tok, err := m.Issue(ctx, alice, password, browser, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyJWT measures JWT verification against the cached ring:
// parsing and the signature check, with the verified-JWT cache off.
func BenchmarkVerifyJWT(b *testing.B) {
	benchmarkVerifyJWT(b, -1)
}

// BenchmarkVerifyJWTCached measures checking a JWT the verified-JWT cache
// holds (the same token again, as every request of a session sends it).
func BenchmarkVerifyJWTCached(b *testing.B) {
	benchmarkVerifyJWT(b, 0)
}

func benchmarkVerifyJWT(b *testing.B, cacheSize int) {
	for _, alg := range []Algorithm{ES256, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			ctx := context.Background()
			clk := newClock()
			k, err := NewKeys(ctx, newStore(b), newCipher(b), KeysOptions{Algorithm: alg, Now: clk.Now, VerifyCacheSize: cacheSize})
			if err != nil {
				b.Fatal(err)
			}
			tok, err := k.SignJWT(ctx, Claims{
				Subject: alice, SessionID: "5b0f0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f",
				Audience: []string{"example.com"}, ExpiresAt: clk.Now().Add(time.Hour),
				Extra: map[string]any{"amr": []string{"pwd"}, "username": "alice"},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{Audience: "example.com"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignJWT measures signing with the cached ring.
func BenchmarkSignJWT(b *testing.B) {
	ctx := context.Background()
	clk := newClock()
	k := newKeys(b, newStore(b), clk, ES256)
	c := Claims{Subject: alice, SessionID: "s", ExpiresAt: clk.Now().Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.SignJWT(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyPreLookupAllocations checks that everything Verify does around
// the store lookup allocates nothing: hashing the token and checking the
// row.
func TestVerifyPreLookupAllocations(t *testing.T) {
	tok := "ory_st_" + "abcdefghijklmnopqrstuvwxyz012345"
	now := time.Now()
	s := &core.Session{Active: true, ExpiresAt: now.Add(time.Hour)}
	var sink byte
	allocs := testing.AllocsPerRun(1000, func() {
		h := HashToken(tok)
		sink ^= h[0]
		if err := check(s, now); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("hash and check allocate %.1f times per call, want 0", allocs)
	}
	_ = sink
}

// TestVerifyJWTAllocations bounds the allocations of a JWT check that
// misses the verified-JWT cache (every first-seen token): decoding the
// compact form once, one signature check (jwsbb) and jwx's decode and
// validation of the claims. jwx's jwt.Parse of the whole token took 320
// for this token; this is about 225.
func TestVerifyJWTAllocations(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	k, err := NewKeys(ctx, newStore(t), newCipher(t), KeysOptions{Algorithm: ES256, Now: clk.Now, VerifyCacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.SignJWT(ctx, Claims{
		Subject: alice, SessionID: "5b0f0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", Issuer: "https://auth.example.com",
		Audience: []string{"example.com"}, ExpiresAt: clk.Now().Add(time.Hour),
		Extra: map[string]any{"amr": []string{"pwd"}, "email": map[string]any{"address": "alice@example.com", "is_primary": true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := VerifyOptions{Audience: "example.com", Issuer: "https://auth.example.com"}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := k.VerifyJWT(ctx, tok, o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 215 {
		t.Fatalf("a verified-JWT cache miss allocates %.0f times, want at most 215", allocs)
	}
	t.Logf("%.0f allocations", allocs)
}
