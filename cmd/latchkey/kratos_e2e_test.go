package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos/kratostest"
)

// walkthroughScript is the README's "first login in a few commands"
// walkthrough: curl and jq against `latchkey serve --dev` on its default
// public URL.
const walkthroughScript = "testdata/kratos_walkthrough.sh"

// walkthroughBase is the public URL the walkthrough is written for.
const walkthroughBase = "http://127.0.0.1:4433"

// walkthroughMarker, when README.md contains it, makes the test check that
// the README shows the walkthrough's commands verbatim.
const walkthroughMarker = "<!-- kratos walkthrough: cmd/latchkey/testdata/kratos_walkthrough.sh -->"

// TestKratosWalkthrough runs the README walkthrough against the real
// binary's wiring (serve --dev on a fresh SQLite file): native registration
// answering a session token, whoami with it, native login, whoami with the
// new token. It runs the steps once through net/http, validating every
// answer against Kratos' OpenAPI document, and once as the shell script
// itself when bash, curl and jq are installed.
func TestKratosWalkthrough(t *testing.T) {
	script, err := os.ReadFile(walkthroughScript)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("http", func(t *testing.T) {
		devEnv(t)
		public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
		walkthroughHTTP(t, public)
	})
	t.Run("script", func(t *testing.T) {
		for _, tool := range []string{"bash", "curl", "jq"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s is not installed", tool)
			}
		}
		devEnv(t)
		public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
		body := strings.ReplaceAll(string(script), walkthroughBase, public)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+body)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("walkthrough script: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		if got, want := stdout.String(), "ada@example.com\ntrue\n"; got != want {
			t.Errorf("walkthrough printed %q, want %q\nstderr:\n%s", got, want, stderr.String())
		}
	})
	t.Run("readme", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
		if err != nil || !bytes.Contains(readme, []byte(walkthroughMarker)) {
			t.Skip("README.md does not show the walkthrough yet")
		}
		for _, line := range strings.Split(string(script), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !bytes.Contains(readme, []byte(line)) {
				t.Errorf("README.md lacks the walkthrough line %q", line)
			}
		}
	})
}

// walkthroughHTTP performs the walkthrough's requests with net/http.
func walkthroughHTTP(t *testing.T, public string) {
	t.Helper()
	v := kratostest.New(t)
	call := func(method, path string, hdr map[string]string, body string, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, public+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, val := range hdr {
			req.Header.Set(k, val)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, raw)
		}
		vreq, _ := http.NewRequest(method, public+path, nil)
		if err := v.Check(vreq, res.StatusCode, res.Header, raw); err != nil {
			t.Errorf("%s %s: response does not match kratos-api.json: %v\n%s", method, path, err, raw)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
		return m
	}
	str := func(m map[string]any, key string) string {
		t.Helper()
		s, _ := m[key].(string)
		if s == "" {
			t.Fatalf("no %s in %v", key, m)
		}
		return s
	}

	// 1–2: native registration answers a session token at once.
	flow := str(call("GET", "/self-service/registration/api", nil, "", 200), "id")
	reg := call("POST", "/self-service/registration?flow="+flow, nil,
		`{"method":"password","traits":{"email":"ada@example.com","name":"Ada"},"password":"correct horse battery staple"}`, 200)
	token := str(reg, "session_token")
	if !strings.HasPrefix(token, "ory_st_") {
		t.Errorf("session_token %q lacks the ory_st_ prefix", token)
	}

	// 3: whoami with X-Session-Token.
	who := call("GET", "/sessions/whoami", map[string]string{"X-Session-Token": token}, "", 200)
	traits, _ := who["identity"].(map[string]any)["traits"].(map[string]any)
	if traits["email"] != "ada@example.com" {
		t.Errorf("whoami traits = %v", traits)
	}

	// 4–5: native login, then whoami with Authorization: Bearer.
	flow = str(call("GET", "/self-service/login/api", nil, "", 200), "id")
	login := call("POST", "/self-service/login?flow="+flow, nil,
		`{"method":"password","identifier":"ada@example.com","password":"correct horse battery staple"}`, 200)
	token2 := str(login, "session_token")
	if token2 == token {
		t.Error("login returned the registration's session token")
	}
	who = call("GET", "/sessions/whoami", map[string]string{"Authorization": "Bearer " + token2}, "", 200)
	if who["active"] != true {
		t.Errorf("whoami after login: active = %v", who["active"])
	}
}
