package kratos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/courier/couriertest"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store/storetest"
)

var (
	codeRE     = regexp.MustCompile(`\b[0-9]{6}\b`)
	flowLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/self-service/(?:recovery|verification)\?[^\s"<>]+`)
)

func codeIn(t *testing.T, text string) string {
	t.Helper()
	c := codeRE.FindString(text)
	if c == "" {
		t.Fatalf("no code in mail:\n%s", text)
	}
	return c
}

func linkIn(t *testing.T, text string) string {
	t.Helper()
	l := flowLinkRE.FindString(text)
	if l == "" {
		t.Fatalf("no link in mail:\n%s", text)
	}
	return l
}

// withMail enables recovery and verification with a courier whose worker
// delivers over SMTP to the returned inbox. tune adjusts the configuration
// (use: link, notify_unknown_recipients …).
func withMail(t *testing.T, tune func(cfg *config.Config)) (ssOption, *couriertest.SMTPServer) {
	box := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
	return func(cfg *config.Config, o *kratos.SelfServiceOptions) {
		if tune != nil {
			tune(cfg)
			o.SelfService = cfg.SelfService
		}
		c, err := courier.New(courier.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sender, err := courier.NewSMTP(courier.SMTPOptions{ConnectionURI: "smtp://" + box.Addr() + "/?disable_starttls=true",
			FromAddress: "latchkey@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := courier.NewWorker(courier.WorkerOptions{Store: o.Store, Email: sender, PullWait: 10 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		signer, err := cipher.NewSigner("another-test-secret-for-codes!!!")
		if err != nil {
			t.Fatal(err)
		}
		o.AddressFlows = &kratos.AddressFlowOptions{Courier: c, MAC: signer}
		// Four codes or links per address and hour, so the send limit
		// tests stay short.
		pc := ratelimit.DefaultPolicyConfig()
		pc.SendAddress = ratelimit.Limit{Limit: 4, Window: time.Hour}
		p, err := ratelimit.NewPolicy(ratelimit.NewDB(o.Store, o.Now, []byte("rate-limit-secret")), pc)
		if err != nil {
			t.Fatal(err)
		}
		o.Attempts = p
	}, box
}

// onMailBackends runs test on every store backend, each with its own
// self-service env and inbox (so parallel backends never read each other's
// mail).
func onMailBackends(t *testing.T, tune func(cfg *config.Config), test func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opt, box := withMail(t, tune)
			test(t, newSelfServiceEnvOn(t, open, opt), box)
		})
	}
}

// createUser makes an identity with a password through the identity
// service (as the admin API would) and returns it.
func (e *ssEnv) createUser(t *testing.T, email string) *core.Identity {
	t.Helper()
	traits, _ := json.Marshal(map[string]any{"email": email})
	i, err := e.ids.Create(context.Background(), identity.Draft{Traits: traits,
		Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "an old passphrase 1"}}})
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
	return i
}

// addressVerified reports whether the identity's e-mail address is
// verified (status completed).
func (e *ssEnv) addressVerified(t *testing.T, id, email string) bool {
	t.Helper()
	i, err := e.st.GetIdentity(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range i.Addresses {
		if a.Value == email && a.Verifiable {
			return a.Verified && a.Status == core.AddressCompleted && a.VerifiedAt != nil
		}
	}
	return false
}

func stateOf(t *testing.T, r resp) string {
	t.Helper()
	s, _ := r.json(t)["state"].(string)
	return s
}

func continueWith(t *testing.T, r resp) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, c := range asList(r.json(t)["continue_with"]) {
		m := c.(map[string]any)
		out[m["action"].(string)] = m
	}
	return out
}

