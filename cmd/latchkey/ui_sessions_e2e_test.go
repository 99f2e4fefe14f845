package main

import (
	"net/http"
	"strings"
	"testing"
)

// sessionID returns the id of the browser's session (whoami), or "".
func (b *uiBrowser) sessionID(public string) string {
	b.t.Helper()
	var s struct {
		ID string `json:"id"`
	}
	if b.session(public, &s) != http.StatusOK {
		return ""
	}
	return s.ID
}

// TestHostedUISessions: on the settings page one browser sees the
// account's other sessions, signs one out, then signs out everywhere else,
// through the face's DELETE /sessions/{id} and DELETE /sessions; a post
// without the pages' anti-CSRF token signs nothing out.
func TestHostedUISessions(t *testing.T) {
	devEnv(t)
	port := freePort(t)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_PORT", port)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_BASE_URL", "http://127.0.0.1:"+port+"/")
	public, _, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: false})
	const email, pw = "hedy@example.com", "frequency hopping spread"

	a := newUIBrowser(t)
	p := a.get(public+"/ui/registration", "/ui/registration")
	p = a.expect(a.submit(p, "Sign up", map[string]string{"traits.email": email, "traits.name": "Hedy",
		"traits.username": "", "traits.picture": ""}), "/ui/registration")
	a.submit(p, "Sign up", map[string]string{"password": pw})
	login := func() (*uiBrowser, string) {
		b := newUIBrowser(t)
		p := b.get(public+"/ui/login", "/ui/login")
		b.submit(p, "Sign in with password", map[string]string{"identifier": email, "password": pw})
		id := b.sessionID(public)
		if id == "" {
			t.Fatal("no session after signing in")
		}
		return b, id
	}
	b, bID := login()
	c, cID := login()
	aID := a.sessionID(public)

	p = a.get(public+"/ui/settings", "/ui/settings")
	for _, want := range []string{"Sessions and devices", "This device", `name="revoke" value="` + bID + `"`,
		`name="revoke" value="` + cID + `"`, "Sign out everywhere else", "<dt>IP address</dt><dd>127.0.0.1</dd>"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("settings page lacks %q:\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, `value="`+aID+`"`) {
		t.Fatalf("the current session can be signed out from the list:\n%s", p.body)
	}
	post := func(p uiPage, revoke string, withToken bool) uiPage {
		f := p.form(t, "Sign out everywhere else", map[string]string{"csrf_token": "", "flow": ""})
		f.values.Set("revoke", revoke)
		if !withToken {
			f.values.Del("csrf_token")
		}
		action, _ := p.url.Parse(f.action)
		return a.do("POST", action.String(), f.values)
	}

	// A forged post (no token) signs nothing out.
	if fp := post(p, "others", false); fp.status != http.StatusForbidden || !strings.Contains(fp.body, "The form could not be verified") {
		t.Fatalf("post without the token = %d:\n%s", fp.status, fp.body)
	}
	if b.sessionID(public) != bID || c.sessionID(public) != cID {
		t.Fatal("a forged post signed a session out")
	}

	// One session.
	p = a.expect(post(p, bID, true), "/ui/settings")
	if !strings.Contains(p.body, "The session was signed out.") || strings.Contains(p.body, `value="`+bID+`"`) ||
		!strings.Contains(p.body, `value="`+cID+`"`) {
		t.Fatalf("after signing one session out:\n%s", p.body)
	}
	if code, _ := b.whoami(public); code != http.StatusUnauthorized {
		t.Fatalf("whoami of the signed-out session = %d, want 401", code)
	}
	if c.sessionID(public) != cID || a.sessionID(public) != aID {
		t.Fatal("signing one session out ended another")
	}
	// A session that is not the account's (or not at all).
	if g := a.expect(post(p, "00000000-0000-4000-8000-000000000000", true), "/ui/settings"); !strings.Contains(g.body, "That session was already signed out.") {
		t.Fatalf("signing an unknown session out:\n%s", g.body)
	}

	// Everywhere else.
	p = a.expect(post(p, "others", true), "/ui/settings")
	if !strings.Contains(p.body, "All your other sessions were signed out.") || !strings.Contains(p.body, "No other sessions are signed in.") {
		t.Fatalf("after signing out everywhere else:\n%s", p.body)
	}
	if code, _ := c.whoami(public); code != http.StatusUnauthorized {
		t.Fatalf("whoami of another session = %d, want 401", code)
	}
	if a.sessionID(public) != aID {
		t.Fatal("signing out everywhere else ended this session")
	}
	if !strings.Contains(p.url.RawQuery, "flow=") {
		t.Fatalf("the page did not come back to its flow: %s", p.url)
	}
}
