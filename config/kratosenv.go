package config

import (
	"sort"
	"strings"
)

// withKratosEnv adds Kratos' names for Latchkey's keys to environ: Kratos
// reads every key from the environment as its path upper-cased with "_"
// (DSN, SERVE_PUBLIC_PORT, SECRETS_COOKIE, LOG_LEVEL, …), so a Kratos
// deployment's variables carry over. A LATCHKEY_ variable of the same key
// wins. The variables of kratosFallbacks stand in for their targets
// (SECRETS_COOKIE for secrets.default, COOKIES_DOMAIN for
// session.cookie.domain, …) when neither the file (fileSet) nor a variable
// of the target sets it (see checker.legacyKeys). It returns the
// environment to read and the Kratos names it took.
func withKratosEnv(environ []string, fileSet map[string]bool) ([]string, []string) {
	nodes := envNodes()
	set := make(map[string]bool, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	var read []string
	out := environ
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || strings.HasPrefix(name, EnvPrefix) {
			// An empty Kratos variable (DSN= in a compose file) is
			// taken as unset: it does not blank the file's value.
			continue
		}
		full := EnvPrefix + name
		if nodes[full] == nil || set[full] {
			continue
		}
		if len(read) == 0 {
			out = append([]string(nil), environ...)
		}
		out = append(out, full+"="+value)
		read = append(read, name)
	}
	for _, f := range kratosFallbacks {
		from, to := kratosEnvName(f.from), kratosEnvName(f.to)
		v, ok := lookupEnv(environ, from)
		if !ok || v == "" || fileSet[f.to] || set[EnvPrefix+to] || set[to] {
			continue
		}
		out = append(append([]string(nil), out...), EnvPrefix+to+"="+v)
		read = append(read, from+" (as "+f.to+")")
	}
	sort.Strings(read)
	return out, read
}

// kratosEnvName is the environment name Kratos reads key from.
func kratosEnvName(key string) string { return strings.ToUpper(strings.ReplaceAll(key, ".", "_")) }

func lookupEnv(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if n, v, ok := strings.Cut(kv, "="); ok && n == name {
			return v, true
		}
	}
	return "", false
}

// kratosOnlyEnv warns, once each, about environment variables that are
// Kratos' names for settings Latchkey does not implement (TRACING_PROVIDER,
// LOG_LEAK_SENSITIVE_VALUES, COOKIES_DOMAIN, …), as the file's Kratos-only
// keys are warned about: otherwise a Kratos deployment's variable would be
// dropped without a word. Empty values, names a LATCHKEY_ key has and the
// variables of kratosFallbacks (SECRETS_COOKIE, COOKIES_DOMAIN, …, read as
// their targets) are left alone, and so are the
// generic names CONFIG, HELP and VERSION.
func kratosOnlyEnv(environ []string) []Warning {
	nodes := envNodes()
	var out []Warning
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || strings.HasPrefix(name, EnvPrefix) || nodes[EnvPrefix+name] != nil || isFallbackEnv(name) {
			continue
		}
		if key := kratosEnvKey(name); key != "" {
			msg := "Kratos' variable for " + key + ", a setting Latchkey does not implement; ignored"
			if h := kratosHint(key); h != "" {
				msg += " (" + h + ")"
			}
			out = append(out, Warning{Key: name, Message: msg})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func isFallbackEnv(name string) bool {
	for _, f := range kratosFallbacks {
		if kratosEnvName(f.from) == name {
			return true
		}
	}
	return false
}

// kratosEnvKey returns the Kratos key whose environment name is name, or "".
func kratosEnvKey(name string) string {
	for _, k := range kratosKeys {
		if strings.ContainsAny(k, "*[") && !strings.HasSuffix(k, ".**") || k == "version" || k == "help" || k == "config" {
			continue
		}
		base := strings.TrimSuffix(k, ".**")
		if strings.ContainsAny(base, "*[") {
			continue
		}
		env := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(base))
		if name == env {
			return base
		}
		if strings.HasSuffix(k, ".**") && strings.HasPrefix(name, env+"_") {
			return base + "." + strings.ToLower(strings.TrimPrefix(name, env+"_"))
		}
	}
	return ""
}
