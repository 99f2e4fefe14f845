package password_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// countLimiter allows limit attempts per key.
type countLimiter struct {
	mu    sync.Mutex
	n     map[string]int
	limit int
}

func (l *countLimiter) Attempt(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[key]++
	if l.n[key] > l.limit {
		return time.Minute, nil
	}
	return 0, nil
}

func cheapHasher(t *testing.T, alg password.Algorithm) *password.Hasher {
	t.Helper()
	p := password.DefaultParams()
	p.Algorithm = alg
	p.BcryptCost = 4
	p.Argon2 = password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	h, err := password.NewHasher(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func seedIdentity(t *testing.T, st store.Store, id, identifier, hash string, state core.IdentityState) {
	t.Helper()
	cfg, _ := json.Marshal(password.Config{HashedPassword: hash})
	now := time.Now().UTC()
	err := st.CreateIdentity(context.Background(), &core.Identity{
		ID: id, SchemaID: "default", Traits: json.RawMessage(`{"email":"` + identifier + `"}`),
		State: state, StateChangedAt: now, CreatedAt: now, UpdatedAt: now,
		Credentials: map[core.CredentialType]core.Credential{core.CredentialPassword: {
			ID: id[:8] + "-cred-0000-0000-000000000000", Type: core.CredentialPassword,
			Identifiers: []string{identifier}, Config: cfg, Version: 0, CreatedAt: now, UpdatedAt: now,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	bcrypt := cheapHasher(t, password.AlgorithmBcrypt)
	argon := cheapHasher(t, password.AlgorithmArgon2)
	good, _ := argon.Hash(ctx, []byte("correct horse"))
	old, _ := bcrypt.Hash(ctx, []byte("old hash pw"))
	seedIdentity(t, st, "11111111-0000-4000-8000-000000000001", "alice@example.com", good, core.IdentityActive)
	seedIdentity(t, st, "22222222-0000-4000-8000-000000000002", "bob@example.com", good, core.IdentityInactive)
	seedIdentity(t, st, "33333333-0000-4000-8000-000000000003", "carol@example.com", old, core.IdentityActive)
	a := &password.Authenticator{Store: st, Hasher: argon, NotFound: store.ErrNotFound}

	cases := []struct {
		name, identifier, pw string
		want                 error
	}{
		{"right password", "alice@example.com", "correct horse", nil},
		{"wrong password", "alice@example.com", "wrong", password.ErrInvalidCredentials},
		{"unknown identifier", "nobody@example.com", "correct horse", password.ErrInvalidCredentials},
		{"empty password", "alice@example.com", "", password.ErrInvalidCredentials},
		{"inactive identity, right password", "bob@example.com", "correct horse", password.ErrIdentityDisabled},
		{"inactive identity, wrong password", "bob@example.com", "nope", password.ErrInvalidCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(ctx, tc.identifier, tc.pw, "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (id == nil || id.ID != "11111111-0000-4000-8000-000000000001") {
				t.Fatalf("identity = %+v", id)
			}
		})
	}

	t.Run("outdated hash is upgraded after login", func(t *testing.T) {
		if _, err := a.Authenticate(ctx, "carol@example.com", "old hash pw", ""); err != nil {
			t.Fatal(err)
		}
		id, err := st.FindIdentityByIdentifier(ctx, core.CredentialPassword, "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := id.Credential(core.CredentialPassword)
		var cfg password.Config
		_ = json.Unmarshal(c.Config, &cfg)
		if argon.NeedsRehash(cfg.HashedPassword) || cfg.HashedPassword == old {
			t.Fatalf("hash not upgraded: %s", cfg.HashedPassword)
		}
		if _, err := a.Authenticate(ctx, "carol@example.com", "old hash pw", ""); err != nil {
			t.Fatalf("login after upgrade: %v", err)
		}
	})
}

// TestAuthenticateRateLimits: password checks go through the shared attempt
// policy, keyed by the identity and the client address; PerID adds a limit
// on every attempt per identifier. (The policy replaced the earlier
// per-identifier and per-IP limiters, which counted right passwords too and
// let 10 wrong ones from anywhere lock the account from every address.)
func TestAuthenticateRateLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	h := cheapHasher(t, password.AlgorithmArgon2)
	hash, _ := h.Hash(ctx, []byte("pw-pw-pw-pw"))
	seedIdentity(t, st, "44444444-0000-4000-8000-000000000004", "dave@example.com", hash, core.IdentityActive)
	cfg := ratelimit.DefaultPolicyConfig()
	cfg.IdentityIP = ratelimit.Limit{Limit: 3, Window: time.Minute}
	cfg.Identity = []ratelimit.Limit{{Limit: 6, Window: 15 * time.Minute}}
	cfg.IP = ratelimit.Limit{Limit: 8, Window: time.Minute}
	policy, err := ratelimit.NewPolicy(ratelimit.NewDB(st, nil, []byte("k")), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &password.Authenticator{Store: st, Hasher: h, NotFound: store.ErrNotFound, Policy: policy}
	var rl *password.RateLimitError
	login := func(identifier, pw, ip string) error {
		_, err := a.Authenticate(ctx, identifier, pw, ip)
		return err
	}
	for range 10 {
		if err := login("dave@example.com", "pw-pw-pw-pw", "10.0.0.9"); err != nil {
			t.Fatalf("right password: %v; right passwords use up no limit", err)
		}
	}
	for i := range 3 {
		if err := login("dave@example.com", "wrong", "10.0.0.1"); !errors.Is(err, password.ErrInvalidCredentials) {
			t.Fatalf("wrong attempt %d: %v", i, err)
		}
	}
	if err := login("dave@example.com", "pw-pw-pw-pw", "10.0.0.1"); !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.AsCore().Code != core.CodeRateLimited {
		t.Fatalf("4th attempt from one address: %v, want rate limited even with the right password", err)
	}
	if err := login("dave@example.com", "pw-pw-pw-pw", "10.0.0.2"); err != nil {
		t.Fatalf("right password from another address: %v", err)
	}
	// Wrong passwords from fresh addresses add up per identity (6), after
	// the three above: three more, then a fresh address is refused while the
	// known address 10.0.0.9 still gets in.
	for i := range 3 {
		if err := login("dave@example.com", "wrong", "10.0.1."+string(rune('1'+i))); !errors.Is(err, password.ErrInvalidCredentials) {
			t.Fatalf("distributed attempt %d: %v", i, err)
		}
	}
	if err := login("dave@example.com", "pw-pw-pw-pw", "10.0.2.1"); !errors.As(err, &rl) {
		t.Fatalf("fresh address past the identity limit: %v, want rate limited", err)
	}
	if err := login("dave@example.com", "pw-pw-pw-pw", "10.0.0.9"); err != nil {
		t.Fatalf("the user's known address: %v, want in", err)
	}
	// Unknown identifiers are limited too (per given identifier and per IP).
	for i := range 3 {
		if err := login("nobody@example.com", "a", "10.0.3.1"); !errors.Is(err, password.ErrInvalidCredentials) {
			t.Fatalf("unknown identifier %d: %v", i, err)
		}
	}
	if err := login("nobody@example.com", "a", "10.0.3.1"); !errors.As(err, &rl) {
		t.Fatalf("4th attempt on an unknown identifier: %v, want rate limited", err)
	}

	// PerID counts every attempt, right or wrong.
	b := &password.Authenticator{Store: st, Hasher: h, NotFound: store.ErrNotFound, PerID: &countLimiter{limit: 2}}
	for range 2 {
		if _, err := b.Authenticate(ctx, "dave@example.com", "pw-pw-pw-pw", "10.0.0.9"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Authenticate(ctx, "dave@example.com", "pw-pw-pw-pw", "10.0.0.9"); !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("PerID: %v, want rate limited", err)
	}
}
