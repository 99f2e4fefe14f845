package kratos_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// TestAdminRecoveryCode covers POST /admin/recovery/code (Ory SDK
// createRecoveryCodeForIdentity, found missing by e2e/kratos-sdk): a
// native flow recovered with the code the admin got, a browser flow (the
// default) completed from a browser that never started it, and the errors.
func TestAdminRecoveryCode(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		paul := e.createUser(t, "paul@example.com")
		admin := e.native(t)

		// Native: the app hands the code to its user, who submits it.
		r := admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": paul.ID, "flow_type": "api"})
		must(t, r, 201)
		m := r.json(t)
		link, _ := url.Parse(m["recovery_link"].(string))
		id := link.Query().Get("flow")
		if !strings.HasPrefix(m["recovery_link"].(string), e.base+"ui/recovery?flow=") || id == "" {
			t.Fatalf("recovery_link %v", m["recovery_link"])
		}
		exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
		if err != nil || !exp.After(e.clock.now()) {
			t.Errorf("expires_at %v (%v)", m["expires_at"], err)
		}
		code := m["recovery_code"].(string)
		user := e.native(t)
		f := user.do("GET", "/self-service/recovery/flows?id="+id, nil)
		must(t, f, 200)
		if stateOf(t, f) != "sent_email" || strings.Contains(string(f.body), "Resend code") {
			t.Errorf("admin flow: %s", f.body)
		}
		bad := user.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": "000000"})
		must(t, bad, 400)
		done := user.do("POST", "/self-service/recovery?flow="+id, map[string]any{"method": "code", "code": code})
		must(t, done, 200)
		cw := continueWith(t, done)
		if stateOf(t, done) != "passed_challenge" || cw["set_ory_session_token"] == nil || cw["show_settings_ui"] == nil {
			t.Fatalf("recovered: %s", done.body)
		}
		// An admin code proves no address: nothing is marked verified.
		if e.addressVerified(t, paul.ID, "paul@example.com") {
			t.Error("the admin code verified the address")
		}
		if n := len(box.To("paul@example.com")); n != 0 {
			t.Errorf("%d mails sent; the admin code is not mailed", n)
		}

		// Browser (default): completed from a browser without the flow's
		// anti-CSRF cookie, as the UI link is opened elsewhere.
		r = admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": paul.ID, "expires_in": "2h"})
		must(t, r, 201)
		m = r.json(t)
		link, _ = url.Parse(m["recovery_link"].(string))
		exp, _ = time.Parse(time.RFC3339, m["expires_at"].(string))
		if d := exp.Sub(e.clock.now()); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
			t.Errorf("expires_at %v is not 2h from now", exp)
		}
		b := e.browser(t)
		b.json = true
		fid := link.Query().Get("flow")
		fb := b.do("GET", "/self-service/recovery/flows?id="+fid, nil)
		must(t, fb, 200)
		sub := b.raw("POST", "/self-service/recovery?flow="+fid, map[string]any{"method": "code", "code": m["recovery_code"]})
		must(t, sub, 422)
		if to, _ := sub.json(t)["redirect_browser_to"].(string); !strings.HasPrefix(to, e.base+"ui/settings?flow=") {
			t.Errorf("browser recovery: %s", sub.body)
		}

		// Errors, as Kratos answers them.
		must(t, admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": "00000000-0000-0000-0000-000000000000"}), 404)
		must(t, admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": paul.ID, "expires_in": "soon"}), 400)
		must(t, admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": paul.ID, "expires_in": "-1h"}), 400)
		must(t, admin.do("POST", "/admin/recovery/code", map[string]any{"identity_id": paul.ID, "flow_type": "desktop"}), 400)
	})
}

// TestAdminRecoveryLink covers POST /admin/recovery/link (Ory SDK
// createRecoveryLinkForIdentity): the link, opened in a browser, recovers
// the account into the settings UI with a session.
func TestAdminRecoveryLink(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, box *couriertest.SMTPServer) {
		rita := e.createUser(t, "rita@example.com")
		r := e.native(t).do("POST", "/admin/recovery/link", map[string]any{"identity_id": rita.ID})
		must(t, r, 200)
		link := r.json(t)["recovery_link"].(string)
		if !strings.HasPrefix(link, e.base+"self-service/recovery?") || !strings.Contains(link, "token=") {
			t.Fatalf("recovery_link %q", link)
		}
		b := e.browser(t)
		got := b.do("GET", link, nil)
		must(t, got, 303)
		if loc := got.hdr.Get("Location"); !strings.HasPrefix(loc, e.base+"ui/settings?flow=") {
			t.Fatalf("link opened: Location %q", loc)
		}
		b.json = true
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if id := who.json(t)["identity"].(map[string]any)["id"]; id != rita.ID {
			t.Errorf("session of %v", id)
		}
		// The token works once.
		again := e.browser(t).do("GET", link, nil)
		if again.code == 303 && strings.Contains(again.hdr.Get("Location"), "ui/settings") {
			t.Error("the admin link worked twice")
		}
		if n := len(box.To("rita@example.com")); n != 0 {
			t.Errorf("%d mails sent", n)
		}
	})
}
