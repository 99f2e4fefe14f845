package session

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/latchkey/latchkey/core"
)

func newKeysWith(t testing.TB, clk *fakeClock, o KeysOptions) *Keys {
	t.Helper()
	o.Now = clk.Now
	k, err := NewKeys(context.Background(), newStore(t), newCipher(t), o)
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

// cacheStats returns the verified-JWT cache's entries and hits.
func cacheStats(t *testing.T, k *Keys) (int, int64) {
	t.Helper()
	if k.verified == nil {
		t.Fatal("the verified-JWT cache is disabled")
	}
	return k.verified.stats()
}

// sign signs a token for alice expiring after ttl.
func sign(t *testing.T, k *Keys, clk *fakeClock, ttl time.Duration) string {
	t.Helper()
	tok, err := k.SignJWT(context.Background(), Claims{Subject: alice, SessionID: "s-" + alice, Audience: []string{"aud"},
		ExpiresAt: clk.Now().Add(ttl), Extra: map[string]any{"amr": []string{"pwd"}}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verifyOK verifies tok and reports whether the cache served it.
func verifyOK(t *testing.T, k *Keys, tok string, o VerifyOptions) (*Claims, bool) {
	t.Helper()
	_, before := cacheStats(t, k)
	c, err := k.VerifyJWT(context.Background(), tok, o)
	if err != nil {
		t.Fatalf("VerifyJWT: %v", err)
	}
	_, after := cacheStats(t, k)
	return c, after > before
}

func TestVerifyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	aud := VerifyOptions{Audience: "aud"}
	tests := []struct {
		name string
		opts KeysOptions
		run  func(t *testing.T, k *Keys, clk *fakeClock)
	}{
		{"hit returns the same claims, as a copy", KeysOptions{}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, time.Hour)
			first, hit := verifyOK(t, k, tok, aud)
			if hit {
				t.Fatal("first verification was served from the cache")
			}
			second, hit := verifyOK(t, k, tok, aud)
			if !hit {
				t.Fatal("second verification of the same token was not served from the cache")
			}
			if fmt.Sprint(first) != fmt.Sprint(second) || second.SessionID != "s-"+alice {
				t.Fatalf("cached claims %+v differ from verified %+v", second, first)
			}
			second.Extra["amr"] = "changed"
			second.Audience[0] = "changed"
			third, _ := verifyOK(t, k, tok, aud)
			if fmt.Sprint(third) != fmt.Sprint(first) {
				t.Fatalf("changing returned claims changed the cache: %+v", third)
			}
		}},
		{"options are part of the key", KeysOptions{}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, time.Hour)
			verifyOK(t, k, tok, aud)
			if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{Audience: "other"}); err == nil {
				t.Fatal("a token cached for audience aud verified for audience other")
			}
			if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{Audience: "aud", Issuer: "other"}); err == nil {
				t.Fatal("a token cached without issuer verified for issuer other")
			}
		}},
		{"entry ends at the TTL", KeysOptions{VerifyCacheTTL: time.Minute}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, time.Hour)
			verifyOK(t, k, tok, aud)
			clk.Add(59 * time.Second)
			if _, hit := verifyOK(t, k, tok, aud); !hit {
				t.Fatal("miss within the TTL")
			}
			clk.Add(time.Second)
			if _, hit := verifyOK(t, k, tok, aud); hit {
				t.Fatal("hit at the TTL; want a new verification")
			}
		}},
		{"entry ends at the token's exp", KeysOptions{VerifyCacheTTL: time.Hour}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, 10*time.Second)
			verifyOK(t, k, tok, aud)
			clk.Add(10 * time.Second)
			// Past exp but within the skew the full check still accepts it;
			// the cache does not serve it.
			if _, hit := verifyOK(t, k, tok, aud); hit {
				t.Fatal("served from the cache at its exp")
			}
			clk.Add(DefaultSkew)
			_, err := k.VerifyJWT(ctx, tok, aud)
			wantCode(t, err, core.CodeUnauthorized, ErrExpired)
		}},
		{"bounded by eviction", KeysOptions{VerifyCacheSize: 3}, func(t *testing.T, k *Keys, clk *fakeClock) {
			var toks []string
			for n := range 8 {
				toks = append(toks, sign(t, k, clk, time.Hour+time.Duration(n)*time.Second))
			}
			for _, tok := range toks {
				verifyOK(t, k, tok, aud)
				if n, _ := cacheStats(t, k); n > 3 {
					t.Fatalf("%d entries cached, more than the bound 3", n)
				}
			}
			for _, tok := range toks {
				verifyOK(t, k, tok, aud) // every token still verifies
			}
		}},
		{"expired entries are swept when full", KeysOptions{VerifyCacheSize: 2, VerifyCacheTTL: time.Minute}, func(t *testing.T, k *Keys, clk *fakeClock) {
			old := sign(t, k, clk, time.Hour)
			verifyOK(t, k, old, aud)
			clk.Add(2 * time.Minute)
			a, b := sign(t, k, clk, time.Hour), sign(t, k, clk, 2*time.Hour)
			verifyOK(t, k, a, aud)
			verifyOK(t, k, b, aud) // full: the expired entry goes, not a
			if _, hit := verifyOK(t, k, a, aud); !hit {
				t.Fatal("a live entry was evicted while an expired one was there")
			}
		}},
		{"tampered token is never served", KeysOptions{}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, time.Hour)
			verifyOK(t, k, tok, aud)
			parts := strings.Split(tok, ".")
			tampered := []string{
				parts[0] + "." + b64(map[string]any{"sub": bob, "session_id": "s-" + alice, "aud": []string{"aud"},
					"exp": clk.Now().Add(time.Hour).Unix()}) + "." + parts[2],
				parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
				tok + "x",
			}
			for _, bad := range tampered {
				for range 2 {
					if c, err := k.VerifyJWT(ctx, bad, aud); err == nil {
						t.Fatalf("tampered token accepted: %+v", c)
					}
				}
			}
			if n, _ := cacheStats(t, k); n != 1 {
				t.Fatalf("%d entries cached, want only the valid token's", n)
			}
		}},
		{"rotation keeps entries, removal ends them", KeysOptions{}, func(t *testing.T, k *Keys, clk *fakeClock) {
			tok := sign(t, k, clk, time.Hour)
			verifyOK(t, k, tok, aud)
			clk.Add(time.Second)
			if _, err := k.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, hit := verifyOK(t, k, tok, aud); !hit {
				t.Fatal("rotation (the old key still verifies) dropped the entry")
			}
			if err := k.Remove(ctx, kidOf(t, tok)); err != nil {
				t.Fatal(err)
			}
			if n, _ := cacheStats(t, k); n != 0 {
				t.Fatalf("%d entries cached after the key was removed, want 0", n)
			}
			_, err := k.VerifyJWT(ctx, tok, aud)
			wantCode(t, err, core.CodeUnauthorized, ErrInvalidJWT)
		}},
		{"disabled", KeysOptions{VerifyCacheSize: -1}, func(t *testing.T, k *Keys, clk *fakeClock) {
			if k.verified != nil {
				t.Fatal("VerifyCacheSize -1 left the cache on")
			}
			tok := sign(t, k, clk, time.Hour)
			for range 2 {
				if _, err := k.VerifyJWT(ctx, tok, aud); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			tc.run(t, newKeysWith(t, clk, tc.opts), clk)
		})
	}
}

