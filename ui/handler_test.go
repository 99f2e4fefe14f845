package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upstream is a stand-in for the public listener's self-service API: it
// answers fixed bodies per path and records the last request it saw.
type upstream struct {
	mux  *http.ServeMux
	last *http.Request
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{mux: http.NewServeMux()}
	login, err := os.ReadFile(filepath.Join("testdata", "login.json"))
	if err != nil {
		t.Fatal(err)
	}
	answer := func(status int, body string, hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u.last = r
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Add(hdr[i], hdr[i+1])
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	u.mux.HandleFunc("GET /self-service/login/flows", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("id") {
		case "ok":
			answer(200, string(login), "Set-Cookie", "csrf_token_x=refreshed; Path=/")(w, r)
		case "gone":
			answer(410, `{"error":{"code":410,"status":"Gone","details":{"redirect_to":"http://127.0.0.1:4433/self-service/login/browser?return_to=http%3A%2F%2Fapp.example%2F"}}}`)(w, r)
		case "csrf":
			answer(403, `{"error":{"id":"security_csrf_violation","code":403,"status":"Forbidden","reason":"Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.","message":"the request was rejected to protect you from Cross-Site-Request-Forgery"}}`)(w, r)
		case "aal2":
			answer(403, `{"error":{"id":"session_aal2_required","code":403},"redirect_browser_to":"http://127.0.0.1:4433/self-service/login/browser?aal=aal2"}`)(w, r)
		case "boom":
			answer(500, `{"error":{"code":500,"status":"Internal Server Error","message":"An internal server error occurred, please contact the system administrator"}}`)(w, r)
		default:
			answer(404, `{"error":{"code":404,"status":"Not Found"}}`)(w, r)
		}
	})
	u.mux.HandleFunc("GET /self-service/settings/flows", answer(401, `{"error":{"id":"session_inactive","code":401}}`))
	u.mux.HandleFunc("GET /self-service/errors", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("id") == "e1" {
			answer(200, `{"id":"e1","error":{"code":400,"status":"Bad Request","id":"self_service_flow_return_to_forbidden","reason":"Requested return_to URL \"<b>https://evil.example</b>\" is not allowed.","message":"The request was malformed or contained invalid parameters"}}`)(w, r)
			return
		}
		answer(404, `{"error":{"code":404,"status":"Not Found","reason":"The requested error could not be found."}}`)(w, r)
	})
	u.mux.HandleFunc("GET /sessions/whoami", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") == "" {
			answer(401, `{"error":{"code":401,"id":"session_inactive"}}`)(w, r)
			return
		}
		answer(200, `{"id":"s1","authenticator_assurance_level":"aal1","authenticated_at":"2026-01-02T03:04:05Z","expires_at":"2026-01-03T03:04:05Z",
			"identity":{"id":"i1","traits":{"email":"ada@example.com","name":{"first":"<Ada>"}},"verifiable_addresses":[{"value":"ada@example.com","verified":false}]}}`)(w, r)
	})
	u.mux.HandleFunc("GET /self-service/logout/browser", answer(200, `{"logout_url":"http://127.0.0.1:4433/self-service/logout?token=lt","logout_token":"lt"}`))
	return u
}

