package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// browserFlow starts a browser flow of kind as a SPA would (Accept:
// application/json) and returns the flow and the cookies it set.
func browserFlow(t *testing.T, public, kind, query string) (map[string]any, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", public+"/self-service/"+kind+"/browser"+query, nil)
	req.Header.Set("Accept", "application/json")
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var f map[string]any
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s browser flow: %d %v %v", kind, res.StatusCode, err, f)
	}
	return f, res.Cookies()
}

// csrfToken returns the csrf_token node's value of a flow.
func csrfToken(t *testing.T, f map[string]any) string {
	t.Helper()
	ui, _ := f["ui"].(map[string]any)
	nodes, _ := ui["nodes"].([]any)
	for _, n := range nodes {
		n, _ := n.(map[string]any)
		if a, _ := n["attributes"].(map[string]any); a["name"] == "csrf_token" {
			s, _ := a["value"].(string)
			return s
		}
	}
	t.Fatalf("no csrf_token node: %v", f)
	return ""
}

// browserRegister registers with a password through a browser flow,
// posting a form (as a browser without JavaScript) and sending the flow's
// cookies by hand (so attributes such as Domain do not keep them back). It
// returns the answer, not following its redirect.
func browserRegister(t *testing.T, public, email, pw string) *http.Response {
	t.Helper()
	return browserSubmit(t, public, "registration", url.Values{"method": {"password"}, "traits.email": {email}, "password": {pw}})
}

