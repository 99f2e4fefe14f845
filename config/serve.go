package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Serve configures the two HTTP listeners.
type Serve struct {
	Public PublicListener `koanf:"public"`
	Admin  AdminListener  `koanf:"admin"`
}

// PublicListener configures the public listener, which browsers and apps reach.
type PublicListener struct {
	Host    string `koanf:"host" doc:"Interface the public listener binds; empty means all interfaces." devdefault:"127.0.0.1"`
	Port    int    `koanf:"port" doc:"TCP port of the public listener; 0 picks a free port."`
	BaseURL string `koanf:"base_url" doc:"URL at which browsers reach the public listener; used for redirects, cookies and links." default:"https://<host or localhost>:<port>/ (a warning is logged)" devdefault:"http://<host>:<port>/ (localhost for a loopback host: http://localhost:4433/)"`
	CORS    CORS   `koanf:"cors"`
	// TrustedProxies has no Kratos equivalent (Kratos trusts forwarding
	// headers from anyone); Hydra's serve.tls.allow_termination_from is the
	// nearest Ory setting.
	TrustedProxies []string `koanf:"trusted_proxies" doc:"IP addresses or CIDR ranges of the reverse proxies in front of the public listener. Only a request from one of them may name the client in X-Forwarded-For (the right-most address that is not a listed proxy is the client) or X-Real-IP; from anyone else these headers are ignored. The client IP keys the attempt limits (ratelimit) and is recorded on sessions and audit logs."`
}

// ProxyPrefixes returns serve.public.trusted_proxies as prefixes (a single
// address as a /32 or /128); it is valid after a successful Load.
func (l PublicListener) ProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseProxy parses an address or CIDR range of a trusted proxy.
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CORS configures cross-origin resource sharing on the public listener.
type CORS struct {
	Enabled          bool     `koanf:"enabled" doc:"Answer CORS preflight requests and set CORS headers."`
	AllowedOrigins   []string `koanf:"allowed_origins" doc:"Origins allowed to call the public API; \"*\" allows all, one \"*\" wildcard per origin allowed."`
	AllowedMethods   []string `koanf:"allowed_methods" doc:"HTTP methods allowed in cross-origin requests."`
	AllowedHeaders   []string `koanf:"allowed_headers" doc:"Request headers allowed in cross-origin requests."`
	ExposedHeaders   []string `koanf:"exposed_headers" doc:"Response headers exposed to cross-origin callers."`
	AllowCredentials bool     `koanf:"allow_credentials" doc:"Allow cookies and credentials in cross-origin requests."`
	MaxAge           int      `koanf:"max_age" doc:"Seconds a browser may cache a preflight answer."`
}

// AdminListener configures the admin listener, which must never be exposed
// publicly.
type AdminListener struct {
	Host    string `koanf:"host" doc:"Interface the admin listener binds; loopback unless set."`
	Port    int    `koanf:"port" doc:"TCP port of the admin listener; 0 picks a free port."`
	BaseURL string `koanf:"base_url" doc:"URL at which operators reach the admin listener." default:"http://<host>:<port>/"`
	APIKey  string `koanf:"api_key" doc:"Optional bearer key every admin request must carry (at least 16 characters outside --dev)." secret:"true"`
}

