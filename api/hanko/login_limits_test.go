package hanko

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
)

// TestFlowPasswordAttemptLimit: hanko.rate_limiter.password_limits counts
// password_login attempts per client address and login identifier in the
// step's transaction; past the limit the state answers 429
// rate_limit_exceeded with payload retry_after, and even the right password
// is refused until the window has passed.
func TestFlowPasswordAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.RateLimiter.PasswordLimits = config.HankoRateLimit{Tokens: 3, Interval: time.Minute}
	})
	e.createUser(t, "ivan@example.com", "ivan's right password")
	e.createUser(t, "judy@example.com", "judy's right password")

	cl := e.client(t)
	r := passwordLogin(t, cl, "ivan@example.com", "wrong password 1")
	for n := 2; ; n++ {
		if r.code == http.StatusTooManyRequests {
			if n-1 != 4 {
				t.Fatalf("429 after %d attempts, want after 3 allowed", n-1)
			}
			break
		}
		mustState(t, r, stateLoginPassword, 400)
		if n > 10 {
			t.Fatal("no 429 after 10 wrong passwords")
		}
		r = cl.act("password_login", map[string]any{"password": "wrong password"})
	}
	mustState(t, r, stateLoginPassword, 429)
	if r.Error == nil || r.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("error = %s", r.raw)
	}
	var retry int
	if err := json.Unmarshal(r.Payload["retry_after"], &retry); err != nil || retry < 1 || retry > 60 {
		t.Fatalf("retry_after = %s (%v)", r.Payload["retry_after"], err)
	}
	if _, ok := r.Actions["password_login"]; !ok {
		t.Fatalf("login_password not re-rendered with its actions: %s", r.raw)
	}

	// The right password is refused while the window lasts, in this flow
	// and in a new one.
	r = cl.act("password_login", map[string]any{"password": "ivan's right password"})
	mustState(t, r, stateLoginPassword, 429)
	fresh := e.client(t)
	mustState(t, passwordLogin(t, fresh, "ivan@example.com", "ivan's right password"), stateLoginPassword, 429)
	if _, ok := cl.cookies["hanko"]; ok {
		t.Fatal("a session cookie was set during the lock-out")
	}

	// Another identifier from the same address is not affected.
	other := e.client(t)
	checkSession(t, e, other, passwordLogin(t, other, "judy@example.com", "judy's right password"), AMRPassword)

	// After the window the right password works.
	e.limitClock.Add(time.Minute)
	checkSession(t, e, cl, cl.act("password_login", map[string]any{"password": "ivan's right password"}), AMRPassword)
}

// TestFlowPasswordLimitsOff: with hanko.rate_limiter.enabled false Hanko's
// own password_limits (3 here) are off, but the shared attempt policy still
// holds (ratelimit.attempts.identity_ip, 5 wrong per identity and client IP
// a minute): the faces cannot be played against each other by switching one
// face's limits off. (This test asserted no limit at all before the policy.)
func TestFlowPasswordLimitsOff(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.RateLimiter.Enabled = false
		c.RateLimiter.PasswordLimits = config.HankoRateLimit{Tokens: 3, Interval: time.Minute}
	})
	e.createUser(t, "kim@example.com", "kim's right password")
	cl := e.client(t)
	r := passwordLogin(t, cl, "kim@example.com", "wrong")
	for n := 0; n < 4; n++ {
		mustState(t, r, stateLoginPassword, 400)
		r = cl.act("password_login", map[string]any{"password": "wrong"})
	}
	mustState(t, r, stateLoginPassword, 400)
	r = cl.act("password_login", map[string]any{"password": "kim's right password"})
	mustState(t, r, stateLoginPassword, 429)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without a Retry-After header")
	}
	e.limitClock.Add(time.Minute)
	checkSession(t, e, cl, cl.act("password_login", map[string]any{"password": "kim's right password"}), AMRPassword)
}

// TestFlowPasswordRehash: a hash with outdated parameters (an import) is
// replaced after a successful login, through the step's transaction.
func TestFlowPasswordRehash(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, func(c *config.Hanko) { c.Email.UseForAuthentication = false })
	old, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmBcrypt, BcryptCost: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := old.Hash(context.Background(), []byte("legacy password"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{"email": "leo@example.com"})
	u, err := e.ids.Create(context.Background(), identity.Draft{Traits: raw,
		Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: hash}}})
	if err != nil {
		t.Fatal(err)
	}
	cl := e.client(t)
	checkSession(t, e, cl, passwordLogin(t, cl, "leo@example.com", "legacy password"), AMRPassword)
	i, err := e.ids.Get(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := i.Credential(core.CredentialPassword)
	if now := passwordHash(c); now == hash || !strings.HasPrefix(now, "$argon2id$") {
		t.Fatalf("hash after login = %q, want a fresh argon2id hash", now)
	}
	again := e.client(t)
	checkSession(t, e, again, passwordLogin(t, again, "leo@example.com", "legacy password"), AMRPassword)
}
