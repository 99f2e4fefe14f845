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
