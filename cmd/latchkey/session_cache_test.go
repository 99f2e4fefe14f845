package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store/storetest"
)

// cachedApp is a built server with its session cache's change-log poller
// running, as serve runs it, and its two handlers.
type cachedApp struct {
	app           *app
	public, admin http.Handler
}

// newCachedApp builds a --dev server on dsn whose session cache reads the
// change log every interval, and waits until the cache answers.
func newCachedApp(t *testing.T, dsn string, interval time.Duration) *cachedApp {
	t.Helper()
	t.Setenv("LATCHKEY_DSN", dsn)
	t.Setenv("LATCHKEY_LOG_LEVEL", "error")
	cfg, _, err := loadConfig("", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadDevSecrets(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Session.Cache.SyncInterval = interval
	ctx, stop := context.WithCancel(context.Background())
	a, err := build(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	if a.sessionCache == nil {
		t.Fatal("session.cache.enabled is off by default")
	}
	done := make(chan struct{})
	go func() { _ = a.sessionCache.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done; a.close() })
	for deadline := time.Now().Add(10 * time.Second); !a.sessionCache.Ready(); {
		if time.Now().After(deadline) {
			t.Fatal("the session cache never read the change log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &cachedApp{app: a, public: a.publicHandler(), admin: a.adminHandler()}
}

// call serves one request on h and returns the status and the body.
func call(h http.Handler, method, path string, header map[string]string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// user is an identity with a session on both faces.
type user struct {
	id, email     string
	sess          *core.Session
	token, jwt    string
	other         string // a second session's opaque token
	otherID       string
	webauthnCred  string
	kratos, hanko map[string]string // headers carrying the session
}

// newUser creates an identity through the Kratos admin API (with a TOTP
// credential and a passkey, so that /me shows both) and issues two sessions.
func (c *cachedApp) newUser(t *testing.T, lifespan time.Duration) *user {
	t.Helper()
	ctx := context.Background()
	u := &user{email: "u" + uuid.NewString()[:8] + "@example.com"}
	st, b := call(c.admin, http.MethodPost, "/admin/identities", nil, map[string]any{
		"schema_id": "default", "traits": map[string]any{"email": u.email}})
	if st != http.StatusCreated {
		t.Fatalf("create identity: %d %s", st, b)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(b, &created)
	u.id = created.ID
	i, err := c.app.db.GetIdentity(ctx, u.id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	i.SetCredential(core.Credential{ID: uuid.NewString(), Type: core.CredentialTOTP, Config: json.RawMessage(`{"totp_url":"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}`),
		Version: 0, CreatedAt: now, UpdatedAt: now})
	if err := c.app.db.UpdateIdentity(ctx, i); err != nil {
		t.Fatal(err)
	}
	u.webauthnCred = base64.RawURLEncoding.EncodeToString([]byte(uuid.NewString()))
	if err := c.app.db.CreateWebAuthnCredential(ctx, &core.WebAuthnCredential{ID: u.webauthnCred, IdentityID: u.id,
		UserHandle: []byte(u.id)[:16], PublicKey: []byte("pk"), AttestationType: "none", AAGUID: make([]byte, 16),
		Transports: []string{"internal"}, BackupEligible: true, UserVerified: true, Attachment: "platform",
		DisplayName: "passkey", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if u.sess, u.token, err = c.app.sessions.Issue(ctx, u.id, core.AuthMethod{Method: "password"}, core.Device{}, lifespan); err != nil {
		t.Fatal(err)
	}
	other, tok2, err := c.app.sessions.Issue(ctx, u.id, core.AuthMethod{Method: "password"}, core.Device{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u.other, u.otherID = tok2, other.ID
	cfg := c.app.cfg.Session.JWT
	if u.jwt, err = c.app.keys.SignJWT(ctx, session.Claims{Subject: u.id, SessionID: u.sess.ID, Issuer: cfg.Issuer, Audience: cfg.Audience,
		IssuedAt: time.Now(), ExpiresAt: u.sess.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	u.kratos = map[string]string{"X-Session-Token": u.token}
	u.hanko = map[string]string{"Authorization": "Bearer " + u.jwt}
	return u
}

// views are what the three session checks answer for u.
type views struct {
	whoami        int
	whoamiBody    map[string]any
	valid         bool
	validateBody  map[string]any
	me            int
	meBody        map[string]any
	whoamiHankoOK bool
}

func (c *cachedApp) look(t *testing.T, u *user) views {
	t.Helper()
	var v views
	var b []byte
	v.whoami, b = call(c.public, http.MethodGet, "/sessions/whoami", u.kratos, nil)
	_ = json.Unmarshal(b, &v.whoamiBody)
	st, b := call(c.public, http.MethodPost, "/sessions/validate", nil, map[string]string{"session_token": u.jwt})
	var val struct {
		IsValid bool `json:"is_valid"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &val) != nil {
		t.Fatalf("validate: %d %s", st, b)
	}
	v.valid = val.IsValid
	_ = json.Unmarshal(b, &v.validateBody)
	v.me, b = call(c.public, http.MethodGet, "/me", u.hanko, nil)
	_ = json.Unmarshal(b, &v.meBody)
	st, _ = call(c.public, http.MethodGet, "/sessions/whoami", u.hanko, nil)
	v.whoamiHankoOK = st == http.StatusOK
	return v
}

// field returns the value at the dotted path of m ("identity.traits.email").
func field(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// TestSessionCacheInvalidation writes, through the real handlers of both
// faces (and the session manager for the AAL step-up, which only a second
// factor login performs), every kind of change to a session or its
// identity, right after the three session checks were answered from the
// cache, and expects the very next request to see it. The change log is
// read once a minute: only the writing process's own eviction can make
// these pass.
func TestSessionCacheInvalidation(t *testing.T) {
	t.Chdir(t.TempDir()) // serve --dev keeps its secrets beside a server database's working directory
	for name, dsn := range testDSNs(t) {
		t.Run(name, func(t *testing.T) {
			c := newCachedApp(t, dsn, time.Minute)
			ended := func(t *testing.T, v views) {
				t.Helper()
				if v.whoami != http.StatusUnauthorized || v.valid || v.me != http.StatusUnauthorized || v.whoamiHankoOK {
					t.Fatalf("the session still works: whoami %d, validate %v, /me %d, whoami with the JWT %v", v.whoami, v.valid, v.me, v.whoamiHankoOK)
				}
			}
			tests := []struct {
				name  string
				write func(t *testing.T, u *user) (int, []byte)
				check func(t *testing.T, u *user, before, after views)
			}{
				{"kratos native logout", func(t *testing.T, u *user) (int, []byte) {
					return call(c.public, http.MethodDelete, "/self-service/logout/api", nil, map[string]string{"session_token": u.token})
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"hanko logout", func(t *testing.T, u *user) (int, []byte) {
					return call(c.public, http.MethodPost, "/logout", u.hanko, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos revoke my other sessions", func(t *testing.T, u *user) (int, []byte) {
					return call(c.public, http.MethodDelete, "/sessions", map[string]string{"X-Session-Token": u.other}, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos revoke one of my sessions", func(t *testing.T, u *user) (int, []byte) {
					return call(c.public, http.MethodDelete, "/sessions/"+u.sess.ID, map[string]string{"X-Session-Token": u.other}, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos admin disable session", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/admin/sessions/"+u.sess.ID, nil, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos admin revoke all sessions", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/admin/identities/"+u.id+"/sessions", nil, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"hanko admin delete session", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/users/"+u.id+"/sessions/"+u.sess.ID, nil, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos admin delete identity", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/admin/identities/"+u.id, nil, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"hanko admin delete user", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/users/"+u.id, nil, nil)
				}, func(t *testing.T, _ *user, _, v views) { ended(t, v) }},
				{"kratos admin deactivate identity", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodPatch, "/admin/identities/"+u.id, nil,
						[]map[string]any{{"op": "replace", "path": "/state", "value": "inactive"}})
				}, func(t *testing.T, _ *user, _, v views) {
					if v.whoami != http.StatusUnauthorized || v.whoamiHankoOK {
						t.Fatalf("whoami of a deactivated identity: %d (with the JWT: %v)", v.whoami, v.whoamiHankoOK)
					}
				}},
				{"kratos admin extend session", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodPatch, "/admin/sessions/"+u.sess.ID+"/extend", nil, nil)
				}, func(t *testing.T, _ *user, before, v views) {
					if b, a := field(before.whoamiBody, "expires_at"), field(v.whoamiBody, "expires_at"); a == b {
						t.Fatalf("expires_at still %v after the extension", a)
					}
				}},
				{"kratos admin update traits", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodPut, "/admin/identities/"+u.id, nil, map[string]any{
						"schema_id": "default", "state": "active", "traits": map[string]any{"email": "new-" + u.email}})
				}, func(t *testing.T, u *user, _, v views) {
					if got := field(v.whoamiBody, "identity.traits.email"); got != "new-"+u.email {
						t.Fatalf("whoami shows traits.email %v", got)
					}
				}},
				{"kratos admin patch metadata", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodPatch, "/admin/identities/"+u.id, nil,
						[]map[string]any{{"op": "add", "path": "/metadata_public", "value": map[string]any{"plan": "gold"}}})
				}, func(t *testing.T, _ *user, _, v views) {
					if got := field(v.whoamiBody, "identity.metadata_public.plan"); got != "gold" {
						t.Fatalf("whoami shows metadata_public.plan %v", got)
					}
				}},
				{"hanko admin add e-mail", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodPost, "/users/"+u.id+"/emails", nil, map[string]any{"address": "second-" + u.email})
				}, func(t *testing.T, u *user, _, v views) {
					if b, _ := json.Marshal(v.meBody["emails"]); !strings.Contains(string(b), "second-"+u.email) {
						t.Fatalf("/me shows e-mails %s", b)
					}
				}},
				{"hanko admin delete TOTP", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/users/"+u.id+"/otp", nil, nil)
				}, func(t *testing.T, _ *user, before, v views) {
					if field(before.meBody, "mfa_config.auth_app_set_up") != true || field(v.meBody, "mfa_config.auth_app_set_up") != false {
						t.Fatalf("/me auth_app_set_up %v before, %v after", field(before.meBody, "mfa_config.auth_app_set_up"), field(v.meBody, "mfa_config.auth_app_set_up"))
					}
				}},
				{"hanko admin delete passkey", func(t *testing.T, u *user) (int, []byte) {
					return call(c.admin, http.MethodDelete, "/users/"+u.id+"/webauthn_credentials/"+u.webauthnCred, nil, nil)
				}, func(t *testing.T, _ *user, before, v views) {
					if b, a := before.meBody["passkeys"], v.meBody["passkeys"]; len(b.([]any)) != 1 || a != nil && len(a.([]any)) != 0 {
						t.Fatalf("/me passkeys %v before, %v after", b, a)
					}
				}},
				{"aal step-up", func(t *testing.T, u *user) (int, []byte) {
					s := *u.sess
					if err := c.app.sessions.AddMethod(context.Background(), &s, core.AuthMethod{Method: "totp", AAL: core.AAL2}); err != nil {
						t.Fatal(err)
					}
					return http.StatusOK, nil
				}, func(t *testing.T, _ *user, before, v views) {
					if got := field(v.whoamiBody, "authenticator_assurance_level"); got != "aal2" {
						t.Fatalf("whoami shows aal %v after the step-up", got)
					}
					b, _ := json.Marshal(field(before.validateBody, "claims.amr"))
					a, _ := json.Marshal(field(v.validateBody, "claims.amr"))
					if string(a) == string(b) {
						t.Fatalf("validate's amr still %s after the step-up", a)
					}
				}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					u := c.newUser(t, time.Hour)
					first := c.look(t, u)
					hits, _ := c.app.sessionCache.Stats()
					before := c.look(t, u) // from the cache
					if h, _ := c.app.sessionCache.Stats(); h-hits < 4 {
						t.Fatalf("the cache answered %d of the 4 checks", h-hits)
					}
					if first.whoami != http.StatusOK || !first.valid || first.me != http.StatusOK || !first.whoamiHankoOK ||
						before.whoami != http.StatusOK || !before.valid || before.me != http.StatusOK {
						t.Fatalf("the fresh session does not work: %+v", before)
					}
					if st, b := tc.write(t, u); st >= 300 {
						t.Fatalf("write: %d %s", st, b)
					}
					tc.check(t, u, before, c.look(t, u))
				})
			}
		})
	}
}

// TestSessionCacheExpiry: a cached session is refused once it expires,
// without any write.
func TestSessionCacheExpiry(t *testing.T) {
	c := newCachedApp(t, "sqlite://"+t.TempDir()+"/l.db", time.Minute)
	u := c.newUser(t, 1500*time.Millisecond)
	for range 2 {
		if v := c.look(t, u); v.whoami != http.StatusOK || !v.valid || v.me != http.StatusOK {
			t.Fatalf("fresh session refused: %+v", v)
		}
	}
	time.Sleep(time.Until(u.sess.ExpiresAt) + 10*time.Millisecond)
	if v := c.look(t, u); v.whoami != http.StatusUnauthorized || v.valid || v.me != http.StatusUnauthorized {
		t.Fatalf("expired session accepted: whoami %d, validate %v, /me %d", v.whoami, v.valid, v.me)
	}
}

// TestSessionCacheAcrossProcesses runs two servers on one PostgreSQL
// database, each with its own cache: a session revoked and an identity
// changed on A are seen on B within the bound session.cache.sync_interval
// documents (B never hears of A's writes except through the change log).
// That bound is three intervals: B answers from its cache only while its
// last read of the log began less than three intervals ago, and a read
// that begins after A's commit drops what the write changed. So every
// check B begins three intervals after A's write returned must see it.
func TestSessionCacheAcrossProcesses(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" && os.Getenv("CI") == "" {
		t.Skip("no PostgreSQL: set " + storetest.PostgresEnv)
	}
	dsn := storetest.PostgresDSN(t)
	t.Chdir(t.TempDir()) // the dev secrets file both servers share
	const interval = 200 * time.Millisecond
	const bound = 3 * interval // session.cache.sync_interval's documented bound
	a := newCachedApp(t, dsn, interval)
	b := newCachedApp(t, dsn, interval)
	u := a.newUser(t, time.Hour)
	// newUser's writes on A (the TOTP credential, the passkey) are in the
	// change log too: B's first read of the log after them drops what B
	// cached of the identity until then, whenever B loaded it (B cannot
	// tell). Once B has read them, its cache keeps the session.
	waitFor(t, 10*time.Second, "B answers the session from its cache", func() bool {
		hits, _ := b.app.sessionCache.Stats()
		v := b.look(t, u)
		if v.whoami != http.StatusOK || !v.valid || v.me != http.StatusOK {
			t.Fatalf("B refuses the fresh session: %+v", v)
		}
		h, _ := b.app.sessionCache.Stats()
		return h-hits >= 4
	})
	// An identity change on A shows on B.
	if st, body := call(a.admin, http.MethodPatch, "/admin/identities/"+u.id, nil,
		[]map[string]any{{"op": "add", "path": "/metadata_public", "value": map[string]any{"plan": "gold"}}}); st != http.StatusOK {
		t.Fatalf("patch on A: %d %s", st, body)
	}
	waitFor(t, bound, "B shows A's metadata change", func() bool {
		return field(b.look(t, u).whoamiBody, "identity.metadata_public.plan") == "gold"
	})
	// A revocation on A ends the session on B.
	if st, body := call(a.admin, http.MethodDelete, "/admin/sessions/"+u.sess.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("revoke on A: %d %s", st, body)
	}
	waitFor(t, bound, "B refuses the session A revoked", func() bool {
		v := b.look(t, u)
		return v.whoami == http.StatusUnauthorized && !v.valid && v.me == http.StatusUnauthorized
	})
}

// waitFor evaluates cond until it holds. It fails when cond does not hold
// on an evaluation that began more than within after the call: checks
// begun after the bound must see what is waited for, however long they
// take.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for {
		began := time.Since(start)
		if cond() {
			t.Logf("%s: held on a check begun after %s", what, began.Round(time.Millisecond))
			return
		}
		if began > within {
			t.Fatalf("%s: not on a check begun after %s (bound %s)", what, began.Round(time.Millisecond), within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionCacheSecondFactor: with TOTP on and whoami's required_aal
// highest_available, whoami remembers per cache entry whether the identity
// has a second factor; removing the factor (Hanko admin API) and setting
// one up again (the identity service's store write) are seen by the next
// whoami.
func TestSessionCacheSecondFactor(t *testing.T) {
	t.Chdir(t.TempDir())
	for name, dsn := range testDSNs(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED", "true")
			c := newCachedApp(t, dsn, time.Minute)
			u := c.newUser(t, time.Hour) // with TOTP, signed in with a password: aal1
			whoami := func() int {
				st, _ := call(c.public, http.MethodGet, "/sessions/whoami", u.kratos, nil)
				return st
			}
			for range 2 {
				if st := whoami(); st != http.StatusForbidden {
					t.Fatalf("whoami of an aal1 session with TOTP set up: %d, want 403", st)
				}
			}
			if st, b := call(c.admin, http.MethodDelete, "/users/"+u.id+"/otp", nil, nil); st >= 300 {
				t.Fatalf("delete TOTP: %d %s", st, b)
			}
			for range 2 {
				if st := whoami(); st != http.StatusOK {
					t.Fatalf("whoami once TOTP is gone: %d, want 200", st)
				}
			}
			i, err := c.app.db.GetIdentity(context.Background(), u.id)
			if err != nil {
				t.Fatal(err)
			}
			i.SetCredential(core.Credential{ID: uuid.NewString(), Type: core.CredentialTOTP,
				Config: json.RawMessage(`{"totp_url":"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}`), CreatedAt: time.Now(), UpdatedAt: time.Now()})
			if err := c.app.db.UpdateIdentity(context.Background(), i); err != nil {
				t.Fatal(err)
			}
			if st := whoami(); st != http.StatusForbidden {
				t.Fatalf("whoami once TOTP is set up again: %d, want 403", st)
			}
		})
	}
}