// TestVerifyCacheOtherReplicaRemovesKey checks that a key removed by another
// replica ends cached tokens when this replica's ring reloads, exactly as
// it ends them without the cache, and that the reload clears the cache.
func TestVerifyCacheOtherReplicaRemovesKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	clk := newClock()
	a := newKeys(t, st, clk, ES256)
	b := newKeys(t, st, clk, ES256)
	tok := sign(t, b, clk, time.Hour)
	verifyOK(t, b, tok, VerifyOptions{})
	clk.Add(time.Second)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, kidOf(t, tok)); err != nil {
		t.Fatal(err)
	}
	// Before b reloads, its ring still has the key: the cache agrees with
	// a full verification.
	if _, hit := verifyOK(t, b, tok, VerifyOptions{}); !hit {
		t.Fatal("miss before the reload")
	}
	clk.Add(DefaultReloadInterval)
	_, err := b.VerifyJWT(ctx, tok, VerifyOptions{})
	if !errors.Is(err, ErrInvalidJWT) {
		t.Fatalf("token of a key removed on another replica, after the reload: %v; want ErrInvalidJWT", err)
	}
	if n, _ := cacheStats(t, b); n != 0 {
		t.Fatalf("%d entries cached after the reload dropped the key, want 0", n)
	}
}

// TestFirstSeenCopies: a JWT seen for the first time is copied once, by
// parseCompact (one allocation for the signing input and the decoded
// segments), and its cache key is hashed without a copy on the heap; the
// key is still the SHA-256 of the length-prefixed options and the token.
func TestFirstSeenCopies(t *testing.T) {
	clk := newClock()
	k := newKeysWith(t, clk, KeysOptions{})
	tok, err := k.SignJWT(context.Background(), Claims{Subject: alice, SessionID: "s-" + alice, Audience: []string{"aud"},
		ExpiresAt: clk.Now().Add(time.Hour), Extra: map[string]any{"amr": []string{"pwd"},
			"email": map[string]any{"address": "alice@example.com", "is_primary": true, "is_verified": true}}})
	if err != nil {
		t.Fatal(err)
	}
	o := VerifyOptions{Audience: "aud", Issuer: "https://issuer.example"}
	var want []byte
	for _, s := range []string{o.Audience, o.Issuer} {
		want = binary.BigEndian.AppendUint64(want, uint64(len(s)))
		want = append(want, s...)
	}
	if got := jwtCacheKey(tok, o); got != sha256.Sum256(append(want, tok...)) {
		t.Fatal("jwtCacheKey is not the SHA-256 of the length-prefixed options and the token")
	}
	if n := testing.AllocsPerRun(100, func() { jwtCacheKey(tok, o) }); n != 0 {
		t.Errorf("jwtCacheKey of a %d-byte token: %v allocations, want 0", len(tok), n)
	}
	// jwx's header parsing allocates what it allocates; parseCompact adds
	// one allocation of its own.
	hdr, err := rawURL.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		t.Fatal(err)
	}
	header := testing.AllocsPerRun(100, func() {
		h := jwsbb.HeaderParse(hdr)
		_, _ = jwsbb.HeaderGetString(h, "alg")
		_, _ = jwsbb.HeaderGetString(h, "kid")
		_, _ = jwsbb.HeaderHas(h, "crit"), jwsbb.HeaderHas(h, "b64")
	})
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseCompact(tok); err != nil {
			t.Fatal(err)
		}
	}); n > 1+header {
		t.Errorf("parseCompact: %v allocations, want at most %v (one and the header parsing's %v)", n, 1+header, header)
	}
}