func TestRecoveryCodeNative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		alice := e.createUser(t, "alice@example.com")
		c := e.native(t)

		f := c.do("GET", "/self-service/recovery/api", nil)
		must(t, f, 200)
		if stateOf(t, f) != "choose_method" {
			t.Fatalf("state %q", stateOf(t, f))
		}
		id := flowID(t, f)
		sent := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "Alice@Example.com"})
		must(t, sent, 200)
		if stateOf(t, sent) != "sent_email" || !hasID(messageIDs(sent.json(t)), kratos.MsgRecoveryEmailWithCodeSent) {
			t.Fatalf("after send: %s", sent.body)
		}
		mailText := box.Wait(t, "alice@example.com", 1).Plain()
		code := codeIn(t, mailText)

		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		bad := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": wrong})
		must(t, bad, 400)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgRecoveryCodeInvalid) {
			t.Errorf("wrong code: no 4060006 in %s", bad.body)
		}
		ok := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, ok, 200)
		if stateOf(t, ok) != "passed_challenge" {
			t.Fatalf("state after code: %s", ok.body)
		}
		cw := continueWith(t, ok)
		tok, _ := cw["set_ory_session_token"]["ory_session_token"].(string)
		if !strings.HasPrefix(tok, "ory_st_") || cw["show_settings_ui"] == nil {
			t.Fatalf("continue_with: %s", ok.body)
		}
		settingsID := cw["show_settings_ui"]["flow"].(map[string]any)["id"].(string)

		// The session is privileged (amr code_recovery) and drives the settings
		// flow the recovery handed over, which shows 1060001.
		c.token = tok
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if m := who.json(t)["authentication_methods"].([]any)[0].(map[string]any); m["method"] != "code_recovery" {
			t.Errorf("amr: %v", m)
		}
		sf := c.do("GET", "/self-service/settings/flows?id="+settingsID, nil)
		must(t, sf, 200)
		if !hasID(messageIDs(sf.json(t)), kratos.MsgRecoverySuccessful) {
			t.Errorf("settings flow lacks 1060001: %s", sf.body)
		}
		must(t, c.do("POST", "/self-service/settings?flow="+settingsID, map[string]any{"method": "password", "password": "a brand new passphrase"}), 200)
		if !e.addressVerified(t, alice.ID, "alice@example.com") {
			t.Error("recovery by code did not verify the address")
		}

		// Replaying the finished flow is refused with 4060001.
		again := e.native(t).do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, again, 400)
		if !hasID(messageIDs(again.json(t)), kratos.MsgRecoveryRetrySuccess) {
			t.Errorf("replay: no 4060001 in %s", again.body)
		}

		// The new password logs in.
		anon := e.native(t)
		lf := anon.do("GET", "/self-service/login/api", nil)
		must(t, anon.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "alice@example.com", "password": "a brand new passphrase"}), 200)
	})
}

func TestRecoveryCodeAttemptsAndEnumeration(t *testing.T) {
	t.Parallel()
	onMailBackends(t, func(cfg *config.Config) { cfg.SelfService.Flows.Recovery.NotifyUnknownRecipients = true }, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createUser(t, "bob@example.com")

		t.Run("wrong code six times", func(t *testing.T) {
			c := e.native(t)
			id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
			must(t, c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "bob@example.com"}), 200)
			code := codeIn(t, box.Wait(t, "bob@example.com", 1).Plain())
			wrong := "123456"
			if code == wrong {
				wrong = "654321"
			}
			for i := 1; i <= 5; i++ {
				r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": wrong})
				must(t, r, 400)
				if !hasID(messageIDs(r.json(t)), kratos.MsgRecoveryCodeInvalid) {
					t.Fatalf("attempt %d: %s", i, r.body)
				}
			}
			// The shared attempt policy refuses a sixth attempt from the
			// same client within the minute outright (5 per identity and
			// IP), before the code is looked at.
			r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, http.StatusTooManyRequests)
			if r.hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			e.clock.add(time.Minute)
			// A minute later the sixth submission, even with the right code,
			// finds the code dead (max_submissions).
			r = c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
			must(t, r, 400)
			if stateOf(t, r) != "sent_email" || !hasID(messageIDs(r.json(t)), kratos.MsgRecoveryCodeInvalid) {
				t.Fatalf("right code after 5 wrong ones: %s", r.body)
			}
		})

		t.Run("unknown address", func(t *testing.T) {
			c := e.native(t)
			id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
			r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "nobody@example.com"})
			must(t, r, 200)
			if stateOf(t, r) != "sent_email" || !hasID(messageIDs(r.json(t)), kratos.MsgRecoveryEmailWithCodeSent) {
				t.Fatalf("unknown address not answered as sent: %s", r.body)
			}
			// notify_unknown_recipients: the invalid template, with no code.
			text := box.Wait(t, "nobody@example.com", 1).Plain()
			if codeRE.MatchString(text) || !strings.Contains(text, "not on our database") {
				t.Errorf("unknown recipient mail:\n%s", text)
			}
			bad := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": "123456"})
			must(t, bad, 400)
		})

		t.Run("malformed address", func(t *testing.T) {
			c := e.native(t)
			id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
			r := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "not-an-address"})
			must(t, r, 400)
			if stateOf(t, r) != "choose_method" || !hasID(messageIDs(r.json(t)), kratos.MsgValidationGeneric) {
				t.Fatalf("malformed address: %s", r.body)
			}
		})

		t.Run("send limit", func(t *testing.T) {
			c := e.native(t)
			id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
			var last resp
			for i := 0; i < 5; i++ {
				last = c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "carol@example.com"})
			}
			must(t, last, 429)
			if last.hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	})
}

