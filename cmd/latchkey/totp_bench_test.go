//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/totp"
)

// statementLog records the text of every SQL statement the store runs
// (LATCHKEY_BENCH_STATEMENTS=FILE writes those of one op to FILE).
type statementLog struct {
	mu sync.Mutex
	on bool
	qs []string
}

func (l *statementLog) StartQuery(ctx context.Context, q string) (context.Context, func(error)) {
	l.mu.Lock()
	if l.on {
		l.qs = append(l.qs, q)
	}
	l.mu.Unlock()
	return ctx, func(error) {}
}

// benchTOTPUser is an identity with a password and a TOTP key; next is the
// lowest time step whose code no login used yet (a code is accepted once).
type benchTOTPUser struct {
	email, secret string
	next          int64
}

// BenchmarkTOTPAAL2 is bench's totp-aal2 op through the whole public
// handler on SQLite (serve --dev, TOTP on): a native password login, then
// the aal2 step-up with a TOTP code. stmts/op is the SQL statements per op.
// Each identity has two usable codes per 30 s (the current step and the
// next); when all are used the timer stops until the next step.
func BenchmarkTOTPAAL2(b *testing.B) {
	b.Setenv("LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED", "true")
	for _, k := range []string{"LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT", "LATCHKEY_RATELIMIT_PASSWORD_IP_LIMIT"} {
		b.Setenv(k, "1000000000")
	}
	hp := newHotPath(b)
	ctx := context.Background()
	const pw = "a bench password 1234"
	users := make([]*benchTOTPUser, 500)
	for n := range users {
		email := fmt.Sprintf("totp-%d-%s@example.com", n, uuid.NewString()[:8])
		st, body := call(hp.app.adminHandler(), http.MethodPost, "/admin/identities", nil, map[string]any{
			"schema_id": "default", "traits": map[string]any{"email": email},
			"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": pw}}}})
		if st != http.StatusCreated {
			b.Fatalf("create identity: %d %s", st, body)
		}
		var created struct{ ID string }
		_ = json.Unmarshal(body, &created)
		k, err := pqtotp.Generate(pqtotp.GenerateOpts{Issuer: "bench", AccountName: email})
		if err != nil {
			b.Fatal(err)
		}
		key, err := totp.ParseURL(k.URL())
		if err != nil {
			b.Fatal(err)
		}
		sealed, err := totp.SealConfig(hp.app.cipher, created.ID, key)
		if err != nil {
			b.Fatal(err)
		}
		i, err := hp.app.db.GetIdentity(ctx, created.ID)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC()
		i.SetCredential(core.Credential{ID: uuid.NewString(), Type: core.CredentialTOTP, Config: sealed, CreatedAt: now, UpdatedAt: now})
		if err := hp.app.db.UpdateIdentity(ctx, i); err != nil {
			b.Fatal(err)
		}
		users[n] = &benchTOTPUser{email: email, secret: k.Secret()}
	}
	log := &statementLog{}
	hp.app.db.Trace(log)
	public := hp.public
	next := 0
	take := func() (*benchTOTPUser, time.Time) {
		for {
			now := time.Now()
			cur := now.Unix() / 30
			lo, hi := cur, cur+1
			if time.Unix((cur+1)*30, 0).Sub(now) < 3*time.Second {
				lo++
			}
			for range users {
				u := users[next]
				next = (next + 1) % len(users)
				if s := max(u.next, lo); s <= hi {
					u.next = s + 1
					return u, time.Unix(s*30, 0)
				}
			}
			b.StopTimer()
			time.Sleep(time.Unix((cur+1)*30, 0).Sub(now) + 10*time.Millisecond)
			b.StartTimer()
		}
	}
	flowID := func(path string, h map[string]string) string {
		st, body := call(public, http.MethodGet, path, h, nil)
		if st != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, st, body)
		}
		var f struct{ ID string }
		_ = json.Unmarshal(body, &f)
		return f.ID
	}
	op := func() {
		u, at := take()
		id := flowID("/self-service/login/api", nil)
		st, body := call(public, http.MethodPost, "/self-service/login?flow="+url.QueryEscape(id), nil,
			map[string]any{"method": "password", "identifier": u.email, "password": pw})
		var done struct {
			Token   string `json:"session_token"`
			Session struct {
				AAL string `json:"authenticator_assurance_level"`
			} `json:"session"`
		}
		if st != http.StatusOK || json.Unmarshal(body, &done) != nil || done.Token == "" {
			b.Fatalf("password login: %d %s", st, body)
		}
		h := map[string]string{"X-Session-Token": done.Token}
		code, err := pqtotp.GenerateCodeCustom(u.secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			b.Fatal(err)
		}
		id = flowID("/self-service/login/api?aal=aal2", h)
		st, body = call(public, http.MethodPost, "/self-service/login?flow="+url.QueryEscape(id), h,
			map[string]any{"method": "totp", "totp_code": code})
		if st != http.StatusOK || json.Unmarshal(body, &done) != nil || done.Session.AAL != "aal2" {
			b.Fatalf("totp step-up: %d %s", st, body)
		}
	}
	op() // warm the statement caches
	log.mu.Lock()
	log.on = true
	log.mu.Unlock()
	op()
	log.mu.Lock()
	perOp := len(log.qs)
	if path := os.Getenv("LATCHKEY_BENCH_STATEMENTS"); path != "" {
		var lines []string
		for _, q := range log.qs {
			lines = append(lines, strings.Join(strings.Fields(q), " "))
		}
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	log.on = false
	log.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(n)/1e3, "cpu-µs/op")
	b.ReportMetric(float64(perOp), "stmts/op")
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
