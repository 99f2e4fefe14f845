package config

import "strings"

// legacyKeys maps the keys Kratos still reads under older names onto
// Latchkey's keys in the raw file tree, with a warning each, so an old
// kratos.yml loads: selfservice.whitelisted_return_urls is
// selfservice.allowed_return_urls, and identity.default_schema_url is the
// URL of the default schema (identity.schemas [{id: default, url}]). A
// legacy key beside its new name is a problem: one of them would be
// ignored.
//
// Kratos' fallbacks hold too (kratosFallbacks): secrets.cookie is read as
// secrets.default when that is not set (Latchkey signs no cookie, and
// without secrets.default a Kratos config would not start outside --dev;
// Kratos itself makes up a random secrets.default at every start), and
// cookies.domain, cookies.path and cookies.same_site as the session
// cookie's, which Kratos takes from them when session.cookie.* is not set
// (Latchkey's anti-CSRF cookie has the session cookie's attributes). The
// environment's SECRETS_COOKIE, COOKIES_DOMAIN, … do the same
// (withKratosEnv).
func (c *checker) legacyKeys(raw map[string]any) {
	c.fileSet = map[string]bool{}
	for _, f := range kratosFallbacks {
		if _, ok := rawGet(raw, f.to); ok {
			c.fileSet[f.to] = true
			continue
		}
		v, ok := rawGet(raw, f.from)
		if !ok {
			continue
		}
		rawDelete(raw, f.from)
		rawSet(raw, f.to, v)
		c.warnings = append(c.warnings, Warning{Key: f.from, Message: "read as " + f.to + ", which is not set (" + f.why + "); move it there"})
	}
	if ss, ok := raw["selfservice"].(map[string]any); ok {
		if v, ok := ss["whitelisted_return_urls"]; ok {
			delete(ss, "whitelisted_return_urls")
			if _, both := ss["allowed_return_urls"]; both {
				c.problems.add("selfservice.whitelisted_return_urls", "is Kratos' old name of selfservice.allowed_return_urls, which is set too; remove one of them")
			} else {
				ss["allowed_return_urls"] = v
				c.warnings = append(c.warnings, Warning{Key: "selfservice.whitelisted_return_urls",
					Message: "Kratos' old name, read as selfservice.allowed_return_urls; rename it"})
			}
		}
	}
	if id, ok := raw["identity"].(map[string]any); ok {
		if v, ok := id["default_schema_url"]; ok {
			delete(id, "default_schema_url")
			url, isString := v.(string)
			_, hasSchemas := id["schemas"]
			switch {
			case !isString || url == "":
				c.problems.add("identity.default_schema_url", "must be the URL of the default identity schema (file://, https:// or base64://)")
			case hasSchemas:
				c.problems.add("identity.default_schema_url", "is Kratos' old way to name the default schema, and identity.schemas is set too; add the schema to identity.schemas and remove this key")
			default:
				id["schemas"] = []any{map[string]any{"id": "default", "url": url}}
				if _, set := id["default_schema_id"]; !set {
					id["default_schema_id"] = "default"
				}
				c.warnings = append(c.warnings, Warning{Key: "identity.default_schema_url",
					Message: "Kratos' old key, read as identity.schemas [{id: default, url: " + url + "}]; move it there"})
			}
		}
	}
}

// kratosFallbacks are the Kratos keys read as another key when that one is
// not set, in the file and in the environment.
var kratosFallbacks = []struct{ from, to, why string }{
	{"secrets.cookie", "secrets.default", "Latchkey signs no cookie; secrets.default keys its codes, tokens and flow state"},
	{"cookies.domain", "session.cookie.domain", "as Kratos takes the session cookie's domain from it"},
	{"cookies.path", "session.cookie.path", "as Kratos takes the session cookie's path from it"},
	{"cookies.same_site", "session.cookie.same_site", "as Kratos takes the session cookie's SameSite from it"},
}

// rawGet, rawSet and rawDelete reach a dotted path in the raw file tree.
func rawGet(raw map[string]any, path string) (any, bool) {
	segs := strings.Split(path, ".")
	m := raw
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	v, ok := m[segs[len(segs)-1]]
	return v, ok
}

func rawSet(raw map[string]any, path string, v any) {
	m, last := rawParent(raw, path)
	m[last] = v
}

// rawParent returns the map that holds path's last segment in the raw
// tree, making the maps on the way, and that segment.
func rawParent(raw map[string]any, path string) (map[string]any, string) {
	segs := strings.Split(path, ".")
	m := raw
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	return m, segs[len(segs)-1]
}

func rawDelete(raw map[string]any, path string) {
	segs := strings.Split(path, ".")
	m := raw
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, segs[len(segs)-1])
}