func TestRecoveryBrowser(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createUser(t, "dora@example.com")
		b := e.browser(t)

		init := b.do("GET", "/self-service/recovery/browser?return_to=https://app.example.com/welcome", nil)
		must(t, init, 303)
		id := flowID(t, init)
		if loc := init.hdr.Get("Location"); !strings.HasPrefix(loc, e.base+"ui/recovery?") {
			t.Errorf("Location %q", loc)
		}
		b.json = true
		f := b.do("GET", "/self-service/recovery/flows?id="+id, nil)
		must(t, f, 200)
		csrf := csrfOf(t, f.json(t))
		if rt, _ := f.json(t)["return_to"].(string); rt != "https://app.example.com/welcome" {
			t.Errorf("return_to %q", rt)
		}
		b.json = false

		// A wrong anti-CSRF token is refused and nothing is sent.
		bad := b.do("POST", "/self-service/recovery?flow="+id, url.Values{"csrf_token": {base64.StdEncoding.EncodeToString(make([]byte, 64))},
			"method": {"code"}, "email": {"dora@example.com"}})
		if bad.code != 303 || !strings.Contains(bad.hdr.Get("Location"), "ui/error?id=") {
			t.Fatalf("wrong csrf: %d %s", bad.code, bad.hdr.Get("Location"))
		}
		b.json = true
		badJSON := b.do("POST", "/self-service/recovery?flow="+id, map[string]any{"csrf_token": "nope", "method": "code", "email": "dora@example.com"})
		must(t, badJSON, 403)
		b.json = false

		sent := b.do("POST", "/self-service/recovery?flow="+id, url.Values{"csrf_token": {csrf}, "method": {"code"}, "email": {"dora@example.com"}})
		must(t, sent, 303)
		code := codeIn(t, box.Wait(t, "dora@example.com", 1).Plain())
		if n := len(box.To("dora@example.com")); n != 1 {
			t.Errorf("%d mails; the refused submissions must not send", n)
		}
		done := b.do("POST", "/self-service/recovery?flow="+id, url.Values{"csrf_token": {csrf}, "method": {"code"}, "code": {code}})
		must(t, done, 303)
		loc, _ := url.Parse(done.hdr.Get("Location"))
		if !strings.HasPrefix(loc.String(), e.base+"ui/settings?") || loc.Query().Get("flow") == "" {
			t.Fatalf("after recovery: Location %q", loc)
		}
		b.json = true
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		sf := b.do("GET", "/self-service/settings/flows?id="+loc.Query().Get("flow"), nil)
		must(t, sf, 200)
		if rt, _ := sf.json(t)["return_to"].(string); rt != "https://app.example.com/welcome" {
			t.Errorf("settings flow return_to %q", rt)
		}
		// With a session, recovery is not offered.
		must(t, b.do("GET", "/self-service/recovery/browser", nil), 400)
	})
}

