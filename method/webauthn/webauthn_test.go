package webauthn_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

var rp = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Latchkey", Origin: "http://localhost:4433"}

func newMethod(t *testing.T, uv string) *webauthn.Method {
	t.Helper()
	m, err := webauthn.New(webauthn.Config{
		RPID: rp.ID, RPDisplayName: rp.Name, RPOrigins: []string{rp.Origin},
		UserVerification: uv, NotFound: store.ErrNotFound, Conflict: store.ErrConflict,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// device is a virtual authenticator holding one credential.
type device struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newDevice() *device {
	d := &device{auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})}
	d.cred = newCredential()
	return d
}

// newCredential returns a virtual EC2 credential. virtualwebauthn encodes
// the key's coordinates without leading zeros, so about one key in 64 has a
// 31-byte coordinate that every verifier rightly refuses: draw again.
func newCredential() virtualwebauthn.Credential {
	for {
		c := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if _, err := webauthncose.ParsePublicKey(c.Key.AttestationData()); err == nil {
			return c
		}
	}
}

// create answers creation options as navigator.credentials.create would.
func (d *device) create(t *testing.T, r virtualwebauthn.RelyingParty, options json.RawMessage) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatalf("parse creation options %s: %v", options, err)
	}
	d.auth.Options.UserHandle = []byte(opts.UserID)
	return []byte(virtualwebauthn.CreateAttestationResponse(r, d.auth, d.cred, *opts))
}

// get answers request options as navigator.credentials.get would.
func (d *device) get(t *testing.T, r virtualwebauthn.RelyingParty, options json.RawMessage) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatalf("parse request options %s: %v", options, err)
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(r, d.auth, d.cred, *opts))
}

