package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/storetest"
)

// devEnv points a --dev server at a fresh SQLite file on free ports.
func devEnv(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("LATCHKEY_DSN", "sqlite://"+filepath.Join(dir, "latchkey.db"))
	t.Setenv("LATCHKEY_SERVE_PUBLIC_PORT", "0")
	t.Setenv("LATCHKEY_SERVE_ADMIN_PORT", "0")
	t.Setenv("LATCHKEY_LOG_LEVEL", "error")
	return dir
}

// startServe runs the server until the returned stop function is called.
func startServe(t *testing.T, o serveOptions) (public, admin string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	o.ready = func(p, a net.Addr) { addrs <- [2]net.Addr{p, a} }
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, o) }()
	select {
	case a := <-addrs:
		stopped := false
		stop = func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			return <-done
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + a[0].String(), "http://" + a[1].String(), stop
	case err := <-done:
		cancel()
		t.Fatalf("serve exited before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not become ready in 20s")
	}
	return "", "", nil
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", url, b, err)
	}
	return res.StatusCode, v
}

func TestServeDevHealthVersionAndRestart(t *testing.T) {
	dir := devEnv(t)
	public, admin, stop := startServe(t, serveOptions{dev: true, migrate: true, courier: true})
	for _, u := range []string{public + "/health/alive", public + "/health/ready", admin + "/health/alive", admin + "/health/ready"} {
		if code, body := getJSON(t, u); code != 200 || body["status"] != "ok" {
			t.Errorf("GET %s = %d %v", u, code, body)
		}
	}
	if code, body := getJSON(t, admin+"/version"); code != 200 || body["version"] == "" {
		t.Errorf("GET /version = %d %v", code, body)
	}
	if res, err := http.Get(public + "/version"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET public /version = %d, want 404 (admin only)", res.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "latchkey.dev-secrets.json")); err != nil {
		t.Fatalf("dev secrets not kept beside the database: %v", err)
	}
	first := listKeyIDs(t)
	if len(first) != 1 {
		t.Fatalf("keys after first start = %v, want one generated key", first)
	}
	// Put an identity and a session in the database between two runs.
	ctx := context.Background()
	db, err := openBackend(ctx, os.Getenv("LATCHKEY_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	const identityID, sessionID = "0b7f3c52-8d7e-4f8e-9a43-3c1d3f0e8a11", "5a0e1f7e-3b8c-4d2a-8f61-6a2b9c4d7e01"
	if err := db.CreateIdentity(ctx, &core.Identity{ID: identityID, SchemaID: "default", Traits: []byte(`{"email":"kept@example.com"}`),
		State: core.IdentityActive, StateChangedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, &core.Session{ID: sessionID, IdentityID: identityID, TokenHash: []byte("0123456789abcdef0123456789abcdef"),
		Active: true, AAL: core.AAL1, IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A restart keeps identities, sessions and the signing key (which can
	// still be decrypted with the persisted dev secrets).
	_, admin, stop = startServe(t, serveOptions{dev: true, migrate: true})
	if code, body := getJSON(t, admin+"/admin/identities/"+identityID); code != 200 || body["id"] != identityID {
		t.Errorf("identity after restart = %d %v", code, body)
	}
	if code, body := getJSON(t, admin+"/admin/sessions/"+sessionID); code != 200 || body["id"] != sessionID || body["active"] != true {
		t.Errorf("session after restart = %d %v", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if again := listKeyIDs(t); strings.Join(again, ",") != strings.Join(first, ",") {
		t.Fatalf("keys after restart = %v, want %v", again, first)
	}
}

func listKeyIDs(t *testing.T) []string {
	t.Helper()
	out, err := runCLI(t, "keys", "list", "--dev", "--json")
	if err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	var keys []struct{ ID string }
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatalf("keys list --json: %v: %s", err, out)
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestKeysRotate(t *testing.T) {
	devEnv(t)
	if out, err := runCLI(t, "migrate", "sql", "--dsn", os.Getenv("LATCHKEY_DSN")); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	before := listKeyIDs(t)
	out, err := runCLI(t, "keys", "rotate", "--dev", "--json")
	if err != nil {
		t.Fatalf("rotate: %v %s", err, out)
	}
	after := listKeyIDs(t)
	if len(after) != len(before)+1 || after[1] != before[0] {
		t.Fatalf("after rotate keys = %v (before %v); want the new key first and the old one kept", after, before)
	}
	if out, err := runCLI(t, "keys", "remove", "--dev", "--", before[0]); err != nil {
		t.Fatalf("remove: %v %s", err, out)
	}
	if got := listKeyIDs(t); len(got) != 1 || got[0] != after[0] {
		t.Fatalf("after remove keys = %v", got)
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	out, err := runCLI(t, "migrate", "sql", "--dsn", dsn, "--json")
	if err != nil || !strings.Contains(out, `"applied":`) || strings.Contains(out, `"applied":0`) {
		t.Fatalf("first migrate: %v %s", err, out)
	}
	out, err = runCLI(t, "migrate", "sql", "--dsn", dsn, "--json")
	if err != nil || !strings.Contains(out, `"applied":0`) {
		t.Fatalf("second migrate is not a no-op: %v %s", err, out)
	}
	out, err = runCLI(t, "migrate", "sql", "status", "--dsn", dsn)
	if err != nil || !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Fatalf("status: %v %s", err, out)
	}
}

// TestStartupFailures: each bad start is one clear message and a non-zero
// exit, never a panic.
func TestStartupFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := write("corrupt.schema.json", `{"type": "object", "properties": {`)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{
			name: "config with several problems",
			args: []string{"serve", "-c", write("bad.yml", "serve:\n  pubilc:\n    port: 1\nhashers:\n  bcrypt:\n    cost: 3\n  algorithm: bcrypt\n")},
			want: []string{"5 problem(s)", `did you mean "serve.public.port"`, "hashers.bcrypt.cost", "secrets.default", "secrets.cipher"},
		},
		{
			name: "yaml syntax",
			args: []string{"serve", "-c", write("syntax.yml", "dsn: [\n")},
			want: []string{"problem"},
		},
		{
			name: "unknown DSN scheme",
			args: []string{"serve", "--dev"},
			env:  map[string]string{"LATCHKEY_DSN": "oracle://x"},
			want: []string{"dsn", "scheme"},
		},
		{
			name: "unreachable database",
			args: []string{"serve", "--dev", "--dsn", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
			want: []string{"cannot open the database"},
		},
		{
			name: "corrupt schema",
			args: []string{"serve", "--dev"},
			env:  map[string]string{"LATCHKEY_IDENTITY_SCHEMAS": `[{"id":"broken","url":"file://` + corrupt + `"}]`},
			want: []string{"schema"},
		},
		{
			name: "base64 schema that is not JSON",
			args: []string{"config", "check", "--dev"},
			env:  map[string]string{"LATCHKEY_IDENTITY_SCHEMAS": `[{"id":"b","url":"base64://` + base64.StdEncoding.EncodeToString([]byte("nope")) + `"}]`},
			want: []string{"schema"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			devEnv(t)
			// --dev on a server database keeps its secrets file in the
			// working directory: never the source tree.
			t.Chdir(t.TempDir())
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, err := runCLI(t, tc.args...)
			var ee exitError
			if !errors.As(err, &ee) || ee.code == 0 {
				t.Fatalf("err = %v (%T), want a non-zero exitError; output %s", err, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(ee.msg+out, w) {
					t.Errorf("message does not mention %q:\n%s", w, ee.msg)
				}
			}
			if strings.Contains(ee.msg, "goroutine ") || strings.Contains(ee.msg, "panic") {
				t.Errorf("message looks like a crash:\n%s", ee.msg)
			}
		})
	}
}

func TestConfigCheckJSON(t *testing.T) {
	devEnv(t)
	out, err := runCLI(t, "config", "check", "--dev", "--json")
	if err != nil {
		t.Fatalf("check: %v %s", err, out)
	}
	var res struct {
		Valid    bool
		Problems []any
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Valid || len(res.Problems) != 0 {
		t.Fatalf("config check --json = %s (%v)", out, err)
	}
}

func TestServeKratosAdminWiring(t *testing.T) {
	devEnv(t)
	t.Setenv("LATCHKEY_SERVE_ADMIN_API_KEY", "an-admin-key-for-tests")
	public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: true})

	do := func(method, url, key, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const key = "an-admin-key-for-tests"
	if code, body := do("GET", admin+"/admin/identities", "", ""); code != 401 || !strings.Contains(body, `"code":401`) {
		t.Fatalf("admin without key = %d %s", code, body)
	}
	if code, _ := do("GET", admin+"/health/ready", "", ""); code != 200 {
		t.Fatalf("admin health must stay open, got %d", code)
	}
	code, body := do("POST", admin+"/admin/identities", key, `{"schema_id":"default","traits":{"email":"Wired@Example.com"}}`)
	if code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	// Kratos' un-prefixed admin path on the admin listener.
	code, body = do("GET", admin+"/identities?credentials_identifier=wired@example.com", key, "")
	if code != 200 || !strings.Contains(body, "wired@example.com") {
		t.Fatalf("un-prefixed list = %d %s", code, body)
	}
	if code, body := do("GET", public+"/schemas/default", "", ""); code != 200 || !strings.Contains(body, "ory.sh/kratos") {
		t.Fatalf("public schema = %d %s", code, body)
	}
	if code, body := do("GET", admin+"/admin/courier/messages", key, ""); code != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("courier messages = %d %s", code, body)
	}
}

// TestMigrateServerDatabases runs the migrate command against fresh
// PostgreSQL and MySQL databases (required in CI).
func TestMigrateServerDatabases(t *testing.T) {
	for name, fresh := range map[string]func(testing.TB) string{
		"postgres": storetest.PostgresDSN,
		"mysql":    storetest.MySQLDSN,
	} {
		t.Run(name, func(t *testing.T) {
			dsn := fresh(t)
			out, err := runCLI(t, "migrate", "sql", "status", "--dsn", dsn)
			if err != nil || !strings.Contains(out, "pending") {
				t.Fatalf("status before: %v %s", err, out)
			}
			out, err = runCLI(t, "migrate", "sql", "--dsn", dsn, "--json")
			if err != nil || strings.Contains(out, `"applied":0`) {
				t.Fatalf("first migrate: %v %s", err, out)
			}
			out, err = runCLI(t, "migrate", "sql", "--dsn", dsn, "--json")
			if err != nil || !strings.Contains(out, `"applied":0`) {
				t.Fatalf("second migrate is not a no-op: %v %s", err, out)
			}
			out, err = runCLI(t, "migrate", "sql", "status", "--dsn", dsn)
			if err != nil || strings.Contains(out, "pending") {
				t.Fatalf("status after: %v %s", err, out)
			}
		})
	}
}

// TestServeMemoryDSN: a Kratos config with dsn: memory serves outside --dev
// (the empty in-memory database is migrated at start, as Kratos does).
func TestServeMemoryDSN(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kratos.yml")
	if err := os.WriteFile(file, []byte("dsn: memory\nsecrets: {cookie: [a-kratos-cookie-secret-0123], cipher: [0123456789abcdef0123456789abcdef]}\n"+
		"courier: {smtp: {connection_uri: 'smtp://mail.example.com:25'}}\n"+
		"serve: {public: {port: 0, host: 127.0.0.1}, admin: {port: 0}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_DSN", "")
	os.Unsetenv("LATCHKEY_DSN")
	public, _, _ := startServe(t, serveOptions{file: file, migrate: true})
	if code, f := getJSON(t, public+"/self-service/login/api"); code != 200 {
		t.Fatalf("login flow on dsn: memory: %d %v", code, f)
	}
}
