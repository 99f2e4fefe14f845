package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

var (
	password = core.AuthMethod{Method: "password", AAL: core.AAL1}
	totp     = core.AuthMethod{Method: "totp", AAL: core.AAL2}
	browser  = core.Device{IPAddress: "203.0.113.7", UserAgent: "Mozilla/5.0"}
)

// createIdentity stores a minimal identity so sessions can reference it.
func createIdentity(t testing.TB, st store.Store, id string) {
	t.Helper()
	now := time.Now().UTC()
	err := st.CreateIdentity(context.Background(), &core.Identity{
		ID: id, SchemaID: "default", Traits: []byte(`{}`), State: core.IdentityActive,
		StateChangedAt: now, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
}

const (
	alice = "0c5a8f0e-7b1c-4e8a-9f45-3c3d9d1a2b01"
	bob   = "0c5a8f0e-7b1c-4e8a-9f45-3c3d9d1a2b02"
)

func setup(t *testing.T) (*Manager, store.Store, *fakeClock) {
	t.Helper()
	st := newStore(t)
	createIdentity(t, st, alice)
	createIdentity(t, st, bob)
	clk := newClock()
	return newManager(t, st, clk), st, clk
}

func wantCode(t *testing.T, err error, code core.Code, cause error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := core.ErrorCode(err); got != code {
		t.Fatalf("code = %s, want %s (err %v)", got, code, err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("err = %v, want cause %v", err, cause)
	}
}

func TestIssue(t *testing.T) {
	t.Parallel()
	m, st, clk := setup(t)
	ctx := context.Background()
	s, token, err := m.Issue(ctx, alice, password, browser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !sessionTokenRE.MatchString(token) {
		t.Fatalf("token %q has the wrong format", token)
	}
	stored, err := st.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(token))
	if !bytes.Equal(stored.TokenHash, h[:]) {
		t.Fatal("stored token hash is not the SHA-256 of the token")
	}
	// The token must not be anywhere in the row.
	for name, b := range map[string][]byte{"token hash": stored.TokenHash, "logout hash": stored.LogoutTokenHash, "id": []byte(stored.ID)} {
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(token[len(SessionTokenPrefix):])) {
			t.Fatalf("token stored in clear in %s", name)
		}
	}
	now := clk.Now()
	checks := []struct {
		name string
		ok   bool
	}{
		{"identity", stored.IdentityID == alice},
		{"active", stored.Active},
		{"aal1", stored.AAL == core.AAL1},
		{"one method", len(stored.Methods) == 1 && stored.Methods[0].Method == "password" && stored.Methods[0].CompletedAt.Equal(now)},
		{"issued now", stored.IssuedAt.Equal(now) && stored.AuthenticatedAt.Equal(now)},
		{"expires in an hour", stored.ExpiresAt.Equal(now.Add(time.Hour))},
		{"device with id", len(stored.Devices) == 1 && stored.Devices[0].ID != "" && stored.Devices[0].IPAddress == browser.IPAddress},
		{"logout hash", len(stored.LogoutTokenHash) == sha256.Size},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: stored session %+v", c.name, stored)
		}
	}

	_, token2, err := m.Issue(ctx, alice, password, core.Device{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if token2 == token {
		t.Fatal("two sessions got the same token")
	}
}

func TestIssueInvalid(t *testing.T) {
	t.Parallel()
	m, _, _ := setup(t)
	tests := []struct {
		name     string
		identity string
		method   core.AuthMethod
		lifespan time.Duration
	}{
		{"no identity", "", password, time.Hour},
		{"no method", alice, core.AuthMethod{}, time.Hour},
		{"zero lifespan", alice, password, 0},
		{"negative lifespan", alice, password, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := m.Issue(context.Background(), tt.identity, tt.method, core.Device{}, tt.lifespan)
			wantCode(t, err, core.CodeInvalid, nil)
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		token func(t *testing.T, m *Manager, clk *fakeClock) string
		cause error
	}{
		{"valid", func(t *testing.T, m *Manager, clk *fakeClock) string {
			_, tok, _ := m.Issue(ctx, alice, password, browser, time.Hour)
			clk.Add(59 * time.Minute)
			return tok
		}, nil},
		{"empty", func(*testing.T, *Manager, *fakeClock) string { return "" }, ErrNoSession},
		{"unknown", func(*testing.T, *Manager, *fakeClock) string { return "ory_st_" + strings.Repeat("a", 32) }, ErrNoSession},
		{"oversized", func(*testing.T, *Manager, *fakeClock) string { return strings.Repeat("x", maxTokenLen+1) }, ErrNoSession},
		{"expired", func(t *testing.T, m *Manager, clk *fakeClock) string {
			_, tok, _ := m.Issue(ctx, alice, password, browser, time.Hour)
			clk.Add(time.Hour)
			return tok
		}, ErrExpired},
		{"revoked", func(t *testing.T, m *Manager, clk *fakeClock) string {
			s, tok, _ := m.Issue(ctx, alice, password, browser, time.Hour)
			if err := m.Revoke(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			return tok
		}, ErrRevoked},
		{"logout token is not a session token", func(t *testing.T, m *Manager, clk *fakeClock) string {
			s, _, _ := m.Issue(ctx, alice, password, browser, time.Hour)
			lo, err := m.LogoutToken(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			return lo
		}, ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _, clk := setup(t)
			tok := tt.token(t, m, clk)
			s, err := m.Verify(ctx, tok)
			if tt.cause == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if s.IdentityID != alice {
					t.Fatalf("Verify returned %+v", s)
				}
				return
			}
			wantCode(t, err, core.CodeUnauthorized, tt.cause)
			if s != nil {
				t.Fatal("Verify returned a session with an error")
			}
		})
	}
}

func TestVerifyWritesNothing(t *testing.T) {
	t.Parallel()
	m, st, clk := setup(t)
	ctx := context.Background()
	s, tok, err := m.Issue(ctx, alice, password, browser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Minute)
	if _, err := m.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	after, err := st.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(s.UpdatedAt) {
		t.Fatalf("Verify wrote the session: updated_at %v -> %v", s.UpdatedAt, after.UpdatedAt)
	}
}

func TestExtend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		prepare  func(t *testing.T, m *Manager, clk *fakeClock, id string)
		lifespan time.Duration
		code     core.Code // empty: success
		wantExp  time.Duration
	}{
		{"extends from now", func(t *testing.T, m *Manager, clk *fakeClock, id string) { clk.Add(50 * time.Minute) }, time.Hour, "", 110 * time.Minute},
		{"never shortens", func(*testing.T, *Manager, *fakeClock, string) {}, time.Minute, "", time.Hour},
		{"expired but active comes back", func(t *testing.T, m *Manager, clk *fakeClock, id string) { clk.Add(2 * time.Hour) }, time.Hour, "", 3 * time.Hour},
		{"revoked", func(t *testing.T, m *Manager, clk *fakeClock, id string) {
			if err := m.Revoke(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, time.Hour, core.CodeConflict, 0},
		{"bad lifespan", func(*testing.T, *Manager, *fakeClock, string) {}, 0, core.CodeInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _, clk := setup(t)
			start := clk.Now()
			s, tok, err := m.Issue(ctx, alice, password, browser, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, m, clk, s.ID)
			out, err := m.Extend(ctx, s.ID, tt.lifespan)
			if tt.code != "" {
				wantCode(t, err, tt.code, nil)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := start.Add(tt.wantExp); !out.ExpiresAt.Equal(want) {
				t.Fatalf("expires_at = %v, want %v", out.ExpiresAt, want)
			}
			if _, err := m.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify after Extend: %v", err)
			}
		})
	}

	m, _, _ := setup(t)
	_, err := m.Extend(ctx, "7d2b8f1e-0000-4000-8000-000000000000", time.Hour)
	wantCode(t, err, core.CodeNotFound, ErrNoSession)
}

func TestAddMethodAAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	webauthnPasswordless := core.AuthMethod{Method: "webauthn", AAL: core.AAL1}
	lookup := core.AuthMethod{Method: "lookup_secret", AAL: core.AAL2}
	tests := []struct {
		name    string
		first   core.AuthMethod
		then    []core.AuthMethod
		wantAAL core.AAL
	}{
		{"password only", password, nil, core.AAL1},
		{"password then totp", password, []core.AuthMethod{totp}, core.AAL2},
		{"passkey then lookup secret", webauthnPasswordless, []core.AuthMethod{lookup}, core.AAL2},
		{"second factor alone is aal1", totp, nil, core.AAL1},
		{"two first factors", password, []core.AuthMethod{webauthnPasswordless}, core.AAL1},
		{"refresh after step-up keeps aal2", password, []core.AuthMethod{totp, password}, core.AAL2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, st, clk := setup(t)
			s, _, err := m.Issue(ctx, alice, tt.first, browser, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, method := range tt.then {
				clk.Add(time.Minute)
				if err := m.AddMethod(ctx, s, method); err != nil {
					t.Fatal(err)
				}
				if !s.AuthenticatedAt.Equal(clk.Now()) {
					t.Fatalf("authenticated_at = %v, want %v", s.AuthenticatedAt, clk.Now())
				}
			}
			stored, err := st.GetSession(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.AAL != tt.wantAAL || s.AAL != tt.wantAAL {
				t.Fatalf("aal = %s (stored %s), want %s", s.AAL, stored.AAL, tt.wantAAL)
			}
			if len(stored.Methods) != 1+len(tt.then) {
				t.Fatalf("amr has %d entries, want %d", len(stored.Methods), 1+len(tt.then))
			}
			if !stored.AuthenticatedAt.Equal(s.AuthenticatedAt) {
				t.Fatalf("stored authenticated_at %v, in memory %v", stored.AuthenticatedAt, s.AuthenticatedAt)
			}
		})
	}
}

func TestAddMethodRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(t *testing.T, m *Manager, clk *fakeClock, s *core.Session)
		method  core.AuthMethod
		code    core.Code
		cause   error
	}{
		{"revoked", func(t *testing.T, m *Manager, clk *fakeClock, s *core.Session) {
			if err := m.Revoke(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}, totp, core.CodeUnauthorized, ErrRevoked},
		{"expired", func(t *testing.T, m *Manager, clk *fakeClock, s *core.Session) { clk.Add(2 * time.Hour) }, totp, core.CodeUnauthorized, ErrExpired},
		{"empty method", func(*testing.T, *Manager, *fakeClock, *core.Session) {}, core.AuthMethod{}, core.CodeInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _, clk := setup(t)
			s, _, err := m.Issue(ctx, alice, password, browser, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, m, clk, s)
			wantCode(t, m.AddMethod(ctx, s, tt.method), tt.code, tt.cause)
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	m, st, _ := setup(t)
	ctx := context.Background()
	s1, t1, _ := m.Issue(ctx, alice, password, browser, time.Hour)
	_, t2, _ := m.Issue(ctx, alice, password, browser, time.Hour)
	s3, t3, _ := m.Issue(ctx, alice, password, browser, time.Hour)
	_, tb, _ := m.Issue(ctx, bob, password, browser, time.Hour)

	n, err := m.RevokeOthers(ctx, alice, s1.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOthers = %d, %v; want 2", n, err)
	}
	tests := []struct {
		name  string
		token string
		cause error
	}{
		{"kept", t1, nil},
		{"other revoked", t2, ErrRevoked},
		{"third revoked", t3, ErrRevoked},
		{"other identity untouched", tb, nil},
	}
	for _, tt := range tests {
		if _, err := m.Verify(ctx, tt.token); !errors.Is(err, tt.cause) {
			t.Errorf("%s: Verify err = %v, want %v", tt.name, err, tt.cause)
		}
	}

	if err := m.Revoke(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(ctx, s1.ID); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if _, err := m.Verify(ctx, t1); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Verify after Revoke: %v", err)
	}
	stored, err := st.GetSession(ctx, s3.ID)
	if err != nil || stored.Active {
		t.Fatalf("revoked row: %+v, %v", stored, err)
	}
	wantCode(t, m.Revoke(ctx, "7d2b8f1e-0000-4000-8000-000000000000"), core.CodeNotFound, ErrNoSession)
}

func TestLogoutToken(t *testing.T) {
	t.Parallel()
	m, st, clk := setup(t)
	ctx := context.Background()
	s, tok, _ := m.Issue(ctx, alice, password, browser, time.Hour)
	other, otherTok, _ := m.Issue(ctx, alice, password, browser, time.Hour)

	lo, err := m.LogoutToken(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !logoutTokenRE.MatchString(lo) {
		t.Fatalf("logout token %q", lo)
	}
	again, err := m.LogoutToken(ctx, s)
	if err != nil || again != lo {
		t.Fatalf("second LogoutToken = %q, %v; want the same %q", again, err, lo)
	}
	stored, _ := st.GetSession(ctx, s.ID)
	if h := HashToken(lo); !bytes.Equal(stored.LogoutTokenHash, h[:]) {
		t.Fatal("stored logout hash is not the SHA-256 of the logout token")
	}

	for _, bad := range []string{"", "ory_lo_" + strings.Repeat("x", 32), tok} {
		_, err := m.RevokeByLogoutToken(ctx, bad)
		wantCode(t, err, core.CodeForbidden, ErrNoSession)
	}
	got, err := m.RevokeByLogoutToken(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.Active {
		t.Fatalf("RevokeByLogoutToken returned %+v", got)
	}
	if _, err := m.Verify(ctx, tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Verify after logout: %v", err)
	}
	if _, err := m.Verify(ctx, otherTok); err != nil {
		t.Fatalf("other session after logout: %v", err)
	}

	// Rotating secrets.default changes the logout token; the new one is
	// stored and the old one stops working.
	rotated, err := NewManager(st, newSigner(t, "new-mac-secret-0123456789", testMACSecret), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	oldLo, _ := m.LogoutToken(ctx, other)
	newLo, err := rotated.LogoutToken(ctx, other)
	if err != nil || newLo == oldLo {
		t.Fatalf("rotated LogoutToken = %q, %v (old %q)", newLo, err, oldLo)
	}
	if _, err := rotated.RevokeByLogoutToken(ctx, oldLo); core.ErrorCode(err) != core.CodeForbidden {
		t.Fatalf("old logout token after rotation: %v", err)
	}
	if _, err := rotated.RevokeByLogoutToken(ctx, newLo); err != nil {
		t.Fatalf("new logout token: %v", err)
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	m, st, clk := setup(t)
	ctx := context.Background()
	s, _, _ := m.Issue(ctx, alice, password, browser, 24*time.Hour)
	phone := core.Device{IPAddress: "198.51.100.4", UserAgent: "Phone", Location: "Berlin, DE"}
	replica := newManager(t, st, clk)

	steps := []struct {
		name      string
		m         *Manager
		advance   time.Duration
		device    core.Device
		wantWrote bool
		wantDevs  int
	}{
		{"within interval", m, time.Minute, phone, false, 1},
		{"after interval adds device", m, 5 * time.Minute, phone, true, 2},
		{"throttled again", m, 4 * time.Minute, browser, false, 2},
		{"known device is not duplicated", m, 2 * time.Minute, browser, true, 2},
		{"replica with a stale copy sees the row was touched", replica, 0, phone, false, 2},
	}
	stale := *s
	for _, step := range steps {
		clk.Add(step.advance)
		target := s
		if step.m == replica {
			// The replica read the session before the last touch, but the
			// stored updated_at throttles it.
			stale.UpdatedAt = clk.Now().Add(-time.Hour)
			target = &stale
		}
		wrote, err := step.m.Touch(ctx, target, step.device)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if wrote != step.wantWrote {
			t.Fatalf("%s: wrote = %v, want %v", step.name, wrote, step.wantWrote)
		}
		stored, _ := st.GetSession(ctx, s.ID)
		if len(stored.Devices) != step.wantDevs {
			t.Fatalf("%s: %d devices, want %d: %+v", step.name, len(stored.Devices), step.wantDevs, stored.Devices)
		}
		if wrote && !stored.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("%s: updated_at %v, want %v", step.name, stored.UpdatedAt, clk.Now())
		}
	}
	stored, _ := st.GetSession(ctx, s.ID)
	if last := stored.Devices[len(stored.Devices)-1]; last.UserAgent != browser.UserAgent {
		t.Fatalf("most recent device is %+v, want the browser", last)
	}
}

func TestSessionLookup(t *testing.T) {
	t.Parallel()
	m, _, _ := setup(t)
	ctx := context.Background()
	s, _, _ := m.Issue(ctx, alice, password, browser, time.Hour)
	got, err := m.Session(ctx, s.ID)
	if err != nil || got.ID != s.ID {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if err := m.Check(got); err != nil {
		t.Fatalf("Check: %v", err)
	}
	_, err = m.Session(ctx, "7d2b8f1e-0000-4000-8000-000000000000")
	wantCode(t, err, core.CodeNotFound, ErrNoSession)
}

// TestIssueIn: the session is written through the caller's transaction
// (rolled back with it, committed with it) with every method, as Issue and
// AddMethod would store it.
func TestIssueIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, st, _ := setup(t)
	methods := []core.AuthMethod{password, totp}
	var rolledBack *core.Session
	errRollBack := errors.New("roll back")
	err := st.Update(ctx, func(tx store.Tx) error {
		s, _, err := m.IssueIn(ctx, tx, alice, methods, browser, time.Hour)
		if err != nil {
			return err
		}
		rolledBack = s
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, rolledBack.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of a rolled back transaction: %v, want not found", err)
	}
	var s *core.Session
	var token string
	if err := st.Update(ctx, func(tx store.Tx) (err error) {
		s, token, err = m.IssueIn(ctx, tx, alice, methods, browser, time.Hour)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := m.Issue(ctx, alice, password, browser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddMethod(ctx, want, totp); err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.AAL != core.AAL2 || got.AAL != want.AAL || len(got.Methods) != 2 ||
		got.Methods[1].Method != "totp" || !got.AuthenticatedAt.Equal(want.AuthenticatedAt) || len(got.Devices) != 1 {
		t.Fatalf("IssueIn stored %+v, Issue and AddMethod %+v", got, want)
	}
	if _, _, err := m.IssueIn(ctx, st, alice, nil, browser, time.Hour); core.ErrorCode(err) != core.CodeInvalid {
		t.Fatalf("no methods: %v, want invalid", err)
	}
}

// TestAddMethodIn: the step-up is written through the caller's transaction
// (gone when it rolls back, stored as AddMethod stores it when it commits)
// and refuses what AddMethod refuses.
func TestAddMethodIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, st, _ := setup(t)
	s, _, err := m.Issue(ctx, alice, password, browser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	errRollBack := errors.New("roll back")
	err = st.Update(ctx, func(tx store.Tx) error {
		cp := *s
		if err := m.AddMethodIn(ctx, tx, &cp, totp); err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
	if got, err := st.GetSession(ctx, s.ID); err != nil || got.AAL != core.AAL1 || len(got.Methods) != 1 {
		t.Fatalf("after the rolled back step-up: %+v, %v; want aal1 with one method", got, err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return m.AddMethodIn(ctx, tx, s, totp) }); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetSession(ctx, s.ID)
	if err != nil || got.AAL != core.AAL2 || len(got.Methods) != 2 || s.AAL != core.AAL2 || !got.AuthenticatedAt.Equal(s.AuthenticatedAt) {
		t.Fatalf("after the step-up: stored %+v, %v; *s %+v", got, err, s)
	}
	if err := m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error { return m.AddMethodIn(ctx, tx, s, totp) })
	wantCode(t, err, core.CodeUnauthorized, ErrRevoked)
	gone := *s
	gone.ID = "00000000-0000-4000-8000-000000000000"
	err = st.Update(ctx, func(tx store.Tx) error { return m.AddMethodIn(ctx, tx, &gone, totp) })
	wantCode(t, err, core.CodeNotFound, ErrNoSession)
}
