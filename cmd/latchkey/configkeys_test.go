package main

import (
	"net/http"
	"testing"
	"time"
)

// TestConfigKeysChangeBehaviour sets important keys to values other than
// their defaults and watches the running server behave differently: the
// behaviour probes beside config's TestEveryKeyHasAnEffect, which proves
// statically that every key is read.
func TestConfigKeysChangeBehaviour(t *testing.T) {
	const register = `{"method":"password","traits":{"email":"ada@example.com","name":"Ada"},"password":"correct horse battery staple"}`
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, public, admin string)
	}{
		{"selfservice.flows.login.lifespan", map[string]string{"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_LIFESPAN": "7m"},
			func(t *testing.T, public, _ string) {
				_, f := getJSON(t, public+"/self-service/login/api")
				if d := timeField(t, f, "expires_at").Sub(timeField(t, f, "issued_at")); d.Round(time.Second) != 7*time.Minute {
					t.Errorf("login flow lasts %v, want 7m", d)
				}
			}},
		{"session.lifespan", map[string]string{"LATCHKEY_SESSION_LIFESPAN": "3h"},
			func(t *testing.T, public, _ string) {
				code, r := kratosStep(t, public, "registration", register)
				s, _ := r["session"].(map[string]any)
				if code != http.StatusOK || s == nil {
					t.Fatalf("registration = %d %v", code, r)
				}
				if d := timeField(t, s, "expires_at").Sub(timeField(t, s, "authenticated_at")); d.Round(time.Minute) != 3*time.Hour {
					t.Errorf("session lasts %v, want 3h", d)
				}
			}},
		{"selfservice.methods.password.config.min_password_length",
			map[string]string{"LATCHKEY_SELFSERVICE_METHODS_PASSWORD_CONFIG_MIN_PASSWORD_LENGTH": "40"},
			func(t *testing.T, public, _ string) {
				if code, r := kratosStep(t, public, "registration", register); code != http.StatusBadRequest {
					t.Errorf("a 28-character password with min_password_length 40: %d %v", code, r)
				}
			}},
		{"serve.admin.api_key", map[string]string{"LATCHKEY_SERVE_ADMIN_API_KEY": "an-admin-key-of-some-length"},
			func(t *testing.T, _, admin string) {
				res, err := http.Get(admin + "/admin/identities")
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("admin without the key: %d, want 401", res.StatusCode)
				}
			}},
		{"hanko.enabled", map[string]string{"LATCHKEY_HANKO_ENABLED": "false"},
			func(t *testing.T, public, _ string) {
				if code, _ := postJSON(t, public+"/login", `{}`); code != http.StatusNotFound {
					t.Errorf("POST /login with the Hanko face off: %d, want 404", code)
				}
			}},
		{"serve.public.cors", map[string]string{"LATCHKEY_SERVE_PUBLIC_CORS_ENABLED": "true",
			"LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_ORIGINS": "https://app.example.com"},
			func(t *testing.T, public, _ string) {
				for origin, want := range map[string]string{"https://app.example.com": "https://app.example.com", "https://evil.example.com": ""} {
					req, _ := http.NewRequest("OPTIONS", public+"/sessions/whoami", nil)
					req.Header.Set("Origin", origin)
					req.Header.Set("Access-Control-Request-Method", "GET")
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
						t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true})
			tt.check(t, public, admin)
		})
	}
}

func timeField(t *testing.T, m map[string]any, key string) time.Time {
	t.Helper()
	s, _ := m[key].(string)
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %v: %v", key, m[key], err)
	}
	return v
}
