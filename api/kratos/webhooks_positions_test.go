package kratos_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

// The answers of the receivers in the position tests: a parsed answer that
// changes the traits and metadata, and an interrupt with a field message
// and a flow message.
const (
	parseAnswer     = `{"identity":{"traits":{"email":"%s","name":"Set by the hook"},"metadata_public":{"plan":"pro"},"metadata_admin":{"tier":"gold"}}}`
	interruptAnswer = `{"messages":[{"instance_ptr":"#/traits/email","messages":[{"id":4000100,"text":"This address is refused.","type":"error"}]},{"instance_ptr":"#/","messages":[{"id":4000101,"text":"Sign-ups are paused.","type":"error"}]}]}`
)

// answer is what a receiver answers: status and body.
type answer struct {
	status int
	body   string
}

// flowMessageIDs returns the ids of a flow's messages and its nodes'.
func flowMessageIDs(f map[string]any) []float64 {
	var ids []float64
	add := func(list any) {
		for _, m := range asList(list) {
			if id, ok := m.(map[string]any)["id"].(float64); ok {
				ids = append(ids, id)
			}
		}
	}
	if ui, ok := f["ui"].(map[string]any); ok {
		add(ui["messages"])
		for _, n := range asList(ui["nodes"]) {
			add(n.(map[string]any)["messages"])
		}
	}
	return ids
}