// Addr returns the host:port address the public listener binds.
func (l PublicListener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// Addr returns the host:port address the admin listener binds.
func (l AdminListener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// PublicURL returns the parsed serve.public.base_url; it is valid after a
// successful Load.
func (s Serve) PublicURL() *url.URL {
	u, err := url.Parse(s.Public.BaseURL)
	if err != nil {
		return &url.URL{}
	}
	return u
}

var corsMethods = []string{"POST", "GET", "PUT", "PATCH", "DELETE", "CONNECT", "HEAD", "OPTIONS", "TRACE"}

func (s *Serve) setDefaults(dev bool) {
	s.Public.Port = 4433
	if dev {
		s.Public.Host = "127.0.0.1"
	}
	s.Public.CORS = CORS{
		AllowedOrigins:   []string{"*"},
		AllowedMethods:   []string{"POST", "GET", "PUT", "PATCH", "DELETE"},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Session-Token"},
		ExposedHeaders:   []string{"Content-Type"},
		AllowCredentials: true,
	}
	s.Admin.Host = "127.0.0.1"
	s.Admin.Port = 4434
}

func (s *Serve) resolve(c *Config, w *[]Warning) {
	if s.Public.BaseURL == "" && c.Dev {
		// A browser on this machine opens the pages as localhost: an IP
		// address is refused as WebAuthn relying party, so passkeys on
		// the hosted pages need the name (and localhost is a secure
		// context over http, as 127.0.0.1 is).
		host := s.Public.Host
		if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsLoopback() {
			host = "localhost"
		}
		s.Public.BaseURL = listenerURL("http", host, s.Public.Port)
	} else if s.Public.BaseURL == "" {
		s.Public.BaseURL = listenerURL("https", s.Public.Host, s.Public.Port)
		*w = append(*w, Warning{Key: "serve.public.base_url", Message: fmt.Sprintf("not set; using %s — set it to the URL browsers use to reach Latchkey", s.Public.BaseURL)})
	}
	if s.Admin.BaseURL == "" {
		s.Admin.BaseURL = listenerURL("http", s.Admin.Host, s.Admin.Port)
	}
	if !isLoopback(s.Admin.Host) && s.Admin.APIKey == "" {
		*w = append(*w, Warning{Key: "serve.admin.host", Message: fmt.Sprintf("%q is not a loopback address and serve.admin.api_key is not set: anyone who can reach the admin listener can manage every identity", s.Admin.Host)})
	}
}

// listenerURL derives a base URL from a listener's host and port.
func listenerURL(scheme, host string, port int) string {
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "localhost"
	}
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)), Path: "/"}).String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (s *Serve) validate(c *Config, p *Problems) {
	checkPort(p, "serve.public.port", s.Public.Port)
	checkPort(p, "serve.admin.port", s.Admin.Port)
	checkHTTPURL(p, "serve.public.base_url", s.Public.BaseURL, true)
	checkHTTPURL(p, "serve.admin.base_url", s.Admin.BaseURL, true)
	if s.Public.Port != 0 && s.Public.Port == s.Admin.Port && sameInterface(s.Public.Host, s.Admin.Host) {
		p.add("serve.admin.port", "%d is also serve.public.port on the same interface; give the listeners different ports", s.Admin.Port)
	}
	if !c.Dev && s.Admin.APIKey != "" && len(s.Admin.APIKey) < 16 {
		p.add("serve.admin.api_key", "is %d characters long, below the minimum of 16 outside --dev; use a longer random key", len(s.Admin.APIKey))
	}
	for i, tp := range s.Public.TrustedProxies {
		if _, err := parseProxy(tp); err != nil {
			p.add(fmt.Sprintf("serve.public.trusted_proxies[%d]", i), "%q is not an IP address or CIDR range (e.g. 10.0.0.7 or 10.0.0.0/8)", tp)
		}
	}
	cors := s.Public.CORS
	for i, o := range cors.AllowedOrigins {
		key := fmt.Sprintf("serve.public.cors.allowed_origins[%d]", i)
		switch {
		case o == "*":
		case o == "":
			p.add(key, "must not be empty")
		case strings.Count(o, "*") > 1:
			p.add(key, "%q has more than one \"*\" wildcard; use at most one", o)
		default:
			u, err := url.Parse(strings.Replace(o, "*", "wildcard", 1))
			if err != nil || u.Scheme == "" || u.Host == "" {
				p.add(key, "%q is not an origin such as \"https://app.example.com\"", o)
			}
		}
	}
	for i, m := range cors.AllowedMethods {
		if !oneOf(m, corsMethods...) {
			p.add(fmt.Sprintf("serve.public.cors.allowed_methods[%d]", i), "%q is not one of %s", m, strings.Join(corsMethods, ", "))
		}
	}
	if cors.MaxAge < 0 {
		p.add("serve.public.cors.max_age", "%d is negative; use 0 or more seconds", cors.MaxAge)
	}
}

func sameInterface(a, b string) bool {
	all := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" || h == "[::]" }
	return a == b || all(a) || all(b)
}

func checkPort(p *Problems, key string, port int) {
	if port < 0 || port > 65535 {
		p.add(key, "%d is not a TCP port; use 1 to 65535 (or 0 for a free port)", port)
	}
}

// checkHTTPURL reports a problem unless raw is an absolute http(s) URL.
func checkHTTPURL(p *Problems, key, raw string, required bool) {
	if raw == "" {
		if required {
			p.add(key, "is required")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "%q is not an absolute http:// or https:// URL", raw)
	}
}
