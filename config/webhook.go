package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
)

// WebHook is the typed config of a Kratos web_hook hook
// (selfservice.flows.<flow>.<before|after>[.<method>].hooks[i].config),
// with Kratos' keys: url, method, headers, body, auth {type, config},
// response {ignore, parse}, can_interrupt, emit_analytics_event, id.
type WebHook struct {
	// ID is Kratos' optional webhook id (analytics); kept for logs.
	ID string
	// URL is the only address the hook calls (http or https).
	URL string
	// Method is the HTTP method; default POST.
	Method string
	// Headers are sent with every request (canonical names). Content-Type
	// defaults to application/json; application/x-www-form-urlencoded
	// sends the body's top-level fields as a form.
	Headers map[string]string
	// Body is the Jsonnet template's URI (file://, base64://, http(s)://);
	// required, as Kratos builds no request without one.
	Body string
	// Auth is how the request authenticates; nil sends no credentials.
	Auth *WebHookAuth
	// Ignore (response.ignore) makes the hook asynchronous: the request is
	// queued in the store and retried, and its answer is not read.
	Ignore bool
	// Parse (response.parse) reads the answer: a 200 body
	// {"identity": {...}} may change traits and metadata (before the
	// identity is stored), a 4xx/5xx body {"messages": [...]} interrupts
	// the flow with those messages.
	Parse bool
	// CanInterrupt lets a 4xx/5xx answer {"messages": [...]} interrupt the
	// flow with those messages.
	CanInterrupt bool
	// EmitAnalyticsEvent is Kratos' switch for its analytics events.
	// Latchkey sends none: an explicit true gets a warning (warnAnalytics).
	EmitAnalyticsEvent bool
}

// WebHookAuth is a web hook's auth: api_key (Name, Value, In: header or
// cookie) or basic_auth (User, Password). Value and Password are secrets:
// String never shows them.
type WebHookAuth struct {
	Type     string
	Name     string
	Value    string
	In       string
	User     string
	Password string
}

// String describes the auth without its secret.
func (a *WebHookAuth) String() string {
	if a == nil {
		return "none"
	}
	if a.Type == "api_key" {
		return fmt.Sprintf("api_key %s in %s", a.Name, a.In)
	}
	return "basic_auth user " + a.User
}

// Sync reports whether the hook waits for its answer (it is not
// response.ignore).
func (w *WebHook) Sync() bool { return !w.Ignore }

// Interrupts reports whether an error answer with messages interrupts the
// flow (can_interrupt or response.parse).
func (w *WebHook) Interrupts() bool { return w.CanInterrupt || w.Parse }

