package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// hankoKey says what becomes of one of Hanko's configuration keys
// (backend/config of teamhanko/hanko) placed under hanko: when Latchkey has no
// key of that name there. Hanko's keys that Latchkey has under the same name
// below hanko: (hanko.password.min_length, hanko.session.cookie.name …) work
// as they are and are not listed.
type hankoKey struct {
	// to is the Latchkey key the value is read as (absolute path); a
	// warning names both. Empty when the key is refused.
	to string
	// conv converts the value for to (Hanko's seconds to a duration).
	conv func(v any) (any, bool)
	// same, when set, is the value that asks for what Latchkey does
	// anyway: that value loads with a warning, any other is refused.
	same any
	// why says why the key is refused and what to use instead.
	why string
}

// seconds converts Hanko's whole seconds into a duration string.
func seconds(v any) (any, bool) {
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n) + "s", n > 0
	case int64:
		return strconv.FormatInt(n, 10) + "s", n > 0
	case string:
		if _, err := strconv.Atoi(n); err == nil {
			return n + "s", true
		}
		return n, true
	}
	return v, false
}

// hankoKeys maps Hanko's key paths (below hanko:, "*" for a name) to their
// outcome. A path ending in ".**" covers a subtree.
var hankoKeys = map[string]hankoKey{
	"convert_legacy_config": {same: false, why: "Latchkey reads Hanko's current keys only"},
	"debug":                 {same: false, why: "Latchkey has no debug mode for the Hanko face; use log.level: debug"},
	"service.name":          {to: "ui.product_name"},
	"secrets.keys":          {to: "secrets.default"},
	"secrets.key_management.type": {same: "local",
		why: "Latchkey keeps its signing keys in its database, encrypted with secrets.cipher; rotate them with `latchkey keys rotate`"},
	"secrets.key_management.**": {why: "Latchkey keeps its signing keys in its database, encrypted with secrets.cipher (no AWS KMS)"},

	"server.public.address":                             {to: "serve.public"},
	"server.admin.address":                              {to: "serve.admin"},
	"server.public.cors.allow_origins":                  {to: "hanko.cors.allow_origins"},
	"server.public.cors.unsafe_wildcard_origin_allowed": {to: "hanko.cors.unsafe_wildcard_origin_allowed"},
	"server.management.**":                              {why: "Latchkey has no management API; the admin API is on the admin listener (serve.admin)"},
	"server.*.path_prefix":                              {why: "use hanko.admin_prefix for the admin API; the public API is served at the root"},

	"webauthn.relying_party.id":           {to: "selfservice.methods.passkey.config.rp.id"},
	"webauthn.relying_party.display_name": {to: "selfservice.methods.passkey.config.rp.display_name"},
	"webauthn.relying_party.origins":      {to: "selfservice.methods.passkey.config.rp.origins"},
	"webauthn.relying_party.icon":         {why: "WebAuthn dropped the icon; remove it"},
	"webauthn.user_verification":          {to: "hanko.passkey.user_verification"},
	"webauthn.timeout":                    {same: 600000, why: "Latchkey's ceremonies time out after Hanko's default of 10 minutes"},
	"webauthn.timeouts.registration":      {same: 600000, why: "Latchkey's ceremonies time out after Hanko's default of 10 minutes"},
	"webauthn.timeouts.login":             {same: 600000, why: "Latchkey's ceremonies time out after Hanko's default of 10 minutes"},

	"smtp.*":                       {to: "courier.smtp.connection_uri"},
	"passcode.smtp.*":              {to: "courier.smtp.connection_uri"},
	"email_delivery.smtp.*":        {to: "courier.smtp.connection_uri"},
	"email_delivery.enabled":       {to: "hanko.email.delivery"},
	"email_delivery.from_address":  {to: "courier.smtp.from_address"},
	"email_delivery.from_name":     {to: "courier.smtp.from_name"},
	"passcode.email.from_address":  {to: "courier.smtp.from_address"},
	"passcode.email.from_name":     {to: "courier.smtp.from_name"},
	"passcode.ttl":                 {to: "hanko.passcode.ttl", conv: seconds},
	"email.passcode_ttl":           {to: "hanko.passcode.ttl", conv: seconds},
	"email.passcode_charset":       {same: "numeric", why: "Latchkey's passcodes are six digits"},
	"password.min_password_length": {to: "hanko.password.min_length"},
	"emails.require_verification":  {to: "hanko.email.require_verification"},
	"emails.max_num_of_addresses":  {to: "hanko.email.limit"},
	"passkey.optional":             {same: true, why: "a Hanko user may always delete the last passkey in Latchkey when another way to log in is left"},
	"database.*":                   {to: "dsn"},

	"session.issuer":             {to: "session.jwt.issuer"},
	"session.audience":           {to: "session.jwt.audience"},
	"session.allow_revocation":   {same: true, why: "users can always end their own sessions"},
	"session.acquire_ip_address": {same: true, why: "Latchkey always records the client IP of a session"},
	"session.acquire_user_agent": {same: true, why: "Latchkey always records the user agent of a session"},
	"session.show_on_profile":    {same: true, why: "the profile flow always lists the user's sessions"},
	"session.binding.enabled":    {same: false, why: "session binding is not built"},
	"session.limit":              {why: "Latchkey does not cap a user's sessions; remove it"},
	"session.idle_timeout":       {same: "0", why: "sessions have no idle timeout in Latchkey; only hanko.session.lifespan ends them"},
	"session.server_side.**":     {why: "Hanko's deprecated server_side section: Latchkey's sessions are always server-side; use hanko.session.lifespan"},

	"audit_log.storage.enabled":              {to: "hanko.audit_log.enabled"},
	"audit_log.mask":                         {to: "hanko.audit_log.mask_email"},
	"audit_log.retention":                    {to: "cleanup.retention.audit_logs"},
	"audit_log.console_output.enabled":       {same: false, why: "Latchkey writes the audit log to its database only (GET /audit_logs)"},
	"audit_log.console_output.output_stream": {why: "Latchkey writes the audit log to its database only (GET /audit_logs)"},

	"rate_limiter.store":           {why: "the Hanko face counts in the shared store of ratelimit.backend (database, redis or memory); set that instead"},
	"rate_limiter.redis.**":        {why: "set ratelimit.backend: redis and ratelimit.redis_url"},
	"rate_limiter.otp_limits.**":   {why: "TOTP codes count against the shared attempt policy (ratelimit.attempts)"},
	"rate_limiter.token_limits.**": {why: "token exchange is not offered (no SAML); nothing to limit"},

	"third_party.providers.*.display_name": {why: "a built-in provider's button shows its own name; use custom_providers for another label"},
	"third_party.providers.*.id":           {why: "a built-in provider's id is its name"},

	"log.log_health_and_metrics":            {same: true, why: "Latchkey logs every request at debug level"},
	"mfa.device_trust_max_users_per_device": {why: "Latchkey keeps at most 10 trusted devices per user and does not count users per device"},
	"flow_locker.enabled":                   {same: true, why: "Latchkey always guards a flow against concurrent changes (versioned rows in its database)"},
	"flow_locker.**":                        {why: "Latchkey guards flows with versioned rows in its database; nothing to configure"},
	"security_notifications.**":             {why: "Latchkey sends no security notification e-mails yet; remove the section"},
	"saml.**":                               {why: "SAML is not supported"},
	"multi_tenant.**":                       {why: "Latchkey serves one tenant per process"},
}

