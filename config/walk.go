package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checker walks a raw configuration tree (from YAML or the environment)
// against the key tree, collecting every problem and warning. It returns a
// cleaned tree holding only known keys with values of the right type, already
// converted (durations to time.Duration, byte sizes to ByteSize), so decoding
// into Config cannot fail on it.
type checker struct {
	problems Problems
	warnings []Warning
	from     string // appended to type problems, e.g. " (from LATCHKEY_SERVE_PUBLIC_PORT)"
	warned   map[string]bool
	// fileSet holds the targets of kratosFallbacks the file sets itself:
	// the environment's fallback variable (SECRETS_COOKIE for
	// secrets.default) is then not used; it still overrides the file's
	// fallback key (secrets.cookie), as in Kratos.
	fileSet map[string]bool
}

func (c *checker) problem(key, format string, args ...any) {
	c.problems.add(key, format+c.from, args...)
}

// section checks the mapping m against the struct node n.
func (c *checker) section(n *node, path string, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		child := n.byKey[k]
		cpath := join(path, k)
		if child == nil {
			c.unknown(join(n.path, k), cpath, v)
			continue
		}
		if cv, ok := c.value(child, cpath, v); ok {
			out[k] = cv
		}
	}
	return out
}

// value checks v against node n at the concrete key path. It returns false
// when v is unset (null) or wrong, so the key keeps its default. Problems
// about secret keys never quote the value.
func (c *checker) value(n *node, path string, v any) (any, bool) {
	if v == nil {
		return nil, false
	}
	describe := describe
	if n.secret {
		describe = describeKind
	}
	switch n.kind {
	case kindStruct:
		m, ok := c.mapping(path, v)
		if !ok {
			return nil, false
		}
		return c.section(n, path, m), true
	case kindMap:
		m, ok := c.mapping(path, v)
		if !ok {
			return nil, false
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			if cv, ok := c.value(n.elem, path+"."+k, m[k]); ok {
				out[k] = cv
			}
		}
		return out, true
	case kindList:
		l, ok := v.([]any)
		if !ok {
			c.problem(path, "expected a list, got %s", describe(v))
			return nil, false
		}
		out := make([]any, 0, len(l))
		for i, item := range l {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			if item == nil {
				c.problem(ipath, "is empty; remove it or fill it in")
				continue
			}
			if cv, ok := c.value(n.elem, ipath, item); ok {
				out = append(out, cv)
			}
		}
		return out, true
	case kindStrings:
		l, ok := v.([]any)
		if !ok {
			c.problem(path, "expected a list of strings, got %s", describe(v))
			return nil, false
		}
		out := make([]any, 0, len(l))
		good := true
		for i, item := range l {
			s, ok := item.(string)
			if !ok {
				c.problem(fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s%s", describe(item), quoteHint(item))
				good = false
			}
			out = append(out, s)
		}
		return out, good
	case kindStringMap:
		m, ok := c.mapping(path, v)
		if !ok {
			return nil, false
		}
		out := make(map[string]any, len(m))
		good := true
		for _, k := range sortedKeys(m) {
			s, ok := m[k].(string)
			if !ok {
				c.problem(path+"."+k, "expected a string, got %s%s", describe(m[k]), quoteHint(m[k]))
				good = false
			}
			out[k] = s
		}
		return out, good
	case kindRaw:
		return normalize(v), true
	case kindString:
		s, ok := v.(string)
		if !ok {
			c.problem(path, "expected a string, got %s%s", describe(v), quoteHint(v))
		}
		return s, ok
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			c.problem(path, "expected true or false, got %s", describe(v))
		}
		return b, ok
	case kindInt, kindUint:
		return c.integer(n, path, v)
	case kindDuration:
		switch d := v.(type) {
		case string:
			dur, err := time.ParseDuration(strings.TrimSpace(d))
			if err != nil {
				c.problem(path, "%q is not a duration such as \"1h\", \"15m\" or \"500ms\"", d)
				return nil, false
			}
			return dur, true
		case int:
			if d == 0 {
				return time.Duration(0), true
			}
		}
		c.problem(path, "expected a duration such as \"1h\", \"15m\" or \"500ms\", got %s", describe(v))
		return nil, false
	case kindByteSize:
		switch b := v.(type) {
		case string:
			size, err := ParseByteSize(b)
			if err != nil {
				c.problem(path, "%v", err)
				return nil, false
			}
			return size, true
		case int:
			if b >= 0 {
				return ByteSize(b), true
			}
		case uint64:
			return ByteSize(b), true
		}
		c.problem(path, "expected a byte size such as \"128MB\" or a number of bytes, got %s", describe(v))
		return nil, false
	}
	return nil, false
}