func newIdentity(t *testing.T, st store.Store) string {
	t.Helper()
	id := uuid.NewString()
	now := time.Now()
	err := st.CreateIdentity(context.Background(), &core.Identity{ID: id, SchemaID: "default", Traits: json.RawMessage(`{}`),
		State: core.IdentityActive, StateChangedAt: now, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// register creates a credential of the identity on d.
func register(t *testing.T, m *webauthn.Method, st store.Store, identityID string, d *device, mfa bool) *core.WebAuthnCredential {
	t.Helper()
	ctx := context.Background()
	u := webauthn.User{IdentityID: identityID, Name: "alice@example.com"}
	opts, sess, err := m.BeginRegistration(ctx, st, u, webauthn.RegistrationOptions{MFAOnly: mfa})
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	sess = roundTrip(t, sess)
	c, err := m.FinishRegistration(ctx, st, sess, u, d.create(t, rp, opts), "My key")
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return c
}

// roundTrip passes the session through JSON, as a flow stash does.
func roundTrip(t *testing.T, s *webauthn.Session) *webauthn.Session {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out webauthn.Session
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestCeremonies(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			t.Run("passkey", func(t *testing.T) { testPasskey(t, st) })
			t.Run("security key", func(t *testing.T) { testSecurityKey(t, st) })
			t.Run("negatives", func(t *testing.T) { testNegatives(t, st) })
			t.Run("user verification required", func(t *testing.T) { testUVRequired(t, st) })
			t.Run("counter", func(t *testing.T) { testCounter(t, st) })
		})
	}
}

func testPasskey(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := newMethod(t, "")
	id := newIdentity(t, st)
	d := newDevice()
	c := register(t, m, st, id, d, false)
	want, _ := uuid.Parse(id)
	if c.MFAOnly || c.IdentityID != id || string(c.UserHandle) != string(want[:]) || c.DisplayName != "My key" ||
		c.ID != base64.RawURLEncoding.EncodeToString(d.cred.ID) || len(c.AAGUID) != 16 || !c.BackupEligible || !c.BackupState {
		t.Fatalf("registered credential = %+v", c)
	}
	// The creation options ask for a discoverable credential.
	opts, _, err := m.BeginRegistration(ctx, st, webauthn.User{IdentityID: id, Name: "a"}, webauthn.RegistrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var creation struct {
		PublicKey struct {
			AuthenticatorSelection struct {
				ResidentKey string `json:"residentKey"`
			} `json:"authenticatorSelection"`
			ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
			User               struct{ ID string }   `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &creation); err != nil {
		t.Fatal(err)
	}
	if creation.PublicKey.AuthenticatorSelection.ResidentKey != "required" || len(creation.PublicKey.ExcludeCredentials) != 1 ||
		creation.PublicKey.User.ID != base64.RawURLEncoding.EncodeToString(want[:]) {
		t.Fatalf("second creation options = %s", opts)
	}

	for _, conditional := range []bool{false, true} {
		opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{Conditional: conditional})
		if err != nil {
			t.Fatalf("BeginLogin: %v", err)
		}
		var req struct {
			Mediation string `json:"mediation"`
			PublicKey struct {
				AllowCredentials []any  `json:"allowCredentials"`
				RPID             string `json:"rpId"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(opts, &req); err != nil {
			t.Fatal(err)
		}
		if len(req.PublicKey.AllowCredentials) != 0 || req.PublicKey.RPID != rp.ID || (req.Mediation == "conditional") != conditional {
			t.Fatalf("discoverable request options = %s", opts)
		}
		sess = roundTrip(t, sess)
		before := time.Now().Add(-time.Second)
		res, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts))
		if err != nil {
			t.Fatalf("FinishLogin (conditional %v): %v", conditional, err)
		}
		if res.IdentityID != id || res.Credential.LastUsedAt == nil || res.Credential.LastUsedAt.Before(before) {
			t.Fatalf("login result = %+v", res)
		}
		stored, err := st.GetWebAuthnCredential(ctx, c.ID)
		if err != nil || stored.LastUsedAt == nil {
			t.Fatalf("stored after login = %+v, %v", stored, err)
		}
		// The same session answers once: a replay of the response is refused.
		if _, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); !errors.Is(err, webauthn.ErrNoCeremony) {
			t.Fatalf("replay with the used session: %v, want ErrNoCeremony", err)
		}
	}

	// Login with the identity known allow-lists its passkeys.
	opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: id})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); err != nil || res.IdentityID != id {
		t.Fatalf("allow-listed login: %+v, %v", res, err)
	}
	// A second factor is not answered by a passkey.
	if _, _, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: id, MFAOnly: true}); !errors.Is(err, webauthn.ErrNoCredentials) {
		t.Fatalf("BeginLogin MFA without security keys: %v, want ErrNoCredentials", err)
	}
	// Registering the same authenticator credential again is refused.
	u := webauthn.User{IdentityID: id, Name: "a"}
	opts, sess, err = m.BeginRegistration(ctx, st, u, webauthn.RegistrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishRegistration(ctx, st, sess, u, d.create(t, rp, opts), ""); !errors.Is(err, webauthn.ErrCredentialExists) {
		t.Fatalf("duplicate registration: %v, want ErrCredentialExists", err)
	}
}