// Fingerprint names the hook without its secrets: a queued asynchronous
// call is sent with the configured hook of the same fingerprint, so a
// delivery never goes out with another hook's URL or credentials.
func (w *WebHook) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", w.URL, w.Method, w.Body)
	names := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "%s\x00", k)
	}
	if w.Auth != nil {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", w.Auth.Type, w.Auth.Name, w.Auth.In, w.Auth.User)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// webHookMethods are the methods a web hook may use.
var webHookMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// ParseWebHook reads a web_hook hook's config map. Problems are reported
// under key (the hook's "…hooks[i].config"); the result is nil when there
// are any. A file:// body is read to check that it is readable.
func ParseWebHook(key string, m map[string]any) (*WebHook, Problems) {
	var p Problems
	w := &WebHook{Method: http.MethodPost, EmitAnalyticsEvent: true}
	str := func(k string, v any) string {
		s, ok := v.(string)
		if !ok {
			p.add(key+"."+k, "must be a string")
		}
		return s
	}
	boolean := func(k string, v any) bool {
		switch b := v.(type) {
		case bool:
			return b
		case string:
			if b == "true" || b == "false" {
				return b == "true"
			}
		}
		p.add(key+"."+k, "must be true or false")
		return false
	}
	for k, v := range m {
		switch k {
		case "id":
			w.ID = str(k, v)
		case "url":
			w.URL = str(k, v)
		case "method":
			w.Method = strings.ToUpper(str(k, v))
			if !oneOf(w.Method, webHookMethods...) {
				p.add(key+".method", "%q is not one of %s", v, strings.Join(webHookMethods, ", "))
			}
		case "body":
			w.Body = str(k, v)
		case "headers":
			hm, ok := v.(map[string]any)
			if !ok {
				p.add(key+".headers", "must be a map of header names to values")
				continue
			}
			w.Headers = map[string]string{}
			for hk, hv := range hm {
				s, ok := hv.(string)
				if !ok || hk == "" || strings.ContainsAny(hk+s, "\r\n") {
					p.add(key+".headers."+hk, "must be a header name with a single-line string value")
					continue
				}
				w.Headers[http.CanonicalHeaderKey(hk)] = s
			}
		case "auth":
			w.Auth = parseWebHookAuth(&p, key+".auth", v)
		case "response":
			rm, ok := v.(map[string]any)
			if !ok {
				p.add(key+".response", "must be a map with ignore and parse")
				continue
			}
			for rk, rv := range rm {
				switch rk {
				case "ignore":
					w.Ignore = boolean("response.ignore", rv)
				case "parse":
					w.Parse = boolean("response.parse", rv)
				default:
					p.add(key+".response."+rk, "is not a web_hook response key; use ignore or parse")
				}
			}
		case "can_interrupt":
			w.CanInterrupt = boolean(k, v)
		case "emit_analytics_event":
			w.EmitAnalyticsEvent = boolean(k, v)
		default:
			p.add(key+"."+k, "is not a web_hook key; use url, method, headers, body, auth, response, can_interrupt, emit_analytics_event or id")
		}
	}
	if w.URL == "" {
		if _, ok := m["url"]; !ok {
			p.add(key+".url", "is required")
		}
	} else if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		p.add(key+".url", "%q is not an absolute http:// or https:// URL without user info", w.URL)
	}
	if w.Body != "" {
		if _, err := ReadWebHookBody(w.Body, false); err != nil {
			p.add(key+".body", "%v", err)
		}
	} else if b, ok := m["body"]; !ok || b == "" {
		// Kratos' request builder refuses a web_hook request without a body
		// template ("got empty template path for request with body") for
		// every method a web_hook may use, so such a hook fails every call.
		p.add(key+".body", "is required: Kratos sends no web_hook call without a body template (each call fails); set a Jsonnet template, e.g. base64:// of function(ctx) { identity: ctx.identity }")
	}
	if w.Ignore && w.Interrupts() {
		p.add(key+".response.ignore", "cannot be true together with response.parse or can_interrupt (an ignored answer cannot be parsed); drop one of them")
	}
	if ct, ok := w.Headers["Content-Type"]; ok && !oneOf(ct, "application/json", "application/x-www-form-urlencoded") {
		p.add(key+".headers.Content-Type", "%q is not application/json or application/x-www-form-urlencoded", ct)
	}
	if len(p) > 0 {
		return nil, p
	}
	return w, nil
}

func parseWebHookAuth(p *Problems, key string, v any) *WebHookAuth {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(key, "must be a map with type and config")
		return nil
	}
	a := &WebHookAuth{}
	a.Type, _ = m["type"].(string)
	cfg, _ := m["config"].(map[string]any)
	for k := range m {
		if k != "type" && k != "config" {
			p.add(key+"."+k, "is not an auth key; use type and config")
		}
	}
	get := func(k string) string {
		s, ok := cfg[k].(string)
		if !ok || s == "" {
			p.add(key+".config."+k, "is required (a non-empty string)")
		}
		return s
	}
	allowed := map[string][]string{"api_key": {"name", "value", "in"}, "basic_auth": {"user", "password"}}
	keys, known := allowed[a.Type]
	if !known {
		p.add(key+".type", "%q is not one of api_key, basic_auth", m["type"])
		return nil
	}
	for k := range cfg {
		if !oneOf(k, keys...) {
			p.add(key+".config."+k, "is not a %s key; use %s", a.Type, strings.Join(keys, ", "))
		}
	}
	switch a.Type {
	case "api_key":
		a.Name, a.Value = get("name"), get("value")
		a.In, _ = cfg["in"].(string)
		if a.In == "" {
			a.In = "header"
		}
		if !oneOf(a.In, "header", "cookie") {
			p.add(key+".config.in", "%q is not one of header, cookie", a.In)
		}
		if strings.ContainsAny(a.Name+a.Value, "\r\n") {
			p.add(key+".config", "name and value must be single-line")
		}
	case "basic_auth":
		a.User, a.Password = get("user"), get("password")
	}
	return a
}

// MaxWebHookBody is the largest Jsonnet body template read from a file,
// base64:// or http(s):// URL.
const MaxWebHookBody = 1 << 20

