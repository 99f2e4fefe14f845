package kratos_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBrowserFormsMFA drives TOTP and backup codes the way a browser does
// without JavaScript (and as Ory's UIs submit natively): form-encoded
// posts with the csrf_token, every step answered with a 303 — set up TOTP
// in settings, the password login's step up to the aal2 flow, TOTP there,
// backup codes generated and confirmed in settings, and a login with a
// backup code.
func TestBrowserFormsMFA(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t, withMFA(t))
	b := e.browser(t)
	ui := func(kind string) string { return e.base + "ui/" + kind + "?flow=" }
	post := func(kind, id string, fields url.Values) resp {
		t.Helper()
		_, form := browserForm(t, b, kind, id, fields)
		return b.do("POST", "/self-service/"+kind+"?flow="+id, form)
	}
	fetch := func(kind, id string) map[string]any {
		t.Helper()
		f := b.do("GET", "/self-service/"+kind+"/flows?id="+id, nil)
		must(t, f, http.StatusOK)
		return f.json(t)
	}
	passwordStep := func() string {
		t.Helper()
		id := flowID(t, b.do("GET", "/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fhome", nil))
		r := post("login", id, url.Values{"method": {"password"}, "identifier": {"mia@example.com"}, "password": {"correct horse battery"}})
		loc := location(t, r, e.base+"self-service/login/browser?aal=aal2")
		return flowID(t, b.do("GET", strings.TrimPrefix(loc, strings.TrimSuffix(e.base, "/")), nil))
	}

	// Registration in two screens.
	id := flowID(t, b.do("GET", "/self-service/registration/browser", nil))
	location(t, post("registration", id, url.Values{"method": {"profile"}, "traits.email": {"mia@example.com"}}), ui("registration")+id)
	location(t, post("registration", id, url.Values{"method": {"password"}, "traits.email": {"mia@example.com"},
		"password": {"correct horse battery"}}), e.base)

	// TOTP: a wrong code, then the right one.
	sid := flowID(t, b.do("GET", "/self-service/settings/browser", nil))
	sk := nodeByName(t, fetch("settings", sid), "totp_secret_key")
	if sk == nil {
		t.Fatal("no totp_secret_key node")
	}
	secret, _ := sk["attributes"].(map[string]any)["text"].(map[string]any)["context"].(map[string]any)["secret"].(string)
	location(t, post("settings", sid, url.Values{"method": {"totp"}, "totp_code": {"000000"}}), ui("settings")+sid)
	if !hasID(messageIDs(fetch("settings", sid)), 4000008) {
		t.Fatal("a wrong TOTP code shows no 4000008")
	}
	location(t, post("settings", sid, url.Values{"method": {"totp"}, "totp_code": {totpCode(t, secret, e.clock.now())}}), ui("settings")+sid)
	// The identity now has a second factor and the session is aal1: the
	// settings flow asks for aal2 (highest_available), as Kratos' does.
	must(t, b.do("GET", "/self-service/settings/flows?id="+sid, nil), http.StatusForbidden)

	// Log out, then password and TOTP (aal2).
	logoutBrowser(t, b)
	aid := passwordStep()
	location(t, post("login", aid, url.Values{"method": {"totp"}, "totp_code": {totpCode(t, secret, e.clock.now().Add(30*time.Second))}}),
		"https://app.example.com/home")
	who := b.do("GET", "/sessions/whoami", nil)
	must(t, who, http.StatusOK)
	if aal, _ := sessionAAL(t, who); aal != "aal2" {
		t.Fatalf("after TOTP: %s", who.body)
	}

	// Backup codes: generate, confirm.
	sid = flowID(t, b.do("GET", "/self-service/settings/browser", nil))
	location(t, post("settings", sid, url.Values{"method": {"lookup_secret"}, "lookup_secret_regenerate": {"true"}}), ui("settings")+sid)
	codes := nodeByName(t, fetch("settings", sid), "lookup_secret_codes")
	if codes == nil {
		t.Fatal("no lookup_secret_codes node after regenerate")
	}
	secrets := asList(codes["attributes"].(map[string]any)["text"].(map[string]any)["context"].(map[string]any)["secrets"])
	if len(secrets) == 0 {
		t.Fatalf("no codes: %v", codes)
	}
	backup := secrets[0].(map[string]any)["text"].(string)
	location(t, post("settings", sid, url.Values{"method": {"lookup_secret"}, "lookup_secret_confirm": {"true"}}), ui("settings")+sid)
	if f := fetch("settings", sid); f["state"] != "success" || nodeByName(t, f, "totp_unlink") == nil {
		t.Fatalf("after confirming codes: %v", f)
	}

	// Log out, then password and a backup code.
	logoutBrowser(t, b)
	aid = passwordStep()
	location(t, post("login", aid, url.Values{"method": {"lookup_secret"}, "lookup_secret": {backup}}), "https://app.example.com/home")
	who = b.do("GET", "/sessions/whoami", nil)
	must(t, who, http.StatusOK)
	if aal, methods := sessionAAL(t, who); aal != "aal2" || !strings.Contains(strings.Join(methods, " "), "lookup_secret") {
		t.Fatalf("after a backup code: %s", who.body)
	}
}

// logoutBrowser logs a browser out as Ory's UIs do: the logout URL, then a
// plain GET of it.
func logoutBrowser(t *testing.T, b *client) {
	t.Helper()
	b.json = true
	lo := b.do("GET", "/self-service/logout/browser", nil)
	b.json = false
	must(t, lo, http.StatusOK)
	u, _ := lo.json(t)["logout_url"].(string)
	must(t, b.do("GET", u, nil), http.StatusSeeOther)
	must(t, b.do("GET", "/sessions/whoami", nil), http.StatusUnauthorized)
}