// integer checks that v is a whole number that fits n's Go type.
func (c *checker) integer(n *node, path string, v any) (any, bool) {
	var i int64
	var u uint64
	neg, big := false, false
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int64:
		i = x
	case uint64:
		u, big = x, true
	default:
		c.problem(path, "expected a whole number, got %s", describe(v))
		return nil, false
	}
	if !big {
		neg = i < 0
		if !neg {
			u = uint64(i)
		}
	}
	bits := n.typ.Bits()
	if n.kind == kindUint {
		limit := uint64(math.MaxUint64) >> (64 - bits)
		if neg {
			c.problem(path, "%d must not be negative", i)
			return nil, false
		}
		if u > limit {
			c.problem(path, "%d is above the maximum of %d", u, limit)
			return nil, false
		}
		return u, true
	}
	lo, hi := int64(math.MinInt64)>>(64-bits), int64(math.MaxInt64)>>(64-bits)
	if big && u > uint64(hi) || !big && (i < lo || i > hi) {
		c.problem(path, "%s is out of range", describe(v))
		return nil, false
	}
	if big {
		i = int64(u)
	}
	return i, true
}

func (c *checker) mapping(path string, v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, val := range m {
			s, ok := k.(string)
			if !ok {
				c.problem(path, "has a non-string key %s; keys must be names", describe(k))
				return nil, false
			}
			out[s] = val
		}
		return out, true
	}
	c.problem(path, "expected a mapping of keys to values, got %s", describe(v))
	return nil, false
}

// unknown handles a key Latchkey does not implement: silently drop Kratos'
// version key, warn once about other Kratos keys, and report anything else as
// a problem naming the nearest known key.
func (c *checker) unknown(pattern, path string, v any) {
	if pattern == "version" {
		return
	}
	switch matchKratos(pattern) {
	case kratosKey:
		c.kratosWarning(pattern, path)
		return
	case kratosPrefix:
		if m, ok := v.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				c.unknown(pattern+"."+k, path+"."+k, m[k])
			}
			return
		}
		c.kratosWarning(pattern, path)
		return
	}
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for _, k := range sortedKeys(m) {
			c.unknown(pattern+"."+k, path+"."+k, m[k])
		}
		return
	}
	msg := "unknown key"
	if s := suggestKey(pattern, path); s != "" && s != path {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	c.problems.add(path, "%s%s", msg, c.from)
}

func (c *checker) kratosWarning(pattern, path string) {
	if c.warned == nil {
		c.warned = map[string]bool{}
	}
	if c.warned[path] {
		return
	}
	c.warned[path] = true
	msg := "a Kratos setting Latchkey does not implement; ignored"
	if h := kratosHint(pattern); h != "" {
		msg += " (" + h + ")"
	}
	c.warnings = append(c.warnings, Warning{Key: path, Message: msg + c.from})
}

// normalize converts YAML's map[any]any into map[string]any throughout v.
func normalize(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = normalize(val)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = normalize(val)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = normalize(val)
		}
		return l
	}
	return v
}

// describeKind names a raw value's type without quoting it.
func describeKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	}
	return describe(v)
}

// describe names a raw value's type for a problem message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "the string " + strconv.Quote(x)
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case int, int64, uint64:
		return fmt.Sprintf("the number %d", x)
	case float64:
		return fmt.Sprintf("the number %g", x)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return reflect.TypeOf(v).String()
}

// quoteHint advises quoting a scalar YAML read as something other than a
// string (such as a numeric secret, whose leading zeros YAML would drop).
func quoteHint(v any) string {
	switch v.(type) {
	case int, int64, uint64, float64, bool:
		return "; put it in quotes"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
