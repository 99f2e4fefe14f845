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
		{name: "zero limit", yaml: "ratelimit:\n  password:\n    ip:\n      limit: 0\n", wantErr: []string{"ratelimit.password.ip"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := load([]byte(tc.yaml), LoadOptions{Env: []string{}, Dev: true})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				if tc.name == "defaults" && (c.RateLimit.Backend != "database" || c.RateLimit.Password.Identifier != (Limit{10, 5 * time.Minute})) {
					t.Fatalf("defaults %+v", c.RateLimit)
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
