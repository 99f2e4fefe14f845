package config

import (
	"fmt"
	"net/url"
	"sort"
	"time"
)

// Session configures sessions, their cookie and their signed tokens.
type Session struct {
	Lifespan               time.Duration `koanf:"lifespan" doc:"How long a session lasts before the user must sign in again."`
	EarliestPossibleExtend time.Duration `koanf:"earliest_possible_extend" doc:"A session may be extended only when it expires within this duration; 0 means always."`
	Cookie                 SessionCookie `koanf:"cookie"`
	WhoAmI                 WhoAmI        `koanf:"whoami"`
	JWT                    SessionJWT    `koanf:"jwt"`
	Cache                  SessionCache  `koanf:"cache"`
}

// SessionCache configures the in-process cache of session checks (whoami,
// Hanko's validate and /me). The database stays the source of truth: a
// write on this process drops what it changes at once; writes on other
// processes sharing the database reach the cache through the session
// change log, normally within one sync_interval and at most three.
type SessionCache struct {
	Enabled      bool          `koanf:"enabled" doc:"Answer repeated session checks from memory instead of the database. A session revoked or an identity changed on this process is seen by the next request; on another process sharing the database, normally within one sync_interval and at most three (a check is answered from memory only while the last successful read of the change log began less than three intervals before, and the first read begun after the change drops it)."`
	MaxEntries   int           `koanf:"max_entries" doc:"Session checks remembered, the oldest dropped first: up to about 4KB each (the session, the identity with its addresses, for /me its credentials, and the encoded answer)."`
	SyncInterval time.Duration `koanf:"sync_interval" doc:"How often each process reads the session change log (one indexed query) to drop what other processes changed; it bounds how stale a cached check can be across replicas: normally one interval, at most three. With no successful read for three intervals the cache answers nothing."`
	MaxAge       time.Duration `koanf:"max_age" doc:"A cached check is read from the database again after this long, whatever the change log says."`
}

// SessionCookie configures the session cookie of the Kratos face.
type SessionCookie struct {
	Name       string `koanf:"name" doc:"Session cookie name."`
	Domain     string `koanf:"domain" doc:"Cookie Domain attribute; empty means the host of the request."`
	Path       string `koanf:"path" doc:"Cookie Path attribute."`
	SameSite   string `koanf:"same_site" doc:"Cookie SameSite attribute: Lax, Strict or None (None needs secure)."`
	Secure     bool   `koanf:"secure" doc:"Cookie Secure attribute (HTTPS only)."`
	Persistent bool   `koanf:"persistent" doc:"Give the cookie a Max-Age of session.lifespan so it survives a browser restart."`
}

// WhoAmI configures /sessions/whoami.
type WhoAmI struct {
	RequiredAAL string    `koanf:"required_aal" doc:"AAL a session needs for whoami: aal1 or highest_available."`
	Tokenizer   Tokenizer `koanf:"tokenizer"`
}

// Tokenizer configures whoami's conversion of a session into a JWT.
type Tokenizer struct {
	Templates map[string]TokenizerTemplate `koanf:"templates" doc:"Named templates for whoami?tokenize_as=<name>."`
}

// TokenizerTemplate is one whoami tokenizer template.
type TokenizerTemplate struct {
	TTL             time.Duration `koanf:"ttl" doc:"Lifetime of the token." default:"1m"`
	ClaimsMapperURL string        `koanf:"claims_mapper_url" doc:"Jsonnet claims mapper (file://, base64:// or https://, read once at start, at most 1MB): std.extVar('session') is the session as whoami returns it and std.extVar('claims') the default claims; the object under claims of its output is merged over them (sub stays), as in Kratos."`
	JWKSURL         string        `koanf:"jwks_url" doc:"Key set (JWKS) holding the template's private signing key (file://, base64:// or https://, read once at start with a 10s timeout and at most 1MB; an unreachable one stops the start); required."`
	SubjectSource   string        `koanf:"subject_source" doc:"Source of the sub claim: id or external_id." default:"id"`
}

// SessionJWT configures the signed session tokens of the Hanko face.
type SessionJWT struct {
	Algorithm string   `koanf:"algorithm" doc:"Signing algorithm of session JWTs and new signing keys: ES256 or RS256."`
	Issuer    string   `koanf:"issuer" doc:"iss claim of session JWTs." default:"serve.public.base_url"`
	Audience  []string `koanf:"audience" doc:"aud claim of session JWTs." default:"[host of serve.public.base_url]"`
	// VerifyCacheSize bounds the verified-JWT cache of session checks.
	// The default, 512 tokens (about 0.7 MB of heap), holds every token
	// of up to 512 sessions checked within a minute; a token past it costs
	// one signature verify. It was 4096 (5.7 MB, about 11 MB of RSS once
	// the garbage collector's headroom is counted), then 1024: with the
	// session cache at 1024 too, the two full caches kept RSS under c=16
	// load about 5 MB above issue #16's 50 MB target.
	VerifyCacheSize int `koanf:"verify_cache_size" doc:"Session JWTs remembered as verified (skipping the signature check until exp or 1m), about 1.4KB each with Hanko's claims; 0 turns the cache off."`
}