func hasMsg(ids []float64, id float64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// localPart makes a case name an e-mail address's local part.
func localPart(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
}

// storedCounts returns how many identities and sessions the store holds.
func storedCounts(t *testing.T, e *ssEnv) (identities, sessions int) {
	t.Helper()
	ids, err := e.st.ListIdentities(context.Background(), store.IdentityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := e.st.ListSessions(context.Background(), store.SessionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return len(ids), len(ss)
}

// interruptingHook is a web_hook at url that may interrupt and parse.
func interruptingHook(url string) config.Hook {
	return hookConfig(url, map[string]any{"can_interrupt": true, "response": map[string]any{"parse": true}})
}

// TestWebHookRegistrationPositions: in every registration position Kratos
// runs interrupting web hooks before the identity is stored (the flow-wide
// registration.after.hooks, the code method, OIDC through the browser
// callback and a native id_token): a parsed answer sets the traits and
// metadata the identity is stored with; an interrupt shows its messages on
// the flow and leaves no identity and no session; a failing hook that may
// not interrupt runs after the identity is stored and answers Kratos' 502
// without a session.
func TestWebHookRegistrationPositions(t *testing.T) {
	t.Parallel()
	// A method's setup configures an environment with hooks in the
	// position and returns how to sign email up there: the final answer
	// and the flow as the client sees it afterwards (nil when it left).
	type register func(t *testing.T, e *ssEnv, email string) (resp, map[string]any)
	type method struct {
		name  string
		setup func(t *testing.T, hooks []config.Hook) ([]ssOption, register)
	}
	methods := []method{
		{"flow-wide password", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			return []ssOption{withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.Password.Hooks = nil
					ss.Flows.Registration.After.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					c := e.native(t)
					f := c.do("GET", "/self-service/registration/api", nil)
					must(t, f, 200)
					r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), registerBody(email))
					return r, r.json(t)
				}
		}},
		{"profile_first two steps, password", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			return []ssOption{withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.Password.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					c := e.native(t)
					f := c.do("GET", "/self-service/registration/api", nil)
					must(t, f, 200)
					id := flowID(t, f)
					body := registerBody(email)
					screen := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile", "traits": body["traits"]})
					must(t, screen, http.StatusBadRequest)
					if nodeNamed(screen.json(t), "method", "password") == nil {
						t.Fatalf("the credentials screen offers no password: %s", screen.body)
					}
					r := c.do("POST", "/self-service/registration?flow="+id, body)
					return r, r.json(t)
				}
		}},
		{"code", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			opt, box := withMail(t, passwordless)
			return []ssOption{opt, withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.Code.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					c := e.native(t)
					f := c.do("GET", "/self-service/registration/api", nil)
					must(t, f, 200)
					id := flowID(t, f)
					traits := map[string]any{"email": email, "name": "Coda"}
					must(t, c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "traits": traits}), http.StatusBadRequest)
					code := codeIn(t, box.Wait(t, email, 1).Plain())
					bad := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "code": otherCode(code), "traits": traits})
					must(t, bad, http.StatusBadRequest)
					r := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "code", "code": code, "traits": traits})
					return r, r.json(t)
				}
		}},
		{"oidc callback", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			mock := startMockOIDC(t)
			return []ssOption{withOIDC(t, mock, ""), withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.OIDC.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
					b := e.browser(t)
					id, authURL := oidcStart(t, b, "registration")
					cb := b.do("GET", providerRound(t, authURL), nil)
					if cb.code != http.StatusSeeOther || !strings.Contains(cb.hdr.Get("Location"), "flow="+id) {
						return cb, nil // signed up (off to the return URL), or an error
					}
					f := b.do("GET", "/self-service/registration/flows?id="+id, nil)
					must(t, f, 200)
					return cb, f.json(t)
				}
		}},
		{"oidc token exchange", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			mock := startMockOIDC(t)
			return []ssOption{withOIDC(t, mock, ""), withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.OIDC.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					app := e.native(t)
					f := app.do("GET", "/self-service/registration/api?return_session_token_exchange_code=true&return_to=https://app.example.com/native", nil)
					must(t, f, 200)
					r := app.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp"})
					must(t, r, 422)
					to, _ := r.json(t)["redirect_browser_to"].(string)
					mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
					back := e.browser(t).do("GET", providerRound(t, to), nil)
					if back.code != http.StatusSeeOther || !strings.Contains(back.hdr.Get("Location"), "flow="+flowID(t, f)) {
						return back, nil
					}
					again := app.do("GET", "/self-service/registration/flows?id="+flowID(t, f), nil)
					must(t, again, 200)
					return back, again.json(t)
				}
		}},
		{"oidc native id_token", func(t *testing.T, hooks []config.Hook) ([]ssOption, register) {
			mock := startMockOIDC(t)
			return []ssOption{withOIDC(t, mock, ""), withWebHooks(t, func(ss *config.SelfService) {
					ss.Flows.Registration.After.OIDC.Hooks = append(hooks, config.Hook{Hook: "session"})
				})}, func(t *testing.T, e *ssEnv, email string) (resp, map[string]any) {
					mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
					tok := nativeIDToken(t, mock, "app-nonce")
					n := e.native(t)
					f := n.do("GET", "/self-service/registration/api", nil)
					must(t, f, 200)
					r := n.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "oidc", "provider": "corp", "id_token": tok, "id_token_nonce": "app-nonce"})
					return r, r.json(t)
				}
		}},
	}
	cases := []struct {
		name   string
		answer answer
		hook   func(url string) config.Hook
	}{
		{"parse", answer{200, parseAnswer}, interruptingHook},
		{"interrupt", answer{400, interruptAnswer}, interruptingHook},
		{"plain hook fails", answer{500, interruptAnswer}, func(url string) config.Hook { return hookConfig(url, nil) }},
	}
	backends := sortedBackends(t)
	for mi, m := range methods {
		for ci, tc := range cases {
			open := backends[(mi+ci)%len(backends)]
			t.Run(m.name+"/"+tc.name+"/"+open.name, func(t *testing.T) {
				t.Parallel()
				email := localPart(m.name) + "@example.com"
				body := tc.answer.body
				if tc.answer.status == 200 {
					body = strings.Replace(body, "%s", email, 1)
				}
				rcv := newHookServer(t, tc.answer.status, body)
				opts, register := m.setup(t, []config.Hook{tc.hook(rcv.srv.URL)})
				e := newSelfServiceEnvOn(t, open.open, opts...)
				r, f := register(t, e, email)
				nIdent, nSess := storedCounts(t, e)
				if paths, _ := rcv.requests(); len(paths) != 1 {
					t.Fatalf("the hook was called %d times, want once (a wrong code calls it never)", len(paths))
				}
				switch tc.name {
				case "parse":
					if nIdent != 1 || nSess != 1 {
						t.Fatalf("%d identities, %d sessions after %d %s", nIdent, nSess, r.code, r.body)
					}
					list, _ := e.st.ListIdentities(context.Background(), store.IdentityQuery{})
					i := list[0]
					if !strings.Contains(string(i.Traits), "Set by the hook") || !strings.Contains(string(i.MetadataPublic), `"pro"`) || !strings.Contains(string(i.MetadataAdmin), `"gold"`) {
						t.Fatalf("stored identity %s %s %s", i.Traits, i.MetadataPublic, i.MetadataAdmin)
					}
				case "interrupt":
					if nIdent != 0 || nSess != 0 {
						t.Fatalf("%d identities, %d sessions stored after an interrupt", nIdent, nSess)
					}
					if r.code != http.StatusBadRequest && r.code != http.StatusSeeOther {
						t.Fatalf("answer %d %s", r.code, r.body)
					}
					ids := flowMessageIDs(f)
					if !hasMsg(ids, 4000100) || !hasMsg(ids, 4000101) {
						t.Fatalf("the flow lacks the hook's messages: %v", f)
					}
					if r.hdr.Get("Set-Cookie") != "" && strings.Contains(r.hdr.Get("Set-Cookie"), "ory_kratos_session") {
						t.Fatal("a session cookie was set")
					}
				default:
					// As Kratos: a hook that may not interrupt runs once
					// the identity is stored; its failure answers 502 and
					// stops the hooks after it (here the session).
					if nIdent != 1 || nSess != 0 {
						t.Fatalf("%d identities, %d sessions stored after a failed hook", nIdent, nSess)
					}
					if r.code != http.StatusBadGateway && !(r.code == http.StatusSeeOther && strings.Contains(r.hdr.Get("Location"), "error")) {
						t.Fatalf("answer %d %s (%s)", r.code, r.body, r.hdr.Get("Location"))
					}
				}
			})
		}
	}
}

