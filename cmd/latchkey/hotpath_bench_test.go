package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
)

// statementCounter counts the SQL statements the store runs (it is the
// store's query tracer, without spans).
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) StartQuery(ctx context.Context, _ string) (context.Context, func(error)) {
	c.n.Add(1)
	return ctx, func(error) {}
}

// hotPath is a built server on a fresh SQLite file with one identity and
// one session, for the session-check benchmarks.
type hotPath struct {
	app    *app
	public http.Handler
	token  string // opaque session token (Kratos face)
	jwt    string // session JWT as the Hanko face signs it
	sessID string // the session of token and jwt
	stmts  *statementCounter
	// offCPU is process CPU time spent with the timer stopped (issuing
	// fresh sessions), which measure leaves out of cpu-µs/op.
	offCPU int64
}

func newHotPath(b testing.TB) *hotPath {
	b.Helper()
	b.Setenv("LATCHKEY_DSN", "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
	b.Setenv("LATCHKEY_LOG_LEVEL", "info")
	ctx := context.Background()
	cfg, _, err := loadConfig("", true)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := loadDevSecrets(cfg); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := build(ctx, cfg, log, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	if a.sessionCache != nil { // as serve runs it
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = a.sessionCache.Run(runCtx); close(done) }()
		b.Cleanup(func() { stop(); <-done })
	}
	id := seedIdentity(b, a.db)
	sess, token, err := a.sessions.Issue(ctx, id, core.AuthMethod{Method: "password"}, core.Device{}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	c := session.Claims{Subject: id, SessionID: sess.ID, Issuer: cfg.Session.JWT.Issuer, Audience: cfg.Session.JWT.Audience,
		IssuedAt: time.Now(), ExpiresAt: sess.ExpiresAt, Extra: map[string]any{"amr": []string{"pwd"}}}
	jwt, err := a.keys.SignJWT(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	hp := &hotPath{app: a, public: a.publicHandler(), token: token, jwt: jwt, sessID: sess.ID, stmts: &statementCounter{}}
	a.db.Trace(hp.stmts)
	return hp
}

// run serves req b.N times, expecting 200, and reports the SQL statements
// per request.
func (hp *hotPath) run(b *testing.B, newReq func() *http.Request) {
	b.Helper()
	req := newReq()
	check := func() {
		w := httptest.NewRecorder()
		hp.public.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s %s = %d %s", req.Method, req.URL.Path, w.Code, w.Body)
		}
	}
	check() // warm the statement and JWT caches
	hp.measure(b, func() {
		if req.Body != nil {
			req = newReq()
		}
		check()
	})
}

// measure runs op b.N times, the statements counter and timer started
// after the caller's warm-up, and reports allocations, statements and the
// process's CPU time per op (cpu-µs/op: user and system, the garbage
// collector's included, the time spent with the timer stopped left out;
// unlike ns/op it does not grow when other processes take the CPUs).
func (hp *hotPath) measure(b *testing.B, op func()) {
	b.Helper()
	hp.stmts.n.Store(0)
	hp.offCPU = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0-hp.offCPU)/float64(n)/1e3, "cpu-µs/op")
	b.ReportMetric(float64(hp.stmts.n.Load())/float64(n), "stmts/op")
}

// BenchmarkWhoami measures the session check through the whole public
// handler (middleware included) on SQLite: the hot path of ARCHITECTURE.md.
// Compare before/after a middleware change with -benchmem; stmts/op is the
// number of SQL statements per request.
func BenchmarkWhoami(b *testing.B) {
	hp := newHotPath(b)
	hp.run(b, func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/sessions/whoami", nil)
		req.Header.Set("X-Session-Token", hp.token)
		return req
	})
}