func (s *Session) setDefaults(dev bool) {
	s.Lifespan = 24 * time.Hour
	s.Cookie = SessionCookie{Name: "ory_kratos_session", Path: "/", SameSite: "Lax", Secure: !dev, Persistent: true}
	s.WhoAmI.RequiredAAL = "highest_available"
	s.JWT.Algorithm = "ES256"
	s.JWT.VerifyCacheSize = 512
	s.Cache = SessionCache{Enabled: true, MaxEntries: 512, SyncInterval: time.Second, MaxAge: time.Minute}
}

func (s *Session) resolve(c *Config, _ *[]Warning) {
	for name, t := range s.WhoAmI.Tokenizer.Templates {
		if t.TTL == 0 {
			t.TTL = time.Minute
		}
		if t.SubjectSource == "" {
			t.SubjectSource = "id"
		}
		s.WhoAmI.Tokenizer.Templates[name] = t
	}
	if s.JWT.Issuer == "" {
		s.JWT.Issuer = c.Serve.Public.BaseURL
	}
	if len(s.JWT.Audience) == 0 {
		if u, err := url.Parse(c.Serve.Public.BaseURL); err == nil && u.Hostname() != "" {
			s.JWT.Audience = []string{u.Hostname()}
		}
	}
}

func (s *Session) validate(c *Config, p *Problems) {
	if s.Lifespan <= 0 {
		p.add("session.lifespan", "%s must be positive", s.Lifespan)
	}
	if s.EarliestPossibleExtend < 0 {
		p.add("session.earliest_possible_extend", "%s must not be negative", s.EarliestPossibleExtend)
	}
	ck := s.Cookie
	if !isCookieToken(ck.Name) {
		p.add("session.cookie.name", "%q is not a valid cookie name", ck.Name)
	}
	if ck.Path != "" && ck.Path[0] != '/' {
		p.add("session.cookie.path", "%q must start with \"/\"", ck.Path)
	}
	if !oneOf(ck.SameSite, "Lax", "Strict", "None") {
		p.add("session.cookie.same_site", "%q is not one of Lax, Strict, None", ck.SameSite)
	} else if ck.SameSite == "None" && !ck.Secure {
		p.add("session.cookie.same_site", "None requires session.cookie.secure: true; browsers drop SameSite=None cookies that are not Secure")
	}
	if !oneOf(s.WhoAmI.RequiredAAL, "aal1", "highest_available") {
		p.add("session.whoami.required_aal", "%q is not one of aal1, highest_available", s.WhoAmI.RequiredAAL)
	}
	names := make([]string, 0, len(s.WhoAmI.Tokenizer.Templates))
	for n := range s.WhoAmI.Tokenizer.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := s.WhoAmI.Tokenizer.Templates[n]
		key := "session.whoami.tokenizer.templates." + n
		if t.TTL <= 0 {
			p.add(key+".ttl", "%s must be positive", t.TTL)
		}
		if t.JWKSURL == "" {
			p.add(key+".jwks_url", "is required: the key set (JWKS) holding the template's private signing key")
		} else if u, err := url.Parse(t.JWKSURL); err != nil || !oneOf(u.Scheme, "file", "base64", "https", "http") {
			p.add(key+".jwks_url", "%q is not a file://, base64:// or https:// URL", t.JWKSURL)
		}
		if t.ClaimsMapperURL != "" {
			if u, err := url.Parse(t.ClaimsMapperURL); err != nil || !oneOf(u.Scheme, "file", "base64", "https", "http") {
				p.add(key+".claims_mapper_url", "%q is not a file://, base64:// or https:// URL", t.ClaimsMapperURL)
			}
		}
		if !oneOf(t.SubjectSource, "id", "external_id") {
			p.add(key+".subject_source", "%q is not one of id, external_id", t.SubjectSource)
		}
	}
	if sc := s.Cache; sc.Enabled {
		if sc.MaxEntries < 1 || sc.MaxEntries > 1_000_000 {
			p.add("session.cache.max_entries", "%d must be between 1 and 1000000 (session.cache.enabled: false turns the cache off)", sc.MaxEntries)
		}
		if sc.SyncInterval < 10*time.Millisecond || sc.SyncInterval > time.Minute {
			p.add("session.cache.sync_interval", "%s must be between 10ms and 1m", sc.SyncInterval)
		}
		if sc.MaxAge < sc.SyncInterval || sc.MaxAge > time.Hour {
			p.add("session.cache.max_age", "%s must be between session.cache.sync_interval (%s) and 1h", sc.MaxAge, sc.SyncInterval)
		}
	}
	if s.JWT.VerifyCacheSize < 0 || s.JWT.VerifyCacheSize > 1_000_000 {
		p.add("session.jwt.verify_cache_size", "%d must be between 0 (no cache) and 1000000", s.JWT.VerifyCacheSize)
	}
	if !oneOf(s.JWT.Algorithm, "ES256", "RS256") {
		p.add("session.jwt.algorithm", "%q is not one of ES256, RS256", s.JWT.Algorithm)
	}
	for i, a := range s.JWT.Audience {
		if a == "" {
			p.add(fmt.Sprintf("session.jwt.audience[%d]", i), "must not be empty")
		}
	}
}

// isCookieToken reports whether s is a non-empty RFC 6265 §4.1.1 cookie-name
// (an RFC 7230 token).
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f {
			return false
		}
		switch r {
		case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
			return false
		}
	}
	return true
}