func TestRecoverySPAGetsLocationChange(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, nil)
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "erin@example.com")
	b := e.browser(t)
	b.json = true
	f := b.do("GET", "/self-service/recovery/browser", nil)
	must(t, f, 200)
	id, csrf := flowID(t, f), csrfOf(t, f.json(t))
	must(t, b.do("POST", "/self-service/recovery?flow="+id, map[string]any{"csrf_token": csrf, "method": "code", "email": "erin@example.com"}), 200)
	code := codeIn(t, box.Wait(t, "erin@example.com", 1).Plain())
	// Sent without the spec check: kratos-api.json nests the envelope as
	// {"error":{"error":…}} for this response, but Kratos (herodot) writes
	// {"error":{…},"redirect_browser_to":…}, which SDKs and the reference
	// UI read (notes §5.2), so Latchkey follows the wire, not the spec.
	r := b.raw("POST", "/self-service/recovery?flow="+id, map[string]any{"csrf_token": csrf, "method": "code", "code": code})
	must(t, r, 422)
	if e, _ := r.json(t)["error"].(map[string]any); e["id"] != "browser_location_change_required" {
		t.Errorf("422 body: %s", r.body)
	}
	if to, _ := r.json(t)["redirect_browser_to"].(string); !strings.HasPrefix(to, e.base+"ui/settings?flow=") {
		t.Errorf("redirect_browser_to %q", to)
	}
	must(t, b.do("GET", "/sessions/whoami", nil), 200)
}

func TestRecoveryLinkBrowser(t *testing.T) {
	t.Parallel()
	onMailBackends(t, func(cfg *config.Config) {
		cfg.SelfService.Methods.Link.Enabled = true
		cfg.SelfService.Flows.Recovery.Use = "link"
	}, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		e.createUser(t, "fay@example.com")
		b := e.browser(t)
		id := flowID(t, b.do("GET", "/self-service/recovery/browser", nil))
		b.json = true
		f := b.do("GET", "/self-service/recovery/flows?id="+id, nil)
		csrf := csrfOf(t, f.json(t))
		b.json = false
		must(t, b.do("POST", "/self-service/recovery?flow="+id, url.Values{"csrf_token": {csrf}, "method": {"link"}, "email": {"fay@example.com"}}), 303)
		link := linkIn(t, box.Wait(t, "fay@example.com", 1).Plain())

		// A tampered token fails and leaves the flow open.
		u, _ := url.Parse(link)
		q := u.Query()
		q.Set("token", q.Get("token")+"x")
		u.RawQuery = q.Encode()
		other := e.browser(t)
		must(t, other.do("GET", u.String(), nil), 303)
		b.json = true
		af := b.do("GET", "/self-service/recovery/flows?id="+id, nil)
		must(t, af, 200)
		if stateOf(t, af) != "sent_email" || !hasID(messageIDs(af.json(t)), kratos.MsgRecoveryTokenInvalid) {
			t.Errorf("tampered link: no 4060004 in %s", af.body)
		}

		// The link works in any browser (no cookie needed) and logs it in.
		fresh := e.browser(t)
		r := fresh.do("GET", link, nil)
		must(t, r, 303)
		if loc := r.hdr.Get("Location"); !strings.HasPrefix(loc, e.base+"ui/settings?flow=") {
			t.Fatalf("Location %q", loc)
		}
		fresh.json = true
		who := fresh.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if m := who.json(t)["authentication_methods"].([]any)[0].(map[string]any); m["method"] != "link_recovery" {
			t.Errorf("amr: %v", m)
		}
		// A used link is dead: the flow has ended, and a second browser gets
		// no session from it.
		again := e.browser(t)
		must(t, again.do("GET", link, nil), 303)
		again.json = true
		must(t, again.do("GET", "/sessions/whoami", nil), 401)
	})
}

func TestRecoveryExpiryAndReturnTo(t *testing.T) {
	t.Parallel()
	opt, _ := withMail(t, nil)
	e := newSelfServiceEnv(t, opt)
	c := e.native(t)

	r := c.do("GET", "/self-service/recovery/api?return_to=https://evil.example.net/", nil)
	must(t, r, 400)
	if id, _ := r.json(t)["error"].(map[string]any)["id"].(string); id != "self_service_flow_return_to_forbidden" {
		t.Errorf("return_to: %s", r.body)
	}
	id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
	e.clock.add(2 * time.Hour)
	exp := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "x@example.com"})
	must(t, exp, 410)
	m := exp.json(t)
	newID, _ := m["use_flow_id"].(string)
	if newID == "" || newID == id {
		t.Fatalf("expired: %s", exp.body)
	}
	nf := c.do("GET", "/self-service/recovery/flows?id="+newID, nil)
	must(t, nf, 200)
	if !hasID(messageIDs(nf.json(t)), 4060005) {
		t.Errorf("replacement lacks 4060005: %s", nf.body)
	}
	must(t, c.do("GET", "/self-service/recovery/flows?id="+id, nil), 410)
}