func testSecurityKey(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := newMethod(t, "")
	id := newIdentity(t, st)
	d := newDevice()
	d.auth.Options.BackupEligible, d.auth.Options.BackupState = false, false
	c := register(t, m, st, id, d, true)
	if !c.MFAOnly {
		t.Fatalf("security key not mfa_only: %+v", c)
	}
	// Not a first factor: a discoverable login answered by it is refused.
	opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); !errors.Is(err, webauthn.ErrMFAOnly) {
		t.Fatalf("security key as first factor: %v, want ErrMFAOnly", err)
	}
	if _, _, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: id}); !errors.Is(err, webauthn.ErrNoCredentials) {
		t.Fatalf("first-factor login of an identity with only a security key: %v, want ErrNoCredentials", err)
	}
	opts, sess, err = m.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: id, MFAOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		PublicKey struct {
			AllowCredentials []struct{ ID string } `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	_ = json.Unmarshal(opts, &req)
	if len(req.PublicKey.AllowCredentials) != 1 || req.PublicKey.AllowCredentials[0].ID != c.ID {
		t.Fatalf("MFA request options = %s", opts)
	}
	if res, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); err != nil || res.IdentityID != id {
		t.Fatalf("security key second factor: %+v, %v", res, err)
	}
	// Another identity's allow-listed login is not answered by this key.
	other := newIdentity(t, st)
	register(t, m, st, other, newDevice(), true)
	opts, sess, err = m.BeginLogin(ctx, st, webauthn.LoginOptions{IdentityID: other, MFAOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); !errors.Is(err, webauthn.ErrUnknownCredential) {
		t.Fatalf("other identity's key: %v, want ErrUnknownCredential", err)
	}
}

func testNegatives(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := newMethod(t, "")
	id := newIdentity(t, st)
	d := newDevice()
	register(t, m, st, id, d, false)
	begin := func() (json.RawMessage, *webauthn.Session) {
		t.Helper()
		opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return opts, sess
	}
	forged := &device{auth: d.auth, cred: newCredential()}
	forged.cred.ID = d.cred.ID // same id, another private key
	unknown := newDevice()
	unknown.auth.Options.UserHandle = d.auth.Options.UserHandle
	cases := []struct {
		name string
		resp func() (*webauthn.Session, []byte)
		want error
	}{
		{"replayed assertion under a new challenge", func() (*webauthn.Session, []byte) {
			opts, sess := begin()
			resp := d.get(t, rp, opts)
			if _, err := m.FinishLogin(ctx, st, sess, resp); err != nil {
				t.Fatalf("first use: %v", err)
			}
			_, sess2 := begin()
			return sess2, resp
		}, webauthn.ErrChallengeMismatch},
		{"wrong origin", func() (*webauthn.Session, []byte) {
			opts, sess := begin()
			return sess, d.get(t, virtualwebauthn.RelyingParty{ID: rp.ID, Origin: "https://evil.example"}, opts)
		}, webauthn.ErrVerificationFailed},
		{"wrong RP id hash", func() (*webauthn.Session, []byte) {
			opts, sess := begin()
			return sess, d.get(t, virtualwebauthn.RelyingParty{ID: "evil.example", Origin: rp.Origin}, opts)
		}, webauthn.ErrVerificationFailed},
		{"forged signature", func() (*webauthn.Session, []byte) {
			opts, sess := begin()
			return sess, forged.get(t, rp, opts)
		}, webauthn.ErrVerificationFailed},
		{"unknown credential", func() (*webauthn.Session, []byte) {
			opts, sess := begin()
			return sess, unknown.get(t, rp, opts)
		}, webauthn.ErrUnknownCredential},
		{"challenge from another flow", func() (*webauthn.Session, []byte) {
			optsA, _ := begin()
			_, sessB := begin()
			return sessB, d.get(t, rp, optsA)
		}, webauthn.ErrChallengeMismatch},
		{"registration session for a login", func() (*webauthn.Session, []byte) {
			opts, _ := begin()
			_, sess, err := m.BeginRegistration(ctx, st, webauthn.User{IdentityID: id}, webauthn.RegistrationOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return sess, d.get(t, rp, opts)
		}, webauthn.ErrNoCeremony},
		{"no session", func() (*webauthn.Session, []byte) {
			opts, _ := begin()
			return nil, d.get(t, rp, opts)
		}, webauthn.ErrNoCeremony},
		{"malformed", func() (*webauthn.Session, []byte) {
			_, sess := begin()
			return sess, []byte(`{"id":"x","type":"public-key"}`)
		}, webauthn.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sess, resp := tc.resp()
			res, err := m.FinishLogin(ctx, st, sess, resp)
			if !errors.Is(err, tc.want) {
				t.Fatalf("FinishLogin = %+v, %v; want %v", res, err, tc.want)
			}
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *core.Error", err)
			}
			if errors.Is(tc.want, webauthn.ErrChallengeMismatch) && !errors.Is(err, webauthn.ErrVerificationFailed) {
				t.Fatalf("a challenge mismatch is not also ErrVerificationFailed: %v", err)
			}
		})
	}

	// Registration: wrong origin, a session begun for another identity.
	u := webauthn.User{IdentityID: id, Name: "a"}
	opts, sess, err := m.BeginRegistration(ctx, st, u, webauthn.RegistrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishRegistration(ctx, st, sess, u, newDevice().create(t, virtualwebauthn.RelyingParty{ID: rp.ID, Origin: "https://evil.example"}, opts), ""); !errors.Is(err, webauthn.ErrVerificationFailed) {
		t.Fatalf("registration from another origin: %v", err)
	}
	opts, sess, _ = m.BeginRegistration(ctx, st, u, webauthn.RegistrationOptions{})
	other := webauthn.User{IdentityID: newIdentity(t, st)}
	if _, err := m.FinishRegistration(ctx, st, sess, other, newDevice().create(t, rp, opts), ""); !errors.Is(err, webauthn.ErrNoCeremony) {
		t.Fatalf("registration session of another identity: %v", err)
	}
}

func testUVRequired(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := newMethod(t, "required")
	id := newIdentity(t, st)
	d := newDevice()
	d.auth.Options.UserNotVerified = true
	u := webauthn.User{IdentityID: id, Name: "a"}
	opts, sess, err := m.BeginRegistration(ctx, st, u, webauthn.RegistrationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishRegistration(ctx, st, sess, u, d.create(t, rp, opts), ""); !errors.Is(err, webauthn.ErrVerificationFailed) {
		t.Fatalf("registration without UV: %v, want ErrVerificationFailed", err)
	}
	d.auth.Options.UserNotVerified = false
	register(t, m, st, id, d, false)
	d.auth.Options.UserNotVerified = true
	opts, sess, err = m.BeginLogin(ctx, st, webauthn.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinishLogin(ctx, st, sess, d.get(t, rp, opts)); !errors.Is(err, webauthn.ErrVerificationFailed) {
		t.Fatalf("login without UV: %v, want ErrVerificationFailed", err)
	}
}

func testCounter(t *testing.T, st store.Store) {
	ctx := context.Background()
	m := newMethod(t, "")
	id := newIdentity(t, st)
	d := newDevice()
	c := register(t, m, st, id, d, false)
	login := func(counter uint32) (*webauthn.LoginResult, error) {
		d.cred.Counter = counter
		opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m.FinishLogin(ctx, st, sess, d.get(t, rp, opts))
	}
	for _, n := range []uint32{0, 5, 9} {
		if _, err := login(n); err != nil {
			t.Fatalf("login with counter %d: %v", n, err)
		}
		if got, _ := st.GetWebAuthnCredential(ctx, c.ID); got.SignCount != n || got.CloneWarning {
			t.Fatalf("after counter %d: stored %+v", n, got)
		}
	}
	for _, n := range []uint32{9, 3} {
		if _, err := login(n); !errors.Is(err, webauthn.ErrClonedAuthenticator) {
			t.Fatalf("counter %d after 9: %v, want ErrClonedAuthenticator", n, err)
		}
		if got, _ := st.GetWebAuthnCredential(ctx, c.ID); got.SignCount != 9 || !got.CloneWarning {
			t.Fatalf("after regression to %d: stored %+v, want flagged with count 9", n, got)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	base := webauthn.Config{RPDisplayName: "x", NotFound: store.ErrNotFound, Conflict: store.ErrConflict}
	cases := []struct {
		name    string
		id      string
		origins []string
		ok      bool
	}{
		{"localhost", "localhost", []string{"http://localhost:4433"}, true},
		{"subdomain origin", "example.com", []string{"https://login.example.com"}, true},
		{"IPv4 RP id", "127.0.0.1", []string{"http://127.0.0.1:4433"}, false},
		{"IPv6 RP id", "[::1]", []string{"http://[::1]:4433"}, false},
		{"empty RP id", "", []string{"http://localhost"}, false},
		{"origin on another site", "example.com", []string{"https://example.org"}, false},
		{"no origins", "example.com", nil, false},
		{"RP id with port", "localhost:4433", []string{"http://localhost:4433"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.RPID, cfg.RPOrigins = tc.id, tc.origins
			_, err := webauthn.New(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New(%q, %v) = %v", tc.id, tc.origins, err)
			}
		})
	}
}

// TestSecurityKeyAttachment: the creation options of a security key ask for
// the configured authenticator attachment (none for no_preference); an
// unknown value is refused by New.
func TestSecurityKeyAttachment(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	id := newIdentity(t, st)
	cases := []struct {
		attachment, want string
		ok               bool
	}{
		{"", "cross-platform", true},
		{"cross-platform", "cross-platform", true},
		{"platform", "platform", true},
		{"no_preference", "", true},
		{"usb", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.attachment, func(t *testing.T) {
			t.Parallel()
			m, err := webauthn.New(webauthn.Config{RPID: rp.ID, RPDisplayName: rp.Name, RPOrigins: []string{rp.Origin},
				SecurityKeyAttachment: tc.attachment, NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
			if (err == nil) != tc.ok {
				t.Fatalf("New with attachment %q: %v", tc.attachment, err)
			}
			if err != nil {
				return
			}
			raw, _, err := m.BeginRegistration(context.Background(), st, webauthn.User{IdentityID: id, Name: "a"},
				webauthn.RegistrationOptions{MFAOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				PublicKey struct {
					AuthenticatorSelection struct {
						AuthenticatorAttachment string `json:"authenticatorAttachment"`
						ResidentKey             string `json:"residentKey"`
					} `json:"authenticatorSelection"`
				} `json:"publicKey"`
			}
			if err := json.Unmarshal(raw, &opts); err != nil {
				t.Fatal(err)
			}
			if sel := opts.PublicKey.AuthenticatorSelection; sel.AuthenticatorAttachment != tc.want || sel.ResidentKey != "discouraged" {
				t.Fatalf("authenticatorSelection %+v, want attachment %q", sel, tc.want)
			}
		})
	}
}

// TestFinishLoginConcurrentCounter: two assertions of one credential with
// the same signature counter, each verified in its own transaction while
// the other's is open, cannot both pass: the credential is read with a
// lock (GetWebAuthnCredential, FOR UPDATE on PostgreSQL and MySQL) that
// the second waits for, so it sees the first's count and is refused as a
// clone (§7.2 step 22). Reading it unlocked (0aaa07e found it in its
// identity's list) let both through.
func TestFinishLoginConcurrentCounter(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			m := newMethod(t, "")
			d := newDevice()
			register(t, m, st, newIdentity(t, st), d, false)
			d.cred.Counter = 10
			answer := func() (*webauthn.Session, []byte) {
				opts, sess, err := m.BeginLogin(ctx, st, webauthn.LoginOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return sess, d.get(t, rp, opts)
			}
			sessA, respA := answer()
			sessB, respB := answer()
			inA := make(chan struct{})
			errB := make(chan error, 1)
			errA := st.Update(ctx, func(tx store.Tx) error {
				if _, err := m.FinishLogin(ctx, tx, sessA, respA); err != nil {
					return err
				}
				close(inA)
				// B runs while A's transaction is open; on SQLite its
				// transaction waits to begin, elsewhere its read waits.
				go func() {
					errB <- st.Update(ctx, func(tx store.Tx) error {
						_, err := m.FinishLogin(ctx, tx, sessB, respB)
						return err
					})
				}()
				time.Sleep(300 * time.Millisecond)
				return nil
			})
			if errA != nil {
				t.Fatalf("first assertion: %v", errA)
			}
			<-inA
			if err := <-errB; !errors.Is(err, webauthn.ErrClonedAuthenticator) {
				t.Fatalf("second assertion with the same counter: %v, want ErrClonedAuthenticator", err)
			}
		})
	}
}