// lookupHankoKey finds the outcome for path (below hanko:).
func lookupHankoKey(path string) (hankoKey, bool) {
	segs := strings.Split(path, ".")
	var best *hankoKey
	bestLen := -1
	for pattern, k := range hankoKeys {
		ps := strings.Split(pattern, ".")
		if m := matchSegs(segs, ps); m == kratosKey {
			// Prefer the most specific pattern (exact over subtree).
			n := len(ps)
			if ps[len(ps)-1] == "**" {
				n = len(ps) - 1
			} else {
				n += 100
			}
			if n > bestLen {
				k := k
				best, bestLen = &k, n
			}
		}
	}
	if best == nil {
		return hankoKey{}, false
	}
	return *best, true
}

// hankoKeys rewrites Hanko's keys under hanko: in the raw file tree: a key
// Latchkey has under another name moves there with a warning naming both, a
// key asking for what Latchkey does anyway is dropped with a warning, and a
// key for something Latchkey does not do is a problem saying why. Keys
// Latchkey does not know and Hanko does not have are left for the unknown-key
// check.
func (c *checker) hankoKeys(raw map[string]any) {
	h, ok := raw["hanko"].(map[string]any)
	if !ok {
		return
	}
	var smtp, db map[string]any
	var smtpFrom, dbFrom string
	var walk func(m map[string]any, path string)
	walk = func(m map[string]any, path string) {
		for _, k := range sortedKeys(m) {
			v := m[k]
			p := join(path, k)
			if n, known := schema().byKey["hanko"].lookup(p); known {
				if i, ok := v.(int); ok && i > 0 && n.kind == kindDuration {
					m[k] = strconv.Itoa(i) + "s" // Hanko gives passcode.ttl in seconds
				}
				if sub, ok := v.(map[string]any); ok && (n.kind == kindStruct || n.kind == kindMap) {
					walk(sub, p)
				}
				continue
			}
			if sub, ok := v.(map[string]any); ok {
				// A section: each key in it gets its own outcome.
				walk(sub, p)
				if len(sub) == 0 {
					delete(m, k)
				}
				continue
			}
			hk, ok := lookupHankoKey(p)
			if !ok {
				continue
			}
			key := "hanko." + p
			delete(m, k)
			switch {
			case hk.to == "courier.smtp.connection_uri":
				if smtp == nil {
					smtp = map[string]any{}
				}
				if _, set := smtp[k]; !set {
					smtp[k] = v // email_delivery.smtp first, as Hanko prefers it
				}
				if smtpFrom == "" {
					smtpFrom = "hanko." + path
				}
			case hk.to == "dsn":
				if db == nil {
					db = map[string]any{}
				}
				db[k] = v
				dbFrom = "hanko." + path
			case hk.to == "serve.public" || hk.to == "serve.admin":
				c.hankoAddress(raw, key, hk.to, v)
			case hk.to != "":
				if hk.conv != nil {
					var good bool
					if v, good = hk.conv(v); !good {
						c.problems.add(key, "expected a positive number of seconds, got %s", describe(v))
						continue
					}
				}
				c.moveHanko(raw, key, hk.to, v)
			case hk.same != nil && sameValue(v, hk.same):
				c.warnings = append(c.warnings, Warning{Key: key, Message: "Hanko's key; Latchkey always does what this value asks (" + hk.why + "); remove it"})
			case hk.same != nil:
				c.problems.add(key, "%s is not supported: %s; remove it (only %v is accepted)", describe(v), hk.why, hk.same)
			default:
				c.problems.add(key, "is Hanko's key and not supported: %s", hk.why)
			}
		}
	}
	walk(h, "")
	if smtp != nil {
		c.hankoSMTP(raw, smtpFrom, smtp)
	}
	if db != nil {
		c.hankoDatabase(raw, dbFrom, db)
	}
}

