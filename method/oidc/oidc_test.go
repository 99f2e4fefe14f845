package oidc_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

func TestMain(m *testing.M) {
	jsonnet.RunWorker()
	os.Exit(m.Run())
}

// staticUpstream is a provider whose answers the test sets; the HTTP side
// is tested in package upstream against real servers.
type staticUpstream struct{ oidcKind bool }

func (u staticUpstream) AuthURL(_ context.Context, r oidc.AuthRequest) (string, error) {
	return "https://idp.example.com/authorize?state=" + r.State, nil
}
func (u staticUpstream) SupportsPKCE(context.Context) bool { return true }
func (u staticUpstream) IssuesIDTokens() bool              { return u.oidcKind }
func (u staticUpstream) Exchange(context.Context, string, string, string) (*oidc.Claims, *oidc.Tokens, error) {
	return nil, nil, nil
}
func (u staticUpstream) VerifyIDToken(context.Context, string) (*oidc.Claims, error) {
	return nil, nil
}

func newMethod(t *testing.T, ps ...*oidc.Provider) *oidc.Method {
	t.Helper()
	c, err := cipher.New(strings.Repeat("s", 32))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := jsonnet.New(jsonnet.Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, err := oidc.New(oidc.Config{Providers: ps, Sealer: c, Mapper: ev})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func provider(id string, mapper string) *oidc.Provider {
	return &oidc.Provider{ID: id, Kind: oidc.KindGeneric, PKCE: oidc.PKCEAuto, Mapper: mapper, MapperID: "base64://mapper", Upstream: staticUpstream{oidcKind: true}}
}

func defaultSchema(t *testing.T) json.RawMessage {
	t.Helper()
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Schema(schema.DefaultID)
	if err != nil {
		t.Fatal(err)
	}
	return s.Raw()
}

func TestNewChecksProviders(t *testing.T) {
	t.Parallel()
	c, _ := cipher.New(strings.Repeat("s", 32))
	for name, cfg := range map[string]oidc.Config{
		"no sealer":       {Providers: []*oidc.Provider{provider("a", "")}},
		"duplicate id":    {Sealer: c, Providers: []*oidc.Provider{provider("a", ""), provider("a", "")}},
		"unknown kind":    {Sealer: c, Providers: []*oidc.Provider{{ID: "a", Kind: "myspace", PKCE: "auto", Upstream: staticUpstream{}}}},
		"mapper, no vm":   {Sealer: c, Providers: []*oidc.Provider{provider("a", "{}")}},
		"bad pkce":        {Sealer: c, Providers: []*oidc.Provider{{ID: "a", Kind: "generic", PKCE: "sometimes", Upstream: staticUpstream{}}}},
		"missing upstrem": {Sealer: c, Providers: []*oidc.Provider{{ID: "a", Kind: "generic", PKCE: "auto"}}},
	} {
		if _, err := oidc.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHankoNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ id, kind, want string }{
		{"google", "google", "google"}, {"github", "github", "github"}, {"corp", "generic", "custom_corp"},
		{"work-google", "google", "custom_work-google"}, {"gitlab", "gitlab", "custom_gitlab"},
	} {
		p := &oidc.Provider{ID: tc.id, Kind: tc.kind}
		if got := p.HankoName(); got != tc.want {
			t.Errorf("%s/%s: %q, want %q", tc.id, tc.kind, got, tc.want)
		}
	}
	m := newMethod(t, provider("corp", ""))
	if p, err := m.ProviderByHankoName("custom_corp"); err != nil || p.ID != "corp" {
		t.Fatalf("ProviderByHankoName: %v", err)
	}
	if _, err := m.ProviderByHankoName("corp"); core.ErrorCode(err) != core.CodeNotFound {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestBeginWithoutPKCE(t *testing.T) {
	t.Parallel()
	p := provider("corp", "")
	p.PKCE = oidc.PKCENever
	plain := &oidc.Provider{ID: "gh", Kind: oidc.KindGitHub, PKCE: oidc.PKCEAuto, Upstream: staticUpstream{}}
	m := newMethod(t, p, plain)
	s, err := m.Begin(context.Background(), p, "flow1", "https://x/cb", nil)
	if err != nil || s.Pending.Verifier != "" || s.Pending.Nonce == "" || oidc.FlowID(s.State) != "flow1" {
		t.Fatalf("pkce never: %+v %v", s, err)
	}
	s, err = m.Begin(context.Background(), plain, "flow2", "https://x/cb", nil)
	if err != nil || s.Pending.Nonce != "" || s.Pending.Verifier == "" {
		t.Fatalf("plain provider: %+v %v", s, err)
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	sch := defaultSchema(t)
	claims := func(verified bool) *oidc.Claims {
		return &oidc.Claims{Subject: "s1", Email: "Ann@Example.com", EmailVerified: verified, Name: "Ann Lee", GivenName: "Ann", FamilyName: "Lee", Picture: "https://pics.example.com/a.png",
			Raw: map[string]any{"sub": "s1", "groups": []any{"admins"}, "hd": "example.com"}}
	}
	const mapper = `local c = std.extVar('claims'); {identity: {traits: {email: c.email, name: c.raw_claims.hd}, metadata_public: {groups: c.groups}}}`
	for _, tc := range []struct {
		name     string
		mapper   string
		verified bool
		traits   string
		public   string
		verEmail string
		errMsg   string
	}{
		{"default, verified e-mail", "", true, `{"email":"Ann@Example.com","family_name":"Lee","given_name":"Ann","name":"Ann Lee","picture":"https://pics.example.com/a.png"}`, "", "ann@example.com", ""},
		{"default, unverified e-mail left out", "", false, `{"family_name":"Lee","given_name":"Ann","name":"Ann Lee","picture":"https://pics.example.com/a.png"}`, "", "", ""},
		{"jsonnet mapper", mapper, false, `{"email":"Ann@Example.com","name":"example.com"}`, `{"groups":["admins"]}`, "", ""},
		{"mapper error", `error "no access for you"`, true, "", "", "", "mapping of corp data failed"},
		{"mapper without traits", `{identity: {}}`, true, "", "", "", "mapping of corp data failed"},
		{"mapper returns a string", `"x"`, true, "", "", "", "mapping of corp data failed"},
		{"mapper syntax error", `{identity: `, true, "", "", "", "mapping of corp data failed"},
		{"mapper imports a file", `import "/etc/passwd"`, true, "", "", "", "mapping of corp data failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := provider("corp", tc.mapper)
			m := newMethod(t, p)
			got, err := m.Map(context.Background(), p, claims(tc.verified), sch)
			if tc.errMsg != "" {
				if core.ErrorCode(err) != core.CodeInvalid || !strings.Contains(core.ErrorMessage(err), tc.errMsg) {
					t.Fatalf("err = %v, want invalid with %q", err, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Traits) != tc.traits || string(got.MetadataPublic) != tc.public || got.VerifiedEmail != tc.verEmail {
				t.Fatalf("got traits %s public %s verified %q", got.Traits, got.MetadataPublic, got.VerifiedEmail)
			}
		})
	}
}

// TestResolve checks the linking rules against every store backend.
func TestResolve(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			ids := newIdentities(t, st)
			ctx := context.Background()
			verifiedUser := create(t, ids, "owner@example.com", true, nil)
			unverifiedUser := create(t, ids, "pending@example.com", false, nil)
			linked := create(t, ids, "linked@example.com", true, []identity.OIDCProvider{{Provider: "corp", Subject: "s-linked"}})
			corp := provider("corp", "")
			linking := provider("corp", "")
			linking.AllowLinking = true
			for _, tc := range []struct {
				name    string
				p       *oidc.Provider
				claims  oidc.Claims
				outcome oidc.Outcome
				who     string
			}{
				{"linked subject signs in, whatever the e-mail", corp, oidc.Claims{Subject: "s-linked", Email: "owner@example.com"}, oidc.SignIn, linked.ID},
				{"same subject at another provider is someone else", provider("other", ""), oidc.Claims{Subject: "s-linked"}, oidc.SignUp, ""},
				{"new subject, new e-mail", corp, oidc.Claims{Subject: "s-new", Email: "new@example.com", EmailVerified: true}, oidc.SignUp, ""},
				{"unverified e-mail of someone else", corp, oidc.Claims{Subject: "s-attacker", Email: "OWNER@example.com"}, oidc.Conflict, verifiedUser.ID},
				{"unverified e-mail, linking allowed", linking, oidc.Claims{Subject: "s-attacker", Email: "owner@example.com"}, oidc.Conflict, verifiedUser.ID},
				{"verified e-mail, linking not allowed", corp, oidc.Claims{Subject: "s-owner", Email: "owner@example.com", EmailVerified: true}, oidc.Conflict, verifiedUser.ID},
				{"verified e-mail, linking allowed", linking, oidc.Claims{Subject: "s-owner", Email: "Owner@Example.com", EmailVerified: true}, oidc.Link, verifiedUser.ID},
				{"verified e-mail, address unverified here", linking, oidc.Claims{Subject: "s-p", Email: "pending@example.com", EmailVerified: true}, oidc.Conflict, unverifiedUser.ID},
			} {
				c := tc.claims
				r, err := oidc.Resolve(ctx, st, store.ErrNotFound, tc.p, &c, nil)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if r.Outcome != tc.outcome || (tc.who != "" && (r.Identity == nil || r.Identity.ID != tc.who)) {
					t.Errorf("%s: outcome %d identity %v, want %d %s", tc.name, r.Outcome, r.Identity, tc.outcome, tc.who)
				}
			}
			// A mapped trait address in use is a conflict too, even when
			// the provider's own e-mail is new.
			c := oidc.Claims{Subject: "s-m", Email: "fresh@example.com"}
			if r, err := oidc.Resolve(ctx, st, store.ErrNotFound, corp, &c, []string{"pending@example.com"}); err != nil || r.Outcome != oidc.Conflict {
				t.Fatalf("mapped address in use: %+v %v", r, err)
			}

			// Linking stores the link with sealed tokens; a second identity
			// cannot take the same link.
			m := newMethod(t, corp)
			op, err := m.Credential(corp, &oidc.Claims{Subject: "s-owner"}, &oidc.Tokens{AccessToken: "at", RefreshToken: "rt"})
			if err != nil {
				t.Fatal(err)
			}
			err = st.Update(ctx, func(tx store.Tx) error {
				_, err := ids.WithTx(tx).LinkOIDC(ctx, verifiedUser.ID, op)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			c = oidc.Claims{Subject: "s-owner"}
			if r, err := oidc.Resolve(ctx, st, store.ErrNotFound, corp, &c, nil); err != nil || r.Outcome != oidc.SignIn || r.Identity.ID != verifiedUser.ID {
				t.Fatalf("after linking: %+v %v", r, err)
			}
			got, err := ids.Get(ctx, verifiedUser.ID)
			if err != nil {
				t.Fatal(err)
			}
			cred, _ := got.Credential(core.CredentialOIDC)
			if strings.Contains(string(cred.Config), `"at"`) || !strings.Contains(strings.Join(cred.Identifiers, ","), "corp:s-owner") {
				t.Fatalf("stored credential %s %v", cred.Config, cred.Identifiers)
			}
			revealed, err := m.RevealConfig(cred.Config)
			if err != nil || !strings.Contains(string(revealed), `"initial_access_token":"at"`) {
				t.Fatalf("revealed %s %v", revealed, err)
			}
			err = st.Update(ctx, func(tx store.Tx) error {
				_, err := ids.WithTx(tx).LinkOIDC(ctx, unverifiedUser.ID, op)
				return err
			})
			if core.ErrorCode(err) != core.CodeConflict {
				t.Fatalf("second owner of a link: %v", err)
			}
		})
	}
}

func newIdentities(t *testing.T, st store.Store) *identity.Service {
	t.Helper()
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmArgon2,
		Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func create(t *testing.T, ids *identity.Service, email string, verified bool, links []identity.OIDCProvider) *core.Identity {
	t.Helper()
	d := identity.Draft{Traits: json.RawMessage(`{"email":"` + email + `"}`),
		VerifiableAddresses: []identity.AddressDraft{{Via: core.ViaEmail, Value: email, Verified: verified, Status: core.AddressCompleted}}}
	if links != nil {
		d.Credentials = &identity.CredentialsDraft{OIDC: links}
	}
	i, err := ids.Create(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestSealPending: a sealed Pending opens only for the flow it was sealed
// for, unchanged, and never from a tampered value, a plain state cookie or
// another Method's secrets.
func TestSealPending(t *testing.T) {
	m := newMethod(t, provider("corp", ""))
	flowID, other := "0b9f8b4e-2f6a-4c1e-9d3a-5b7c8e1f2a3b", "7d2c1a9e-4b3f-4e5d-8a6b-9c0d1e2f3a4b"
	p := oidc.Pending{Provider: "corp", StateHash: "ab12", Nonce: "n", Verifier: "v", RedirectURI: "https://a.example/cb"}
	sealed, err := m.SealPending(flowID, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.OpenPending(flowID, sealed); !ok || got != p {
		t.Fatalf("OpenPending = %+v, %v; want %+v", got, ok, p)
	}
	flip := []byte(sealed)
	flip[len(flip)/2] ^= 1
	if flip[len(flip)/2] == '-' || flip[len(flip)/2] == '_' {
		flip[len(flip)/2] = 'A'
	}
	for name, tc := range map[string]struct{ flow, value string }{
		"another flow":       {other, sealed},
		"tampered":           {flowID, string(flip)},
		"plain state cookie": {flowID, flowID + ".c2VjcmV0"},
		"empty":              {flowID, ""},
		"oversized":          {flowID, strings.Repeat("A", 5000)},
	} {
		if got, ok := m.OpenPending(tc.flow, tc.value); ok {
			t.Errorf("%s: OpenPending = %+v, true", name, got)
		}
	}
	c, err := cipher.New(strings.Repeat("t", 32))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := oidc.New(oidc.Config{Providers: []*oidc.Provider{provider("corp", "")}, Sealer: c})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := foreign.OpenPending(flowID, sealed); ok {
		t.Error("a Method under other secrets opened the sealed Pending")
	}
}
