//go:build unix

package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/method/totp"
)

// statementLog records the text of every SQL statement the store runs
// (LATCHKEY_BENCH_STATEMENTS=FILE writes those of one op to FILE) and
// counts its write transactions.
type statementLog struct {
	mu  sync.Mutex
	on  bool
	qs  []string
	txs int
}

func (l *statementLog) StartQuery(ctx context.Context, q string) (context.Context, func(error)) {
	if strings.Contains(q, "FROM session_changes") {
		// The session cache's poller, running beside the requests.
		return ctx, func(error) {}
	}
	l.mu.Lock()
	if l.on {
		l.qs = append(l.qs, q)
	}
	l.mu.Unlock()
	return ctx, func(error) {}
}

func (l *statementLog) BeginTx(context.Context) {
	l.mu.Lock()
	if l.on {
		l.txs++
	}
	l.mu.Unlock()
}

// start begins recording afresh; stop ends it and returns what was
// recorded.
func (l *statementLog) start() {
	l.mu.Lock()
	l.on, l.qs, l.txs = true, nil, 0
	l.mu.Unlock()
}

func (l *statementLog) stop() (stmts []string, txs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.qs, l.txs
}

// benchTOTPUser is an identity with a password and a TOTP key; next is the
// lowest time step whose code no login used yet (a code is accepted once).
type benchTOTPUser struct {
	email, secret string
	next          int64
}

// totpFixture is a server on a fresh SQLite file (serve --dev, TOTP on)
// with identities that have a password and a TOTP key, for bench's
// totp-aal2 op through the whole public handler.
type totpFixture struct {
	hp    *hotPath
	log   *statementLog
	users []*benchTOTPUser
	next  int
	// wait is called when every identity has used its codes of the
	// current window, with how long until the next one.
	wait func(time.Duration)
}

const totpFixturePassword = "a bench password 1234"

func newTOTPFixture(tb testing.TB, identities int) *totpFixture {
	tb.Helper()
	tb.Setenv("LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED", "true")
	for _, k := range []string{"LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT", "LATCHKEY_RATELIMIT_PASSWORD_IP_LIMIT"} {
		tb.Setenv(k, "1000000000")
	}
	f := &totpFixture{hp: newHotPath(tb), log: &statementLog{}, wait: time.Sleep}
	ctx := context.Background()
	for n := range identities {
		email := fmt.Sprintf("totp-%d-%s@example.com", n, uuid.NewString()[:8])
		st, body := call(f.hp.app.adminHandler(), http.MethodPost, "/admin/identities", nil, map[string]any{
			"schema_id": "default", "traits": map[string]any{"email": email},
			"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": totpFixturePassword}}}})
		if st != http.StatusCreated {
			tb.Fatalf("create identity: %d %s", st, body)
		}
		var created struct{ ID string }
		_ = json.Unmarshal(body, &created)
		k, err := pqtotp.Generate(pqtotp.GenerateOpts{Issuer: "bench", AccountName: email})
		if err != nil {
			tb.Fatal(err)
		}
		key, err := totp.ParseURL(k.URL())
		if err != nil {
			tb.Fatal(err)
		}
		sealed, err := totp.SealConfig(f.hp.app.cipher, created.ID, key)
		if err != nil {
			tb.Fatal(err)
		}
		i, err := f.hp.app.db.GetIdentity(ctx, created.ID)
		if err != nil {
			tb.Fatal(err)
		}
		now := time.Now().UTC()
		i.SetCredential(core.Credential{ID: uuid.NewString(), Type: core.CredentialTOTP, Config: sealed, CreatedAt: now, UpdatedAt: now})
		if err := f.hp.app.db.UpdateIdentity(ctx, i); err != nil {
			tb.Fatal(err)
		}
		f.users = append(f.users, &benchTOTPUser{email: email, secret: k.Secret()})
	}
	f.hp.app.db.Trace(f.log)
	return f
}

// take returns an identity and the time of a step whose code it has not
// used (the current one or the next, which the server accepts for drift).
func (f *totpFixture) take() (*benchTOTPUser, time.Time) {
	for {
		now := time.Now()
		cur := now.Unix() / 30
		lo, hi := cur, cur+1
		if time.Unix((cur+1)*30, 0).Sub(now) < 3*time.Second {
			lo++
		}
		for range f.users {
			u := f.users[f.next]
			f.next = (f.next + 1) % len(f.users)
			if s := max(u.next, lo); s <= hi {
				u.next = s + 1
				return u, time.Unix(s*30, 0)
			}
		}
		f.wait(time.Unix((cur+1)*30, 0).Sub(now) + 10*time.Millisecond)
	}
}

