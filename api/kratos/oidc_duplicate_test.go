package kratos_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// flowMessage returns the container message with the id, or nil.
func flowMessage(f map[string]any, id int) map[string]any {
	ui, _ := f["ui"].(map[string]any)
	for _, m := range asList(ui["messages"]) {
		if mm := m.(map[string]any); int(mm["id"].(float64)) == id {
			return mm
		}
	}
	return nil
}

func labelID(n map[string]any) int {
	meta, _ := n["meta"].(map[string]any)
	l, _ := meta["label"].(map[string]any)
	id, _ := l["id"].(float64)
	return int(id)
}

// linkedTo reports whether the identity holding email is linked to corp's
// subject.
func (e *ssEnv) linkedTo(t *testing.T, email, subject string) bool {
	t.Helper()
	i, err := e.st.FindIdentityByAddress(t.Context(), core.ViaEmail, email)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := i.Credential(core.CredentialOIDC)
	return ok && slices.Contains(c.Identifiers, "corp:"+subject)
}

// TestOIDCDuplicateCredentialsHints: a provider account naming an address
// of an existing account — its e-mail verified or not — gets Kratos'
// duplicate-credentials answer with hints (4000028) and 1010016 in a login
// flow for that account, with the identifier filled in and the buttons
// relabelled "Sign in and link"; signing in to another account there is
// refused (4010009) and links nothing; signing in to the account links the
// provider in that step, and the provider then signs the owner in. A
// registration hands over to a new login flow; a login flow continues.
func TestOIDCDuplicateCredentialsHints(t *testing.T) {
	t.Parallel()
	oidcBackends(t, "", func(t *testing.T, e *ssEnv, mock *mockoidc.MockOIDC) {
		e.registerNative(t, e.native(t), "owner@example.com", "correct horse battery")
		e.registerNative(t, e.native(t), "other@example.com", "another horse battery")
		linked := false
		for _, tc := range []struct {
			kind     string
			verified bool
		}{{"registration", false}, {"registration", true}, {"login", false}} {
			subject := "dup-" + tc.kind + map[bool]string{true: "-verified", false: ""}[tc.verified]
			t.Run(subject, func(t *testing.T) {
				mock.QueueUser(&mockoidc.MockUser{Subject: subject, Email: "Owner@example.com", EmailVerified: tc.verified})
				b := e.browser(t)
				started, authURL := oidcStart(t, b, tc.kind)
				back := b.do("GET", providerRound(t, authURL), nil)
				must(t, back, 303)
				loc, err := url.Parse(back.hdr.Get("Location"))
				if err != nil || !strings.HasSuffix(loc.Path, "/ui/login") {
					t.Fatalf("callback sends the browser to %q, not the login page", back.hdr.Get("Location"))
				}
				id := loc.Query().Get("flow")
				if (tc.kind == "login") != (id == started) {
					t.Fatalf("%s: continued in flow %s (started %s)", tc.kind, id, started)
				}
				must(t, b.do("GET", "/sessions/whoami", nil), 401)
				if e.linkedTo(t, "owner@example.com", subject) {
					t.Fatal("linked before the owner proved the account")
				}
				f := b.do("GET", "/self-service/login/flows?id="+id, nil)
				must(t, f, 200)
				fj := f.json(t)
				hint := flowMessage(fj, 4000028)
				if hint == nil || flowMessage(fj, 1010016) == nil {
					t.Fatalf("no 4000028 and 1010016: %s", f.body)
				}
				ctx, _ := hint["context"].(map[string]any)
				// The hints name how the account signs in: its password, and
				// once an earlier case linked it, social sign-in with corp.
				types, providers, text := `["password"]`, `[]`, "You can sign in using your password."
				if linked {
					types, providers = `["password","oidc"]`, `["corp"]`
					text = "You can sign in using your password, or social sign in. You can sign in using one of the following social sign in providers: Corp."
				}
				if ctx["credential_identifier_hint"] != "owner@example.com" || mustJSON(ctx["available_credential_types"]) != types ||
					mustJSON(ctx["available_oidc_providers"]) != providers {
					t.Fatalf("hint context %v", ctx)
				}
				if want := "You tried signing in with owner@example.com which is already in use by another account. " + text; hint["text"] != want {
					t.Fatalf("hint text %q, want %q", hint["text"], want)
				}
				if n := nodeNamed(fj, "identifier", ""); n == nil || n["attributes"].(map[string]any)["value"] != "owner@example.com" {
					t.Fatalf("identifier not filled in: %v", n)
				}
				if n := nodeNamed(fj, "method", "password"); labelID(n) != 1010017 {
					t.Fatalf("password button %v", n)
				}
				if n := nodeNamed(fj, "provider", "corp"); labelID(n) != 1010018 {
					t.Fatalf("provider button %v", n)
				}
				post := func(email, pw string) resp {
					f := b.do("GET", "/self-service/login/flows?id="+id, nil)
					return b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))},
						"method": {"password"}, "identifier": {email}, "password": {pw}})
				}
				// Another account's password in this flow: refused.
				must(t, post("other@example.com", "another horse battery"), 303)
				must(t, b.do("GET", "/sessions/whoami", nil), 401)
				f = b.do("GET", "/self-service/login/flows?id="+id, nil)
				if !hasID(messageIDs(f.json(t)), 4010009) {
					t.Fatalf("no 4010009 after signing in to another account: %s", f.body)
				}
				if e.linkedTo(t, "other@example.com", subject) || e.linkedTo(t, "owner@example.com", subject) {
					t.Fatal("linked after a sign-in to another account")
				}
				// A wrong password links nothing either.
				must(t, post("owner@example.com", "wrong horse battery"), 303)
				must(t, b.do("GET", "/sessions/whoami", nil), 401)
				if e.linkedTo(t, "owner@example.com", subject) {
					t.Fatal("linked after a wrong password")
				}
				// The owner proves the account: linked in that step.
				must(t, post("owner@example.com", "correct horse battery"), 303)
				must(t, b.do("GET", "/sessions/whoami", nil), 200)
				if !e.linkedTo(t, "owner@example.com", subject) {
					t.Fatal("not linked after the owner signed in")
				}
				linked = true
				// The provider now signs the owner in.
				mock.QueueUser(&mockoidc.MockUser{Subject: subject, Email: "owner@example.com", EmailVerified: tc.verified})
				b2 := e.browser(t)
				_, authURL = oidcStart(t, b2, "login")
				must(t, b2.do("GET", providerRound(t, authURL), nil), 303)
				who := b2.do("GET", "/sessions/whoami", nil)
				must(t, who, 200)
				if tr := who.json(t)["identity"].(map[string]any)["traits"].(map[string]any); tr["email"] != "owner@example.com" {
					t.Fatalf("signed in as %v", tr)
				}
			})
		}
	})
}