// lookup finds the node at the dotted path below n ("*" matches any map name).
func (n *node) lookup(path string) (*node, bool) {
	cur := n
	for _, seg := range strings.Split(path, ".") {
		switch {
		case cur.kind == kindStruct:
			next := cur.byKey[seg]
			if next == nil {
				return nil, false
			}
			cur = next
		case cur.kind == kindMap:
			cur = cur.elem
		default:
			return nil, false
		}
	}
	return cur, true
}

func sameValue(v, want any) bool {
	if reflect.DeepEqual(v, want) {
		return true
	}
	return fmt.Sprint(v) == fmt.Sprint(want)
}

// moveHanko sets the absolute key to v in the raw tree, unless the file sets
// it already.
func (c *checker) moveHanko(raw map[string]any, from, to string, v any) {
	m, last := rawParent(raw, to)
	if prev, set := m[last]; set && (sameValue(prev, v) || sameValue(fmt.Sprint(prev)+"s", v)) {
		c.warnings = append(c.warnings, Warning{Key: from, Message: "Hanko's key, read as " + to + " (set to the same value already); remove it"})
		return
	} else if set {
		c.problems.add(from, "is Hanko's name of %s, which is set too (or set by another of Hanko's keys); remove one of them", to)
		return
	}
	m[last] = v
	c.warnings = append(c.warnings, Warning{Key: from, Message: "Hanko's key, read as " + to + "; rename it"})
}

