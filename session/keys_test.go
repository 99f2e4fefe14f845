package session

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

func newKeys(t testing.TB, st store.Store, clk *fakeClock, alg Algorithm) *Keys {
	t.Helper()
	k, err := NewKeys(context.Background(), st, newCipher(t), KeysOptions{Algorithm: alg, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

// kidOf returns the kid in a JWS header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

type jwksDoc struct {
	Keys []map[string]any `json:"keys"`
}

func parseJWKS(t *testing.T, k *Keys) jwksDoc {
	t.Helper()
	b, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc jwksDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	return doc
}

func TestKeysFirstStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		alg        Algorithm
		kty        string
		wantFields []string
	}{
		{"ES256 by default", "", "EC", []string{"crv", "x", "y"}},
		{"RS256", RS256, "RSA", []string{"n", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := newStore(t)
			clk := newClock()
			k := newKeys(t, st, clk, tt.alg)
			list, err := k.List(ctx)
			if err != nil || len(list) != 1 || !list[0].Signing {
				t.Fatalf("List = %+v, %v", list, err)
			}
			wantAlg := tt.alg
			if wantAlg == "" {
				wantAlg = ES256
			}
			if list[0].Algorithm != wantAlg {
				t.Fatalf("algorithm %s, want %s", list[0].Algorithm, wantAlg)
			}

			// The private key is stored encrypted, never as plain PKCS#8.
			stored, err := st.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x509.ParsePKCS8PrivateKey(stored[0].PrivateKeyEncrypted); err == nil {
				t.Fatal("private key stored in clear")
			}
			der, err := newCipher(t).Decrypt(stored[0].PrivateKeyEncrypted, keyAAD(stored[0].ID))
			if err != nil {
				t.Fatalf("private key does not decrypt with its kid as aad: %v", err)
			}
			if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
				t.Fatalf("decrypted private key is not PKCS#8: %v", err)
			}

			// "Restart": a new ring over the same database reuses the key.
			clk.Add(time.Hour)
			k2 := newKeys(t, st, clk, tt.alg)
			list2, _ := k2.List(ctx)
			if len(list2) != 1 || list2[0].ID != list[0].ID {
				t.Fatalf("after restart: %+v, want the one key %s", list2, list[0].ID)
			}
			tok, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k2.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil {
				t.Fatalf("restarted ring refuses a token of the first: %v", err)
			}

			doc := parseJWKS(t, k2)
			if len(doc.Keys) != 1 {
				t.Fatalf("JWKS has %d keys", len(doc.Keys))
			}
			jk := doc.Keys[0]
			if jk["kid"] != list[0].ID || jk["alg"] != string(wantAlg) || jk["use"] != "sig" || jk["kty"] != tt.kty {
				t.Fatalf("JWKS key %v", jk)
			}
			for _, f := range tt.wantFields {
				if _, ok := jk[f]; !ok {
					t.Fatalf("JWKS key lacks %s: %v", f, jk)
				}
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := jk[private]; ok {
					t.Fatalf("JWKS leaks private member %s", private)
				}
			}
		})
	}
}

func TestKeysWrongCipherSecret(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	clk := newClock()
	newKeys(t, st, clk, ES256)
	other := newCipher(t, "ffffffffffffffffffffffffffffffff")
	if _, err := NewKeys(context.Background(), st, other, KeysOptions{Now: clk.Now}); err == nil {
		t.Fatal("NewKeys loaded a key sealed under another secret")
	}
	// With the old secret still listed for decryption it loads.
	rotated := newCipher(t, "ffffffffffffffffffffffffffffffff", testCipherSecret)
	if _, err := NewKeys(context.Background(), st, rotated, KeysOptions{Now: clk.Now}); err != nil {
		t.Fatalf("NewKeys with the rotated cipher list: %v", err)
	}
}

func TestKeysUnsupportedAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{"HS256", "none", "ES384"} {
		if _, err := NewKeys(context.Background(), newStore(t), newCipher(t), KeysOptions{Algorithm: alg}); err == nil {
			t.Errorf("NewKeys accepted %s", alg)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	clk := newClock()
	k := newKeys(t, st, clk, ES256)
	first, _ := k.List(ctx)
	oldKid := first[0].ID

	before, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	info, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == oldKid || !info.Signing {
		t.Fatalf("Rotate = %+v", info)
	}
	after, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, before); got != oldKid {
		t.Fatalf("token before rotation has kid %s, want %s", got, oldKid)
	}
	if got := kidOf(t, after); got != info.ID {
		t.Fatalf("token after rotation has kid %s, want the new %s", got, info.ID)
	}
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil {
			t.Fatalf("token %s rotation refused: %v", name, err)
		}
	}
	list, _ := k.List(ctx)
	if len(list) != 2 || list[0].ID != info.ID || !list[0].Signing || list[1].Signing {
		t.Fatalf("List after rotation: %+v", list)
	}
	if doc := parseJWKS(t, k); len(doc.Keys) != 2 {
		t.Fatalf("JWKS after rotation has %d keys", len(doc.Keys))
	}

	// Removing the old key ends its tokens.
	if err := k.Remove(ctx, oldKid); err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyJWT(ctx, before, VerifyOptions{}); !errors.Is(err, ErrInvalidJWT) {
		t.Fatalf("token of a removed key: %v", err)
	}
	if _, err := k.VerifyJWT(ctx, after, VerifyOptions{}); err != nil {
		t.Fatalf("token of the remaining key: %v", err)
	}
	tests := []struct {
		name string
		kid  string
		code core.Code
	}{
		{"unknown", "no-such-kid", core.CodeNotFound},
		{"already removed", oldKid, core.CodeNotFound},
		{"last key", info.ID, core.CodeConflict},
	}
	for _, tt := range tests {
		if err := k.Remove(ctx, tt.kid); core.ErrorCode(err) != tt.code {
			t.Errorf("%s: Remove err = %v, want code %s", tt.name, err, tt.code)
		}
	}
}

func TestRemoveSignerFallsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, ES256)
	first, _ := k.List(ctx)
	clk.Add(time.Second)
	info, _ := k.Rotate(ctx)
	if err := k.Remove(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	tok, err := k.SignJWT(ctx, Claims{ExpiresAt: clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if kid := kidOf(t, tok); kid != first[0].ID {
		t.Fatalf("after removing the signer, kid %s signs; want %s", kid, first[0].ID)
	}
}

func TestReplicaPicksUpRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	clk := newClock()
	a := newKeys(t, st, clk, ES256)
	b := newKeys(t, st, clk, ES256) // another replica over the same database
	first, _ := a.List(ctx)

	clk.Add(time.Second)
	rotated, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *Keys) string {
		t.Helper()
		tok, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// Within its cache TTL, b still signs with the old key ...
	clk.Add(30 * time.Second)
	if kid := kidOf(t, sign(b)); kid != first[0].ID {
		t.Fatalf("replica signs with %s before its reload, want the cached %s", kid, first[0].ID)
	}
	// ... but already verifies the new key's tokens (unknown kid → reload).
	if _, err := b.VerifyJWT(ctx, sign(a), VerifyOptions{}); err != nil {
		t.Fatalf("replica refuses a token of the rotated key: %v", err)
	}
	// After the TTL it signs with the new key.
	clk.Add(DefaultReloadInterval)
	if kid := kidOf(t, sign(b)); kid != rotated.ID {
		t.Fatalf("replica signs with %s after its reload, want %s", kid, rotated.ID)
	}
	if doc := parseJWKS(t, b); len(doc.Keys) != 2 {
		t.Fatalf("replica JWKS has %d keys, want 2", len(doc.Keys))
	}
}

func TestReplicaTTLWithoutVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	clk := newClock()
	a := newKeys(t, st, clk, ES256)
	b := newKeys(t, st, clk, ES256)
	clk.Add(time.Second)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		want    int
	}{
		{DefaultReloadInterval - 2*time.Second, 1}, // cached
		{2 * time.Second, 2},                       // reloaded
	}
	for _, s := range steps {
		clk.Add(s.advance)
		if doc := parseJWKS(t, b); len(doc.Keys) != s.want {
			t.Fatalf("after %v: JWKS has %d keys, want %d", s.advance, len(doc.Keys), s.want)
		}
	}
}

// failingKeyStore makes ListKeys fail on demand, to check that a failed
// reload keeps the last ring serving.
type failingKeyStore struct {
	store.Store
	fail bool
}

func (f *failingKeyStore) ListKeys(ctx context.Context) ([]core.SigningKey, error) {
	if f.fail {
		return nil, errors.New("database unavailable")
	}
	return f.Store.ListKeys(ctx)
}

func TestReloadFailureKeepsRing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	fs := &failingKeyStore{Store: newStore(t)}
	var reported []error
	k, err := NewKeys(ctx, fs, newCipher(t), KeysOptions{Now: clk.Now, OnReloadError: func(err error) { reported = append(reported, err) }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := k.SignJWT(ctx, Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	fs.fail = true
	clk.Add(2 * DefaultReloadInterval)
	if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil {
		t.Fatalf("VerifyJWT during a store outage: %v", err)
	}
	if _, err := k.SignJWT(ctx, Claims{ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("SignJWT during a store outage: %v", err)
	}
	if len(reported) != 1 {
		t.Fatalf("%d reload errors reported, want 1 (retries are spaced)", len(reported))
	}
	clk.Add(retryInterval)
	fs.fail = false
	if _, err := k.JWKS(ctx); err != nil {
		t.Fatal(err)
	}
	if len(reported) != 1 {
		t.Fatalf("%d reload errors after recovery", len(reported))
	}
}

// TestKeysConcurrentUse signs and verifies from many goroutines while the
// ring rotates and reloads; run with -race.
func TestKeysConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, ES256)
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				tok, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
				if err != nil {
					done <- err
					return
				}
				if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 3 {
		clk.Add(DefaultReloadInterval)
		if _, err := k.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