func TestVerificationCodeNative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		gus := e.createUser(t, "gus@example.com")
		c := e.native(t)
		id := flowID(t, c.do("GET", "/self-service/verification/api", nil))
		sent := c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "email": "gus@example.com"})
		must(t, sent, 200)
		if !hasID(messageIDs(sent.json(t)), kratos.MsgVerificationEmailWithCodeSent) {
			t.Fatalf("sent: %s", sent.body)
		}
		code := codeIn(t, box.Wait(t, "gus@example.com", 1).Plain())
		bad := c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "code": "99999"})
		must(t, bad, 400)
		if !hasID(messageIDs(bad.json(t)), kratos.MsgVerificationCodeInvalid) {
			t.Errorf("wrong code: %s", bad.body)
		}
		ok := c.do("POST", "/self-service/verification?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, ok, 200)
		m := ok.json(t)
		if m["state"] != "passed_challenge" || !hasID(messageIDs(m), kratos.MsgVerificationSuccessful) {
			t.Fatalf("verified: %s", ok.body)
		}
		if ui := m["ui"].(map[string]any); ui["method"] != "GET" {
			t.Errorf("ui.method %v", ui["method"])
		}
		if !e.addressVerified(t, gus.ID, "gus@example.com") {
			t.Error("address not verified")
		}
		// Unknown address: still "sent", nothing delivered.
		id2 := flowID(t, c.do("GET", "/self-service/verification/api", nil))
		u := c.do("POST", "/self-service/verification?flow="+id2, map[string]any{"method": "code", "email": "ghost@example.com"})
		must(t, u, 200)
		if stateOf(t, u) != "sent_email" {
			t.Errorf("unknown: %s", u.body)
		}
	})
}

func TestVerificationLinkBrowserAndRegistrationHook(t *testing.T) {
	t.Parallel()
	onMailBackends(t, func(cfg *config.Config) {
		cfg.SelfService.Methods.Link.Enabled = true
		cfg.SelfService.Flows.Verification.Use = "link"
		cfg.SelfService.Flows.Registration.After.Password.Hooks = []config.Hook{{Hook: "session"}, {Hook: "show_verification_ui"}}
	}, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {

		// Native registration starts a verification flow and sends the link.
		c := e.native(t)
		f := c.do("GET", "/self-service/registration/api", nil)
		r := c.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "password",
			"traits": map[string]any{"email": "hope@example.com"}, "password": "correct horse battery"})
		must(t, r, 200)
		cw := continueWith(t, r)["show_verification_ui"]
		if cw == nil {
			t.Fatalf("no show_verification_ui: %s", r.body)
		}
		vf := cw["flow"].(map[string]any)
		if vf["verifiable_address"] != "hope@example.com" || vf["url"] != nil {
			t.Errorf("show_verification_ui flow: %v", vf)
		}
		identityID := r.json(t)["identity"].(map[string]any)["id"].(string)
		link := linkIn(t, box.Wait(t, "hope@example.com", 1).Plain())
		if !strings.Contains(link, "flow="+vf["id"].(string)) {
			t.Errorf("link %q is not for flow %v", link, vf["id"])
		}
		got := c.do("GET", "/self-service/verification/flows?id="+vf["id"].(string), nil)
		must(t, got, 200)
		if stateOf(t, got) != "sent_email" {
			t.Errorf("hook flow state: %s", got.body)
		}
		b := e.browser(t)
		res := b.do("GET", link, nil)
		must(t, res, 303)
		if loc := res.hdr.Get("Location"); !strings.HasPrefix(loc, e.base+"ui/verification?flow=") {
			t.Errorf("Location %q", loc)
		}
		if !e.addressVerified(t, identityID, "hope@example.com") {
			t.Error("address not verified by the link")
		}

		// Browser verification by link, with the golden node lists.
		b2 := e.browser(t)
		id := flowID(t, b2.do("GET", "/self-service/verification/browser", nil))
		b2.json = true
		choose := b2.do("GET", "/self-service/verification/flows?id="+id, nil)
		csrf := csrfOf(t, choose.json(t))
		sent := b2.do("POST", "/self-service/verification?flow="+id, map[string]any{"csrf_token": csrf, "method": "link", "email": "hope@example.com"})
		must(t, sent, 200)
		link2 := linkIn(t, box.Wait(t, "hope@example.com", 2).Plain())
		b2.json = false
		must(t, b2.do("GET", link2, nil), 303)
		b2.json = true
		passed := b2.do("GET", "/self-service/verification/flows?id="+id, nil)
		must(t, passed, 200)
		golden(t, e, "verification_link_choose", choose)
		golden(t, e, "verification_link_sent", sent)
		golden(t, e, "verification_passed", passed)
	})
}

