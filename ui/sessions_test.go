package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sessionsUpstream stands in for the face's settings flow and session API
// of a signed-in browser (cookie ory_kratos_session=me): the current
// session s-cur, the others s-a and s-b. It records the DELETEs it gets.
type sessionsUpstream struct {
	mux     *http.ServeMux
	mu      sync.Mutex
	deletes []string
}

func newSessionsUpstream(t *testing.T) *sessionsUpstream {
	t.Helper()
	settings, err := os.ReadFile(filepath.Join("testdata", "login.json"))
	if err != nil {
		t.Fatal(err)
	}
	u := &sessionsUpstream{mux: http.NewServeMux()}
	signedIn := func(r *http.Request) bool { return strings.Contains(r.Header.Get("Cookie"), "ory_kratos_session=me") }
	json := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	u.mux.HandleFunc("GET /self-service/settings/flows", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			json(w, 401, `{"error":{"id":"session_inactive","code":401}}`)
			return
		}
		json(w, 200, strings.Replace(string(settings), `"type"`, `"identity":{"id":"i1","traits":{"email":"ada@example.com"}},"type"`, 1))
	})
	u.mux.HandleFunc("GET /sessions/whoami", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			json(w, 401, `{"error":{"code":401,"id":"session_inactive"}}`)
			return
		}
		json(w, 200, `{"id":"s-cur","active":true,"authenticated_at":"2026-12-07T02:00:00.123Z","expires_at":"2026-12-08T02:00:00Z",
			"devices":[{"id":"d0","ip_address":"192.0.2.1","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"}],
			"identity":{"id":"i1","traits":{"email":"ada@example.com"}}}`)
	})
	u.mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			json(w, 401, `{"error":{"code":401,"id":"session_inactive"}}`)
			return
		}
		json(w, 200, `[{"id":"s-a","active":true,"authenticated_at":"2026-12-06T10:30:00Z",
			"devices":[{"id":"d1","ip_address":"198.51.100.7","location":"Berlin, DE","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"}]},
			{"id":"s-b","active":true,"authenticated_at":"2026-12-05T08:00:00Z","devices":[{"id":"d2","user_agent":"<script>alert(1)</script>"}]}]`)
	})
	del := func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.deletes = append(u.deletes, r.URL.Path)
		u.mu.Unlock()
		switch {
		case !signedIn(r):
			json(w, 401, `{"error":{"code":401,"id":"session_inactive"}}`)
		case r.URL.Path == "/sessions":
			json(w, 200, `{"count":2}`)
		case r.URL.Path == "/sessions/s-a" || r.URL.Path == "/sessions/s-b":
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/sessions/s-boom":
			json(w, 500, `{"error":{"code":500,"status":"Internal Server Error","message":"An internal server error occurred, please contact the system administrator"}}`)
		default:
			json(w, 404, `{"error":{"code":404,"status":"Not Found","reason":"The session could not be found."}}`)
		}
	}
	u.mux.HandleFunc("DELETE /sessions", del)
	u.mux.HandleFunc("DELETE /sessions/{id}", del)
	u.mux.HandleFunc("GET /self-service/logout/browser", func(w http.ResponseWriter, r *http.Request) {
		json(w, 200, `{"logout_url":"http://127.0.0.1:4433/self-service/logout?token=lt"}`)
	})
	u.mux.HandleFunc("GET /schemas/{id}", func(w http.ResponseWriter, r *http.Request) { json(w, 404, `{"error":{"code":404}}`) })
	return u
}

func (u *sessionsUpstream) deleted() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.deletes...)
}

func sessionsMux(t *testing.T) (*http.ServeMux, *sessionsUpstream) {
	t.Helper()
	up := newSessionsUpstream(t)
	h := testHandler()
	h.pub = up.mux
	mux := http.NewServeMux()
	h.Mount(mux)
	return mux, up
}

// TestSettingsSessionsList: the settings page lists this browser's session
// (marked) and the others with their device, IP, place and times, each
// with a sign-out button, and "Sign out everywhere else"; it sets the
// pages' anti-CSRF cookie and puts the same token into the form.
func TestSettingsSessionsList(t *testing.T) {
	t.Parallel()
	mux, _ := sessionsMux(t)
	req := httptest.NewRequest("GET", "/ui/settings?flow=f1&sessions=revoked", nil)
	req.Header.Set("Cookie", "ory_kratos_session=me")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET settings = %d:\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	var token string
	for _, c := range rec.Result().Cookies() {
		if c.Name == "latchkey_ui_csrf" {
			token = c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" {
				t.Errorf("anti-CSRF cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui/", c)
			}
		}
	}
	if len(token) != 43 {
		t.Fatalf("no anti-CSRF cookie set: %v", rec.Header().Values("Set-Cookie"))
	}
	for _, want := range []string{
		`<h2 id="sessions-title">Sessions and devices</h2>`,
		`<p class="msg msg-success" role="status">The session was signed out.</p>`,
		`<form action="/ui/settings/sessions" method="POST">`,
		`<input type="hidden" name="csrf_token" value="` + token + `">`,
		`<input type="hidden" name="flow" value="f1e94cfc-d22b-419b-ae9c-565c1e70a077">`,
		`<strong>Chrome · Linux</strong> <span class="badge">This device</span>`,
		`<dt>IP address</dt><dd>192.0.2.1</dd>`,
		`<dt>Signed in</dt><dd>2026-12-07 02:00 UTC</dd>`,
		`<p class="device" id="session-s-a"><strong>Safari · iOS</strong></p>`,
		`<dt>Location</dt><dd>Berlin, DE</dd>`,
		`<button type="submit" name="revoke" value="s-a" class="btn secondary" aria-describedby="session-s-a">Sign out</button>`,
		`<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>`,
		`<button type="submit" name="revoke" value="others" class="btn">Sign out everywhere else</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `value="s-cur"`) {
		t.Errorf("the current session has a sign-out button:\n%s", body)
	}

	// A returning browser keeps its token; German is German.
	req = httptest.NewRequest("GET", "/ui/settings?flow=f1&lang=de", nil)
	req.Header.Set("Cookie", "ory_kratos_session=me; latchkey_ui_csrf="+token)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "latchkey_ui_csrf" {
			t.Errorf("a valid anti-CSRF cookie was replaced: %v", c)
		}
	}
	for _, want := range []string{"Sitzungen und Geräte", "Dieses Gerät", "Überall sonst abmelden", `value="` + token + `"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("German settings page lacks %q", want)
		}
	}
}