// browserSubmit submits form to a new browser flow of kind as
// browserRegister does.
func browserSubmit(t *testing.T, public, kind string, form url.Values) *http.Response {
	t.Helper()
	f, cookies := browserFlow(t, public, kind, "")
	form.Set("csrf_token", csrfToken(t, f))
	req, _ := http.NewRequest("POST", public+"/self-service/"+kind+"?flow="+fmt.Sprint(f["id"]), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// setCookie returns the raw Set-Cookie header of res for the cookie name.
func setCookie(res *http.Response, name string) string {
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// TestMoreConfigKeysChangeBehaviour continues TestConfigKeysChangeBehaviour
// with the keys operators moving from Kratos rely on most: session cookie
// attributes, return URL allow-lists (custom schemes included), flow
// lifespans and UI URLs, default return URLs, hashers, rate limits,
// disabled flows and methods, privileged sessions and courier templates.
// Each case sets the key to a value other than its default and watches the
// served answer change.
func TestMoreConfigKeysChangeBehaviour(t *testing.T) {
	const pw = "correct horse battery staple"
	register := `{"method":"password","traits":{"email":"ada@example.com"},"password":"` + pw + `"}`
	logs := &syncBuffer{}
	smtpBox := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, public, admin string)
	}{
		{"log.level, log.format", map[string]string{"LATCHKEY_LOG_LEVEL": "info", "LATCHKEY_LOG_FORMAT": "json"},
			func(t *testing.T, public, _ string) {
				getJSON(t, public+"/self-service/login/api?secret=x")
				var line map[string]any
				for _, l := range strings.Split(logs.String(), "\n") {
					var m map[string]any
					if json.Unmarshal([]byte(l), &m) == nil && m["route"] != nil && strings.Contains(fmt.Sprint(m["route"]), "/self-service/login/api") {
						line = m
					}
				}
				if line == nil || line["level"] != "INFO" || line["status"] != float64(200) {
					t.Fatalf("no JSON info request line for the login flow in:\n%s", logs.String())
				}
				if strings.Contains(logs.String(), "secret=x") {
					t.Errorf("the query string was logged")
				}
			}},
		{"serve.public.base_url", map[string]string{"LATCHKEY_SERVE_PUBLIC_BASE_URL": "https://id.example.com/"},
			func(t *testing.T, public, _ string) {
				_, f := getJSON(t, public+"/self-service/login/api")
				ui, _ := f["ui"].(map[string]any)
				if a, _ := ui["action"].(string); !strings.HasPrefix(a, "https://id.example.com/self-service/login?flow=") {
					t.Errorf("flow action %q, want it on the configured base URL", a)
				}
			}},
		{"selfservice.flows.{recovery,verification}.enabled", map[string]string{
			"LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_ENABLED": "false", "LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_ENABLED": "false"},
			func(t *testing.T, public, admin string) {
				for _, kind := range []string{"recovery", "verification"} {
					if code, f := getJSON(t, public+"/self-service/"+kind+"/api"); code == http.StatusOK {
						t.Errorf("%s flow while disabled: %d %v", kind, code, f)
					}
				}
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusOK {
					t.Fatalf("registration = %d %v", code, r)
				}
				if _, msgs := getJSONArray(t, admin+"/admin/courier/messages?recipient=ada@example.com"); len(msgs) != 0 {
					t.Errorf("verification off, but registration queued %v", msgs)
				}
			}},
		{"selfservice.flows.{login,logout}.after.default_browser_return_url", map[string]string{
			"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS":                           "https://app.example.com/",
			"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_AFTER_DEFAULT_BROWSER_RETURN_URL":  "https://app.example.com/signed-in",
			"LATCHKEY_SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL": "https://app.example.com/bye"},
			func(t *testing.T, public, _ string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusOK {
					t.Fatalf("registration = %d %v", code, r)
				}
				res := browserSubmit(t, public, "login", url.Values{"method": {"password"}, "identifier": {"ada@example.com"}, "password": {pw}})
				if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "https://app.example.com/signed-in" {
					t.Fatalf("after browser login: %d to %q", res.StatusCode, loc)
				}
				var session *http.Cookie
				for _, c := range res.Cookies() {
					if c.Name == "ory_kratos_session" {
						session = &http.Cookie{Name: c.Name, Value: c.Value}
					}
				}
				if session == nil {
					t.Fatal("no session cookie after browser login")
				}
				req, _ := http.NewRequest("GET", public+"/self-service/logout/browser", nil)
				req.AddCookie(session)
				req.Header.Set("Accept", "application/json")
				out, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var lo map[string]any
				json.NewDecoder(out.Body).Decode(&lo)
				out.Body.Close()
				// The URL is on the configured base URL (port 0 here): ask
				// the listener for its path.
				lu, err := url.Parse(fmt.Sprint(lo["logout_url"]))
				if err != nil || lu.Query().Get("token") == "" {
					t.Fatalf("logout_url %v: %v", lo["logout_url"], err)
				}
				req, _ = http.NewRequest("GET", public+lu.RequestURI(), nil)
				req.AddCookie(session)
				if out, err = noRedirect.Do(req); err != nil {
					t.Fatal(err)
				}
				out.Body.Close()
				if loc := out.Header.Get("Location"); out.StatusCode != http.StatusSeeOther || loc != "https://app.example.com/bye" {
					t.Errorf("after browser logout: %d to %q", out.StatusCode, loc)
				}
			}},
		{"ratelimit.send.address.limit", map[string]string{"LATCHKEY_RATELIMIT_SEND_ADDRESS_LIMIT": "1"},
			func(t *testing.T, public, _ string) {
				var codes []int
				for range 2 {
					code, _ := kratosStep(t, public, "recovery", `{"method":"code","email":"someone@example.com"}`)
					codes = append(codes, code)
				}
				if codes[0] != http.StatusOK || codes[1] == http.StatusOK {
					t.Errorf("two recovery codes to one address with a limit of 1: %v, want the second refused", codes)
				}
			}},
		{"session.cookie.{name,domain,path,same_site,persistent}", map[string]string{
			"LATCHKEY_SESSION_COOKIE_NAME": "app_session", "LATCHKEY_SESSION_COOKIE_DOMAIN": "example.test",
			"LATCHKEY_SESSION_COOKIE_PATH": "/auth", "LATCHKEY_SESSION_COOKIE_SAME_SITE": "Strict",
			"LATCHKEY_SESSION_COOKIE_PERSISTENT": "false", "LATCHKEY_SESSION_COOKIE_SECURE": "true"},
			func(t *testing.T, public, _ string) {
				res := browserRegister(t, public, "ada@example.com", pw)
				c := setCookie(res, "app_session")
				if res.StatusCode != http.StatusSeeOther || c == "" {
					t.Fatalf("browser registration: %d, Set-Cookie %v", res.StatusCode, res.Header.Values("Set-Cookie"))
				}
				for _, want := range []string{"Domain=example.test", "Path=/auth", "SameSite=Strict", "Secure"} {
					if !strings.Contains(c, want) {
						t.Errorf("session cookie %q lacks %s", c, want)
					}
				}
				if strings.Contains(c, "Expires=") || strings.Contains(c, "Max-Age=") {
					t.Errorf("persistent: false, but the session cookie lasts: %q", c)
				}
				if setCookie(res, "ory_kratos_session") != "" {
					t.Error("the default cookie name was set too")
				}
			}},
		{"selfservice.allowed_return_urls (custom scheme)", map[string]string{
			"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS": "myapp://callback,https://app.example.com/"},
			func(t *testing.T, public, _ string) {
				for rt, want := range map[string]int{"myapp://callback": 200, "myapp://callback/deeper": 200,
					"https://app.example.com/after": 200, "otherapp://callback": 400, "https://evil.example.com/": 400} {
					req, _ := http.NewRequest("GET", public+"/self-service/login/browser?return_to="+url.QueryEscape(rt), nil)
					req.Header.Set("Accept", "application/json")
					res, err := noRedirect.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var f map[string]any
					json.NewDecoder(res.Body).Decode(&f)
					res.Body.Close()
					if res.StatusCode != want {
						t.Errorf("return_to=%s: %d, want %d (%v)", rt, res.StatusCode, want, f)
					} else if want == 200 && f["return_to"] != rt {
						t.Errorf("return_to=%s: flow return_to %v", rt, f["return_to"])
					}
				}
			}},
		{"selfservice.flows.{registration,settings,recovery,verification}.lifespan", map[string]string{
			"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_LIFESPAN": "11m", "LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_LIFESPAN": "12m",
			"LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_LIFESPAN": "13m", "LATCHKEY_SELFSERVICE_FLOWS_VERIFICATION_LIFESPAN": "14m"},
			func(t *testing.T, public, _ string) {
				code, r := kratosStep(t, public, "registration", register)
				tok, _ := r["session_token"].(string)
				if code != http.StatusOK || tok == "" {
					t.Fatalf("registration = %d %v", code, r)
				}
				for kind, want := range map[string]time.Duration{"registration": 11 * time.Minute, "settings": 12 * time.Minute,
					"recovery": 13 * time.Minute, "verification": 14 * time.Minute} {
					req, _ := http.NewRequest("GET", public+"/self-service/"+kind+"/api", nil)
					if kind == "settings" || kind == "verification" {
						req.Header.Set("X-Session-Token", tok)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var f map[string]any
					json.NewDecoder(res.Body).Decode(&f)
					res.Body.Close()
					if res.StatusCode != 200 {
						t.Errorf("%s flow: %d %v", kind, res.StatusCode, f)
						continue
					}
					if d := timeField(t, f, "expires_at").Sub(timeField(t, f, "issued_at")); d.Round(time.Second) != want {
						t.Errorf("%s flow lasts %v, want %v", kind, d, want)
					}
				}
			}},
		{"selfservice.flows.error.ui_url", map[string]string{"LATCHKEY_SELFSERVICE_FLOWS_ERROR_UI_URL": "https://ui.example.com/oops"},
			func(t *testing.T, public, _ string) {
				res, err := noRedirect.Get(public + "/self-service/login/browser?return_to=" + url.QueryEscape("https://evil.example.com/"))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://ui.example.com/oops?id=") {
					t.Errorf("browser login with a refused return_to: %d to %q, want 303 to the configured error UI", res.StatusCode, loc)
				}
			}},
		{"selfservice.flows.login.ui_url", map[string]string{"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_UI_URL": "https://ui.example.com/sign-in"},
			func(t *testing.T, public, _ string) {
				res, err := noRedirect.Get(public + "/self-service/login/browser")
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://ui.example.com/sign-in?flow=") {
					t.Errorf("browser login: %d to %q, want 303 to the configured UI", res.StatusCode, loc)
				}
			}},
		{"selfservice.flows.registration.after.default_browser_return_url", map[string]string{
			"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS":                                 "https://app.example.com/",
			"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_DEFAULT_BROWSER_RETURN_URL": "https://app.example.com/welcome"},
			func(t *testing.T, public, _ string) {
				res := browserRegister(t, public, "ada@example.com", pw)
				if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "https://app.example.com/welcome" {
					t.Errorf("after browser registration: %d to %q", res.StatusCode, loc)
				}
			}},
		{"selfservice.default_browser_return_url", map[string]string{
			"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS":        "https://app.example.com/",
			"LATCHKEY_SELFSERVICE_DEFAULT_BROWSER_RETURN_URL": "https://app.example.com/home"},
			func(t *testing.T, public, _ string) {
				res := browserRegister(t, public, "ada@example.com", pw)
				if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "https://app.example.com/home" {
					t.Errorf("after browser registration: %d to %q", res.StatusCode, loc)
				}
			}},
		{"hashers.algorithm, hashers.bcrypt.cost", map[string]string{"LATCHKEY_HASHERS_ALGORITHM": "bcrypt", "LATCHKEY_HASHERS_BCRYPT_COST": "5"},
			func(t *testing.T, public, admin string) {
				code, r := kratosStep(t, public, "registration", register)
				ident, _ := r["identity"].(map[string]any)
				if code != http.StatusOK || ident == nil {
					t.Fatalf("registration = %d %v", code, r)
				}
				_, i := getJSON(t, admin+"/admin/identities/"+fmt.Sprint(ident["id"])+"?include_credential=password")
				creds, _ := i["credentials"].(map[string]any)
				p, _ := creds["password"].(map[string]any)
				cfg, _ := p["config"].(map[string]any)
				if h, _ := cfg["hashed_password"].(string); !strings.HasPrefix(h, "$2a$05$") {
					t.Errorf("stored hash %q, want bcrypt with cost 5", h)
				}
			}},
		{"hashers.argon2.{memory,iterations,parallelism,salt_length,key_length}", map[string]string{"LATCHKEY_HASHERS_ALGORITHM": "argon2",
			"LATCHKEY_HASHERS_ARGON2_MEMORY": "20MB", "LATCHKEY_HASHERS_ARGON2_ITERATIONS": "2", "LATCHKEY_HASHERS_ARGON2_PARALLELISM": "3",
			"LATCHKEY_HASHERS_ARGON2_SALT_LENGTH": "24", "LATCHKEY_HASHERS_ARGON2_KEY_LENGTH": "40"},
			func(t *testing.T, public, admin string) {
				code, r := kratosStep(t, public, "registration", register)
				ident, _ := r["identity"].(map[string]any)
				if code != http.StatusOK || ident == nil {
					t.Fatalf("registration = %d %v", code, r)
				}
				_, i := getJSON(t, admin+"/admin/identities/"+fmt.Sprint(ident["id"])+"?include_credential=password")
				creds, _ := i["credentials"].(map[string]any)
				p, _ := creds["password"].(map[string]any)
				cfg, _ := p["config"].(map[string]any)
				h, _ := cfg["hashed_password"].(string)
				parts := strings.Split(h, "$") // "", argon2id, v=19, m=…,t=…,p=…, salt, key
				if len(parts) != 6 || parts[3] != "m=20480,t=2,p=3" {
					t.Fatalf("stored hash %q, want m=20480,t=2,p=3", h)
				}
				salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
				key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
				if err1 != nil || err2 != nil || len(salt) != 24 || len(key) != 40 {
					t.Errorf("salt %d bytes, key %d bytes (%v %v), want 24 and 40", len(salt), len(key), err1, err2)
				}
			}},
		{"ratelimit.password.identifier.limit", map[string]string{"LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT": "2"},
			func(t *testing.T, public, _ string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusOK {
					t.Fatalf("registration = %d %v", code, r)
				}
				wrong := `{"method":"password","identifier":"ada@example.com","password":"not the password"}`
				var codes []int
				for range 3 {
					code, _ := kratosStep(t, public, "login", wrong)
					codes = append(codes, code)
				}
				if codes[0] != 400 || codes[1] != 400 || codes[2] != http.StatusTooManyRequests {
					t.Errorf("three wrong passwords with a limit of 2: %v, want [400 400 429]", codes)
				}
			}},
		{"ratelimit.password.ip.limit", map[string]string{"LATCHKEY_RATELIMIT_PASSWORD_IP_LIMIT": "2"},
			func(t *testing.T, public, _ string) {
				var codes []int
				for n := range 3 {
					code, _ := kratosStep(t, public, "login", fmt.Sprintf(`{"method":"password","identifier":"nobody%d@example.com","password":"not the password"}`, n))
					codes = append(codes, code)
				}
				if codes[0] != 400 || codes[1] != 400 || codes[2] != http.StatusTooManyRequests {
					t.Errorf("three password logins from one address with a limit of 2: %v, want [400 400 429]", codes)
				}
			}},
		{"ratelimit.send.ip.limit", map[string]string{"LATCHKEY_RATELIMIT_SEND_IP_LIMIT": "1"},
			func(t *testing.T, public, _ string) {
				var codes []int
				for n := range 2 {
					code, _ := kratosStep(t, public, "recovery", fmt.Sprintf(`{"method":"code","email":"someone%d@example.com"}`, n))
					codes = append(codes, code)
				}
				if codes[0] != http.StatusOK || codes[1] == http.StatusOK {
					t.Errorf("two recovery codes from one address with a limit of 1: %v, want the second refused", codes)
				}
			}},
		{"selfservice.flows.registration.enabled", map[string]string{"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_ENABLED": "false"},
			func(t *testing.T, public, _ string) {
				code, f := getJSON(t, public+"/self-service/registration/api")
				if code == http.StatusOK {
					t.Errorf("registration flow with registration disabled: %d %v", code, f)
				}
			}},
		{"selfservice.methods.password.enabled", map[string]string{"LATCHKEY_SELFSERVICE_METHODS_PASSWORD_ENABLED": "false"},
			func(t *testing.T, public, _ string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusBadRequest {
					t.Errorf("password registration with the method off: %d %v", code, r)
				}
			}},
		{"selfservice.flows.settings.privileged_session_max_age", map[string]string{"LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_PRIVILEGED_SESSION_MAX_AGE": "1s"},
			func(t *testing.T, public, _ string) {
				code, r := kratosStep(t, public, "registration", register)
				tok, _ := r["session_token"].(string)
				if code != http.StatusOK || tok == "" {
					t.Fatalf("registration = %d %v", code, r)
				}
				time.Sleep(1500 * time.Millisecond)
				req, _ := http.NewRequest("GET", public+"/self-service/settings/api", nil)
				req.Header.Set("X-Session-Token", tok)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var f map[string]any
				json.NewDecoder(res.Body).Decode(&f)
				res.Body.Close()
				body := strings.NewReader(`{"method":"password","password":"another long passphrase 7"}`)
				req, _ = http.NewRequest("POST", public+"/self-service/settings?flow="+fmt.Sprint(f["id"]), body)
				req.Header.Set("X-Session-Token", tok)
				req.Header.Set("Content-Type", "application/json")
				res, err = http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("password change 1.5 s after login with a 1 s privileged age: %d, want 403 session_refresh_required", res.StatusCode)
				}
			}},
		{"courier.smtp.{connection_uri,from_address,from_name,headers}", map[string]string{
			"LATCHKEY_COURIER_SMTP_CONNECTION_URI": "<smtp>", "LATCHKEY_COURIER_SMTP_FROM_ADDRESS": "accounts@acme.example",
			"LATCHKEY_COURIER_SMTP_FROM_NAME": "Acme Accounts", "LATCHKEY_COURIER_SMTP_HEADERS": `{"X-Acme-Stream":"identity"}`},
			func(t *testing.T, public, _ string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusOK {
					t.Fatalf("registration = %d %v", code, r)
				}
				m := smtpBox.Wait(t, "ada@example.com", 1)
				if m.From != "accounts@acme.example" || !strings.Contains(m.Header.Get("From"), "Acme Accounts") ||
					m.Header.Get("X-Acme-Stream") != "identity" {
					t.Errorf("verification mail from %q (header From %q, X-Acme-Stream %q)", m.From, m.Header.Get("From"), m.Header.Get("X-Acme-Stream"))
				}
			}},
		{"courier.template_override_path", map[string]string{"LATCHKEY_COURIER_TEMPLATE_OVERRIDE_PATH": "<dir>"},
			func(t *testing.T, public, admin string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusOK {
					t.Fatalf("registration = %d %v", code, r)
				}
				_, msgs := getJSONArray(t, admin+"/admin/courier/messages?recipient=ada@example.com")
				if len(msgs) == 0 || msgs[0]["subject"] != "Confirm your Acme account" {
					t.Errorf("verification mail: %v, want the overridden subject", msgs)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := devEnv(t)
			for k, v := range tt.env {
				if v == "<smtp>" {
					v = "smtp://" + smtpBox.Addr() + "/?disable_starttls=true"
				}
				if v == "<dir>" {
					tpl := filepath.Join(dir, "templates")
					if err := os.MkdirAll(filepath.Join(tpl, "verification_code", "valid"), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(tpl, "verification_code", "valid", "email.subject.gotmpl"), []byte("Confirm your Acme account"), 0o644); err != nil {
						t.Fatal(err)
					}
					v = tpl
				}
				t.Setenv(k, v)
			}
			o := serveOptions{dev: true, migrate: true, courier: strings.HasPrefix(tt.name, "courier.smtp")}
			if strings.HasPrefix(tt.name, "log.") {
				o.logTo = logs
			}
			public, admin, _ := startServe(t, o)
			tt.check(t, public, admin)
		})
	}
}