// TestOIDCTokenExchangeSignUpHooks: a sign-up through the browser-to-app
// hand-over runs the registration's oidc after-hooks like any other
// sign-up: the verification hook mails the new identity's unverified
// address, and only with the session hook does the app get a session
// (without it the browser goes back without a code and nobody is signed
// in).
func TestOIDCTokenExchangeSignUpHooks(t *testing.T) {
	t.Parallel()
	// The provider does not vouch for the address: the mapper takes it,
	// unverified.
	const mapper = `local c = std.extVar('claims'); {identity: {traits: {email: c.email}}}`
	for _, session := range []bool{true, false} {
		t.Run(map[bool]string{true: "session", false: "no-session"}[session], func(t *testing.T) {
			t.Parallel()
			for name, open := range storetest.Backends(t) {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					mail, box := withMail(t, func(cfg *config.Config) {
						if !session {
							cfg.SelfService.Flows.Registration.After.OIDC.Hooks = []config.Hook{{Hook: "show_verification_ui"}}
						}
					})
					mock := startMockOIDC(t)
					e := newSelfServiceEnvOn(t, open, mail, withOIDC(t, mock, mapper))
					app := e.native(t)
					f := app.do("GET", "/self-service/registration/api?return_session_token_exchange_code=true&return_to=https://app.example.com/native", nil)
					must(t, f, 200)
					initCode, _ := f.json(t)["session_token_exchange_code"].(string)
					r := app.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp"})
					must(t, r, 422)
					to, _ := r.json(t)["redirect_browser_to"].(string)
					mock.QueueUser(&mockoidc.MockUser{Subject: "exchange-signup", Email: "swap@example.com", EmailVerified: false})
					back := e.browser(t).do("GET", providerRound(t, to), nil)
					must(t, back, 303)
					loc, _ := url.Parse(back.hdr.Get("Location"))
					if !strings.HasPrefix(loc.String(), "https://app.example.com/native") {
						t.Fatalf("browser sent to %s", loc)
					}
					// The verification hook mailed the unverified address.
					box.Wait(t, "swap@example.com", 1)
					code := loc.Query().Get("code")
					if !session {
						if code != "" {
							t.Fatalf("a code without the session hook: %s", loc)
						}
						n, err := e.st.CountSessions(t.Context(), store.SessionQuery{})
						if err != nil {
							t.Fatal(err)
						}
						if n != 0 {
							t.Fatalf("%d sessions without the session hook", n)
						}
						return
					}
					ok := app.do("GET", "/sessions/token-exchange?init_code="+url.QueryEscape(initCode)+"&return_to_code="+url.QueryEscape(code), nil)
					must(t, ok, 200)
					if tok, _ := ok.json(t)["session_token"].(string); tok == "" {
						t.Fatalf("no session token: %s", ok.body)
					}
				})
			}
		})
	}
}