// BenchmarkHankoValidate measures Hanko's GET and POST /sessions/validate
// with a session JWT (a verified-JWT cache hit after the first request).
func BenchmarkHankoValidate(b *testing.B) {
	hp := newHotPath(b)
	b.Run("GET", func(b *testing.B) {
		hp.run(b, func() *http.Request {
			req := httptest.NewRequest(http.MethodGet, "/sessions/validate", nil)
			req.Header.Set("Authorization", "Bearer "+hp.jwt)
			return req
		})
	})
	b.Run("POST", func(b *testing.B) {
		body := `{"session_token":"` + hp.jwt + `"}`
		hp.run(b, func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/sessions/validate", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return req
		})
	})
}

// BenchmarkHankoMe measures Hanko's GET /me with a session JWT.
func BenchmarkHankoMe(b *testing.B) {
	hp := newHotPath(b)
	hp.run(b, func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.Header.Set("Authorization", "Bearer "+hp.jwt)
		return req
	})
}

// createdUsers numbers the users BenchmarkAdminCreate creates (unique
// across -count runs on one database).
var createdUsers atomic.Int64

// BenchmarkAdminCreate compares the two faces' admin create of the same
// user (one e-mail address, no password): Kratos POST /admin/identities and
// Hanko POST /users, through the whole admin handler on SQLite. Each face
// starts on its own fresh database: on a shared one the face measured
// second inserted into tables the first had grown by b.N identities and
// paid more per create for it (Hanko, 3000x: 504-529 cpu-µs/op after
// Kratos' 3000, 458-508 on a fresh database).
func BenchmarkAdminCreate(b *testing.B) {
	for _, face := range []struct {
		name, path string
		body       func(email string) string
		want       int
	}{
		{"kratos", "/admin/identities", func(e string) string {
			return `{"schema_id":"default","traits":{"email":"` + e + `"}}`
		}, http.StatusCreated},
		{"hanko", "/users", func(e string) string {
			return `{"emails":[{"address":"` + e + `","is_primary":true}]}`
		}, http.StatusOK},
	} {
		b.Run(face.name, func(b *testing.B) {
			hp := newHotPath(b)
			admin := hp.app.adminHandler()
			do := func() {
				req := httptest.NewRequest(http.MethodPost, face.path,
					strings.NewReader(face.body(fmt.Sprintf("%s-%d@example.com", face.name, createdUsers.Add(1)))))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				admin.ServeHTTP(w, req)
				if w.Code != face.want {
					b.Fatalf("POST %s = %d %s", face.path, w.Code, w.Body)
				}
			}
			do()
			hp.measure(b, do)
		})
	}
}

// freshJWTs hands out session JWTs that the server has not seen: each
// names its own session (issued in batches, timer stopped), so every
// request misses the verified-JWT cache and, beyond the session cache's
// size, the session cache too — the first-seen cost of a Hanko check that
// bench's validate/cache-miss and me/cache-miss measure. The identity is
// made as bench makes its users (passwordUser): with an identity without
// address or credential, /me's session read and answer were cheaper than
// those of any user who can log in.
type freshJWTs struct {
	hp     *hotPath
	id     string
	email  string
	tokens []string
	next   int
}

