package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/store/storetest"
)

// tcpProxy forwards a local port to a database server; down drops every
// connection and stops listening, up listens on the same port again. It
// stands in for a database outage without touching the shared server.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) up() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDatabaseOutage cuts a running server off its PostgreSQL database
// (through a proxy it connects by) and checks that both faces answer 503
// with Retry-After in their own error shapes, /health/ready reports not
// ready, the outage is logged once, and the server serves again when the
// database is back.
func TestDatabaseOutage(t *testing.T) {
	kv := kratostest.New(t)
	hv := hankotest.New(t, hankotest.Flow)
	dsn := storetest.PostgresDSN(t)
	proxy := newTCPProxy(t, "127.0.0.1:5432")
	if !strings.Contains(dsn, "@127.0.0.1:5432/") {
		t.Fatalf("the test needs the PostgreSQL server on 127.0.0.1:5432, got %s", redactDSN(dsn))
	}
	dsn = strings.Replace(dsn, "@127.0.0.1:5432/", "@"+proxy.addr+"/", 1)
	t.Chdir(t.TempDir()) // --dev keeps its secrets file in the working directory
	devEnv(t)
	t.Setenv("LATCHKEY_DSN", dsn)
	t.Setenv("LATCHKEY_LOG_LEVEL", "info")
	logs := &syncBuffer{}
	public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true, logTo: logs})

	code, v := kratosStep(t, public, "registration", `{"method":"password","traits":{"email":"outage@example.com"},"password":"an outage password 1"}`)
	if code != 200 {
		t.Fatalf("registration: %d %v", code, v)
	}
	token, _ := v["session_token"].(string)
	// A second session, never checked before the outage: the session cache
	// answers the checks it has seen for up to three change-log reads
	// without the database (docs/session-cache.md); this one needs it.
	code, v = kratosStep(t, public, "registration", `{"method":"password","traits":{"email":"outage2@example.com"},"password":"an outage password 2"}`)
	if code != 200 {
		t.Fatalf("second registration: %d %v", code, v)
	}
	unseen, _ := v["session_token"].(string)
	whoamiWith := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, public+"/sessions/whoami", nil)
		req.Header.Set("X-Session-Token", token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	whoami := func() *http.Response { return whoamiWith(token) }
	if res := whoami(); res.StatusCode != 200 {
		t.Fatalf("whoami before the outage: %d", res.StatusCode)
	}

	proxy.down()
	for i := range 5 {
		res := whoamiWith(unseen)
		body := kv.ValidateResponse(t, res)
		res.Body.Close()
		var env struct {
			Error struct {
				Code   int    `json:"code"`
				Status string `json:"status"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &env)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			env.Error.Code != 503 || env.Error.Reason == "" {
			t.Fatalf("whoami %d during the outage: %d Retry-After %q %s", i, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
	res, err := http.Get(public + "/self-service/registration/api")
	if err != nil {
		t.Fatal(err)
	}
	body := kv.ValidateResponse(t, res)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":503`) {
		t.Fatalf("registration flow during the outage: %d %s", res.StatusCode, body)
	}

	// Hanko's Flow API: the error state with 503. POST /login stores
	// nothing (the flow's first step does) and answers without the
	// database; the first step needs it.
	post := func(path, body string) (*http.Request, *http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, public+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return req, res, b
	}
	_, res, body = post("/login", `{}`)
	var start struct {
		CSRFToken string `json:"csrf_token"`
		Actions   map[string]struct {
			Href string `json:"href"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(body, &start); err != nil || res.StatusCode != http.StatusOK || start.Actions["register_client_capabilities"].Href == "" {
		t.Fatalf("Hanko login flow start during the outage: %d %s", res.StatusCode, body)
	}
	req, res, body := post(start.Actions["register_client_capabilities"].Href,
		`{"input_data":{"webauthn_available":false},"csrf_token":"`+start.CSRFToken+`"}`)
	// Hanko's flow spec knows the error state only with 500 (status: enum
	// [500]); during an outage it comes with 503 (issue 14). Everything but
	// the status is checked against the spec's shape.
	hv.Validate(t, req, http.StatusInternalServerError, res.Header,
		bytes.Replace(body, []byte(`"status":503`), []byte(`"status":500`), 1))
	var hs struct {
		Name   string `json:"name"`
		Status int    `json:"status"`
		Error  struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &hs)
	if res.StatusCode != http.StatusServiceUnavailable || hs.Name != "error" || hs.Status != 503 || hs.Error.Code != "technical_error" ||
		res.Header.Get("Retry-After") == "" {
		t.Fatalf("Hanko login flow during the outage: %d %s", res.StatusCode, body)
	}

	// Hanko's admin API: {code, message}.
	res, err = http.Get(admin + "/users")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	var he struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &he)
	if res.StatusCode != http.StatusServiceUnavailable || he.Code != 503 || he.Message == "" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("Hanko GET /users during the outage: %d %s", res.StatusCode, body)
	}

	for _, base := range []string{public, admin} {
		if code, _ := getJSON(t, base+"/health/ready"); code != http.StatusServiceUnavailable {
			t.Fatalf("%s/health/ready during the outage = %d", base, code)
		}
		if code, _ := getJSON(t, base+"/health/alive"); code != http.StatusOK {
			t.Fatalf("%s/health/alive during the outage = %d", base, code)
		}
	}

	proxy.up()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := whoamiWith(unseen)
		res.Body.Close()
		if res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("whoami after the database returned: %d", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out := logs.String()
	if n := strings.Count(out, "database unreachable"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "database reachable again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "level=ERROR msg=\"request failed\"") || strings.Contains(out, "self-service request failed") {
		t.Errorf("requests during the outage were logged one by one:\n%s", out)
	}
}