// hankoAddress reads Hanko's server.*.address (host:port) as serve.*.host
// and serve.*.port.
func (c *checker) hankoAddress(raw map[string]any, from, to string, v any) {
	s, _ := v.(string)
	host, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		c.problems.add(from, "%s is not a host:port address such as \":8000\"", describe(v))
		return
	}
	section := raw
	for _, seg := range strings.Split(to, ".") {
		next, ok := section[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			section[seg] = next
		}
		section = next
	}
	read := to + ".port"
	if host != "" {
		read = to + ".host and " + read
	}
	if _, set := section["port"]; set || (host != "" && section["host"] != nil) {
		c.problems.add(from, "is Hanko's address of %s, which is set too; remove one of them", read)
		return
	}
	section["port"] = n
	if host != "" {
		section["host"] = host
	}
	c.warnings = append(c.warnings, Warning{Key: from, Message: "Hanko's key, read as " + read + "; set those instead"})
}

// hankoSMTP builds courier.smtp.connection_uri from Hanko's smtp host, port,
// user and password (port 465 is implicit TLS, as in Hanko's mailer).
func (c *checker) hankoSMTP(raw map[string]any, from string, m map[string]any) {
	host, _ := m["host"].(string)
	port := fmt.Sprint(m["port"])
	if m["port"] == nil {
		port = "465"
	}
	if host == "" {
		c.problems.add(from, "Hanko's SMTP settings need a host to be read as courier.smtp.connection_uri")
		return
	}
	scheme := "smtp"
	if port == "465" {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/"}
	if user, _ := m["user"].(string); user != "" {
		pw, _ := m["password"].(string)
		u.User = url.UserPassword(user, pw)
	}
	c.moveHanko(raw, from, "courier.smtp.connection_uri", u.String())
}

// hankoDatabase builds dsn from Hanko's database section (url, or dialect,
// host, port, user, password and database).
func (c *checker) hankoDatabase(raw map[string]any, from string, m map[string]any) {
	if u, ok := m["url"].(string); ok && u != "" {
		c.moveHanko(raw, from, "dsn", u)
		return
	}
	str := func(k string) string {
		if m[k] == nil {
			return ""
		}
		return fmt.Sprint(m[k])
	}
	dialect := str("dialect")
	switch dialect {
	case "postgres", "mysql":
	case "cockroach":
		c.problems.add("hanko.database.dialect", "cockroach is not supported; use PostgreSQL or MySQL")
		return
	default:
		c.problems.add("hanko.database.dialect", "%q is not postgres or mysql; or set dsn", dialect)
		return
	}
	u := url.URL{Scheme: dialect, Host: net.JoinHostPort(str("host"), str("port")), Path: "/" + str("database")}
	if dialect == "mysql" {
		u.Host = "tcp(" + u.Host + ")"
	}
	if user := str("user"); user != "" {
		u.User = url.UserPassword(user, str("password"))
	}
	c.moveHanko(raw, from, "dsn", u.String())
}
