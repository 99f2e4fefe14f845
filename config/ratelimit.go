package config

import (
	"net/url"
	"time"
)

// RateLimit configures where rate-limit counters live and the password
// attempt limits both faces share. (The Hanko face's own limits are under
// hanko.rate_limiter; Kratos' per-address code limits use the same store.)
type RateLimit struct {
	Backend  string            `koanf:"backend" doc:"Where counters live: database (shared by every replica on the same database; the default), redis (shared through redis_url) or memory (one process only)."`
	RedisURL string            `koanf:"redis_url" doc:"Redis URL for backend redis, e.g. redis://127.0.0.1:6379/0." secret:"true"`
	Password PasswordRateLimit `koanf:"password"`
}

// PasswordRateLimit limits password checks of both faces.
type PasswordRateLimit struct {
	Identifier Limit `koanf:"identifier" doc:"Password attempts per login identifier."`
	IP         Limit `koanf:"ip" doc:"Password attempts per client address."`
}

// Limit allows Limit events per Window.
type Limit struct {
	Limit  int           `koanf:"limit" doc:"Events allowed per window."`
	Window time.Duration `koanf:"window" doc:"Length of the window."`
}

func (r *RateLimit) setDefaults(bool) {
	r.Backend = "database"
	r.Password.Identifier = Limit{Limit: 10, Window: 5 * time.Minute}
	r.Password.IP = Limit{Limit: 100, Window: time.Minute}
}

func (r *RateLimit) validate(_ *Config, p *Problems) {
	switch r.Backend {
	case "database", "memory":
	case "redis":
		u, err := url.Parse(r.RedisURL)
		if r.RedisURL == "" || err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			p.add("ratelimit.redis_url", "must be a redis:// or rediss:// URL with a host when ratelimit.backend is redis")
		}
	default:
		p.add("ratelimit.backend", "%q is not one of database, redis, memory", r.Backend)
	}
	for key, l := range map[string]Limit{"ratelimit.password.identifier": r.Password.Identifier, "ratelimit.password.ip": r.Password.IP} {
		if l.Limit < 1 || l.Window <= 0 {
			p.add(key, "needs a limit of at least 1 and a positive window (e.g. {limit: 10, window: 5m})")
		}
	}
}
