package main

import (
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// uiBrowser is a cookie-jar client that follows redirects and submits the
// hosted pages' forms, as a browser without JavaScript does.
type uiBrowser struct {
	t      *testing.T
	client *http.Client
}

func newUIBrowser(t *testing.T) *uiBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &uiBrowser{t: t, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// uiPage is a fetched page: where the redirects ended, its status and body.
type uiPage struct {
	url    *url.URL
	status int
	body   string
}

func (b *uiBrowser) do(method, target string, form url.Values) uiPage {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return uiPage{url: res.Request.URL, status: res.StatusCode, body: string(raw)}
}

// get fetches target and fails unless the redirects end at a hosted page
// (path want) answering 200.
func (b *uiBrowser) get(target, want string) uiPage {
	b.t.Helper()
	return b.expect(b.do("GET", target, nil), want)
}

func (b *uiBrowser) expect(p uiPage, want string) uiPage {
	b.t.Helper()
	if p.status != http.StatusOK || p.url.Path != want {
		b.t.Fatalf("ended at %s with %d, want %s with 200:\n%s", p.url, p.status, want, p.body)
	}
	if !strings.Contains(p.body, "<!doctype html>") {
		b.t.Fatalf("%s is not a hosted page:\n%s", p.url, p.body)
	}
	return p
}

var (
	formRe   = regexp.MustCompile(`(?s)<form action="([^"]*)" method="([^"]*)">(.*?)</form>`)
	inputRe  = regexp.MustCompile(`<input [^>]*>`)
	buttonRe = regexp.MustCompile(`<button type="submit" name="([^"]*)" value="([^"]*)"[^>]*>([^<]*)</button>`)
	attrRe   = regexp.MustCompile(`\s([a-z-]+)="([^"]*)"`)
	linkRe   = regexp.MustCompile(`<a href="([^"]*)">([^<]*)</a>`)
)

// uiForm is a parsed form: its action, its inputs' values and its submit
// buttons (label → name=value).
type uiForm struct {
	action  string
	values  url.Values
	buttons map[string][2]string
}

// form parses the page's forms and returns the first one having a submit
// button labelled label and an input for each of fields.
func (p uiPage) form(t *testing.T, label string, fields map[string]string) uiForm {
	t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		f := uiForm{action: html.UnescapeString(m[1]), values: url.Values{}, buttons: map[string][2]string{}}
		if !strings.EqualFold(m[2], "POST") {
			t.Fatalf("form method %q", m[2])
		}
		for _, in := range inputRe.FindAllString(m[3], -1) {
			attrs := map[string]string{}
			for _, a := range attrRe.FindAllStringSubmatch(in, -1) {
				attrs[a[1]] = html.UnescapeString(a[2])
			}
			if attrs["type"] == "checkbox" && !strings.Contains(in, " checked") {
				continue
			}
			f.values.Set(attrs["name"], attrs["value"])
		}
		for _, bm := range buttonRe.FindAllStringSubmatch(m[3], -1) {
			f.buttons[html.UnescapeString(bm[3])] = [2]string{html.UnescapeString(bm[1]), html.UnescapeString(bm[2])}
		}
		_, ok := f.buttons[label]
		for k := range fields {
			if _, has := f.values[k]; !has {
				ok = false
			}
		}
		if ok {
			return f
		}
	}
	t.Fatalf("%s has no form with a %q button and inputs for %v:\n%s", p.url, label, fields, p.body)
	return uiForm{}
}

// link returns the href of the page's link with text text.
func (p uiPage) link(t *testing.T, text string) string {
	t.Helper()
	for _, m := range linkRe.FindAllStringSubmatch(p.body, -1) {
		if html.UnescapeString(m[2]) == text {
			return html.UnescapeString(m[1])
		}
	}
	t.Fatalf("%s has no %q link:\n%s", p.url, text, p.body)
	return ""
}

// submit fills fields and presses the button labelled label.
func (b *uiBrowser) submit(p uiPage, label string, fields map[string]string) uiPage {
	b.t.Helper()
	f := p.form(b.t, label, fields)
	for k, v := range fields {
		f.values.Set(k, v)
	}
	if f.values.Get("csrf_token") == "" {
		b.t.Fatalf("%s: the %q form has no csrf_token", p.url, label)
	}
	btn := f.buttons[label]
	f.values.Set(btn[0], btn[1])
	action, err := p.url.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do("POST", action.String(), f.values)
}

// whoami returns GET /sessions/whoami's status with the jar's cookies,
// and the session's e-mail trait.
func (b *uiBrowser) whoami(public string) (int, string) {
	b.t.Helper()
	var s struct {
		Identity struct {
			Traits map[string]any `json:"traits"`
		} `json:"identity"`
	}
	code := b.session(public, &s)
	email, _ := s.Identity.Traits["email"].(string)
	return code, email
}

// session decodes GET /sessions/whoami with the jar's cookies into v and
// returns the status.
func (b *uiBrowser) session(public string, v any) int {
	b.t.Helper()
	req, _ := http.NewRequest("GET", public+"/sessions/whoami", nil)
	req.Header.Set("Accept", "application/json")
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	_ = json.NewDecoder(res.Body).Decode(v)
	return res.StatusCode
}

// TestHostedUI walks the hosted pages through the real binary's wiring
// (serve --dev on a fresh SQLite file) with a cookie jar and plain form
// posts: registration in two screens, whoami by cookie, logout from the
// landing page, login through /ui/login, settings, and account recovery by
// the code the courier queued.
func TestHostedUI(t *testing.T) {
	devEnv(t)
	// Browsers follow the face's absolute redirects, so the public base
	// URL must name the port the listener really uses.
	port := freePort(t)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_PORT", port)
	t.Setenv("LATCHKEY_SERVE_PUBLIC_BASE_URL", "http://127.0.0.1:"+port+"/")
	public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: false})
	const email, pw, newPW = "grace@example.com", "correct horse battery staple", "analytical engine notes"
	b := newUIBrowser(t)

	// Registration starts at the API and lands on the hosted page.
	p := b.get(public+"/self-service/registration/browser", "/ui/registration")
	if !strings.Contains(p.url.RawQuery, "flow=") {
		t.Fatalf("registration page without flow: %s", p.url)
	}
	// Traits come in the schema file's order (the face lists them by name).
	order := []string{`name="traits.email"`, `name="traits.username"`, `name="traits.name"`, `name="traits.given_name"`,
		`name="traits.family_name"`, `name="traits.picture"`, `value="profile"`}
	for i := 1; i < len(order); i++ {
		if a, b := strings.Index(p.body, order[i-1]), strings.Index(p.body, order[i]); a < 0 || b < a {
			t.Fatalf("registration page: %s not before %s:\n%s", order[i-1], order[i], p.body)
		}
	}
	if lp := b.get(public+"/self-service/login/browser", "/ui/login"); !strings.Contains(lp.body, `>E-Mail / Username</label>`) ||
		!strings.Contains(lp.body, `autocomplete="username"`) || !strings.Contains(lp.body, `autocomplete="current-password"`) {
		t.Fatalf("login page: identifier not labelled from the schema, or autocomplete missing:\n%s", lp.body)
	}
	// A browser sends "" for every empty input: the optional username
	// (minLength 3) and picture (format uri) left empty must not fail.
	p = b.expect(b.submit(p, "Sign up", map[string]string{"traits.email": email, "traits.name": "Grace <Hopper>",
		"traits.username": "", "traits.picture": ""}), "/ui/registration")
	if !strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, "Grace &lt;Hopper&gt;") {
		t.Fatalf("no credentials screen with the escaped trait:\n%s", p.body)
	}
	p = b.submit(p, "Sign up", map[string]string{"password": pw})
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/ui/") {
		t.Fatalf("registration ended at %s with %d:\n%s", p.url, p.status, p.body)
	}
	if code, got := b.whoami(public); code != http.StatusOK || got != email {
		t.Fatalf("whoami after registration = %d %q", code, got)
	}

	// The landing page shows the account and logs out.
	p = b.get(public+"/ui/", "/ui/")
	if !strings.Contains(p.body, "Signed in as <strong>"+email+"</strong>") {
		t.Fatalf("landing page does not show the account:\n%s", p.body)
	}
	p = b.do("GET", p.link(t, "Log out"), nil)
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/ui/") {
		t.Fatalf("logout ended at %s with %d", p.url, p.status)
	}
	if code, _ := b.whoami(public); code != http.StatusUnauthorized {
		t.Fatalf("whoami after logout = %d, want 401", code)
	}

	// Login through /ui/login: a wrong password comes back with the
	// flow's message, the right one signs in.
	p = b.get(public+"/ui/login", "/ui/login")
	p = b.expect(b.submit(p, "Sign in with password", map[string]string{"identifier": email, "password": "wrong password!"}), "/ui/login")
	if !strings.Contains(p.body, `data-id="4000006"`) {
		t.Fatalf("no invalid-credentials message:\n%s", p.body)
	}
	p = b.submit(p, "Sign in with password", map[string]string{"password": pw})
	if p.status != http.StatusOK {
		t.Fatalf("login ended at %s with %d", p.url, p.status)
	}
	if code, got := b.whoami(public); code != http.StatusOK || got != email {
		t.Fatalf("whoami after login = %d %q", code, got)
	}

	// Settings: the password form saves on its own.
	p = b.get(public+"/ui/settings", "/ui/settings")
	if !strings.Contains(p.body, "Signed in as <strong>"+email+"</strong>") || strings.Count(p.body, "<form ") < 2 {
		t.Fatalf("settings page:\n%s", p.body)
	}
	p = b.expect(b.submit(p, "Save", map[string]string{"password": newPW}), "/ui/settings")
	if !strings.Contains(p.body, `data-id="1050001"`) {
		t.Fatalf("settings not saved:\n%s", p.body)
	}

	// Recovery in a fresh browser: the code from the courier queue signs
	// in and lands on the settings page.
	r := newUIBrowser(t)
	if _, err := r.client.Get(public + "/ui/settings"); err != nil {
		t.Fatal(err)
	}
	p = r.get(public+"/ui/login", "/ui/login")
	p = r.get(public+p.link(t, "Recover your account"), "/ui/recovery")
	p = r.expect(r.submit(p, p.firstButton(t), map[string]string{"email": email}), "/ui/recovery")
	code := recoveryCode(t, admin, email)
	p = r.submit(p, p.firstButton(t), map[string]string{"code": code})
	p = r.expect(p, "/ui/settings")
	if c, got := r.whoami(public); c != http.StatusOK || got != email {
		t.Fatalf("whoami after recovery = %d %q", c, got)
	}

	// Unknown flows start over; errors render.
	b.get(public+"/ui/login?flow=00000000-0000-4000-8000-000000000000", "/ui/settings")
	if p = b.do("GET", public+"/ui/error?id=00000000-0000-4000-8000-000000000000", nil); p.status != http.StatusNotFound || !strings.Contains(p.body, "not known or has expired") {
		t.Fatalf("unknown error page = %d:\n%s", p.status, p.body)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// firstButton returns the label of the page's first submit button.
func (p uiPage) firstButton(t *testing.T) string {
	t.Helper()
	m := buttonRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("%s has no submit button:\n%s", p.url, p.body)
	}
	return html.UnescapeString(m[3])
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// recoveryCode reads the newest recovery code mailed to address from the
// courier queue through the admin API.
func recoveryCode(t *testing.T, admin, address string) string {
	t.Helper()
	res, err := http.Get(admin + "/admin/courier/messages?recipient=" + url.QueryEscape(address))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var msgs []struct {
		Recipient    string `json:"recipient"`
		Body         string `json:"body"`
		TemplateType string `json:"template_type"`
	}
	if err := json.NewDecoder(res.Body).Decode(&msgs); err != nil {
		t.Fatalf("courier messages: %v", err)
	}
	for _, m := range msgs {
		if m.Recipient == address && strings.Contains(m.TemplateType, "recovery_code") {
			if c := sixDigits.FindString(m.Body); c != "" {
				return c
			}
		}
	}
	t.Fatalf("no recovery code for %s in %+v", address, msgs)
	return ""
}
