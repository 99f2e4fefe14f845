package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebHookAccepted loads Kratos' web_hook keys in every place they work
// and reads them back typed.
func TestWebHookAccepted(t *testing.T) {
	t.Parallel()
	body := filepath.Join(t.TempDir(), "body.jsonnet")
	if err := os.WriteFile(body, []byte("function(ctx) { id: ctx.identity.id }"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := minimal + `
selfservice:
  flows:
    login:
      before:
        hooks:
          - hook: web_hook
            config: {url: "https://hooks.example.com/before", body: "base64://ZnVuY3Rpb24oY3R4KSB7fQ==", can_interrupt: true}
      after:
        password:
          hooks:
            - hook: web_hook
              config: {url: "https://hooks.example.com/login", body: "base64://ZnVuY3Rpb24oY3R4KSB7fQ==", response: {ignore: true}}
    settings:
      before:
        hooks: [{hook: web_hook, config: {url: "https://hooks.example.com/settings", body: "base64://ZnVuY3Rpb24oY3R4KSB7fQ=="}}]
    registration:
      after:
        password:
          hooks:
            - hook: web_hook
              config:
                url: https://hooks.example.com/reg
                method: put
                body: file://` + body + `
                headers: {X-Tenant: acme}
                auth: {type: basic_auth, config: {user: u, password: very-secret}}
                response: {parse: true}
            - hook: web_hook
              config:
                url: https://hooks.example.com/async
                body: base64://ZnVuY3Rpb24oY3R4KSB7fQ==
                auth: {type: api_key, config: {name: X-Key, value: key-secret, in: cookie}}
                response: {ignore: true}
                emit_analytics_event: false
            - hook: session
`
	c, _ := mustLoad(t, yml, nil, false)
	hooks := c.SelfService.WebHooks()
	if len(hooks) != 5 {
		t.Fatalf("%d web hooks, want 5", len(hooks))
	}
	var reg, async *WebHook
	for _, h := range hooks {
		switch h.URL {
		case "https://hooks.example.com/reg":
			reg = h
		case "https://hooks.example.com/async":
			async = h
		}
	}
	if reg == nil || reg.Method != "PUT" || !reg.Parse || reg.Ignore || reg.Auth.Password != "very-secret" || reg.Headers["X-Tenant"] != "acme" || !reg.EmitAnalyticsEvent {
		t.Errorf("registration hook %+v", reg)
	}
	if async == nil || !async.Ignore || async.Auth.In != "cookie" || async.EmitAnalyticsEvent || async.Method != "POST" {
		t.Errorf("async hook %+v", async)
	}
	if s := reg.Auth.String() + async.Auth.String(); strings.Contains(s, "secret") {
		t.Errorf("auth String shows a secret: %s", s)
	}
	if reg.Fingerprint() == async.Fingerprint() {
		t.Error("two hooks share a fingerprint")
	}
	if code, err := ReadWebHookBody("file://"+body, true); err != nil || !strings.Contains(code, "ctx.identity.id") {
		t.Errorf("body %q %v", code, err)
	}
}

// TestWebHookAnalyticsWarns: Latchkey sends no analytics events, so a
// web_hook asking for them (emit_analytics_event: true) is warned about by
// name; false or leaving it out is silent.
func TestWebHookAnalyticsWarns(t *testing.T) {
	for _, tc := range []struct {
		setting string
		warn    bool
	}{{"emit_analytics_event: true", true}, {"emit_analytics_event: false", false}, {"", false}} {
		yml := `
selfservice:
  flows:
    login:
      after:
        hooks:
          - hook: web_hook
            config: {url: "https://hooks.example.com/login", body: "base64://ZnVuY3Rpb24oY3R4KSB7fQ==", response: {ignore: true}` + map[bool]string{true: ", " + tc.setting, false: ""}[tc.setting != ""] + `}
`
		_, ws := mustLoad(t, yml, nil, true)
		got := false
		for _, w := range ws {
			if strings.Contains(w.Key, "emit_analytics_event") {
				got = true
			}
		}
		if got != tc.warn {
			t.Errorf("%q: warned = %v, want %v (%v)", tc.setting, got, tc.warn, ws)
		}
	}
}