func TestRecoveryGoldenNodes(t *testing.T) {
	t.Parallel()
	opt, _ := withMail(t, nil)
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "ivy@example.com")
	b := e.browser(t)
	b.json = true
	f := b.do("GET", "/self-service/recovery/browser", nil)
	sent := b.do("POST", "/self-service/recovery?flow="+flowID(t, f), map[string]any{"csrf_token": csrfOf(t, f.json(t)),
		"method": "code", "email": "ivy@example.com"})
	golden(t, e, "recovery_code_choose", f)
	golden(t, e, "recovery_code_sent", sent)
	vf := b.do("GET", "/self-service/verification/browser", nil)
	vs := b.do("POST", "/self-service/verification?flow="+flowID(t, vf), map[string]any{"csrf_token": csrfOf(t, vf.json(t)),
		"method": "code", "email": "ivy@example.com"})
	golden(t, e, "verification_code_choose", vf)
	golden(t, e, "verification_code_sent", vs)
}

var maskedCSRF = regexp.MustCompile(`"value": "[A-Za-z0-9+/]{86}=="`)

// golden compares a flow's ui with testdata/recovery/<name>.golden.json
// (csrf tokens and the server's URL replaced).
func golden(t *testing.T, e *ssEnv, name string, r resp) {
	t.Helper()
	goldenIn(t, e, "recovery", name, r)
}

// goldenIn compares a flow's ui with testdata/<dir>/<name>.golden.json.
func goldenIn(t *testing.T, e *ssEnv, dir, name string, r resp) {
	t.Helper()
	out, _ := json.MarshalIndent(r.json(t)["ui"], "", "  ")
	out = bytes.ReplaceAll(out, []byte(strings.TrimSuffix(e.base, "/")), []byte("<public>"))
	out = maskedCSRF.ReplaceAll(out, []byte(`"value": "<csrf>"`))
	out = regexp.MustCompile(`flow=[0-9a-f-]{36}`).ReplaceAll(out, []byte("flow=<id>"))
	out = append(out, '\n')
	path := filepath.Join("testdata", dir, name+".golden.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test -update)", name, err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs (go test -update to accept):\n%s", name, out)
	}
}

// raw sends a JSON request like do, without checking the response against
// the spec.
func (c *client) raw(method, path string, body any) resp {
	c.t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, hdr: res.Header, body: out}
}

