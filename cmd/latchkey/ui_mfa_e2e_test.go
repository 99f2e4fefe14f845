package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
)

var (
	totpSecretRe = regexp.MustCompile(`<code>([A-Z2-7]{16,})</code>`)
	lookupCodeRe = regexp.MustCompile(`<li><code>([a-z0-9]{8})</code></li>`)
)

func uiTOTPCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHostedUIMFA: on the hosted pages (forms, no JavaScript) a user sets
// up backup codes, steps up with one to set up TOTP, and logs in at aal2
// with TOTP and with a backup code, each code once.
func TestHostedUIMFA(t *testing.T) {
	devEnv(t)
	port := freePort(t)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_PORT", port)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_BASE_URL", "http://127.0.0.1:"+port+"/")
	t.Setenv("LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED", "true")
	t.Setenv("LATCHKEY_SELFSERVICE_METHODS_LOOKUP_SECRET_ENABLED", "true")
	public, _, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: false})
	const email, pw = "ada@example.com", "correct horse battery staple"
	b := newUIBrowser(t)

	p := b.get(public+"/self-service/registration/browser", "/ui/registration")
	p = b.expect(b.submit(p, "Sign up", map[string]string{"traits.email": email, "traits.name": "Ada",
		"traits.username": "", "traits.picture": ""}), "/ui/registration")
	p = b.submit(p, "Sign up", map[string]string{"password": pw})
	if code, _ := b.whoami(public); code != http.StatusOK {
		t.Fatalf("whoami after registration = %d", code)
	}

	// Backup codes: generate, confirm.
	p = b.get(public+"/ui/settings", "/ui/settings")
	p = b.expect(b.submit(p, "Generate new backup recovery codes", nil), "/ui/settings")
	var codes []string
	for _, m := range lookupCodeRe.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 12 {
		t.Fatalf("%d backup codes on the page:\n%s", len(codes), p.body)
	}
	// Confirming saves them; settings then need aal2, so the browser goes
	// on to the aal2 login, where a backup code steps the same session up
	// and a fresh settings flow opens.
	p = b.expect(b.submit(p, "Confirm backup recovery codes", nil), "/ui/login")
	if !strings.Contains(p.body, `data-id="1010004"`) || !strings.Contains(p.body, `name="lookup_secret"`) || strings.Contains(p.body, `name="password"`) {
		t.Fatalf("aal2 login page:\n%s", p.body)
	}
	if code, _ := b.whoami(public); code != http.StatusForbidden {
		t.Fatalf("whoami of the aal1 session with a second factor = %d, want 403", code)
	}
	b.get(public+"/ui/settings", "/ui/login")
	p = b.expect(b.submit(p, "Use backup recovery code", map[string]string{"lookup_secret": "nope1234"}), "/ui/login")
	if !strings.Contains(p.body, `data-id="4000016"`) {
		t.Fatalf("wrong backup code:\n%s", p.body)
	}
	p = b.expect(b.submit(p, "Use backup recovery code", map[string]string{"lookup_secret": codes[0]}), "/ui/settings")
	if code, _ := b.whoami(public); code != http.StatusOK {
		t.Fatalf("whoami after the backup code = %d", code)
	}

	// TOTP: the QR code and the secret, then a code from the app.
	m := totpSecretRe.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("no TOTP set-up on the settings page:\n%s", p.body)
	}
	secret := html.UnescapeString(m[1])
	p = b.expect(b.submit(p, "Save", map[string]string{"totp_code": uiTOTPCode(t, secret, time.Now())}), "/ui/settings")
	if !strings.Contains(p.body, `data-id="1050001"`) || !strings.Contains(p.body, "Unlink TOTP Authenticator App") {
		t.Fatalf("TOTP not saved:\n%s", p.body)
	}

	// A new browser: password, then the aal2 page asks for a code.
	n := newUIBrowser(t)
	p = n.get(public+"/ui/login", "/ui/login")
	p = n.expect(n.submit(p, "Sign in with password", map[string]string{"identifier": email, "password": pw}), "/ui/login")
	if !strings.Contains(p.body, `name="totp_code"`) || !strings.Contains(p.body, `name="lookup_secret"`) {
		t.Fatalf("aal2 page after the password:\n%s", p.body)
	}
	// The used backup code is refused, shown as used.
	p = n.expect(n.submit(p, "Use backup recovery code", map[string]string{"lookup_secret": codes[0]}), "/ui/login")
	if !strings.Contains(p.body, `data-id="4000012"`) {
		t.Fatalf("used backup code:\n%s", p.body)
	}
	p = n.submit(p, "Use Authenticator", map[string]string{"totp_code": uiTOTPCode(t, secret, time.Now().Add(30*time.Second))})
	if p.status != http.StatusOK || p.url.Path == "/ui/login" {
		t.Fatalf("TOTP login ended at %s with %d:\n%s", p.url, p.status, p.body)
	}
	if code, got := n.whoami(public); code != http.StatusOK || got != email {
		t.Fatalf("whoami after TOTP = %d %q", code, got)
	}

	// A third browser uses another backup code.
	o := newUIBrowser(t)
	p = o.get(public+"/ui/login", "/ui/login")
	p = o.expect(o.submit(p, "Sign in with password", map[string]string{"identifier": email, "password": pw}), "/ui/login")
	p = o.submit(p, "Use backup recovery code", map[string]string{"lookup_secret": codes[1]})
	if code, _ := o.whoami(public); p.status != http.StatusOK || code != http.StatusOK {
		t.Fatalf("backup code login ended at %s (%d), whoami %d", p.url, p.status, code)
	}
}
