package config

import (
	"sort"
	"strings"
)

// withKratosEnv adds Kratos' names for Latchkey's keys to environ: Kratos
// reads every key from the environment as its path upper-cased with "_"
// (DSN, SERVE_PUBLIC_PORT, SECRETS_COOKIE, LOG_LEVEL, …), so a Kratos
// deployment's variables carry over. A LATCHKEY_ variable of the same key
// wins. It returns the environment to read and the Kratos names it took.
func withKratosEnv(environ []string) ([]string, []string) {
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
		if !ok || strings.HasPrefix(name, EnvPrefix) {
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
	sort.Strings(read)
	return out, read
}
