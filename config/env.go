package config

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "LATCHKEY_"

// EnvName returns the environment variable that sets the key path, e.g.
// "LATCHKEY_SESSION_COOKIE_SAME_SITE" for "session.cookie.same_site", or ""
// if the key cannot be set from the environment (sections, and keys below a
// list item or a user-chosen map name).
func EnvName(key string) string {
	var name string
	schema().walk(func(n *node) {
		if n.path == key {
			name = n.envName
		}
	})
	return name
}

// readEnv reads the LATCHKEY_ variables from environ into a nested raw
// tree keyed like the YAML file. Variable names are resolved against the set
// of known keys, never by splitting at underscores, so keys that contain
// underscores themselves (same_site, base_url) map correctly. Values are
// converted by the key's type: comma-separated (or a JSON array) for lists
// of strings, JSON for mappings and lists of sections, and the plain text
// otherwise. Unknown LATCHKEY_ names are warnings, not problems, because the
// environment is shared with other programs.
func (c *checker) readEnv(environ []string) map[string]any {
	nodes := envNodes()
	var names []string
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	p := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			n := nodes[name]
			if n == nil {
				msg := "unknown environment variable; ignored"
				if s := nearest(name, names); s != "" {
					msg += "; did you mean " + s + "?"
				}
				c.warnings = append(c.warnings, Warning{Key: name, Message: msg})
				return "", nil
			}
			v, ok := c.envValue(n, name, value)
			if !ok {
				return "", nil
			}
			return n.path, v
		},
	})
	m, err := p.Read()
	if err != nil { // cannot happen with a non-empty delimiter; kept for the contract
		c.problems.add("", "read environment: %v", err)
		return nil
	}
	return m
}

func (c *checker) envValue(n *node, name, value string) (any, bool) {
	switch n.kind {
	case kindString, kindDuration, kindByteSize:
		return value, true
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			c.problems.add(n.path, "%s=%q is not true or false", name, value)
			return nil, false
		}
		return b, true
	case kindInt:
		i, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			c.problems.add(n.path, "%s=%q is not a whole number", name, value)
			return nil, false
		}
		return i, true
	case kindUint:
		u, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			c.problems.add(n.path, "%s=%q is not a whole number of 0 or more", name, value)
			return nil, false
		}
		return u, true
	case kindStrings:
		if !strings.HasPrefix(strings.TrimSpace(value), "[") {
			out := []any{}
			for _, s := range strings.Split(value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, true
		}
	}
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		c.problems.add(n.path, "%s is not valid JSON: %v", name, err)
		return nil, false
	}
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		v = int(f)
	}
	return jsonNumbers(v), true
}

// jsonNumbers turns JSON's float64 whole numbers into ints, as YAML yields.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int(x)
		}
	case map[string]any:
		for k, val := range x {
			x[k] = jsonNumbers(val)
		}
	case []any:
		for i, val := range x {
			x[i] = jsonNumbers(val)
		}
	}
	return v
}
