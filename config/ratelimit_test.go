package config

import (
	"strings"
	"testing"
	"time"
)

func TestRateLimitSection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		wantErr    []string
	}{
		{name: "defaults", yaml: ""},
		{name: "redis", yaml: "ratelimit:\n  backend: redis\n  redis_url: redis://127.0.0.1:6379/0\n"},
		{name: "redis without url", yaml: "ratelimit:\n  backend: redis\n", wantErr: []string{"ratelimit.redis_url"}},
		{name: "redis with a http url", yaml: "ratelimit:\n  backend: redis\n  redis_url: http://x\n", wantErr: []string{"ratelimit.redis_url"}},
		{name: "unknown backend", yaml: "ratelimit:\n  backend: etcd\n", wantErr: []string{"ratelimit.backend"}},
		{name: "deprecated key with a zero limit", yaml: "ratelimit:\n  password:\n    ip:\n      limit: -1\n      window: 1m\n", wantErr: []string{"ratelimit.password.ip"}},
		{name: "zero limit", yaml: "ratelimit:\n  attempts:\n    identity_ip:\n      limit: 0\n", wantErr: []string{"ratelimit.attempts.identity_ip"}},
		{name: "no identity tiers", yaml: "ratelimit:\n  attempts:\n    identity: []\n", wantErr: []string{"ratelimit.attempts.identity"}},
		{name: "bad identity tier", yaml: "ratelimit:\n  attempts:\n    identity:\n      - {limit: 20, window: 15m}\n      - {limit: 0, window: 24h}\n", wantErr: []string{"ratelimit.attempts.identity[1]"}},
		{name: "ip window below a second", yaml: "ratelimit:\n  attempts:\n    ip: {limit: 10, window: 10ms}\n", wantErr: []string{"ratelimit.attempts.ip"}},
		{name: "known_ip_for too short", yaml: "ratelimit:\n  attempts:\n    known_ip_for: 10s\n", wantErr: []string{"ratelimit.attempts.known_ip_for"}},
		{name: "send limits", yaml: "ratelimit:\n  send:\n    address: {limit: 0, window: 1h}\n    ip: {limit: 5, window: 0s}\n", wantErr: []string{"ratelimit.send.address", "ratelimit.send.ip"}},
		{name: "trusted proxies", yaml: "serve:\n  public:\n    trusted_proxies: [10.0.0.7, 10.0.0.0/8, \"::1\", \"fd00::/8\"]\n"},
		{name: "bad trusted proxy", yaml: "serve:\n  public:\n    trusted_proxies: [10.0.0.7, proxy.example.com, 10.0.0.0/33]\n", wantErr: []string{"serve.public.trusted_proxies[1]", "serve.public.trusted_proxies[2]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := load([]byte(tc.yaml), LoadOptions{Env: []string{}, Dev: true})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				a := c.RateLimit.Attempts
				if tc.name == "defaults" && (c.RateLimit.Backend != "database" || a.IdentityIP != (Limit{5, time.Minute}) ||
					len(a.Identity) != 2 || a.Identity[0] != (Limit{20, 15 * time.Minute}) || a.Identity[1] != (Limit{100, 24 * time.Hour}) ||
					a.IP != (Limit{100, time.Minute}) || a.KnownIPFor != 30*24*time.Hour ||
					c.RateLimit.Send.Address != (Limit{10, time.Hour}) || c.RateLimit.Send.IP != (Limit{100, time.Hour})) {
					t.Fatalf("defaults %+v", c.RateLimit)
				}
				if tc.name == "trusted proxies" && len(c.Serve.Public.ProxyPrefixes()) != 4 {
					t.Fatalf("prefixes %v", c.Serve.Public.ProxyPrefixes())
				}
				return
			}
			if err == nil {
				t.Fatal("load accepted it")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestRateLimitDeprecatedKeys: the keys of earlier releases map onto the
// policy, with a warning naming the key to use instead.
func TestRateLimitDeprecatedKeys(t *testing.T) {
	t.Parallel()
	yaml := "ratelimit:\n  password:\n    identifier: {limit: 7, window: 10m}\n    ip: {limit: 50, window: 2m}\n"
	c, warnings, err := load([]byte(yaml), LoadOptions{Env: []string{}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	a := c.RateLimit.Attempts
	if a.Identity[0] != (Limit{7, 10 * time.Minute}) || a.Identity[1] != (Limit{100, 24 * time.Hour}) || a.IP != (Limit{50, 2 * time.Minute}) {
		t.Fatalf("attempts %+v", a)
	}
	var keys []string
	for _, w := range warnings {
		if strings.HasPrefix(w.Key, "ratelimit.") {
			keys = append(keys, w.Key)
			if !strings.Contains(w.Message, "ratelimit.attempts.") {
				t.Errorf("warning %q does not name the new key", w)
			}
		}
	}
	if strings.Join(keys, " ") != "ratelimit.password.identifier ratelimit.password.ip" {
		t.Fatalf("warnings %v", warnings)
	}
	c, _, err = load([]byte("ratelimit:\n  password:\n    identifier: {limit: 7, window: 10m}\n"), LoadOptions{Env: []string{"LATCHKEY_RATELIMIT_ATTEMPTS_IDENTITY=[{\"limit\":3,\"window\":\"1m\"}]"}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := c.RateLimit.Attempts.Identity; len(a) != 1 || a[0] != (Limit{7, 10 * time.Minute}) {
		t.Fatalf("deprecated key over a one-tier list from the environment: %+v", a)
	}
	// Half set, as LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT=3 alone was
	// used: the window is the old default.
	c, _, err = load(nil, LoadOptions{Env: []string{"LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT=3", "LATCHKEY_RATELIMIT_PASSWORD_IP_WINDOW=2m"}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := c.RateLimit.Attempts; a.Identity[0] != (Limit{3, 5 * time.Minute}) || a.IP != (Limit{100, 2 * time.Minute}) {
		t.Fatalf("half set deprecated keys: %+v", a)
	}
}
