package config

import (
	"fmt"
	"net/url"
	"time"
)

// RateLimit configures where rate-limit counters live and the one attempt
// policy every secret check of both faces goes through (passwords, codes,
// TOTP and lookup codes), keyed by identity and client IP. README.md
// ("Security") explains the policy. The Hanko face adds Hanko's own limits
// under hanko.rate_limiter on top of it.
type RateLimit struct {
	Backend  string         `koanf:"backend" doc:"Where counters live: database (shared by every replica on the same database; the default), redis (shared through redis_url) or memory (one process only)."`
	RedisURL string         `koanf:"redis_url" doc:"Redis URL for backend redis, e.g. redis://127.0.0.1:6379/0." secret:"true"`
	Attempts AttemptLimits  `koanf:"attempts"`
	Send     SendLimits     `koanf:"send"`
	Password PasswordLimits `koanf:"password"`
}

// AttemptLimits limit checks of secrets. Each kind of secret (password,
// code, totp, lookup) counts apart under the same limits; a right secret is
// not counted.
type AttemptLimits struct {
	IdentityIP Limit         `koanf:"identity_ip" doc:"Attempts per identity from one client IP: the strict limit every attempt meets; a right secret starts it over."`
	Identity   []Limit       `koanf:"identity" doc:"Attempts per identity from client IPs it has not logged in from within known_ip_for, as tiers of {limit, window}; each further tier is a longer wait, so distributed guessing meets growing delays."`
	IP         Limit         `koanf:"ip" doc:"Attempts per client IP across identities (password spraying), except for identities that logged in from that IP within known_ip_for."`
	KnownIPFor time.Duration `koanf:"known_ip_for" doc:"How long a client IP stays known for an identity after a right secret; from a known IP only identity_ip applies, so an attacker elsewhere cannot lock the user out."`
}

// SendLimits limit the codes and links both faces send.
type SendLimits struct {
	Address Limit `koanf:"address" doc:"Codes and links sent to one address (e-mail or phone) by either face."`
	IP      Limit `koanf:"ip" doc:"Codes and links requested from one client IP by either face."`
}

// PasswordLimits are the keys of earlier releases, kept so existing files
// still mean what they say.
type PasswordLimits struct {
	Identifier Limit `koanf:"identifier" doc:"Deprecated: when set, replaces the first tier of ratelimit.attempts.identity (a warning says so); a half set pair takes the other half from the old default, 10 per 5m."`
	IP         Limit `koanf:"ip" doc:"Deprecated: when set, replaces ratelimit.attempts.ip (a warning says so); a half set pair takes the other half from the old default, 100 per 1m."`
}

// Limit allows Limit events per Window.
type Limit struct {
	Limit  int           `koanf:"limit" doc:"Events allowed per window."`
	Window time.Duration `koanf:"window" doc:"Length of the window."`
}

func (r *RateLimit) setDefaults(bool) {
	r.Backend = "database"
	r.Attempts = AttemptLimits{
		IdentityIP: Limit{Limit: 5, Window: time.Minute},
		Identity:   []Limit{{Limit: 20, Window: 15 * time.Minute}, {Limit: 100, Window: 24 * time.Hour}},
		IP:         Limit{Limit: 100, Window: time.Minute},
		KnownIPFor: 30 * 24 * time.Hour,
	}
	r.Send = SendLimits{Address: Limit{Limit: 10, Window: time.Hour}, IP: Limit{Limit: 100, Window: time.Hour}}
}

// resolve maps the deprecated ratelimit.password keys onto the policy; a
// half set one takes the other half from its old default (10 per 5m per
// identifier, 100 per 1m per IP), as it did.
func (r *RateLimit) resolve(_ *Config, w *[]Warning) {
	fill := func(l *Limit, limit int, window time.Duration) {
		if *l == (Limit{}) {
			return
		}
		if l.Limit == 0 {
			l.Limit = limit
		}
		if l.Window == 0 {
			l.Window = window
		}
	}
	fill(&r.Password.Identifier, 10, 5*time.Minute)
	fill(&r.Password.IP, 100, time.Minute)
	if l := r.Password.Identifier; l != (Limit{}) && l.Limit > 0 && l.Window > 0 && len(r.Attempts.Identity) > 0 {
		r.Attempts.Identity[0] = l
		*w = append(*w, Warning{Key: "ratelimit.password.identifier", Message: fmt.Sprintf("is deprecated; it now sets the first tier of ratelimit.attempts.identity (%d wrong attempts of any secret per identity per %s); set that key instead", l.Limit, l.Window)})
	}
	if l := r.Password.IP; l != (Limit{}) && l.Limit > 0 && l.Window > 0 {
		r.Attempts.IP = l
		*w = append(*w, Warning{Key: "ratelimit.password.ip", Message: fmt.Sprintf("is deprecated; it now sets ratelimit.attempts.ip (%d wrong attempts of any secret per client IP per %s); set that key instead", l.Limit, l.Window)})
	}
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
	check := func(key string, l Limit) {
		if l.Limit < 1 || l.Window < time.Second {
			p.add(key, "needs a limit of at least 1 and a window of at least 1s (e.g. {limit: 5, window: 1m})")
		}
	}
	a := r.Attempts
	check("ratelimit.attempts.identity_ip", a.IdentityIP)
	if len(a.Identity) == 0 {
		p.add("ratelimit.attempts.identity", "needs at least one tier (e.g. [{limit: 20, window: 15m}])")
	}
	for i, l := range a.Identity {
		check(fmt.Sprintf("ratelimit.attempts.identity[%d]", i), l)
	}
	check("ratelimit.attempts.ip", a.IP)
	if a.KnownIPFor < time.Minute {
		p.add("ratelimit.attempts.known_ip_for", "%s must be at least 1m", a.KnownIPFor)
	}
	check("ratelimit.send.address", r.Send.Address)
	check("ratelimit.send.ip", r.Send.IP)
	for key, l := range map[string]Limit{"ratelimit.password.identifier": r.Password.Identifier, "ratelimit.password.ip": r.Password.IP} {
		if l != (Limit{}) && (l.Limit < 1 || l.Window < time.Second) {
			p.add(key, "is deprecated, and when set needs both a limit of at least 1 and a window of at least 1s; better set ratelimit.attempts instead")
		}
	}
}
