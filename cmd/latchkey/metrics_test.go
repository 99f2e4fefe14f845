package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape returns the admin listener's Prometheus text at path.
func scrape(t *testing.T, admin, path string) string {
	t.Helper()
	res, err := http.Get(admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	return string(b)
}

// metric returns the value of the first sample of name whose labels
// include every one of labels (k="v"), or -1 when there is none.
func metric(body, name string, labels ...string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		set := line[:sp]
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(set, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}

// eventually scrapes until cond holds or 30 s pass (workers deliver in the
// background).
func eventually(t *testing.T, admin, what string, cond func(body string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := scrape(t, admin, "/admin/metrics/prometheus")
		if cond(body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen; metrics:\n%s", what, grepLatchkey(body))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLatchkey(body string) string {
	var b strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "latchkey_") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(res.Body).Decode(&v)
	return res.StatusCode, v
}

// kratosStep starts a native flow of kind and submits body to it.
func kratosStep(t *testing.T, public, kind, body string) (int, map[string]any) {
	t.Helper()
	_, f := getJSON(t, public+"/self-service/"+kind+"/api")
	id, _ := f["id"].(string)
	if id == "" {
		t.Fatalf("no %s flow: %v", kind, f)
	}
	return postJSON(t, public+"/self-service/"+kind+"?flow="+id, body)
}

// TestMetricsMove drives a dev server through both faces and checks that
// every metric family moves: requests and latencies by route, logins and
// registrations by face/method/outcome, rate-limit refusals, courier and
// web-hook queue depth and failures, hash durations, DB pool and runtime.
func TestMetricsMove(t *testing.T) {
	dir := devEnv(t)
	t.Setenv("LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT", "3")
	// Mail and web hooks go to a closed port, so deliveries fail.
	t.Setenv("LATCHKEY_COURIER_SMTP_CONNECTION_URI", "smtp://"+closedPort(t)+"/?disable_starttls=true")
	t.Setenv("LATCHKEY_HANKO_WEBHOOKS_ENABLED", "true")
	t.Setenv("LATCHKEY_HANKO_WEBHOOKS_HOOKS", `[{"callback":"http://`+closedPort(t)+`/hook","events":["user"]}]`)
	// A Kratos web_hook after password registration, queued (response.ignore).
	t.Setenv("LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS", `[{"hook":"session"},{"hook":"web_hook","config":{"url":"http://`+closedPort(t)+`/kratos","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","response":{"ignore":true}}}]`)
	public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true, courier: true})
	db, err := openBackend(context.Background(), "sqlite://"+filepath.Join(dir, "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Both paths serve the registry; Go runtime and the DB pool are there
	// from the start.
	body := scrape(t, admin, "/metrics")
	if metric(body, "go_goroutines") <= 0 || metric(body, "go_sql_max_open_connections", `db_name="write"`) != 1 {
		t.Fatalf("runtime or pool metrics missing:\n%s", body)
	}

	// Kratos: a registration, a login, a wrong password, then the limit.
	const email, pw = "metrics@example.com", "a metrics password 1"
	if code, v := kratosStep(t, public, "registration", fmt.Sprintf(`{"method":"password","traits":{"email":%q},"password":%q}`, email, pw)); code != 200 {
		t.Fatalf("registration: %d %v", code, v)
	}
	code, v := kratosStep(t, public, "login", fmt.Sprintf(`{"method":"password","identifier":%q,"password":%q}`, email, pw))
	if code != 200 {
		t.Fatalf("login: %d %v", code, v)
	}
	token, _ := v["session_token"].(string)
	req, _ := http.NewRequest(http.MethodGet, public+"/sessions/whoami", nil)
	req.Header.Set("X-Session-Token", token)
	for range 2 { // the first reads the store, the second the session cache
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("whoami: %v %v", res, err)
		}
		res.Body.Close()
	}
	// The login above made this address known for the identity, so only
	// the per-(identity, IP) limit applies: five wrong, the sixth refused.
	for range 6 {
		kratosStep(t, public, "login", fmt.Sprintf(`{"method":"password","identifier":%q,"password":"wrong password"}`, email))
	}

	// Hanko: a registration (user.create goes to the web hook) and a
	// wrong password.
	const hemail, hpw = "metrics-hanko@example.com", "hanko metrics password"
	c := newHankoClient(t, public)
	c.start("registration")
	c.capabilities("registration_init")
	c.want(c.run("register_login_identifier", map[string]any{"email": hemail}), "passcode_confirmation")
	c.want(c.run("verify_passcode", map[string]any{"code": passcode(t, db, hemail)}), "password_creation")
	c.success(c.run("register_password", map[string]any{"new_password": hpw}))
	c = newHankoClient(t, public)
	c.start("login")
	c.capabilities("login_init")
	c.run("continue_with_login_identifier", map[string]any{"email": hemail})
	c.want(c.run("continue_to_password_login", nil), "login_password")
	c.run("password_login", map[string]any{"password": "not the password"})

	body = scrape(t, admin, "/admin/metrics/prometheus")
	checks := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"latchkey_http_requests_total", []string{`listener="public"`, `route="GET /sessions/whoami"`, `status="200"`}, 1},
		{"latchkey_http_requests_total", []string{`listener="public"`, `route="POST /self-service/login"`, `status="400"`}, 1},
		{"latchkey_http_requests_total", []string{`listener="admin"`, `route="GET /metrics"`, `status="200"`}, 1},
		{"latchkey_http_request_duration_seconds_count", []string{`route="GET /sessions/whoami"`}, 1},
		{"latchkey_auth_attempts_total", []string{`face="kratos"`, `flow="registration"`, `method="password"`, `outcome="success"`}, 1},
		{"latchkey_auth_attempts_total", []string{`face="kratos"`, `flow="login"`, `method="password"`, `outcome="success"`}, 1},
		{"latchkey_auth_attempts_total", []string{`face="kratos"`, `flow="login"`, `method="password"`, `outcome="failure"`}, 1},
		{"latchkey_auth_attempts_total", []string{`face="hanko"`, `flow="registration"`, `outcome="success"`}, 1},
		{"latchkey_auth_attempts_total", []string{`face="hanko"`, `flow="login"`, `method="password_login"`, `outcome="failure"`}, 1},
		{"latchkey_ratelimit_refusals_total", []string{`rule="attempt_identity_ip_password"`}, 1},
		{"latchkey_password_hash_duration_seconds_count", []string{`operation="hash"`}, 2},
		{"latchkey_password_hash_duration_seconds_count", []string{`operation="verify"`}, 2},
		{"latchkey_session_cache_loads_total", nil, 1},
		{"latchkey_session_cache_hits_total", nil, 1},
		{"latchkey_session_cache_entries", nil, 1},
	}
	for _, c := range checks {
		if got := metric(body, c.name, c.labels...); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	if t.Failed() {
		t.Fatalf("metrics:\n%s", grepLatchkey(body))
	}

	// The workers fail against the closed ports; the failed jobs wait for
	// their next attempt, so the queues are not empty.
	eventually(t, admin, "courier and web-hook failures", func(b string) bool {
		return metric(b, "latchkey_queue_failures_total", `queue="courier"`, `result="retry"`) >= 1 &&
			metric(b, "latchkey_queue_failures_total", `queue="webhook"`, `result="retry"`) >= 1 &&
			metric(b, "latchkey_queue_failures_total", `queue="kratos_web_hook"`, `result="retry"`) >= 1
	})
	body = scrape(t, admin, "/admin/metrics/prometheus")
	if metric(body, "latchkey_queue_depth", `queue="courier"`) < 1 || metric(body, "latchkey_queue_depth", `queue="webhook"`) < 2 {
		t.Fatalf("queue depth did not move:\n%s", grepLatchkey(body))
	}
}

// TestTracesExportedOverOTLP: with the standard OTEL_EXPORTER_OTLP_ENDPOINT
// set, serve exports spans over OTLP/HTTP (flushed at shutdown); without
// it nothing is sent (the other tests).
func TestTracesExportedOverOTLP(t *testing.T) {
	got := make(chan string, 100)
	collector := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + strconv.Itoa(len(b))
	})
	devEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
	t.Setenv("OTEL_SERVICE_NAME", "latchkey-test")
	public, _, stop := startServe(t, serveOptions{dev: true, migrate: true})
	if code, _ := getJSON(t, public+"/sessions/whoami"); code != http.StatusUnauthorized {
		t.Fatalf("whoami without a session = %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "POST /v1/traces application/x-protobuf ") || strings.HasSuffix(req, " 0") {
			t.Fatalf("collector got %q", req)
		}
	default:
		t.Fatal("no spans reached the OTLP collector by the end of shutdown")
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