// namedBackend is one store backend of storetest.Backends.
type namedBackend struct {
	name string
	open func(testing.TB) store.Store
}

// sortedBackends returns the configured backends by name, so that a table
// can spread its cases over them (every backend sees every kind of case
// without the table running three times).
func sortedBackends(t *testing.T) []namedBackend {
	var out []namedBackend
	for name, open := range storetest.Backends(t) {
		out = append(out, namedBackend{name, open})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// TestWebHookLoginPositions: after-login web hooks that may interrupt run
// before a session is issued, as Kratos' login hooks do (login.after.hooks,
// a method's, the code method, OIDC's callback): an interrupt issues no
// session (no row, no cookie, no token) and shows its messages on the flow,
// which takes a new attempt; a parsed answer signs in and, as in Kratos
// (which changes identities only in registration and settings), changes
// nothing stored; a failing plain hook answers 502 without a session.
func TestWebHookLoginPositions(t *testing.T) {
	t.Parallel()
	// login signs email in; it returns the answer, the flow the client
	// sees afterwards (nil when it left) and a function that submits the
	// same flow again.
	type login func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp)
	type method struct {
		name  string
		setup func(t *testing.T, hooks []config.Hook) ([]ssOption, func(t *testing.T, e *ssEnv, email string), login)
	}
	passwordUser := func(t *testing.T, e *ssEnv, email string) { e.createUser(t, email) }
	methods := []method{
		{"flow-wide, native password", func(t *testing.T, hooks []config.Hook) ([]ssOption, func(*testing.T, *ssEnv, string), login) {
			return []ssOption{withWebHooks(t, func(ss *config.SelfService) { ss.Flows.Login.After.Hooks = hooks })}, passwordUser,
				func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp) {
					c := e.native(t)
					f := c.do("GET", "/self-service/login/api", nil)
					must(t, f, 200)
					submit := func() resp {
						return c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "password",
							"identifier": email, "password": "an old passphrase 1"})
					}
					r := submit()
					return r, r.json(t), submit
				}
		}},
		{"password, browser", func(t *testing.T, hooks []config.Hook) ([]ssOption, func(*testing.T, *ssEnv, string), login) {
			return []ssOption{withWebHooks(t, func(ss *config.SelfService) { ss.Flows.Login.After.Password.Hooks = hooks })}, passwordUser,
				func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp) {
					b := e.browser(t)
					init := b.do("GET", "/self-service/login/browser", nil)
					must(t, init, 303)
					id := flowIDOf(t, init)
					submit := func() resp {
						f := b.do("GET", "/self-service/login/flows?id="+id, nil)
						must(t, f, 200)
						return b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))},
							"method": {"password"}, "identifier": {email}, "password": {"an old passphrase 1"}})
					}
					r := submit()
					if r.code != http.StatusSeeOther || !strings.Contains(r.hdr.Get("Location"), "flow="+id) {
						return r, nil, submit
					}
					if who := b.do("GET", "/sessions/whoami", nil); who.code != http.StatusUnauthorized {
						t.Errorf("whoami after an interrupted login: %d", who.code)
					}
					f := b.do("GET", "/self-service/login/flows?id="+id, nil)
					must(t, f, 200)
					return r, f.json(t), submit
				}
		}},
		{"code", func(t *testing.T, hooks []config.Hook) ([]ssOption, func(*testing.T, *ssEnv, string), login) {
			opt, box := withMail(t, passwordless)
			return []ssOption{opt, withWebHooks(t, func(ss *config.SelfService) { ss.Flows.Login.After.Code.Hooks = hooks })}, passwordUser,
				func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp) {
					c := e.native(t)
					id, _ := sendLoginCode(t, c, email)
					code := codeIn(t, box.WaitFor(t, email, "Login to your account").Plain())
					submit := func() resp {
						return c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "code", "code": code})
					}
					r := submit()
					return r, r.json(t), submit
				}
		}},
		{"oidc callback", func(t *testing.T, hooks []config.Hook) ([]ssOption, func(*testing.T, *ssEnv, string), login) {
			mock := startMockOIDC(t)
			signUp := func(t *testing.T, e *ssEnv, email string) {
				mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
				b := e.browser(t)
				_, authURL := oidcStart(t, b, "registration")
				must(t, b.do("GET", providerRound(t, authURL), nil), 303)
			}
			return []ssOption{withOIDC(t, mock, ""), withWebHooks(t, func(ss *config.SelfService) { ss.Flows.Login.After.OIDC.Hooks = hooks })}, signUp,
				func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp) {
					b := e.browser(t)
					var id string
					submit := func() resp {
						mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
						var authURL string
						if id == "" {
							id, authURL = oidcStart(t, b, "login")
						} else {
							f := b.do("GET", "/self-service/login/flows?id="+id, nil)
							must(t, f, 200)
							r := b.do("POST", "/self-service/login?flow="+id, url.Values{"csrf_token": {csrfOf(t, f.json(t))}, "provider": {"corp"}})
							if r.code != http.StatusSeeOther {
								return r
							}
							authURL = r.hdr.Get("Location")
						}
						return b.do("GET", providerRound(t, authURL), nil)
					}
					r := submit()
					if r.code != http.StatusSeeOther || !strings.Contains(r.hdr.Get("Location"), "flow="+id) {
						return r, nil, submit
					}
					f := b.do("GET", "/self-service/login/flows?id="+id, nil)
					must(t, f, 200)
					return r, f.json(t), submit
				}
		}},
	}
	methods = append(methods, method{"oidc token exchange", func(t *testing.T, hooks []config.Hook) ([]ssOption, func(*testing.T, *ssEnv, string), login) {
		mock := startMockOIDC(t)
		signUp := func(t *testing.T, e *ssEnv, email string) {
			mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
			b := e.browser(t)
			_, authURL := oidcStart(t, b, "registration")
			must(t, b.do("GET", providerRound(t, authURL), nil), 303)
		}
		return []ssOption{withOIDC(t, mock, ""), withWebHooks(t, func(ss *config.SelfService) { ss.Flows.Login.After.OIDC.Hooks = hooks })}, signUp,
			func(t *testing.T, e *ssEnv, email string) (resp, map[string]any, func() resp) {
				app := e.native(t)
				f := app.do("GET", "/self-service/login/api?return_session_token_exchange_code=true&return_to=https://app.example.com/native", nil)
				must(t, f, 200)
				id := flowID(t, f)
				submit := func() resp {
					r := app.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "oidc", "provider": "corp"})
					if r.code != 422 {
						return r
					}
					to, _ := r.json(t)["redirect_browser_to"].(string)
					mock.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
					return e.browser(t).do("GET", providerRound(t, to), nil)
				}
				r := submit()
				if r.code != http.StatusSeeOther || !strings.Contains(r.hdr.Get("Location"), "flow="+id) {
					return r, nil, submit
				}
				again := app.do("GET", "/self-service/login/flows?id="+id, nil)
				must(t, again, 200)
				return r, again.json(t), submit
			}
	}})
	cases := []struct {
		name   string
		answer answer
		hook   func(url string) config.Hook
	}{
		{"parse", answer{200, parseAnswer}, interruptingHook},
		{"interrupt", answer{400, interruptAnswer}, interruptingHook},
		{"plain hook fails", answer{500, interruptAnswer}, func(url string) config.Hook { return hookConfig(url, nil) }},
	}
	backends := sortedBackends(t)
	for mi, m := range methods {
		for ci, tc := range cases {
			open := backends[(mi+ci+1)%len(backends)]
			t.Run(m.name+"/"+tc.name+"/"+open.name, func(t *testing.T) {
				t.Parallel()
				email := localPart(m.name) + "@example.com"
				body := tc.answer.body
				if tc.answer.status == 200 {
					body = strings.Replace(body, "%s", email, 1)
				}
				rcv := newHookServer(t, tc.answer.status, body)
				opts, prepare, login := m.setup(t, []config.Hook{tc.hook(rcv.srv.URL)})
				e := newSelfServiceEnvOn(t, open.open, opts...)
				prepare(t, e, email)
				_, before := storedCounts(t, e)
				r, f, again := login(t, e, email)
				_, after := storedCounts(t, e)
				if paths, _ := rcv.requests(); len(paths) != 1 {
					t.Fatalf("the hook was called %d times, want once", len(paths))
				}
				list, _ := e.st.ListIdentities(context.Background(), store.IdentityQuery{})
				if len(list) != 1 || strings.Contains(string(list[0].Traits), "Set by the hook") || strings.Contains(string(list[0].MetadataPublic), "pro") {
					t.Fatalf("identities after a login: %+v", list)
				}
				switch tc.name {
				case "parse":
					if after != before+1 {
						t.Fatalf("%d sessions before, %d after a login the hook let through: %d %s", before, after, r.code, r.body)
					}
				case "interrupt":
					if after != before {
						t.Fatalf("%d sessions before, %d after an interrupted login", before, after)
					}
					if r.code != http.StatusBadRequest && r.code != http.StatusSeeOther {
						t.Fatalf("answer %d %s", r.code, r.body)
					}
					if strings.Contains(strings.Join(r.hdr.Values("Set-Cookie"), ";"), "ory_kratos_session=") || strings.Contains(string(r.body), "ory_st_") {
						t.Fatalf("a session was handed out: %v %s", r.hdr, r.body)
					}
					ids := flowMessageIDs(f)
					if !hasMsg(ids, 4000100) || !hasMsg(ids, 4000101) {
						t.Fatalf("the flow lacks the hook's messages: %v", f)
					}
					if f["state"] == "passed_challenge" {
						t.Fatalf("the flow stayed ended: %v", f)
					}
					// The flow takes another attempt: the hook stops it
					// again (a login code was used up by the first, as in
					// Kratos, and is refused before any hook).
					a := again()
					if a.code != http.StatusBadRequest && a.code != http.StatusSeeOther {
						t.Fatalf("a second attempt in the flow: %d %s", a.code, a.body)
					}
					if m.name == "code" && !hasMsg(flowMessageIDs(a.json(t)), 4010008) {
						t.Fatalf("the used code: %s", a.body)
					}
					if paths, _ := rcv.requests(); len(paths) != 2 && m.name != "code" {
						t.Fatalf("the second attempt called the hook %d times in all", len(paths))
					}
				default:
					if after != before {
						t.Fatalf("%d sessions before, %d after a failed hook", before, after)
					}
					if r.code != http.StatusBadGateway && !(r.code == http.StatusSeeOther && strings.Contains(r.hdr.Get("Location"), "error")) {
						t.Fatalf("answer %d %s (%s)", r.code, r.body, r.hdr.Get("Location"))
					}
				}
			})
		}
	}
}