// TestDoneWhenNative runs the "Done when" sequence for a native
// client: register, whoami, change a trait, log out, recover the account
// with an e-mailed code and set a new password, verify the address with the
// link from the verification mail, and log in again.
func TestDoneWhenNative(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		c := e.native(t)
		tok := e.registerNative(t, c, "kim@example.com", "correct horse battery")
		verifyMail := box.Wait(t, "kim@example.com", 1).Plain()
		verifyLink := linkIn(t, verifyMail)
		if !strings.Contains(verifyLink, "code=") {
			t.Fatalf("verification mail link %q carries no code", verifyLink)
		}

		c.token = tok
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		identityID := who.json(t)["identity"].(map[string]any)["id"].(string)
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, c.do("POST", "/self-service/settings?flow="+flowID(t, sf), map[string]any{"method": "profile",
			"traits": map[string]any{"email": "kim@example.com", "name": "Kim"}}), 200)
		anon := e.native(t)
		must(t, anon.do("DELETE", "/self-service/logout/api", map[string]any{"session_token": tok}), 204)
		must(t, c.do("GET", "/sessions/whoami", nil), 401)

		// Recovery by code, then a new password through the settings flow it
		// hands over.
		rf := anon.do("GET", "/self-service/recovery/api", nil)
		must(t, anon.do("POST", "/self-service/recovery?flow="+flowID(t, rf), map[string]any{"method": "code", "email": "kim@example.com"}), 200)
		code := codeIn(t, box.WaitFor(t, "kim@example.com", "Recover access to your account").Plain())
		done := anon.do("POST", "/self-service/recovery?flow="+flowID(t, rf), map[string]any{"method": "code", "code": code})
		must(t, done, 200)
		cw := continueWith(t, done)
		rc := e.native(t)
		rc.token = cw["set_ory_session_token"]["ory_session_token"].(string)
		settingsID := cw["show_settings_ui"]["flow"].(map[string]any)["id"].(string)
		must(t, rc.do("POST", "/self-service/settings?flow="+settingsID, map[string]any{"method": "password", "password": "recovered passphrase 7"}), 200)

		// The verification link from the first mail, opened in a browser.
		b := e.browser(t)
		v := b.do("GET", verifyLink, nil)
		must(t, v, 303)
		vid := flowID(t, v)
		vf := e.native(t).do("GET", "/self-service/verification/flows?id="+vid, nil)
		must(t, vf, 200)
		if stateOf(t, vf) != "passed_challenge" {
			t.Errorf("verification flow: %s", vf.body)
		}
		if !e.addressVerified(t, identityID, "kim@example.com") {
			t.Error("address not verified")
		}

		lf := anon.do("GET", "/self-service/login/api", nil)
		ok := anon.do("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
			"identifier": "kim@example.com", "password": "recovered passphrase 7"})
		must(t, ok, 200)
	})
}