func (f *freshJWTs) take(b *testing.B) string {
	if f.next == len(f.tokens) {
		b.StopTimer()
		stmts, cpu0 := f.hp.stmts.n.Load(), cpuTime(b) // issuing is not the check's
		defer func() {
			f.hp.stmts.n.Store(stmts)
			f.hp.offCPU += cpuTime(b) - cpu0
		}()
		ctx := context.Background()
		cfg := f.hp.app.cfg.Session.JWT
		f.tokens, f.next = f.tokens[:0], 0
		for range 2048 {
			sess, _, err := f.hp.app.sessions.Issue(ctx, f.id, core.AuthMethod{Method: "password"}, core.Device{}, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			c := session.Claims{Subject: f.id, SessionID: sess.ID, Issuer: cfg.Issuer, Audience: cfg.Audience,
				IssuedAt: time.Now(), ExpiresAt: sess.ExpiresAt, Extra: map[string]any{"amr": []string{"pwd"},
					"email": map[string]any{"address": f.email, "is_primary": true, "is_verified": false}}}
			jwt, err := f.hp.app.keys.SignJWT(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			f.tokens = append(f.tokens, jwt)
		}
		b.StartTimer()
	}
	f.next++
	return f.tokens[f.next-1]
}

// passwordUser creates an identity as bench's validate and me scenarios
// log in with (bench's createUser): POST /admin/identities with an e-mail
// trait and a password, so it has an address (verifiable and for recovery)
// and a password credential with its identifier, which a session check
// with the identity reads and /me answers from. It returns the id and the
// address.
func (hp *hotPath) passwordUser(b *testing.B) (id, email string) {
	b.Helper()
	email = fmt.Sprintf("fresh-%d@example.com", createdUsers.Add(1))
	st, body := call(hp.app.adminHandler(), http.MethodPost, "/admin/identities", nil, map[string]any{
		"schema_id": "default", "traits": map[string]any{"email": email},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": "correct horse battery staple 7"}}}})
	var out struct {
		ID string `json:"id"`
	}
	if st != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.ID == "" {
		b.Fatalf("POST /admin/identities = %d %s", st, body)
	}
	return out.ID, email
}

// runFresh serves one request per fresh JWT, expecting 200.
func (hp *hotPath) runFresh(b *testing.B, newReq func(jwt string) *http.Request) {
	b.Helper()
	f := &freshJWTs{hp: hp}
	f.id, f.email = hp.passwordUser(b)
	check := func() {
		req := newReq(f.take(b))
		w := httptest.NewRecorder()
		hp.public.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), f.id) {
			b.Fatalf("%s %s = %d %s", req.Method, req.URL.Path, w.Code, w.Body)
		}
	}
	check()
	hp.measure(b, check)
}

// BenchmarkHankoValidateMiss measures GET and POST /sessions/validate with
// a JWT seen for the first time: one signature verify, one session read.
func BenchmarkHankoValidateMiss(b *testing.B) {
	hp := newHotPath(b)
	b.Run("GET", func(b *testing.B) {
		hp.runFresh(b, func(jwt string) *http.Request {
			req := httptest.NewRequest(http.MethodGet, "/sessions/validate", nil)
			req.Header.Set("Authorization", "Bearer "+jwt)
			return req
		})
	})
	b.Run("POST", func(b *testing.B) {
		hp.runFresh(b, func(jwt string) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/sessions/validate", strings.NewReader(`{"session_token":"`+jwt+`"}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		})
	})
}

// BenchmarkHankoMeMiss measures GET /me with a JWT seen for the first time.
func BenchmarkHankoMeMiss(b *testing.B) {
	hp := newHotPath(b)
	hp.runFresh(b, func(jwt string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		return req
	})
}

// BenchmarkFirstSeenFloor measures the work a Hanko check of a JWT seen
// for the first time cannot avoid, to compare BenchmarkHankoValidateMiss
// and BenchmarkHankoMeMiss with in the same sitting: verify is the
// signature check alone (jwsbb.Verify of the token's signing input with
// the ring's public key and the configured session.jwt.algorithm, ES256
// by default, no parsing, no claims; LATCHKEY_SESSION_JWT_ALGORITHM=RS256
// measures RS256), read is one store read of the session row by id
// (GetSession, one statement), and verify+read both.
func BenchmarkFirstSeenFloor(b *testing.B) {
	hp := newHotPath(b)
	ctx := context.Background()
	jwks, err := hp.app.keys.JWKS(ctx)
	if err != nil {
		b.Fatal(err)
	}
	set, err := jwk.Parse(jwks)
	if err != nil {
		b.Fatal(err)
	}
	key, ok := set.Key(0)
	if !ok {
		b.Fatal("no key in the JWKS")
	}
	var pub any // *ecdsa.PublicKey or *rsa.PublicKey
	if err := jwk.Export(key, &pub); err != nil {
		b.Fatal(err)
	}
	alg := hp.app.cfg.Session.JWT.Algorithm
	dot := strings.LastIndexByte(hp.jwt, '.')
	input := []byte(hp.jwt[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(hp.jwt[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	verify := func() {
		if err := jwsbb.Verify(pub, alg, input, sig); err != nil {
			b.Fatal(err)
		}
	}
	read := func() {
		if _, err := hp.app.db.GetSession(ctx, hp.sessID); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		op   func()
	}{{"verify", verify}, {"read", read}, {"verify+read", func() { verify(); read() }}} {
		b.Run(c.name, func(b *testing.B) {
			c.op()
			hp.measure(b, c.op)
		})
	}
}

// TestHankoFirstSeenStatements: a Hanko check with a JWT the server has
// not seen reads the store once — POST /sessions/validate the session row,
// GET /me the session, the identity with its addresses and credentials and
// its WebAuthn credentials in one statement — and /me lists the identity's
// passkey from that statement as a later /me, answered from the session
// cache, does.
func TestHankoFirstSeenStatements(t *testing.T) {
	hp := newHotPath(t)
	ctx := context.Background()
	id := seedIdentity(t, hp.app.db)
	now := time.Now().UTC()
	passkey := base64.RawURLEncoding.EncodeToString([]byte(id))
	if err := hp.app.db.CreateWebAuthnCredential(ctx, &core.WebAuthnCredential{ID: passkey, IdentityID: id,
		UserHandle: []byte(id)[:16], PublicKey: []byte("pk"), AttestationType: "none", AAGUID: make([]byte, 16),
		Transports: []string{"internal"}, BackupEligible: true, UserVerified: true, Attachment: "platform",
		DisplayName: "passkey", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	fresh := func() string {
		sess, _, err := hp.app.sessions.Issue(ctx, id, core.AuthMethod{Method: "password"}, core.Device{}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cfg := hp.app.cfg.Session.JWT
		jwt, err := hp.app.keys.SignJWT(ctx, session.Claims{Subject: id, SessionID: sess.ID, Issuer: cfg.Issuer,
			Audience: cfg.Audience, ExpiresAt: sess.ExpiresAt, Extra: map[string]any{"amr": []string{"pwd"}}})
		if err != nil {
			t.Fatal(err)
		}
		return jwt
	}
	// The session cache answers once it has read the change log.
	for deadline := time.Now().Add(10 * time.Second); !hp.app.sessionCache.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session cache did not read the change log")
		}
	}
	// Only the request's statements count, not those of the server's
	// background loops (the session cache's change-log reads, the key
	// ring's reloads).
	var count atomic.Int64
	hp.app.db.Trace(tracerFunc(func(ctx context.Context) {
		if ctx.Value(requestMark{}) != nil {
			count.Add(1)
		}
	}))
	serve := func(req *http.Request) (string, int64) {
		t.Helper()
		count.Store(0)
		w := httptest.NewRecorder()
		hp.public.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), requestMark{}, true)))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), id) {
			t.Fatalf("%s %s = %d %s", req.Method, req.URL.Path, w.Code, w.Body)
		}
		return w.Body.String(), count.Load()
	}
	me := func(jwt string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		return req
	}
	jwt := fresh()
	first, n := serve(me(jwt))
	if n != 1 {
		t.Errorf("GET /me with a first-seen JWT: %d statements, want 1", n)
	}
	if !strings.Contains(first, passkey) {
		t.Errorf("GET /me does not list the passkey: %s", first)
	}
	if again, n := serve(me(jwt)); n != 0 || again != first {
		t.Errorf("GET /me again: %d statements, answer %s; want 0 and %s", n, again, first)
	}
	validate := httptest.NewRequest(http.MethodPost, "/sessions/validate", strings.NewReader(`{"session_token":"`+fresh()+`"}`))
	validate.Header.Set("Content-Type", "application/json")
	if _, n := serve(validate); n != 1 {
		t.Errorf("POST /sessions/validate with a first-seen JWT: %d statements, want 1", n)
	}
}

// requestMark marks the context of a request whose statements a test
// counts.
type requestMark struct{}

// tracerFunc is a query tracer that calls f with each statement's context.
type tracerFunc func(ctx context.Context)

func (f tracerFunc) StartQuery(ctx context.Context, _ string) (context.Context, func(error)) {
	f(ctx)
	return ctx, func(error) {}
}