// TestRevokeSessions: the sign-out buttons call the face's DELETE
// /sessions/{id} and DELETE /sessions and come back to the settings flow;
// a post without the pages' token, with another token, or from another
// site deletes nothing.
func TestRevokeSessions(t *testing.T) {
	t.Parallel()
	const tok = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name     string
		form     url.Values
		cookie   string
		header   map[string]string
		status   int
		location string
		deletes  []string
		contains string
	}{
		{name: "one session", form: url.Values{"csrf_token": {tok}, "flow": {"f1"}, "revoke": {"s-a"}},
			status: 303, location: "/ui/settings?flow=f1&sessions=revoked", deletes: []string{"/sessions/s-a"}},
		{name: "everywhere else", form: url.Values{"csrf_token": {tok}, "flow": {"f1"}, "revoke": {"others"}},
			header: map[string]string{"Origin": "http://127.0.0.1:4433", "Sec-Fetch-Site": "same-origin"},
			status: 303, location: "/ui/settings?flow=f1&sessions=revoked_others", deletes: []string{"/sessions"}},
		{name: "unknown session", form: url.Values{"csrf_token": {tok}, "flow": {"f1"}, "revoke": {"nope"}},
			status: 303, location: "/ui/settings?flow=f1&sessions=gone", deletes: []string{"/sessions/nope"}},
		{name: "a path is not an id", form: url.Values{"csrf_token": {tok}, "revoke": {"../self-service/logout"}},
			status: 303, location: "/ui/settings?sessions=gone"},
		{name: "nothing chosen", form: url.Values{"csrf_token": {tok}, "flow": {"f1"}}, status: 303, location: "/ui/settings?flow=f1"},
		{name: "signed out", form: url.Values{"csrf_token": {tok}, "revoke": {"s-a"}}, cookie: "latchkey_ui_csrf=" + tok,
			status: 303, location: "/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A4433%2Fself-service%2Fsettings%2Fbrowser",
			deletes: []string{"/sessions/s-a"}},
		{name: "face fails", form: url.Values{"csrf_token": {tok}, "revoke": {"s-boom"}}, status: 500,
			deletes: []string{"/sessions/s-boom"}, contains: "500 Internal Server Error"},
		{name: "no token", form: url.Values{"revoke": {"others"}}, status: 403, contains: "The form could not be verified"},
		{name: "other token", form: url.Values{"csrf_token": {strings.Repeat("B", 43)}, "revoke": {"others"}}, status: 403},
		{name: "no cookie", form: url.Values{"csrf_token": {tok}, "revoke": {"others"}}, cookie: "ory_kratos_session=me", status: 403},
		{name: "cross-site", form: url.Values{"csrf_token": {tok}, "revoke": {"others"}},
			header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "other origin", form: url.Values{"csrf_token": {tok}, "revoke": {"others"}},
			header: map[string]string{"Origin": "https://evil.example"}, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux, up := sessionsMux(t)
			req := httptest.NewRequest("POST", "/ui/settings/sessions", strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			cookie := tt.cookie
			if cookie == "" {
				cookie = "ory_kratos_session=me; latchkey_ui_csrf=" + tok
			}
			req.Header.Set("Cookie", cookie)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("POST = %d, want %d:\n%s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			if got := up.deleted(); strings.Join(got, ",") != strings.Join(tt.deletes, ",") {
				t.Errorf("DELETEs = %v, want %v", got, tt.deletes)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q:\n%s", tt.contains, rec.Body)
			}
		})
	}
}

func TestDeviceName(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0": "Edge · Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15":         "Safari · macOS",
		"Mozilla/5.0 (Android 15; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0":                                                          "Firefox · Android",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36":                 "Chrome · Linux",
		"curl/8.5.0": "curl/8.5.0",
		"":           "",
	} {
		if got := deviceName(ua); got != want {
			t.Errorf("deviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}