// TestWebHookSettingsPositions: after-settings web hooks that may
// interrupt run before the change is saved, as Kratos' settings
// pre-persist hooks (a method's hooks and settings.after.hooks): a parsed
// answer's traits and metadata are saved with the change; an interrupt
// shows its messages on the flow and saves nothing (neither the traits nor
// the password); a failing plain hook runs after the change is saved and
// answers 502, as Kratos' post-persist hooks.
func TestWebHookSettingsPositions(t *testing.T) {
	t.Parallel()
	type change struct {
		name string
		set  func(ss *config.SelfService, hooks []config.Hook)
		body func(email string) map[string]any
		// saved reports whether the change is in the stored identity.
		saved func(t *testing.T, e *ssEnv, id string) bool
	}
	passwordHash := func(t *testing.T, e *ssEnv, id string) string {
		i, err := e.ids.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := i.Credential("password")
		return string(c.Config)
	}
	changes := []change{
		{"profile", func(ss *config.SelfService, hooks []config.Hook) { ss.Flows.Settings.After.Profile.Hooks = hooks },
			func(email string) map[string]any {
				return map[string]any{"method": "profile", "traits": map[string]any{"email": email, "name": "Changed by the user"}}
			},
			func(t *testing.T, e *ssEnv, id string) bool {
				i, err := e.ids.Get(context.Background(), id)
				return err == nil && (strings.Contains(string(i.Traits), "Changed by the user") || strings.Contains(string(i.Traits), "Set by the hook"))
			}},
		{"flow-wide, password", func(ss *config.SelfService, hooks []config.Hook) { ss.Flows.Settings.After.Hooks = hooks },
			func(string) map[string]any {
				return map[string]any{"method": "password", "password": "a new passphrase 42"}
			},
			nil},
	}
	cases := []struct {
		name   string
		answer answer
		hook   func(url string) config.Hook
	}{
		{"parse", answer{200, parseAnswer}, interruptingHook},
		{"interrupt", answer{400, interruptAnswer}, interruptingHook},
		{"plain hook fails", answer{500, interruptAnswer}, func(url string) config.Hook { return hookConfig(url, nil) }},
	}
	backends := sortedBackends(t)
	for mi, m := range changes {
		for ci, tc := range cases {
			open := backends[(mi+ci+2)%len(backends)]
			t.Run(m.name+"/"+tc.name+"/"+open.name, func(t *testing.T) {
				t.Parallel()
				email := localPart(m.name) + "@example.com"
				body := tc.answer.body
				if tc.answer.status == 200 {
					body = strings.Replace(body, "%s", email, 1)
				}
				rcv := newHookServer(t, tc.answer.status, body)
				e := newSelfServiceEnvOn(t, open.open, withWebHooks(t, func(ss *config.SelfService) { m.set(ss, []config.Hook{tc.hook(rcv.srv.URL)}) }))
				c := e.native(t)
				c.token = e.registerNative(t, c, email, "correct horse battery")
				who := c.do("GET", "/sessions/whoami", nil)
				must(t, who, 200)
				id := who.json(t)["identity"].(map[string]any)["id"].(string)
				hashBefore := passwordHash(t, e, id)
				saved := m.saved
				if saved == nil {
					saved = func(t *testing.T, e *ssEnv, id string) bool { return passwordHash(t, e, id) != hashBefore }
				}
				sf := c.do("GET", "/self-service/settings/api", nil)
				must(t, sf, 200)
				r := c.do("POST", "/self-service/settings?flow="+flowID(t, sf), m.body(email))
				if paths, _ := rcv.requests(); len(paths) != 1 {
					t.Fatalf("the hook was called %d times, want once", len(paths))
				}
				i, err := e.ids.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				switch tc.name {
				case "parse":
					must(t, r, 200)
					if !saved(t, e, id) || !strings.Contains(string(i.Traits), "Set by the hook") || !strings.Contains(string(i.MetadataPublic), `"pro"`) || !strings.Contains(string(i.MetadataAdmin), `"gold"`) {
						t.Fatalf("stored after a parsed answer: %s %s %s (change saved %v)", i.Traits, i.MetadataPublic, i.MetadataAdmin, saved(t, e, id))
					}
				case "interrupt":
					must(t, r, 400)
					if saved(t, e, id) || strings.Contains(string(i.MetadataPublic), "pro") {
						t.Fatalf("an interrupted change was saved: %s %s", i.Traits, i.MetadataPublic)
					}
					ids := flowMessageIDs(r.json(t))
					if !hasMsg(ids, 4000101) || (m.name == "profile" && !hasMsg(ids, 4000100)) {
						t.Fatalf("the flow lacks the hook's messages: %s", r.body)
					}
				default:
					must(t, r, 502)
					if !saved(t, e, id) {
						t.Fatal("a failing post-persist hook undid the change")
					}
				}
			})
		}
	}
}