// op is one totp-aal2 op: GET /self-service/login/api, POST the password,
// GET /self-service/login/api?aal=aal2, POST a TOTP code. each, when set,
// is called after each of the four requests.
func (f *totpFixture) op(tb testing.TB, each func(req string)) {
	u, at := f.take()
	public := f.hp.public
	after := func(req string) {
		if each != nil {
			each(req)
		}
	}
	flowID := func(path string, h map[string]string) string {
		st, body := call(public, http.MethodGet, path, h, nil)
		if st != http.StatusOK {
			tb.Fatalf("GET %s: %d %s", path, st, body)
		}
		var f struct{ ID string }
		_ = json.Unmarshal(body, &f)
		return f.ID
	}
	id := flowID("/self-service/login/api", nil)
	after("GET login")
	st, body := call(public, http.MethodPost, "/self-service/login?flow="+url.QueryEscape(id), nil,
		map[string]any{"method": "password", "identifier": u.email, "password": totpFixturePassword})
	var done struct {
		Token   string `json:"session_token"`
		Session struct {
			AAL string `json:"authenticator_assurance_level"`
		} `json:"session"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &done) != nil || done.Token == "" {
		tb.Fatalf("password login: %d %s", st, body)
	}
	after("POST password")
	h := map[string]string{"X-Session-Token": done.Token}
	code, err := pqtotp.GenerateCodeCustom(u.secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tb.Fatal(err)
	}
	id = flowID("/self-service/login/api?aal=aal2", h)
	after("GET login aal2")
	st, body = call(public, http.MethodPost, "/self-service/login?flow="+url.QueryEscape(id), h,
		map[string]any{"method": "totp", "totp_code": code})
	if st != http.StatusOK || json.Unmarshal(body, &done) != nil || done.Session.AAL != "aal2" {
		tb.Fatalf("totp step-up: %d %s", st, body)
	}
	after("POST totp")
}

// BenchmarkTOTPAAL2 is bench's totp-aal2 op through the whole public
// handler on SQLite (serve --dev, TOTP on): a native password login, then
// the aal2 step-up with a TOTP code. stmts/op and txs/op are the SQL
// statements and write transactions of one op (the first login of an
// identity from its address), cpu-µs/op the process's CPU time per op.
// Each identity has two usable codes per 30 s (the current step and the
// next); when all are used the timer stops until the next step.
func BenchmarkTOTPAAL2(b *testing.B) {
	f := newTOTPFixture(b, 500)
	f.wait = func(d time.Duration) {
		b.StopTimer()
		time.Sleep(d)
		b.StartTimer()
	}
	f.op(b, nil) // warm the statement caches
	f.log.start()
	f.op(b, nil)
	stmts, txs := f.log.stop()
	if path := os.Getenv("LATCHKEY_BENCH_STATEMENTS"); path != "" {
		var lines []string
		for _, q := range stmts {
			lines = append(lines, strings.Join(strings.Fields(q), " "))
		}
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		f.op(b, nil)
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(n)/1e3, "cpu-µs/op")
	b.ReportMetric(float64(len(stmts)), "stmts/op")
	b.ReportMetric(float64(txs), "txs/op")
}

// TestTOTPLoginWrites: each of the op's four requests commits once per
// thing that must be committed before the next: the new flow; the password
// attempt (counted before the hash is checked, outside the step's
// transaction), then the step with the right attempt taken back and the
// session issued; the new aal2 flow; the step that counts the TOTP
// attempt, claims the code, takes the right attempt back and steps the
// session up (the code is compared inside it). Run with -v to see the
// statements. It also bounds the pages each request writes to SQLite's
// write-ahead log (walFrames), which cost CPU at the commit and again at
// the checkpoint.
func TestTOTPLoginWrites(t *testing.T) {
	f := newTOTPFixture(t, 1)
	want := map[string]int{"GET login": 1, "POST password": 2, "GET login aal2": 1, "POST totp": 1}
	// The SQLite pages each request writes to the WAL: a new flow is its
	// row and two index entries; the password step's session its row and
	// six, the attempt counter its row and two (written when counted and
	// again when taken back); the TOTP step writes the counters, the
	// flow's row, the session's row (no index entry: UpdateSession keeps
	// them) and the session change's row, index entry and sequence.
	// From a known address the password step's counter row is there
	// already, at zero since the last login reset it: counting and taking
	// the attempt back write only its row's page.
	wantPages := []map[string]int{
		{"GET login": 3, "POST password": 14, "GET login aal2": 3, "POST totp": 8},
		{"GET login": 3, "POST password": 12, "GET login aal2": 3, "POST totp": 8},
	}
	start := time.Now().Truncate(time.Minute)
	for round := range 2 { // a first login from the address, then a known one
		f.log.start()
		frames := walFrames(t)
		f.op(t, func(req string) {
			stmts, txs := f.log.stop()
			for _, q := range stmts {
				t.Logf("round %d %s: %.100s", round, req, strings.Join(strings.Fields(q), " "))
			}
			if txs != want[req] {
				t.Errorf("round %d %s: %d write transactions, want %d", round, req, txs, want[req])
			}
			now := walFrames(t)
			t.Logf("round %d %s: %d pages written to the WAL", round, req, now-frames)
			bound := wantPages[round][req]
			if !time.Now().Truncate(time.Minute).Equal(start) {
				bound = max(bound, wantPages[0][req]) // the counters' shortest window began anew
			}
			if now-frames > bound {
				t.Errorf("round %d %s: %d pages written to the WAL, want at most %d", round, req, now-frames, bound)
			}
			frames = now
			f.log.start()
		})
		f.log.stop()
	}
}

// walFrames returns the number of frames in the write-ahead log of the
// test's SQLite database (LATCHKEY_DSN), read from the WAL index's header
// (mxFrame, at byte 16 of the -shm file, in the machine's byte order): the
// pages the store's commits wrote since the log last restarted.
func walFrames(tb testing.TB) int {
	tb.Helper()
	path, ok := strings.CutPrefix(os.Getenv("LATCHKEY_DSN"), "sqlite://")
	if !ok {
		tb.Fatalf("LATCHKEY_DSN %q is not a SQLite file", os.Getenv("LATCHKEY_DSN"))
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	b, err := os.ReadFile(path + "-shm")
	if err != nil || len(b) < 20 {
		tb.Fatalf("read the WAL index: %v (%d bytes)", err, len(b))
	}
	return int(binary.NativeEndian.Uint32(b[16:20]))
}

// TestTOTPLoginStatements bounds the SQL statements of each of the op's
// requests, for a first login of the identity from the address and for a
// later one (its address known): an attempt is counted in the statement
// that reads whether its address is known (ratelimit.Policy.Begin over
// HitAllSeeing), and from an unknown address the other counters in a
// second one, in the same transaction; the password and TOTP attempts' success
// takes back what their check counted without reading the known-address
// state again (ratelimit.Attempt); the aal2 flow's session, identity and
// credentials are read in one statement (session.VerifyWithCredentials),
// and so are the password step's identity and credentials
// (FindIdentityByIdentifier); the TOTP step steps the session it read up
// with one conditional update, without reading it again in its
// transaction (store.UpdateSessionMethodsIf).
func TestTOTPLoginStatements(t *testing.T) {
	f := newTOTPFixture(t, 1)
	want := []map[string]int{
		{"GET login": 1, "POST password": 9, "GET login aal2": 2, "POST totp": 8},
		{"GET login": 1, "POST password": 6, "GET login aal2": 2, "POST totp": 8},
	}
	for round := range want {
		f.log.start()
		f.op(t, func(req string) {
			stmts, _ := f.log.stop()
			if len(stmts) != want[round][req] {
				for _, q := range stmts {
					t.Logf("round %d %s: %.100s", round, req, strings.Join(strings.Fields(q), " "))
				}
				t.Errorf("round %d %s: %d statements, want %d", round, req, len(stmts), want[round][req])
			}
			f.log.start()
		})
		f.log.stop()
	}
}

// cpuTime returns the CPU time (user and system) the process has used, in
// nanoseconds: the benchmark's clients and the server share it, the
// clients' part being small (in-process requests, JSON decoding).
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTOTPAAL2Crypto is the cryptography one totp-aal2 op must do, as
// the server does it under serve --dev: one password verify against a hash
// of the configured hasher, the AES-GCM open of the TOTP key (the cipher's
// Decrypt, inside method/totp's Open), and the three HMAC-SHA1 codes of the
// worst case (a code of the last step looked at). CPU per op of
// BenchmarkTOTPAAL2 or of bench's totp-aal2 minus this is the cost beyond
// the cryptography.
func BenchmarkTOTPAAL2Crypto(b *testing.B) {
	b.Setenv("LATCHKEY_DSN", "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
	cfg, _, err := loadConfig("", true)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := loadDevSecrets(cfg); err != nil {
		b.Fatal(err)
	}
	h, err := password.NewHasher(hasherParams(cfg.Hashers), nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := cipher.New(cfg.Secrets.Cipher...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hash, err := h.Hash(ctx, []byte(totpFixturePassword))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	m, err := totp.New(c, totp.Options{Issuer: "bench", Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	k, err := m.Generate("bench@example.com")
	if err != nil {
		b.Fatal(err)
	}
	config, err := m.Seal("id", k)
	if err != nil {
		b.Fatal(err)
	}
	var sealed totp.Config
	if err := json.Unmarshal(config, &sealed); err != nil {
		b.Fatal(err)
	}
	step := now.Unix()/30 + totp.Skew
	code, err := pqtotp.GenerateCodeCustom(k.Secret(), time.Unix(step*30, 0), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		b.Fatal(err)
	}
	aad := []byte("totp:id")
	verify := func(b *testing.B) {
		if err := h.Verify(ctx, []byte(totpFixturePassword), hash); err != nil {
			b.Fatal(err)
		}
	}
	open := func(b *testing.B) {
		if _, err := c.Decrypt(sealed.SealedURL, aad); err != nil {
			b.Fatal(err)
		}
	}
	codes := func(b *testing.B) {
		if got, ok := m.Match(k, code); !ok || got != step {
			b.Fatalf("match: %d %v, want %d", got, ok, step)
		}
	}
	for _, bc := range []struct {
		name string
		fn   []func(*testing.B)
	}{
		{"all", []func(*testing.B){verify, open, codes}},
		{"password", []func(*testing.B){verify}},
		{"aes-gcm", []func(*testing.B){open}},
		{"3-codes", []func(*testing.B){codes}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, fn := range bc.fn {
					fn(b)
				}
			}
		})
	}
}