// TestDoneWhenBrowser runs the "Done when" sequence for a browser
// that only follows cookies, forms and redirects (fetching flows as an SSR
// UI does): register in two screens and land on the verification UI,
// whoami with the cookie, change a trait and the password, log out, recover
// the account with an e-mailed code and set a new password in the settings
// flow the recovery hands over, open the verification link from the
// registration mail, and log in again.
func TestDoneWhenBrowser(t *testing.T) {
	t.Parallel()
	onMailBackends(t, func(cfg *config.Config) {
		cfg.SelfService.Flows.Registration.After.Password.Hooks = []config.Hook{{Hook: "session"}, {Hook: "show_verification_ui"}}
	}, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		b := e.browser(t)
		ui := func(kind string) string { return e.base + "ui/" + kind + "?flow=" }
		const addr = "lou@example.com"

		// Registration: traits, then the password; the show_verification_ui
		// hook sends the browser to the verification UI.
		id := flowID(t, b.do("GET", "/self-service/registration/browser", nil))
		_, form := browserForm(t, b, "registration", id, url.Values{"method": {"profile"}, "traits.email": {addr}})
		location(t, b.do("POST", "/self-service/registration?flow="+id, form), ui("registration")+id)
		_, form = browserForm(t, b, "registration", id, url.Values{"method": {"password"}, "traits.email": {addr},
			"password": {"correct horse battery"}})
		vloc := location(t, b.do("POST", "/self-service/registration?flow="+id, form), ui("verification"))
		verifyMail := box.Wait(t, addr, 1).Plain()
		verifyLink := linkIn(t, verifyMail)
		if u, _ := url.Parse(vloc); !strings.Contains(verifyLink, "flow="+u.Query().Get("flow")) {
			t.Errorf("verification UI %q and mailed link %q name different flows", vloc, verifyLink)
		}

		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		identityID := who.hdr.Get("X-Kratos-Authenticated-Identity-Id")
		if e.addressVerified(t, identityID, addr) {
			t.Fatal("address verified before anything proved it")
		}

		// Settings: a trait, then the password.
		sid := flowID(t, b.do("GET", "/self-service/settings/browser", nil))
		_, form = browserForm(t, b, "settings", sid, url.Values{"method": {"profile"}, "traits.email": {addr}, "traits.name": {"Lou"}})
		location(t, b.do("POST", "/self-service/settings?flow="+sid, form), ui("settings")+sid)
		_, form = browserForm(t, b, "settings", sid, url.Values{"method": {"password"}, "password": {"a changed passphrase 3"}})
		location(t, b.do("POST", "/self-service/settings?flow="+sid, form), ui("settings")+sid)

		// Logout.
		lo := b.do("GET", "/self-service/logout/browser", nil)
		must(t, lo, http.StatusOK)
		location(t, b.do("GET", lo.json(t)["logout_url"].(string), nil), "")
		must(t, b.do("GET", "/sessions/whoami", nil), http.StatusUnauthorized)

		// Recovery by an e-mailed code, then a new password in the settings
		// flow it hands over (the browser now holds a privileged session).
		rid := flowID(t, b.do("GET", "/self-service/recovery/browser", nil))
		_, form = browserForm(t, b, "recovery", rid, url.Values{"method": {"code"}, "email": {addr}})
		location(t, b.do("POST", "/self-service/recovery?flow="+rid, form), ui("recovery")+rid)
		code := codeIn(t, box.WaitFor(t, addr, "Recover access to your account").Plain())
		f, form := browserForm(t, b, "recovery", rid, url.Values{"method": {"code"}, "code": {code}})
		if f["state"] != "sent_email" {
			t.Fatalf("recovery flow state %v", f["state"])
		}
		sloc := location(t, b.do("POST", "/self-service/recovery?flow="+rid, form), ui("settings"))
		sid = flowID(t, resp{code: http.StatusSeeOther, hdr: http.Header{"Location": {sloc}}})
		f, form = browserForm(t, b, "settings", sid, url.Values{"method": {"password"}, "password": {"recovered passphrase 8"}})
		if !hasID(messageIDs(f), kratos.MsgRecoverySuccessful) {
			t.Errorf("settings flow after recovery lacks 1060001: %v", messageIDs(f))
		}
		location(t, b.do("POST", "/self-service/settings?flow="+sid, form), ui("settings")+sid)
		lo = b.do("GET", "/self-service/logout/browser", nil)
		must(t, lo, http.StatusOK)
		location(t, b.do("GET", lo.json(t)["logout_url"].(string), nil), "")

		// The verification link from the registration mail.
		vres := b.do("GET", verifyLink, nil)
		vid := flowID(t, resp{code: http.StatusSeeOther, hdr: http.Header{"Location": {location(t, vres, ui("verification"))}}})
		vf := b.do("GET", "/self-service/verification/flows?id="+vid, nil)
		must(t, vf, http.StatusOK)
		if stateOf(t, vf) != "passed_challenge" || !hasID(messageIDs(vf.json(t)), kratos.MsgVerificationSuccessful) {
			t.Errorf("verification flow: %s", vf.body)
		}
		if !e.addressVerified(t, identityID, addr) {
			t.Error("address not verified")
		}

		// Login with the recovered password.
		lid := flowID(t, b.do("GET", "/self-service/login/browser", nil))
		_, form = browserForm(t, b, "login", lid, url.Values{"method": {"password"}, "identifier": {addr}, "password": {"recovered passphrase 8"}})
		location(t, b.do("POST", "/self-service/login?flow="+lid, form), e.base)
		who = b.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		if got := who.hdr.Get("X-Kratos-Authenticated-Identity-Id"); got != identityID {
			t.Errorf("logged in as %s, want %s", got, identityID)
		}
	})
}

// TestRecoveryAfterReturnURL: recovery.after.default_browser_return_url is
// where the settings flow a recovery hands over returns to when the
// recovery was started without return_to, as in Kratos.
func TestRecoveryAfterReturnURL(t *testing.T) {
	t.Parallel()
	opt, box := withMail(t, func(cfg *config.Config) {
		cfg.SelfService.Flows.Recovery.After.DefaultBrowserReturnURL = "https://app.example.com/recovered"
	})
	e := newSelfServiceEnv(t, opt)
	e.createUser(t, "iris@example.com")
	c := e.native(t)
	id := flowID(t, c.do("GET", "/self-service/recovery/api", nil))
	must(t, c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "email": "iris@example.com"}), 200)
	done := c.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": codeIn(t, box.Wait(t, "iris@example.com", 1).Plain())})
	must(t, done, 200)
	cw := continueWith(t, done)
	c.token, _ = cw["set_ory_session_token"]["ory_session_token"].(string)
	sf := c.do("GET", "/self-service/settings/flows?id="+cw["show_settings_ui"]["flow"].(map[string]any)["id"].(string), nil)
	must(t, sf, 200)
	if rt, _ := sf.json(t)["return_to"].(string); rt != "https://app.example.com/recovered" {
		t.Errorf("settings flow return_to %q", rt)
	}
}