// TestWebHookBeforeParse: Kratos accepts response.parse in before hooks,
// where there is no identity: the answer may interrupt the flow's
// creation; a 200 answer with an identity changes nothing (Kratos would
// dereference the missing identity) and the flow is created.
func TestWebHookBeforeParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer answer
		want   int
	}{
		{"interrupt", answer{403, interruptAnswer}, http.StatusBadRequest},
		{"identity answer", answer{200, strings.Replace(parseAnswer, "%s", "x@example.com", 1)}, http.StatusOK},
		{"no content", answer{204, ""}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newHookServer(t, tc.answer.status, tc.answer.body)
			e := newSelfServiceEnv(t, withWebHooks(t, func(ss *config.SelfService) {
				ss.Flows.Registration.Before.Hooks = []config.Hook{hookConfig(rcv.srv.URL, map[string]any{"response": map[string]any{"parse": true}})}
			}))
			r := e.native(t).do("GET", "/self-service/registration/api", nil)
			must(t, r, tc.want)
			if tc.want == http.StatusBadRequest && !strings.Contains(string(r.body), "Sign-ups are paused.") {
				t.Fatalf("interrupt answer %s", r.body)
			}
			if paths, _ := rcv.requests(); len(paths) != 1 {
				t.Fatalf("hook calls %v", paths)
			}
		})
	}
}

