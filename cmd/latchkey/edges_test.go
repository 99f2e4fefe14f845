package main

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestMistypedFlagSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--confg", "x.yml"}, "did you mean --config?"},
		{[]string{"migrate", "sql", "--dns", "x"}, "did you mean --dsn?"},
		{[]string{"cleanup", "--keep-lats", "1h"}, "did you mean --keep-last?"},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want %q", tc.args, err, tc.want)
		}
	}
}

// TestServeBindsBeforeCreating: a taken admin port stops serve before it
// creates the database file or the --dev secrets.
func TestServeBindsBeforeCreating(t *testing.T) {
	dir := devEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("LATCHKEY_SERVE_ADMIN_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	err = runServe(context.Background(), serveOptions{dev: true, migrate: true})
	if err == nil || !strings.Contains(err.Error(), "serve.admin") || !strings.Contains(err.Error(), "nothing was created") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("serve created %v before finding the port taken", entries)
	}
}

// TestDSNMemory: Kratos' dsn: memory is an in-memory SQLite database; no
// file is written, not even the --dev secrets.
func TestDSNMemory(t *testing.T) {
	devEnv(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	t.Setenv("LATCHKEY_DSN", "memory")
	public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
	if code, v := kratosStep(t, public, "registration", `{"method":"password","traits":{"email":"mem@example.com"},"password":"an in-memory password 1"}`); code != 200 {
		t.Fatalf("registration on dsn: memory: %d %v", code, v)
	}
	if code, _ := getJSON(t, public+"/health/ready"); code != 200 {
		t.Fatalf("ready = %d", code)
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Fatalf("dsn: memory wrote %v", entries)
	}
	out, err := runCLI(t, "config", "check", "--dev")
	if err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("config check with dsn: memory: %v %s", err, out)
	}
}

// TestConfigCheckReportsEverything: unreadable schema files are reported
// with every other problem in one run, and --json gives key, problem and
// fix for each; a config path that is a directory names it and the cause.
func TestConfigCheckReportsEverything(t *testing.T) {
	devEnv(t)
	dir := t.TempDir()
	file := dir + "/bad.yml"
	yml := "dsn: sqlite://" + dir + "/x.db\nserve:\n  pubilc: {port: 1}\nidentity:\n  schemas:\n" +
		"    - {id: c, url: \"file://" + dir + "/missing.json\"}\n    - {id: d, url: \"file://" + dir + "\"}\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "config", "check", "-c", file, "--json")
	if err == nil {
		t.Fatalf("config check passed: %s", out)
	}
	var res struct {
		Valid    bool
		Problems []struct{ Key, Problem, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]string{
		"identity.schemas[0].url": "no such file or directory",
		"identity.schemas[1].url": "is a directory",
		"serve.pubilc.port":       "unknown key",
		"secrets.default":         "required",
	}
	for _, p := range res.Problems {
		if w, ok := want[p.Key]; ok && strings.Contains(p.Problem, w) && p.Fix != "" {
			delete(want, p.Key)
		}
	}
	if res.Valid || len(want) > 0 {
		t.Fatalf("missing problems %v in %s", want, out)
	}

	_, err = runCLI(t, "config", "check", "-c", dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("config check -c DIR: %v", err)
	}
}

// TestCustomSchemeReturnURLs: a Kratos config allowing native apps' return
// URLs (exp://…, myapp://…) starts, and return_to takes them; other app
// schemes and script schemes are refused.
func TestCustomSchemeReturnURLs(t *testing.T) {
	devEnv(t)
	t.Setenv("LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS", "exp://127.0.0.1:19000/--/,myapp://callback")
	public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
	for _, tc := range []struct {
		returnTo string
		code     int
	}{
		{"myapp://callback/done", 200},
		{"exp://127.0.0.1:19000/--/home", 200},
		{"otherapp://callback", 400},
		{"myapp://callbackx", 400},
	} {
		code, v := getJSON(t, public+"/self-service/login/api?return_to="+url.QueryEscape(tc.returnTo))
		if code != tc.code || (code == 200 && v["return_to"] != tc.returnTo) {
			t.Errorf("return_to=%s: %d %v, want %d", tc.returnTo, code, v["return_to"], tc.code)
		}
	}

	t.Setenv("LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS", "javascript://alert(1)")
	out, err := runCLI(t, "config", "check", "--dev")
	if err == nil || !strings.Contains(err.Error()+out, "selfservice.allowed_return_urls[0]") {
		t.Fatalf("javascript:// allowed: %v %s", err, out)
	}
}

// TestServeTakesKratosFlags: Kratos' serve command line (the quickstart's
// serve -c kratos.yml --dev --watch-courier, with --sqa-opt-out or
// --disable-telemetry) parses; --watch-courier with --no-courier is refused.
func TestServeTakesKratosFlags(t *testing.T) {
	for _, args := range [][]string{{"-c", "kratos.yml", "--dev", "--watch-courier"}, {"--sqa-opt-out"}, {"--disable-telemetry"}} {
		if err := newServeCmd().ParseFlags(args); err != nil {
			t.Errorf("serve %v: %v", args, err)
		}
	}
	if out, err := runCLI(t, "serve", "--watch-courier", "--no-courier"); err == nil || !strings.Contains(err.Error(), "give one of them") {
		t.Errorf("--watch-courier --no-courier: %v %s", err, out)
	}
}