// ReadWebHookBody returns the Jsonnet program a body URI names: a file://
// path read from disk or a base64:// program decoded. An http(s):// URI is
// fetched by the webhook package; here (fetch false) it is only checked.
func ReadWebHookBody(uri string, fetch bool) (string, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "", fmt.Errorf("%q is not a file://, base64://, http:// or https:// URL", uri)
	}
	switch scheme {
	case "file":
		path := rest
		if u, err := url.Parse(uri); err == nil && u.Path != "" {
			path = u.Path
		}
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("cannot read %q: %v", uri, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxWebHookBody+1))
		if err != nil {
			return "", fmt.Errorf("cannot read %q: %v", uri, err)
		}
		if len(b) > MaxWebHookBody {
			return "", fmt.Errorf("%q is larger than %d bytes", uri, MaxWebHookBody)
		}
		return string(b), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(rest, "=")); err != nil {
				return "", fmt.Errorf("base64:// body is not valid base64: %v", err)
			}
		}
		return string(b), nil
	case "http", "https":
		if u, err := url.Parse(uri); err != nil || u.Host == "" {
			return "", fmt.Errorf("%q is not an absolute URL", uri)
		}
		if fetch {
			return "", fmt.Errorf("%q: http(s) bodies are fetched by the webhook package", uri)
		}
		return "", nil
	}
	return "", fmt.Errorf("%q is not a file://, base64://, http:// or https:// URL", uri)
}

// WebHooks returns every web_hook hook of the self-service flows, parsed
// (hooks whose config has problems are skipped; Validate reports them).
// The webhook worker uses it to find a queued call's hook by fingerprint.
func (s SelfService) WebHooks() []*WebHook {
	var out []*WebHook
	for _, m := range s.webHookConfigs() {
		if w, p := ParseWebHook("", m); len(p) == 0 {
			out = append(out, w)
		}
	}
	return out
}

// webHookConfigs returns the config of every web_hook hook, in flow order.
func (s SelfService) webHookConfigs() []map[string]any {
	var out []map[string]any
	add := func(hooks []Hook) {
		for _, h := range hooks {
			if h.Hook == "web_hook" {
				out = append(out, h.Config)
			}
		}
	}
	f := s.Flows
	for _, b := range []Before{f.Login.Before, f.Registration.Before, f.Settings.Before, f.Recovery.Before, f.Verification.Before} {
		add(b.Hooks)
	}
	for _, a := range []After{f.Login.After, f.Registration.After, f.Settings.After, f.Recovery.After, f.Verification.After} {
		add(a.Hooks)
		for _, m := range []AfterMethod{a.Password, a.Code, a.WebAuthn, a.Passkey, a.OIDC, a.TOTP, a.LookupSecret, a.Profile} {
			add(m.Hooks)
		}
	}
	return out
}

// warnAnalytics warns once when a web_hook asks for Kratos' analytics
// events (emit_analytics_event: true): Latchkey sends none, so the key
// has no effect and must not pass silently.
func (s SelfService) warnAnalytics(w *[]Warning) {
	for _, m := range s.webHookConfigs() {
		if v, ok := m["emit_analytics_event"].(bool); ok && v {
			*w = append(*w, Warning{Key: "selfservice.flows.*.hooks[].config.emit_analytics_event",
				Message: "true has no effect: Latchkey sends no analytics events (Kratos sends them to Ory); remove it or set it to false"})
			return
		}
	}
}

// warnAddressParse warns about a response.parse web_hook after recovery or
// verification: as in Kratos, its error answer interrupts the flow, but an
// identity in a 200 answer is not saved there (Kratos changes only its
// in-memory copy), so that half of the key has no effect.
func (s SelfService) warnAddressParse(w *[]Warning) {
	for _, f := range []struct {
		name  string
		hooks []Hook
	}{{"recovery", s.Flows.Recovery.After.Hooks}, {"verification", s.Flows.Verification.After.Hooks}} {
		name := f.name
		for i, h := range f.hooks {
			if h.Hook != "web_hook" {
				continue
			}
			if wh, p := ParseWebHook("", h.Config); len(p) == 0 && wh.Parse {
				*w = append(*w, Warning{Key: fmt.Sprintf("selfservice.flows.%s.after.hooks[%d].config.response.parse", name, i),
					Message: "an error answer {\"messages\": [...]} interrupts the " + name + " (as can_interrupt does), but an identity in a 200 answer is not saved after " + name + ", as in Kratos"})
			}
		}
	}
}
