package config

import (
	"sort"
	"strings"
)

// withKratosEnv adds Kratos' names for Latchkey's keys to environ: Kratos
// reads every key from the environment as its path upper-cased with "_"
// (DSN, SERVE_PUBLIC_PORT, SECRETS_COOKIE, LOG_LEVEL, …), so a Kratos
// deployment's variables carry over. A LATCHKEY_ variable of the same key
// wins. Kratos' SECRETS_COOKIE stands in for secrets.default when neither
// the file (defaultSet) nor LATCHKEY_SECRETS_DEFAULT or SECRETS_DEFAULT sets
// it (see checker.legacyKeys). It returns the environment to read and the
// Kratos names it took.
func withKratosEnv(environ []string, defaultSet bool) ([]string, []string) {
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
	if cookie, ok := lookupEnv(environ, "SECRETS_COOKIE"); ok && cookie != "" && !defaultSet && !set[EnvPrefix+"SECRETS_DEFAULT"] && !set["SECRETS_DEFAULT"] {
		out = append(append([]string(nil), out...), EnvPrefix+"SECRETS_DEFAULT="+cookie)
		read = append(read, "SECRETS_COOKIE (as secrets.default)")
	}
	sort.Strings(read)
	return out, read
}

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
// dropped without a word. Empty values, names a LATCHKEY_ key has and
// SECRETS_COOKIE (read as secrets.default) are left alone, and so are the
// generic names CONFIG, HELP and VERSION.
func kratosOnlyEnv(environ []string) []Warning {
	nodes := envNodes()
	var out []Warning
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || strings.HasPrefix(name, EnvPrefix) || nodes[EnvPrefix+name] != nil || name == "SECRETS_COOKIE" {
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
