package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
)

// hankoClient drives the Hanko Flow API of a running server exactly as
// hanko-elements and the frontend SDK do (notes §6): XMLHttpRequest with
// credentials, JSON bodies {"input_data":…, "csrf_token":…}, hrefs
// appended to the API URL verbatim, X-Language.
type hankoClient struct {
	t    *testing.T
	api  string
	http *http.Client
	last hankoState
}

// hankoState is a Flow API response.
type hankoState struct {
	Name      string                     `json:"name"`
	Status    int                        `json:"status"`
	Payload   map[string]json.RawMessage `json:"payload"`
	CSRFToken string                     `json:"csrf_token"`
	Actions   map[string]struct {
		Href   string                    `json:"href"`
		Inputs map[string]map[string]any `json:"inputs"`
	} `json:"actions"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
	header http.Header
}

func newHankoClient(t *testing.T, api string) *hankoClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &hankoClient{t: t, api: api, http: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (c *hankoClient) post(path string, body any) hankoState {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPost, c.api+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Language", "en")
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var s hankoState
	if err := json.Unmarshal(raw, &s); err != nil {
		c.t.Fatalf("POST %s: %d %s: %v", path, res.StatusCode, raw, err)
	}
	if s.Status != res.StatusCode {
		c.t.Fatalf("POST %s: HTTP %d, status %d", path, res.StatusCode, s.Status)
	}
	s.header = res.Header
	c.last = s
	return s
}

// start is the SDK's init: POST /<flow> without a body.
func (c *hankoClient) start(flow string) hankoState {
	c.t.Helper()
	return c.post("/"+flow, nil)
}

// run submits an action of the last state with the inputs' default values
// overlaid by input, as State.ts Action.run does.
func (c *hankoClient) run(action string, input map[string]any) hankoState {
	c.t.Helper()
	a, ok := c.last.Actions[action]
	if !ok {
		c.t.Fatalf("action %s not offered in %s", action, c.last.Name)
	}
	data := map[string]any{}
	for name, in := range a.Inputs {
		if v, ok := in["value"]; ok {
			data[name] = v
		}
	}
	for k, v := range input {
		data[k] = v
	}
	return c.post(a.Href, map[string]any{"input_data": data, "csrf_token": c.last.CSRFToken})
}

// want fails unless s is state with HTTP 200.
func (c *hankoClient) want(s hankoState, state string) {
	c.t.Helper()
	if s.Name != state || s.Status != http.StatusOK {
		c.t.Fatalf("got %s (%d, %+v), want %s", s.Name, s.Status, s.Error, state)
	}
}

// capabilities is the auto-step register_client_capabilities of a browser
// without WebAuthn.
func (c *hankoClient) capabilities(next string) {
	c.t.Helper()
	c.want(c.run("register_client_capabilities", map[string]any{"webauthn_available": false,
		"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": false}), next)
}

// success checks the end of a flow and returns the session JWT from the
// hanko cookie.
func (c *hankoClient) success(s hankoState) string {
	c.t.Helper()
	c.want(s, "success")
	if s.header.Get("X-Session-Lifetime") == "" || s.header.Get("X-Session-Retention") != "persistent" {
		c.t.Errorf("session headers %v", s.header)
	}
	for _, k := range []string{"claims", "user"} {
		if _, ok := s.Payload[k]; !ok {
			c.t.Errorf("success payload lacks %s", k)
		}
	}
	u, _ := url.Parse(c.api)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "hanko" && ck.Value != "" {
			return ck.Value
		}
	}
	c.t.Fatal("no hanko cookie after success")
	return ""
}

// passcode reads the newest passcode mailed to addr from the server's
// store (the dev courier logs mails instead of sending them).
func passcode(t *testing.T, db store.Store, addr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := db.ListMessages(context.Background(), store.MessageQuery{Recipient: addr, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 1 {
			var data struct{ Code string }
			_ = json.Unmarshal(msgs[0].TemplateData, &data)
			if data.Code != "" {
				return data.Code
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no passcode mailed to %s", addr)
	return ""
}

// getAuthed GETs path with the JWT as Bearer token and decodes the JSON.
func getAuthed(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("GET %s: %s", url, raw)
	}
	return res.StatusCode, v
}

// TestHankoElementsSequences runs hanko-elements' request sequences against
// `latchkey serve --dev`, through the real wiring: registration with
// e-mail verification and a password, password login, passcode login, then
// /sessions/validate and /me with the session JWT.
func TestHankoElementsSequences(t *testing.T) {
	dir := devEnv(t)
	public, _, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: true})
	db, err := openBackend(context.Background(), "sqlite://"+filepath.Join(dir, "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const email, pw = "elements@example.com", "elements password"

	var userID string
	t.Run("registration with verification", func(t *testing.T) {
		c := newHankoClient(t, public)
		c.want(c.start("registration"), "preflight")
		c.capabilities("registration_init")
		c.want(c.run("register_login_identifier", map[string]any{"email": email}), "passcode_confirmation")
		c.want(c.run("verify_passcode", map[string]any{"code": passcode(t, db, email)}), "password_creation")
		token := c.success(c.run("register_password", map[string]any{"new_password": pw}))
		code, v := getAuthed(t, public+"/sessions/validate", token)
		if code != 200 || v["is_valid"] != true {
			t.Fatalf("validate: %d %v", code, v)
		}
		userID, _ = v["user_id"].(string)
	})

	t.Run("password login", func(t *testing.T) {
		c := newHankoClient(t, public)
		c.want(c.start("login"), "preflight")
		c.capabilities("login_init")
		// Passwords and passcodes are both on by default: the chooser.
		c.want(c.run("continue_with_login_identifier", map[string]any{"email": email}), "login_method_chooser")
		c.want(c.run("continue_to_password_login", nil), "login_password")
		token := c.success(c.run("password_login", map[string]any{"password": pw}))
		checkHankoSession(t, public, token, userID)
	})

	t.Run("passcode login", func(t *testing.T) {
		c := newHankoClient(t, public)
		c.want(c.start("login"), "preflight")
		c.capabilities("login_init")
		c.want(c.run("continue_with_login_identifier", map[string]any{"email": email}), "login_method_chooser")
		c.want(c.run("continue_to_passcode_confirmation", nil), "passcode_confirmation")
		token := c.success(c.run("verify_passcode", map[string]any{"code": passcode(t, db, email)}))
		checkHankoSession(t, public, token, userID)
	})

	// hanko.rate_limiter.password_limits (5 a minute by default) counted
	// in the flow step's transaction on the served SQLite database.
	t.Run("password attempt limit", func(t *testing.T) {
		c := newHankoClient(t, public)
		c.start("login")
		c.capabilities("login_init")
		c.run("continue_with_login_identifier", map[string]any{"email": email})
		c.want(c.run("continue_to_password_login", nil), "login_password")
		// Every attempt counts, so the successful login above used one.
		for n := 1; ; n++ {
			s := c.run("password_login", map[string]any{"password": "wrong password"})
			if s.Status == http.StatusTooManyRequests {
				break
			}
			if s.Status != http.StatusBadRequest || n > 5 {
				t.Fatalf("wrong password %d: %d %+v", n, s.Status, s.Error)
			}
		}
		s := c.run("password_login", map[string]any{"password": pw})
		if s.Status != http.StatusTooManyRequests || s.Name != "login_password" || s.Error == nil ||
			s.Error.Code != "rate_limit_exceeded" || len(s.Payload["retry_after"]) == 0 {
			t.Fatalf("right password during the lock-out: %d %s %+v %s", s.Status, s.Name, s.Error, s.Payload["retry_after"])
		}
	})
}

// checkHankoSession checks a session JWT through /sessions/validate and
// /me, as the SDK does after success.
func checkHankoSession(t *testing.T, public, token, userID string) {
	t.Helper()
	code, v := getAuthed(t, public+"/sessions/validate", token)
	if code != 200 || v["is_valid"] != true || v["user_id"] != userID {
		t.Fatalf("validate: %d %v", code, v)
	}
	code, me := getAuthed(t, public+"/me", token)
	if code != 200 || me["id"] != userID {
		t.Fatalf("/me: %d %v", code, me)
	}
	emails, _ := me["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["is_verified"] != true {
		t.Errorf("/me emails %v", me["emails"])
	}
}