func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		path      string
		cookie    string
		status    int
		location  string
		contains  []string
		setCookie string
	}{
		{name: "login without flow starts one and keeps the query", path: "/ui/login?return_to=http%3A%2F%2Fapp.example%2F&refresh=true",
			status: 303, location: "/self-service/login/browser?refresh=true&return_to=http%3A%2F%2Fapp.example%2F"},
		{name: "registration without flow", path: "/ui/registration", status: 303, location: "/self-service/registration/browser"},
		{name: "login flow renders", path: "/ui/login?flow=ok", cookie: "csrf_token_x=abc", status: 200,
			contains: []string{`<form action="http://127.0.0.1:4455/self-service/login?flow=`, `name="csrf_token"`}, setCookie: "csrf_token_x=refreshed; Path=/"},
		{name: "unknown flow starts over", path: "/ui/login?flow=nope", status: 303, location: "/self-service/login/browser"},
		{name: "expired flow follows redirect_to", path: "/ui/login?flow=gone", status: 303,
			location: "http://127.0.0.1:4433/self-service/login/browser?return_to=http%3A%2F%2Fapp.example%2F"},
		{name: "redirect_browser_to is followed", path: "/ui/login?flow=aal2", status: 303, location: "http://127.0.0.1:4433/self-service/login/browser?aal=aal2"},
		{name: "csrf failure shows the error without looping", path: "/ui/login?flow=csrf", status: 403,
			contains: []string{"The form could not be verified", `href="/self-service/login/browser">Start over</a>`}},
		{name: "internal error is shown", path: "/ui/login?flow=boom", status: 500, contains: []string{"500 Internal Server Error"}},
		{name: "settings without session signs in first", path: "/ui/settings?flow=s", status: 303,
			location: "/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A4433%2Fself-service%2Fsettings%2Fbrowser"},
		{name: "stored error", path: "/ui/error?id=e1", status: 200,
			contains: []string{"400 Bad Request", "&lt;b&gt;https://evil.example&lt;/b&gt;", "self_service_flow_return_to_forbidden"}},
		{name: "unknown error", path: "/ui/error?id=e2", status: 404, contains: []string{"not known or has expired"}},
		{name: "error without id", path: "/ui/error", status: 404, contains: []string{"No error was given."}},
		{name: "welcome signed out", path: "/ui/", status: 200, contains: []string{"You are not signed in.", `href="/ui/login">Sign in</a>`, `href="/ui/registration">Sign up</a>`}},
		{name: "welcome signed in", path: "/ui/welcome", cookie: "ory_kratos_session=x", status: 200,
			contains: []string{"Signed in as <strong>ada@example.com</strong>", "<dt>name.first</dt><dd>&lt;Ada&gt;</dd>",
				`href="http://127.0.0.1:4433/self-service/logout?token=lt">Log out</a>`, `href="/ui/verification">Verify your address</a>`, `href="/ui/settings">Account settings</a>`}},
		{name: "unknown page", path: "/ui/nope", status: 404, contains: []string{"Page not found"}},
		{name: "stylesheet", path: "/ui/static/style.css", status: 200, contains: []string{".card {"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			mux := http.NewServeMux()
			h := testHandler()
			h.Mount(mux) // Public is nil: the pages call this mux
			mux.Handle("/self-service/", up.mux)
			mux.Handle("/sessions/", up.mux)
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Header.Set("User-Agent", "ui-test")
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("GET %s = %d, want %d: %s", tt.path, rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			for _, want := range tt.contains {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body lacks %q:\n%s", want, rec.Body)
				}
			}
			if got := rec.Header().Get("Set-Cookie"); got != tt.setCookie {
				t.Errorf("Set-Cookie = %q, want %q", got, tt.setCookie)
			}
			if tt.status != 303 && !strings.HasSuffix(tt.path, ".css") {
				for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
					"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
					if got := rec.Header().Get(k); got != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("Content-Security-Policy = %q", csp)
				}
			}
			if up.last != nil {
				if got := up.last.Header.Get("Cookie"); got != tt.cookie {
					t.Errorf("subrequest Cookie = %q, want the browser's %q", got, tt.cookie)
				}
				if up.last.Header.Get("Accept") != "application/json" || up.last.Header.Get("User-Agent") != "ui-test" {
					t.Errorf("subrequest headers = %v", up.last.Header)
				}
			}
		})
	}
}

func TestPrefixedBaseURL(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	mux := http.NewServeMux()
	New(Options{PublicBaseURL: "https://example.com/auth/"}).Mount(mux)
	mux.Handle("/self-service/", up.mux)
	for path, want := range map[string]string{
		"/ui/login":           "/auth/self-service/login/browser",
		"/ui/login?flow=zzz":  "/auth/self-service/login/browser",
		"/ui/settings?flow=s": "/auth/self-service/login/browser?return_to=https%3A%2F%2Fexample.com%2Fauth%2Fself-service%2Fsettings%2Fbrowser",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if got := rec.Header().Get("Location"); rec.Code != 303 || got != want {
			t.Errorf("GET %s = %d %q, want 303 %q", path, rec.Code, got, want)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/", nil))
	if !strings.Contains(rec.Body.String(), `href="/auth/ui/static/style.css?v=`) || !strings.Contains(rec.Body.String(), `href="/auth/ui/login"`) {
		t.Errorf("links do not carry the prefix:\n%s", rec.Body)
	}
}

// TestLoopbackGoesToLocalhost: with serve --dev's base URL
// (http://localhost:4433/) a page asked for under a loopback address on
// that port goes to localhost, where the face's cookies and passkeys are;
// other hosts and ports, and other base URLs, are served as they come.
func TestLoopbackGoesToLocalhost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, host, path, location string
	}{
		{name: "127.0.0.1", base: "http://localhost:4433/", host: "127.0.0.1:4433", path: "/ui/login?return_to=x", location: "http://localhost:4433/ui/login?return_to=x"},
		{name: "::1", base: "http://localhost:4433/", host: "[::1]:4433", path: "/ui/", location: "http://localhost:4433/ui/"},
		{name: "prefix", base: "http://localhost:8080/auth/", host: "127.0.0.2:8080", path: "/ui/error", location: "http://localhost:8080/auth/ui/error"},
		{name: "localhost itself", base: "http://localhost:4433/", host: "localhost:4433", path: "/ui/"},
		{name: "another port", base: "http://localhost:4433/", host: "127.0.0.1:9999", path: "/ui/"},
		{name: "another host", base: "http://localhost:4433/", host: "192.0.2.1:4433", path: "/ui/"},
		{name: "base on an address", base: "http://127.0.0.1:4433/", host: "127.0.0.1:4433", path: "/ui/"},
		{name: "base on a name", base: "https://id.example.com/", host: "127.0.0.1:443", path: "/ui/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			mux := http.NewServeMux()
			New(Options{PublicBaseURL: tt.base, Public: up.mux}).Mount(mux)
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("GET %s on %s: %d, Location %q, want %q", tt.path, tt.host, rec.Code, got, tt.location)
			}
			if tt.location == "" && rec.Code != http.StatusOK {
				t.Errorf("GET %s on %s = %d, want the page", tt.path, tt.host, rec.Code)
			}
		})
	}
}