// TestWebHookLoginInterruptQueuesNothing: an asynchronous hook listed
// after one that interrupts the login is not queued (Kratos runs the list
// in order and stops at the interrupt); once the login goes through it is.
func TestWebHookLoginInterruptQueuesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer answer
		status int // of the login
		queued int
	}{
		{"interrupted", answer{400, interruptAnswer}, 400, 0},
		{"let through", answer{204, ""}, 200, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newHookServer(t, tc.answer.status, tc.answer.body)
			onBackends(t, func(t *testing.T, e *ssEnv) {
				e.createUser(t, "quincy@example.com")
				c := e.native(t)
				f := c.do("GET", "/self-service/login/api", nil)
				must(t, f, 200)
				r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "password",
					"identifier": "quincy@example.com", "password": "an old passphrase 1"})
				must(t, r, tc.status)
				q, err := e.st.ListWebhookDeliveries(context.Background(), store.WebhookDeliveryQuery{Event: webhook.KratosEvent})
				if err != nil || len(q) != tc.queued {
					t.Fatalf("%d calls queued, want %d (%v)", len(q), tc.queued, err)
				}
			}, withWebHooks(t, func(ss *config.SelfService) {
				ss.Flows.Login.After.Hooks = []config.Hook{interruptingHook(rcv.srv.URL),
					hookConfig(rcv.srv.URL+"/queued", map[string]any{"response": map[string]any{"ignore": true}})}
			}))
		})
	}
}

// TestWebHookSettingsParseTakenIdentifier: a settings hook whose parsed
// answer gives the identity another account's address rolls the whole step
// back (the new password too) and answers the flow with Kratos' duplicate
// credentials message (4000007), not a server error.
func TestWebHookSettingsParseTakenIdentifier(t *testing.T) {
	t.Parallel()
	for _, open := range sortedBackends(t) {
		t.Run(open.name, func(t *testing.T) {
			t.Parallel()
			rcv := newHookServer(t, 200, strings.Replace(parseAnswer, "%s", "taken@example.com", 1))
			e := newSelfServiceEnvOn(t, open.open, withWebHooks(t, func(ss *config.SelfService) {
				ss.Flows.Settings.After.Hooks = []config.Hook{interruptingHook(rcv.srv.URL)}
			}))
			e.registerNative(t, e.native(t), "taken@example.com", "correct horse battery")
			c := e.native(t)
			c.token = e.registerNative(t, c, "changer@example.com", "correct horse battery")
			who := c.do("GET", "/sessions/whoami", nil)
			must(t, who, 200)
			id := who.json(t)["identity"].(map[string]any)["id"].(string)
			before, err := e.ids.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			sf := c.do("GET", "/self-service/settings/api", nil)
			must(t, sf, 200)
			r := c.do("POST", "/self-service/settings?flow="+flowID(t, sf), map[string]any{"method": "password", "password": "a new passphrase 42"})
			must(t, r, 400)
			if ids := flowMessageIDs(r.json(t)); !hasMsg(ids, 4000007) {
				t.Fatalf("the flow lacks 4000007: %s", r.body)
			}
			after, err := e.ids.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			pb, _ := before.Credential("password")
			pa, _ := after.Credential("password")
			if string(pa.Config) != string(pb.Config) || string(after.Traits) != string(before.Traits) || strings.Contains(string(after.MetadataPublic), "pro") {
				t.Fatalf("a refused change was partly saved: %s %s", after.Traits, after.MetadataPublic)
			}
		})
	}
}
