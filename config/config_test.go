package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

var update = flag.Bool("update", false, "rewrite REFERENCE.md from Reference()")

// minimal is the smallest valid configuration outside --dev.
const minimal = `
dsn: postgres://latchkey@db.internal:5432/latchkey
serve:
  public:
    base_url: https://id.example.com/
secrets:
  default: [this-is-a-long-enough-secret]
  cipher: [0123456789abcdef0123456789abcdef]
courier:
  smtp:
    connection_uri: smtp://mail.example.com:587/
`

// loadYAML loads the given YAML (none if empty) with the given environment.
func loadYAML(t *testing.T, yml string, env []string, dev bool) (*Config, []Warning, error) {
	t.Helper()
	opts := LoadOptions{Env: env, Dev: dev}
	if env == nil {
		opts.Env = []string{}
	}
	if yml != "" {
		opts.File = filepath.Join(t.TempDir(), "latchkey.yml")
		if err := os.WriteFile(opts.File, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Load(opts)
}

// mustLoad loads and fails the test on any problem.
func mustLoad(t *testing.T, yml string, env []string, dev bool) (*Config, []Warning) {
	t.Helper()
	c, w, err := loadYAML(t, yml, env, dev)
	if err != nil {
		t.Fatalf("Load: unexpected problems:\n%v", err)
	}
	return c, w
}

// problems loads and returns the problems, failing if there are none.
func problems(t *testing.T, yml string, env []string, dev bool) Problems {
	t.Helper()
	c, _, err := loadYAML(t, yml, env, dev)
	if err == nil {
		t.Fatalf("Load succeeded, want problems")
	}
	if c != nil {
		t.Errorf("Load returned a Config along with problems")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not Problems: %v", err, err)
	}
	return ps
}

// hasProblem reports whether ps has a problem for key whose message
// contains substr.
func hasProblem(ps Problems, key, substr string) bool {
	for _, p := range ps {
		if p.Key == key && strings.Contains(p.Message, substr) {
			return true
		}
	}
	return false
}

func hasWarning(ws []Warning, key, substr string) bool {
	for _, w := range ws {
		if w.Key == key && strings.Contains(w.Message, substr) {
			return true
		}
	}
	return false
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	prod, _ := mustLoad(t, minimal, nil, false)
	dev, _ := mustLoad(t, "", nil, true)
	tests := []struct {
		name      string
		get       func(*Config) any
		prod, dev any
	}{
		{"dsn", func(c *Config) any { return c.DSN }, "postgres://latchkey@db.internal:5432/latchkey", "sqlite://latchkey.db"},
		{"public host", func(c *Config) any { return c.Serve.Public.Host }, "", "127.0.0.1"},
		{"public port", func(c *Config) any { return c.Serve.Public.Port }, 4433, 4433},
		{"public base_url", func(c *Config) any { return c.Serve.Public.BaseURL }, "https://id.example.com/", "http://localhost:4433/"},
		{"admin host", func(c *Config) any { return c.Serve.Admin.Host }, "127.0.0.1", "127.0.0.1"},
		{"admin port", func(c *Config) any { return c.Serve.Admin.Port }, 4434, 4434},
		{"admin base_url", func(c *Config) any { return c.Serve.Admin.BaseURL }, "http://127.0.0.1:4434/", "http://127.0.0.1:4434/"},
		{"cors methods", func(c *Config) any { return c.Serve.Public.CORS.AllowedMethods }, []string{"POST", "GET", "PUT", "PATCH", "DELETE"}, []string{"POST", "GET", "PUT", "PATCH", "DELETE"}},
		{"cors enabled", func(c *Config) any { return c.Serve.Public.CORS.Enabled }, false, false},
		{"schema id", func(c *Config) any { return c.Identity.DefaultSchemaID }, "default", "default"},
		{"algorithm", func(c *Config) any { return c.Hashers.Algorithm }, "argon2", "argon2"},
		{"argon2 memory", func(c *Config) any { return c.Hashers.Argon2.Memory }, 128 * MB, 64 * KB},
		{"argon2 parallelism", func(c *Config) any { return c.Hashers.Argon2.Parallelism }, uint8(4), uint8(1)},
		{"argon2 iterations", func(c *Config) any { return c.Hashers.Argon2.Iterations }, uint32(1), uint32(1)},
		{"bcrypt cost", func(c *Config) any { return c.Hashers.Bcrypt.Cost }, 12, 4},
		{"session lifespan", func(c *Config) any { return c.Session.Lifespan }, 24 * time.Hour, 24 * time.Hour},
		{"memory limit", func(c *Config) any { return c.Runtime.MemoryLimit }, 48*MB + 2*128*MB, 48*MB + 2*64*KB},
		{"sqlite cache size", func(c *Config) any { return c.SQLite.CacheSize }, 512 * KB, 512 * KB},
		{"sqlite read connections", func(c *Config) any { return c.SQLite.ReadConnections }, 0, 0},
		{"jwt verify cache", func(c *Config) any { return c.Session.JWT.VerifyCacheSize }, 512, 512},
		{"cookie name", func(c *Config) any { return c.Session.Cookie.Name }, "ory_kratos_session", "ory_kratos_session"},
		{"cookie same_site", func(c *Config) any { return c.Session.Cookie.SameSite }, "Lax", "Lax"},
		{"cookie secure", func(c *Config) any { return c.Session.Cookie.Secure }, true, false},
		{"cookie persistent", func(c *Config) any { return c.Session.Cookie.Persistent }, true, true},
		{"jwt algorithm", func(c *Config) any { return c.Session.JWT.Algorithm }, "ES256", "ES256"},
		{"jwt issuer", func(c *Config) any { return c.Session.JWT.Issuer }, "https://id.example.com/", "http://localhost:4433/"},
		{"jwt audience", func(c *Config) any { return c.Session.JWT.Audience }, []string{"id.example.com"}, []string{"localhost"}},
		{"log level", func(c *Config) any { return c.Log.Level }, "info", "info"},
		{"log format", func(c *Config) any { return c.Log.Format }, "text", "text"},
		{"message retries", func(c *Config) any { return c.Courier.MessageRetries }, 5, 5},
		{"delivery strategy", func(c *Config) any { return c.Courier.DeliveryStrategy }, "smtp", "smtp"},
		{"dev smtp", func(c *Config) any { return c.Courier.SMTP.ConnectionURI }, "smtp://mail.example.com:587/", ""},
		{"recovery", func(c *Config) any {
			return [2]any{c.SelfService.Flows.Recovery.Enabled, c.SelfService.Flows.Recovery.Use}
		}, [2]any{true, "code"}, [2]any{true, "code"}},
		{"verification", func(c *Config) any {
			return [2]any{c.SelfService.Flows.Verification.Enabled, c.SelfService.Flows.Verification.Use}
		}, [2]any{true, "code"}, [2]any{true, "code"}},
		{"login ui", func(c *Config) any { return c.SelfService.Flows.Login.UIURL }, "https://id.example.com/ui/login", "http://localhost:4433/ui/login"},
		{"error ui", func(c *Config) any { return c.SelfService.Flows.Error.UIURL }, "https://id.example.com/ui/error", "http://localhost:4433/ui/error"},
		{"return url", func(c *Config) any { return c.SelfService.DefaultBrowserReturnURL }, "https://id.example.com/ui/settings", "http://localhost:4433/ui/settings"},
		{"passkey rp", func(c *Config) any { return c.SelfService.Methods.Passkey.Config.RP }, RelyingParty{DisplayName: "Latchkey", ID: "id.example.com", Origins: []string{"https://id.example.com"}}, RelyingParty{DisplayName: "Latchkey", ID: "localhost", Origins: []string{"http://localhost:4433"}}},
		{"webauthn rp is the passkey rp", func(c *Config) any { return c.SelfService.Methods.WebAuthn.Config.RP }, RelyingParty{DisplayName: "Latchkey", ID: "id.example.com", Origins: []string{"https://id.example.com"}}, RelyingParty{DisplayName: "Latchkey", ID: "localhost", Origins: []string{"http://localhost:4433"}}},
		{"hanko passkey", func(c *Config) any { return c.Hanko.Passkey }, HankoPasskey{Enabled: true, AcquireOnRegistration: "always", AcquireOnLogin: "always", Limit: 10, UserVerification: "preferred", AttestationPreference: "direct"}, HankoPasskey{Enabled: true, AcquireOnRegistration: "always", AcquireOnLogin: "always", Limit: 10, UserVerification: "preferred", AttestationPreference: "direct"}},
		{"password enabled", func(c *Config) any { return c.SelfService.Methods.Password.Enabled }, true, true},
		{"hibp", func(c *Config) any { return c.SelfService.Methods.Password.Config.HaveIBeenPwnedEnabled }, false, false},
		{"flow lifespan", func(c *Config) any { return c.SelfService.Flows.Login.Lifespan }, time.Hour, time.Hour},
		{"registration style", func(c *Config) any { return c.SelfService.Flows.Registration.Style }, "profile_first", "profile_first"},
		{"registration hooks", func(c *Config) any {
			a := c.SelfService.Flows.Registration.After
			return [3]any{a.Hooks, a.Password.Hooks, a.Code.Hooks}
		}, [3]any{[]Hook(nil), []Hook{{Hook: "session"}}, []Hook{{Hook: "session"}}}, [3]any{[]Hook(nil), []Hook{{Hook: "session"}}, []Hook{{Hook: "session"}}}},
		{"secrets", func(c *Config) any { return len(c.Secrets.Default) }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.get(prod); !reflect.DeepEqual(got, tt.prod) {
				t.Errorf("outside --dev: got %#v, want %#v", got, tt.prod)
			}
			if got := tt.get(dev); !reflect.DeepEqual(got, tt.dev) {
				t.Errorf("--dev: got %#v, want %#v", got, tt.dev)
			}
		})
	}
}

func TestDevNeedsNoConfig(t *testing.T) {
	t.Parallel()
	c, w := mustLoad(t, "", nil, true)
	if !c.Dev {
		t.Error("Dev is false")
	}
	if len(w) != 0 {
		t.Errorf("warnings for an empty --dev config: %v", w)
	}
}

func TestNonDevRequiresSettings(t *testing.T) {
	t.Parallel()
	ps := problems(t, "", nil, false)
	for _, key := range []string{"dsn", "secrets.default", "courier.smtp.connection_uri"} {
		if !hasProblem(ps, key, "required") {
			t.Errorf("no 'required' problem for %s in:\n%v", key, ps)
		}
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	yml := minimal + `
log:
  level: warn
  format: json
`
	tests := []struct {
		name  string
		env   []string
		level string
		fmt   string
	}{
		{"file over defaults", nil, "warn", "json"},
		{"env over file", []string{"LATCHKEY_LOG_LEVEL=debug"}, "debug", "json"},
		{"env over defaults and file", []string{"LATCHKEY_LOG_LEVEL=error", "LATCHKEY_LOG_FORMAT=text"}, "error", "text"},
		{"other variables ignored", []string{"PATH=/bin", "LEVEL=debug"}, "warn", "json"},
		{"Kratos' name over the file", []string{"LOG_LEVEL=debug"}, "debug", "json"},
		{"LATCHKEY_ over Kratos' name", []string{"LOG_LEVEL=debug", "LATCHKEY_LOG_LEVEL=error"}, "error", "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := mustLoad(t, yml, tt.env, false)
			if c.Log.Level != tt.level || c.Log.Format != tt.fmt {
				t.Errorf("got level %q format %q, want %q %q", c.Log.Level, c.Log.Format, tt.level, tt.fmt)
			}
		})
	}
}

func TestListsReplaceDefaults(t *testing.T) {
	t.Parallel()
	yml := mergeYAML(minimal, "serve:\n  public:\n    base_url: https://id.example.com/\n    cors:\n      allowed_methods: [GET]\n")
	c, _ := mustLoad(t, yml, nil, false)
	if got := c.Serve.Public.CORS.AllowedMethods; !reflect.DeepEqual(got, []string{"GET"}) {
		t.Errorf("allowed_methods = %v, want [GET]", got)
	}
}

// TestRegistrationHooksOverride checks that a method's after-registration
// hooks, which default to [{hook: session}], can be switched off with an
// empty list (Kratos' behaviour: register, then log in).
func TestRegistrationHooksOverride(t *testing.T) {
	t.Parallel()
	yml := mergeYAML(minimal, "selfservice:\n  flows:\n    registration:\n      style: unified\n      after:\n        password:\n          hooks: []\n")
	c, _ := mustLoad(t, yml, nil, false)
	r := c.SelfService.Flows.Registration
	if len(r.After.Password.Hooks) != 0 || r.Style != RegistrationUnified {
		t.Errorf("password hooks = %v, style = %q; want none and unified", r.After.Password.Hooks, r.Style)
	}
	if got := r.After.Code.Hooks; !reflect.DeepEqual(got, []Hook{{Hook: "session"}}) {
		t.Errorf("code hooks = %v, want the default", got)
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		get  func(*Config) any
		want any
	}{
		{"dsn", "LATCHKEY_DSN=mysql://root@tcp(127.0.0.1:3306)/latchkey", func(c *Config) any { return c.DSN }, "mysql://root@tcp(127.0.0.1:3306)/latchkey"},
		{"int", "LATCHKEY_SERVE_PUBLIC_PORT=8080", func(c *Config) any { return c.Serve.Public.Port }, 8080},
		{"same_site", "LATCHKEY_SESSION_COOKIE_SAME_SITE=Strict", func(c *Config) any { return c.Session.Cookie.SameSite }, "Strict"},
		{"base_url", "LATCHKEY_SERVE_ADMIN_BASE_URL=http://admin.internal:4434/", func(c *Config) any { return c.Serve.Admin.BaseURL }, "http://admin.internal:4434/"},
		{"api_key", "LATCHKEY_SERVE_ADMIN_API_KEY=0123456789abcdef-key", func(c *Config) any { return c.Serve.Admin.APIKey }, "0123456789abcdef-key"},
		{"list", "LATCHKEY_SECRETS_DEFAULT=first-secret-0123456, second-secret-0123456", func(c *Config) any { return c.Secrets.Default }, []string{"first-secret-0123456", "second-secret-0123456"}},
		{"json list", `LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_ORIGINS=["https://a.example.com","https://*.b.example.com"]`, func(c *Config) any { return c.Serve.Public.CORS.AllowedOrigins }, []string{"https://a.example.com", "https://*.b.example.com"}},
		{"bool", "LATCHKEY_SESSION_COOKIE_PERSISTENT=false", func(c *Config) any { return c.Session.Cookie.Persistent }, false},
		{"duration", "LATCHKEY_SESSION_LIFESPAN=720h", func(c *Config) any { return c.Session.Lifespan }, 720 * time.Hour},
		{"byte size", "LATCHKEY_HASHERS_ARGON2_MEMORY=256MB", func(c *Config) any { return c.Hashers.Argon2.Memory }, 256 * MB},
		{"uint", "LATCHKEY_HASHERS_ARGON2_PARALLELISM=8", func(c *Config) any { return c.Hashers.Argon2.Parallelism }, uint8(8)},
		{"deep underscores", "LATCHKEY_SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL=/bye", func(c *Config) any { return c.SelfService.Flows.Logout.After.DefaultBrowserReturnURL }, "/bye"},
		{"method key", "LATCHKEY_SELFSERVICE_METHODS_LOOKUP_SECRET_ENABLED=true", func(c *Config) any { return c.SelfService.Methods.LookupSecret.Enabled }, true},
		{"json sections", `LATCHKEY_IDENTITY_SCHEMAS=[{"id":"customer","url":"base64://e30="}]`, func(c *Config) any { return c.Identity.Schemas }, []Schema{{ID: "customer", URL: "base64://e30="}}},
		{"json map", `LATCHKEY_COURIER_SMTP_HEADERS={"X-SES-SOURCE-ARN":"arn:x"}`, func(c *Config) any { return c.Courier.SMTP.Headers }, map[string]string{"X-SES-SOURCE-ARN": "arn:x"}},
		{"json hooks", `LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"session"}]`, func(c *Config) any { return c.SelfService.Flows.Registration.After.Password.Hooks }, []Hook{{Hook: "session"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := mustLoad(t, minimal, []string{tt.env}, false)
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvNameFunction(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"dsn":                      "LATCHKEY_DSN",
		"serve.public.port":        "LATCHKEY_SERVE_PUBLIC_PORT",
		"session.cookie.same_site": "LATCHKEY_SESSION_COOKIE_SAME_SITE",
		"serve":                    "",
		"identity.schemas[].id":    "",
		"session.whoami.tokenizer.templates.*.ttl": "",
		"no.such.key": "",
	}
	for key, want := range tests {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestEnvNamesUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	schema().walk(func(n *node) {
		if n.envName == "" {
			return
		}
		if other, dup := seen[n.envName]; dup {
			t.Errorf("%s and %s both map to %s", other, n.path, n.envName)
		}
		seen[n.envName] = n.path
	})
	if len(seen) != len(envNodes()) {
		t.Errorf("envNodes has %d names, want %d", len(envNodes()), len(seen))
	}
}

func TestEnvProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, env, key, msg string
	}{
		{"bad int", "LATCHKEY_SERVE_PUBLIC_PORT=http", "serve.public.port", `LATCHKEY_SERVE_PUBLIC_PORT="http" is not a whole number`},
		{"bad bool", "LATCHKEY_SESSION_COOKIE_SECURE=yes please", "session.cookie.secure", "is not true or false"},
		{"bad duration", "LATCHKEY_SESSION_LIFESPAN=forever", "session.lifespan", `"forever" is not a duration`},
		{"bad json", "LATCHKEY_IDENTITY_SCHEMAS=[{", "identity.schemas", "LATCHKEY_IDENTITY_SCHEMAS is not valid JSON"},
		{"negative uint", "LATCHKEY_HASHERS_ARGON2_ITERATIONS=-1", "hashers.argon2.iterations", "not a whole number of 0 or more"},
		{"uint overflow", "LATCHKEY_HASHERS_ARGON2_PARALLELISM=300", "hashers.argon2.parallelism", "above the maximum of 255"},
		{"unknown key in json", `LATCHKEY_IDENTITY_SCHEMAS=[{"id":"a","ulr":"file:///a"}]`, "identity.schemas[0].ulr", `did you mean "identity.schemas[0].url"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, minimal, []string{tt.env}, false)
			if !hasProblem(ps, tt.key, tt.msg) {
				t.Errorf("want problem %s: …%s…, got:\n%v", tt.key, tt.msg, ps)
			}
		})
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	t.Parallel()
	_, w := mustLoad(t, minimal, []string{"LATCHKEY_SERVE_PUBLIC_PROT=1", "LATCHKEY_TEST_POSTGRES=x"}, false)
	if !hasWarning(w, "LATCHKEY_SERVE_PUBLIC_PROT", "did you mean LATCHKEY_SERVE_PUBLIC_PORT?") {
		t.Errorf("no suggestion for LATCHKEY_SERVE_PUBLIC_PROT in %v", w)
	}
	if !hasWarning(w, "LATCHKEY_TEST_POSTGRES", "unknown environment variable") {
		t.Errorf("no warning for LATCHKEY_TEST_POSTGRES in %v", w)
	}
}

func TestValidationRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yml  string // merged into minimal (or the empty --dev config) by mergeYAML
		env  []string
		dev  bool
		key  string
		msg  string
	}{
		{"bcrypt cost below production minimum", "hashers: {bcrypt: {cost: 8}}", nil, false, "hashers.bcrypt.cost", "8 is below the minimum of 10 outside --dev; raise it or run with --dev"},
		{"bcrypt cost out of range even in dev", "hashers: {bcrypt: {cost: 3}}", nil, true, "hashers.bcrypt.cost", "outside bcrypt's range of 4 to 31"},
		{"bcrypt cost too high", "hashers: {bcrypt: {cost: 32}}", nil, false, "hashers.bcrypt.cost", "outside bcrypt's range"},
		{"hash algorithm", "hashers: {algorithm: md5}", nil, false, "hashers.algorithm", `"md5" is not one of argon2, bcrypt`},
		{"argon2 memory low outside dev", "hashers: {argon2: {memory: 1MB}}", nil, false, "hashers.argon2.memory", "1MB is below the minimum of 16MB outside --dev"},
		{"argon2 memory below 8KB per thread", "hashers: {argon2: {memory: 8KB, parallelism: 2}}", nil, true, "hashers.argon2.memory", "below argon2's minimum of 8KB per thread"},
		{"argon2 salt", "hashers: {argon2: {salt_length: 8}}", nil, false, "hashers.argon2.salt_length", "8 is below the minimum of 16"},
		{"argon2 key", "hashers: {argon2: {key_length: 8}}", nil, false, "hashers.argon2.key_length", "8 is below the minimum of 16"},
		{"argon2 iterations", "hashers: {argon2: {iterations: 0}}", nil, false, "hashers.argon2.iterations", "at least 1"},
		{"argon2 parallelism", "hashers: {argon2: {parallelism: 0}}", nil, false, "hashers.argon2.parallelism", "at least 1"},
		{"short default secret", "", []string{"LATCHKEY_SECRETS_DEFAULT=short"}, false, "secrets.default[0]", "5 characters long, below the minimum of 16"},
		{"duplicate secret", "", []string{"LATCHKEY_SECRETS_DEFAULT=same-secret-0123456,same-secret-0123456"}, false, "secrets.default[1]", "repeats secrets.default[0]"},
		{"cipher secret length", "secrets: {default: [this-is-a-long-enough-secret], cipher: [thirty-one-characters-long-abcd]}", nil, false, "secrets.cipher[0]", "exactly 32 characters"},
		{"dsn scheme", "", []string{"LATCHKEY_DSN=postgress://x"}, false, "dsn", "unknown scheme"},
		{"port range", "", []string{"LATCHKEY_SERVE_PUBLIC_PORT=70000"}, false, "serve.public.port", "70000 is not a TCP port"},
		{"port clash", "", []string{"LATCHKEY_SERVE_ADMIN_PORT=4433", "LATCHKEY_SERVE_ADMIN_HOST=0.0.0.0", "LATCHKEY_SERVE_ADMIN_API_KEY=0123456789abcdef0"}, false, "serve.admin.port", "also serve.public.port"},
		{"base url", "", []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=id.example.com"}, false, "serve.public.base_url", "not an absolute http:// or https:// URL"},
		{"short admin api key", "", []string{"LATCHKEY_SERVE_ADMIN_API_KEY=abc"}, false, "serve.admin.api_key", "below the minimum of 16 outside --dev"},
		{"cors origin two wildcards", "", []string{"LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_ORIGINS=https://*.*.example.com"}, false, "serve.public.cors.allowed_origins[0]", "more than one"},
		{"cors origin not a url", "", []string{"LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_ORIGINS=example.com"}, false, "serve.public.cors.allowed_origins[0]", "not an origin"},
		{"cors method", "", []string{"LATCHKEY_SERVE_PUBLIC_CORS_ALLOWED_METHODS=GET,FETCH"}, false, "serve.public.cors.allowed_methods[1]", `"FETCH" is not one of`},
		{"cors max age", "", []string{"LATCHKEY_SERVE_PUBLIC_CORS_MAX_AGE=-1"}, false, "serve.public.cors.max_age", "negative"},
		{"same site", "session: {cookie: {same_site: lax}}", nil, false, "session.cookie.same_site", `"lax" is not one of Lax, Strict, None`},
		{"same site none needs secure", "session: {cookie: {same_site: None, secure: false}}", nil, false, "session.cookie.same_site", "requires session.cookie.secure: true"},
		{"cookie name", "session: {cookie: {name: 'a b'}}", nil, false, "session.cookie.name", "not a valid cookie name"},
		{"cookie path", "session: {cookie: {path: api}}", nil, false, "session.cookie.path", `must start with "/"`},
		{"session lifespan", "session: {lifespan: 0s}", nil, false, "session.lifespan", "must be positive"},
		{"whoami aal", "session: {whoami: {required_aal: aal3}}", nil, false, "session.whoami.required_aal", "not one of aal1, highest_available"},
		{"tokenizer jwks", "session: {whoami: {tokenizer: {templates: {app: {ttl: 1m}}}}}", nil, false, "session.whoami.tokenizer.templates.app.jwks_url", "is required"},
		{"sqlite cache size", "sqlite: {cache_size: 1KB}", nil, false, "sqlite.cache_size", "must be between 64KB and 4GB"},
		{"sqlite read connections", "sqlite: {read_connections: -1}", nil, false, "sqlite.read_connections", "must be between 0"},
		{"sqlite statement cache", "sqlite: {statement_cache: 100000}", nil, false, "sqlite.statement_cache", "must be between 0"},
		{"jwt verify cache", "session: {jwt: {verify_cache_size: -1}}", nil, false, "session.jwt.verify_cache_size", "must be between 0"},
		{"session cache entries", "session: {cache: {max_entries: 0}}", nil, false, "session.cache.max_entries", "must be between 1 and 1000000"},
		{"session cache sync interval", "session: {cache: {sync_interval: 5m}}", nil, false, "session.cache.sync_interval", "must be between 10ms and 1m"},
		{"session cache max age", "session: {cache: {sync_interval: 2s, max_age: 1s}}", nil, false, "session.cache.max_age", "must be between session.cache.sync_interval (2s) and 1h"},
		{"memory limit", "runtime: {memory_limit: 1MB}", nil, false, "runtime.memory_limit", "must be at least 16MB"},
		{"tokenizer jwks scheme", "session: {whoami: {tokenizer: {templates: {app: {jwks_url: 'ftp://keys.example.com/jwks.json'}}}}}", nil, false, "session.whoami.tokenizer.templates.app.jwks_url", "not a file://, base64:// or https:// URL"},
		{"tokenizer claims mapper scheme", "session: {whoami: {tokenizer: {templates: {app: {jwks_url: 'file:///etc/jwks.json', claims_mapper_url: '/etc/claims.jsonnet'}}}}}", nil, false, "session.whoami.tokenizer.templates.app.claims_mapper_url", "not a file://, base64:// or https:// URL"},
		{"jwt algorithm", "session: {jwt: {algorithm: HS256}}", nil, false, "session.jwt.algorithm", `"HS256" is not one of ES256, RS256`},
		{"ui primary colour format", "ui: {primary_color: blue}", nil, true, "ui.primary_color", `"blue" is not a colour as #rrggbb`},
		{"ui primary colour contrast", "ui: {primary_color: '#ffd700'}", nil, true, "ui.primary_color", "contrast of 1.40:1; choose a darker colour"},
		{"ui logo http", "ui: {logo_url: 'http://cdn.example.com/logo.svg'}", nil, true, "ui.logo_url", "must use https"},
		{"ui logo relative", "ui: {logo_url: '/logo.svg'}", nil, true, "ui.logo_url", "is not an absolute URL"},
		{"ui css scheme", "ui: {custom_css_url: 'javascript:alert(1)'}", nil, true, "ui.custom_css_url", "is not an absolute URL"},
		{"ui css ftp", "ui: {custom_css_url: 'ftp://x.example/a.css'}", nil, true, "ui.custom_css_url", "must be an https URL"},
		{"ui product name", "ui: {product_name: ' '}", nil, true, "ui.product_name", "must not be empty"},
		{"log level", "log: {level: verbose}", nil, false, "log.level", `"verbose" is not one of debug, info, warn, error`},
		{"log format", "log: {format: xml}", nil, false, "log.format", `"xml" is not one of text, json`},
		{"schema id required", "identity: {schemas: [{url: 'file:///a.json'}]}", nil, false, "identity.schemas[0].id", "is required"},
		{"schema url scheme", "identity: {schemas: [{id: a, url: 'ftp://x/a.json'}]}", nil, false, "identity.schemas[0].url", "not a file://"},
		{"duplicate schema id", "identity: {schemas: [{id: a, url: 'file:///a'}, {id: a, url: 'file:///b'}]}", nil, false, "identity.schemas[1].id", "must be unique"},
		{"default schema missing", "identity: {default_schema_id: customer, schemas: [{id: a, url: 'file:///a'}]}", nil, false, "identity.default_schema_id", `"customer" is not the id of a schema`},
		{"smtp needed", "", []string{"LATCHKEY_COURIER_SMTP_CONNECTION_URI="}, false, "courier.smtp.connection_uri", "required because selfservice.flows.verification sends e-mail"},
		{"smtp scheme", "", []string{"LATCHKEY_COURIER_SMTP_CONNECTION_URI=http://mail"}, false, "courier.smtp.connection_uri", "not an smtp:// or smtps:// URI"},
		{"smtp uri parameter", "", []string{"LATCHKEY_COURIER_SMTP_CONNECTION_URI=smtps://mail.example.com/?skip_ssl_verfy=true"}, false, "courier.smtp.connection_uri", `query parameter "skip_ssl_verfy"`},
		{"delivery strategy", "", []string{"LATCHKEY_COURIER_DELIVERY_STRATEGY=pigeon"}, false, "courier.delivery_strategy", `"pigeon" is not one of smtp, http`},
		{"http courier needs url", "", []string{"LATCHKEY_COURIER_DELIVERY_STRATEGY=http"}, false, "courier.http.request_config.url", "is required"},
		{"http courier auth", "", []string{"LATCHKEY_COURIER_DELIVERY_STRATEGY=http", "LATCHKEY_COURIER_HTTP_REQUEST_CONFIG_URL=https://mail.example.com/send", "LATCHKEY_COURIER_HTTP_REQUEST_CONFIG_AUTH_TYPE=api_key"}, false, "courier.http.request_config.auth.config.in", "not one of header, cookie"},
		{"from address", "", []string{"LATCHKEY_COURIER_SMTP_FROM_ADDRESS=nobody"}, false, "courier.smtp.from_address", "not an e-mail address"},
		{"channel type", "", []string{`LATCHKEY_COURIER_CHANNELS=[{"id":"sms","type":"smtp","request_config":{"url":"https://sms.example.com"}}]`}, false, "courier.channels[0].type", `"smtp" is not one of http`},
		{"template url", "", []string{"LATCHKEY_COURIER_TEMPLATES_RECOVERY_CODE_VALID_EMAIL_SUBJECT=/etc/subject.gotmpl"}, false, "courier.templates.recovery_code.valid.email.subject", "not a file://"},
		{"worker pull count", "", []string{"LATCHKEY_COURIER_WORKER_PULL_COUNT=0"}, false, "courier.worker.pull_count", "at least 1"},
		{"return url", "", []string{"LATCHKEY_SELFSERVICE_DEFAULT_BROWSER_RETURN_URL=dashboard"}, false, "selfservice.default_browser_return_url", "not an absolute"},
		{"allowed return url", "", []string{"LATCHKEY_SELFSERVICE_ALLOWED_RETURN_URLS=https://ok.example.com,//evil.example.com"}, false, "selfservice.allowed_return_urls[1]", "not an absolute"},
		{"recovery use", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_USE=sms"}, false, "selfservice.flows.recovery.use", `"sms" is not one of code, link`},
		{"recovery link needs method", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_RECOVERY_USE=link"}, false, "selfservice.flows.recovery.use", "selfservice.methods.link.enabled is false"},
		{"verification code needs method", "", []string{"LATCHKEY_SELFSERVICE_METHODS_CODE_ENABLED=false"}, false, "selfservice.flows.verification.use", "selfservice.methods.code.enabled is false"},
		{"min password length", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSWORD_CONFIG_MIN_PASSWORD_LENGTH=4"}, false, "selfservice.methods.password.config.min_password_length", "below the minimum of 6"},
		{"haveibeenpwned host", "selfservice: {methods: {password: {config: {haveibeenpwned_enabled: true, haveibeenpwned_host: 'https://api.pwnedpasswords.com/range'}}}}", nil, false, "selfservice.methods.password.config.haveibeenpwned_host", "not a host[:port]"},
		{"max breaches", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSWORD_CONFIG_MAX_BREACHES=101"}, false, "selfservice.methods.password.config.max_breaches", "not between 0 and 100"},
		{"before hook that never runs", "selfservice: {flows: {login: {before: {hooks: [{hook: session}]}}}}", nil, false, "selfservice.flows.login.before.hooks[0].hook", "does not run before a flow"},
		{"settings of a hook that takes none", "selfservice: {flows: {login: {after: {hooks: [{hook: revoke_active_sessions, config: {x: 1}}]}}}}", nil, false, "selfservice.flows.login.after.hooks[0].config", "takes no settings"},
		{"security key limit", "hanko: {mfa: {security_keys: {limit: 0}}}", nil, false, "hanko.mfa.security_keys.limit", "at least 1"},
		{"security key attachment", "hanko: {mfa: {security_keys: {authenticator_attachment: usb}}}", nil, false, "hanko.mfa.security_keys.authenticator_attachment", "not one of"},
		{"security key user verification", "hanko: {mfa: {security_keys: {user_verification: always}}}", nil, false, "hanko.mfa.security_keys.user_verification", "not one of"},
		{"security key attestation", "hanko: {mfa: {security_keys: {attestation_preference: enterprise}}}", nil, false, "hanko.mfa.security_keys.attestation_preference", "not one of"},
		{"flow lifespan", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_LIFESPAN=-1m"}, false, "selfservice.flows.login.lifespan", "must be positive"},
		{"registration style", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_STYLE=two_step"}, false, "selfservice.flows.registration.style", `"two_step" is not one of profile_first, unified`},
		{"settings aal", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_SETTINGS_REQUIRED_AAL=aal2"}, false, "selfservice.flows.settings.required_aal", "not one of aal1, highest_available"},
		{"ui url", "", []string{"LATCHKEY_SELFSERVICE_FLOWS_LOGIN_UI_URL=login"}, false, "selfservice.flows.login.ui_url", "not an absolute"},
		{"hook name", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_LOGIN_AFTER_HOOKS=[{"hook":"b2b_sso"}]`}, false, "selfservice.flows.login.after.hooks[0].hook", `"b2b_sso" is not one of`},
		{"web hook url required", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"method":"POST"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.url", "is required"},
		{"web hook bad url", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"hooks.example.com/x"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.url", "not an absolute http:// or https:// URL"},
		{"web hook url with credentials", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://u:p@hooks.example.com/x"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.url", "without user info"},
		{"web hook method", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","method":"TRACE"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.method", `"TRACE" is not one of`},
		{"web hook auth type", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","auth":{"type":"oauth2","config":{}}}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.auth.type", `"oauth2" is not one of api_key, basic_auth`},
		{"web hook api key in", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","auth":{"type":"api_key","config":{"name":"k","value":"v","in":"query"}}}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.auth.config.in", `"query" is not one of header, cookie`},
		{"web hook basic auth password", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","auth":{"type":"basic_auth","config":{"user":"u"}}}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.auth.config.password", "is required"},
		{"web hook body file unreadable", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"file:///nonexistent/body.jsonnet"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.body", "cannot read"},
		{"web hook body scheme", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"/etc/body.jsonnet"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.body", "not a file://, base64://"},
		{"web hook body base64", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://!!"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.body", "not valid base64"},
		{"web hook body required", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x"}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.body", "is required"},
		{"web hook unknown key", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","retries":3}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.retries", "is not a web_hook key"},
		{"web hook ignore and parse", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS=[{"hook":"web_hook","config":{"url":"https://hooks.example.com/x","body":"base64://ZnVuY3Rpb24oY3R4KSB7fQ==","response":{"ignore":true,"parse":true}}}]`}, false, "selfservice.flows.registration.after.password.hooks[0].config.response.ignore", "cannot be true together"},
		{"hooks after profile registration never run", "", []string{`LATCHKEY_SELFSERVICE_FLOWS_REGISTRATION_AFTER_PROFILE_HOOKS=[{"hook":"session"}]`}, false, "selfservice.flows.registration.after.profile.hooks[0]", "never runs"},
		{"oidc provider", "", []string{`LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{"id":"g","provider":"myspace","client_id":"x","client_secret":"y"}]`}, false, "selfservice.methods.oidc.config.providers[0].provider", `"myspace" is not one of`},
		{"oidc generic issuer", "", []string{`LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{"id":"g","provider":"generic","client_id":"x","client_secret":"y"}]`}, false, "selfservice.methods.oidc.config.providers[0].issuer_url", "is required"},
		{"hanko error redirect slash", "hanko: {third_party: {error_redirect_url: 'https://app.example.com/'}}", nil, false, "hanko.third_party.error_redirect_url", "must not end with"},
		{"hanko provider needs error url", "hanko: {third_party: {providers: {google: {enabled: true, client_id: c, secret: s}}}}", nil, false, "hanko.third_party.error_redirect_url", "is required when"},
		{"hanko unknown builtin", "hanko: {third_party: {providers: {myspace: {enabled: true}}}}", nil, false, "hanko.third_party.providers.myspace", "use custom_providers"},
		{"hanko custom issuer", "hanko: {third_party: {error_redirect_url: 'https://a.example.com/e', allowed_redirect_urls: ['https://a.example.com/**'], custom_providers: {corp: {enabled: true, client_id: c, secret: s}}}}", nil, false, "hanko.third_party.custom_providers.corp.issuer", "is required"},
		{"hanko provider twice", "hanko: {third_party: {error_redirect_url: 'https://a.example.com/e', allowed_redirect_urls: ['https://a.example.com/**'], providers: {google: {enabled: true, client_id: c, secret: s}}}}", []string{`LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{"id":"google","provider":"google","client_id":"x","client_secret":"y"}]`}, false, "hanko.third_party.providers", "configure it once"},
		{"oidc subject source", "", []string{`LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{"id":"m","provider":"microsoft","microsoft_tenant":"common","client_id":"x","client_secret":"y","subject_source":"me"}]`}, false, "selfservice.methods.oidc.config.providers[0].subject_source", "is not supported"},
		{"oidc client secret", "", []string{`LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS=[{"id":"g","provider":"google","client_id":"x"}]`}, false, "selfservice.methods.oidc.config.providers[0].client_secret", "is required"},
		{"hanko unverified registration reveals accounts", "", []string{"LATCHKEY_HANKO_EMAIL_REQUIRE_VERIFICATION=false"}, false, "hanko.email.require_verification", "set hanko.privacy.show_account_existence_hints: true"},
		{"rp origin", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS=localhost"}, false, "selfservice.methods.passkey.config.rp.origins[0]", "not an origin like"},
		{"rp origin off site", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS=https://evil.example"}, false, "selfservice.methods.passkey.config.rp.origins[0]", "not on the relying party id"},
		{"rp id is an IP", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID=10.0.0.1"}, false, "selfservice.methods.passkey.config.rp.id", "is an IP address"},
		{"rp id with port", "", []string{"LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID=id.example.com:443"}, false, "selfservice.methods.passkey.config.rp.id", "bare host name"},
		{"two relying parties", "", []string{"LATCHKEY_SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ID=other.example.com"}, false, "selfservice.methods.webauthn.config.rp.id", "one relying party"},
		{"passkey method without rp", "", []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=https://10.0.0.1/", "LATCHKEY_SELFSERVICE_METHODS_PASSKEY_ENABLED=true"}, false, "selfservice.methods.passkey.enabled", "set selfservice.methods.passkey.config.rp.id"},
		{"hanko passkey acquire", "", []string{"LATCHKEY_HANKO_PASSKEY_ACQUIRE_ON_LOGIN=sometimes"}, false, "hanko.passkey.acquire_on_login", "not one of always, conditional, never"},
		{"hanko passkey limit", "", []string{"LATCHKEY_HANKO_PASSKEY_LIMIT=0"}, false, "hanko.passkey.limit", "at least 1"},
		{"hanko passkey uv", "", []string{"LATCHKEY_HANKO_PASSKEY_USER_VERIFICATION=always"}, false, "hanko.passkey.user_verification", "not one of required"},
		{"code mfa with passwordless", "", []string{"LATCHKEY_SELFSERVICE_METHODS_CODE_MFA_ENABLED=true", "LATCHKEY_SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED=true"}, false, "selfservice.methods.code.mfa_enabled", "cannot be combined with selfservice.methods.code.passwordless_enabled"},
		{"code mfa without code", "", []string{"LATCHKEY_SELFSERVICE_METHODS_CODE_MFA_ENABLED=true", "LATCHKEY_SELFSERVICE_METHODS_CODE_ENABLED=false"}, false, "selfservice.methods.code.mfa_enabled", "needs selfservice.methods.code.enabled: true"},
		{"hanko passkey attestation", "", []string{"LATCHKEY_HANKO_PASSKEY_ATTESTATION_PREFERENCE=full"}, false, "hanko.passkey.attestation_preference", "not one of none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := minimal
			if tt.dev {
				base = ""
			}
			yml := mergeYAML(base, tt.yml)
			ps := problems(t, yml, tt.env, tt.dev)
			if !hasProblem(ps, tt.key, tt.msg) {
				t.Errorf("want problem %s: …%s…, got:\n%v", tt.key, tt.msg, ps)
			}
		})
	}
}

// mergeYAML appends extra to base, dropping base's top-level sections that
// extra redefines (YAML forbids duplicate keys).
func mergeYAML(base, extra string) string {
	if extra == "" {
		return base
	}
	redefined := map[string]bool{}
	for _, line := range strings.Split(extra, "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			redefined[k] = true
		}
	}
	var out []string
	skip := false
	for _, line := range strings.Split(base, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") {
			k, _, _ := strings.Cut(line, ":")
			skip = redefined[k]
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n" + extra + "\n"
}

func TestEveryProblemListed(t *testing.T) {
	t.Parallel()
	yml := `
dsn: postgres://latchkey@db/latchkey
serve:
  public:
    port: "4433"
    base_url: https://id.example.com/
  pubilc:
    port: 1
hashers:
  bcrypt:
    cost: 8
  argon2:
    memory: lots
session:
  cookie:
    same_site: sometimes
  lifespan: 10
courier:
  smtp:
    connection_uri: smtp://mail.example.com/
`
	ps := problems(t, yml, []string{"LATCHKEY_LOG_LEVEL=loud"}, false)
	want := []struct{ key, msg string }{
		{"serve.public.port", `expected a whole number, got the string "4433"`},
		{"serve.pubilc.port", `unknown key; did you mean "serve.public.port"?`},
		{"hashers.bcrypt.cost", "8 is below the minimum of 10 outside --dev; raise it or run with --dev"},
		{"hashers.argon2.memory", `"lots" is not a byte size`},
		{"session.cookie.same_site", `"sometimes" is not one of`},
		{"session.lifespan", `expected a duration such as "1h"`},
		{"secrets.default", "is required outside --dev"},
		{"secrets.cipher", "is required outside --dev"},
		{"log.level", `"loud" is not one of`},
	}
	for _, w := range want {
		if !hasProblem(ps, w.key, w.msg) {
			t.Errorf("missing problem %s: …%s…", w.key, w.msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	lines := strings.Split(ps.Error(), "\n")
	if len(lines) != len(ps) {
		t.Errorf("Error() has %d lines for %d problems", len(lines), len(ps))
	}
	if !strings.Contains(ps.Error(), "hashers.bcrypt.cost: 8 is below the minimum of 10 outside --dev; raise it or run with --dev") {
		t.Errorf("Error() lacks the bcrypt line:\n%s", ps.Error())
	}
}

func TestTypeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yml, key, msg string
	}{
		{"string for port", "serve: {public: {port: http}}", "serve.public.port", `expected a whole number, got the string "http"`},
		{"float for port", "serve: {public: {port: 44.5}}", "serve.public.port", "expected a whole number, got the number 44.5"},
		{"number for string", "courier: {smtp: {from_name: 2024}}", "courier.smtp.from_name", "expected a string, got the number 2024; put it in quotes"},
		{"string for bool", "session: {cookie: {secure: yes please}}", "session.cookie.secure", "expected true or false"},
		{"scalar for section", "serve: 4433", "serve", "expected a mapping"},
		{"scalar for list", "secrets: {default: only-one-secret-123}", "secrets.default", "expected a list of strings"},
		{"number in string list", "secrets: {default: [1234567890123456789]}", "secrets.default[0]", "put it in quotes"},
		{"int for duration", "session: {lifespan: 3600}", "session.lifespan", "expected a duration"},
		{"negative byte size", "hashers: {argon2: {memory: -1}}", "hashers.argon2.memory", "expected a byte size"},
		{"negative uint", "hashers: {argon2: {iterations: -2}}", "hashers.argon2.iterations", "must not be negative"},
		{"list item null", "identity: {schemas: [null]}", "identity.schemas[0]", "is empty"},
		{"map value type", "courier: {smtp: {headers: {X-A: 1}}}", "courier.smtp.headers.X-A", "expected a string"},
		{"non-string key", "session: {whoami: {tokenizer: {templates: {1: {jwks_url: 'file:///k'}}}}}", "session.whoami.tokenizer.templates", "non-string key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, "dsn: sqlite://x.db\n"+tt.yml, nil, true)
			if !hasProblem(ps, tt.key, tt.msg) {
				t.Errorf("want problem %s: …%s…, got:\n%v", tt.key, tt.msg, ps)
			}
		})
	}
}

func TestNullKeepsDefault(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, "serve:\n  public:\n    cors:\n  admin:\n", nil, true)
	if c.Serve.Admin.Port != 4434 || len(c.Serve.Public.CORS.AllowedMethods) == 0 {
		t.Errorf("empty sections wiped defaults: %+v", c.Serve)
	}
}

func TestKratosOnlyKeysWarn(t *testing.T) {
	t.Parallel()
	yml := `
version: v1.3.0
dev: true
oauth2_provider:
  url: http://hydra:4445
feature_flags:
  cacheable_sessions: true
organizations: []
clients:
  http:
    disallow_private_ip_ranges: true
tracing:
  provider: jaeger
  providers:
    jaeger:
      local_agent_address: jaeger:6831
cookies:
  domain: example.com
serve:
  public:
    tls:
      cert:
        path: /etc/cert.pem
`
	_, w := mustLoad(t, yml, nil, true)
	want := map[string]string{
		"dev":                 "pass --dev",
		"oauth2_provider.url": "a Kratos setting Latchkey does not implement; ignored",
		"feature_flags":       "ignored",
		"organizations":       "ignored",
		"clients.http.disallow_private_ip_ranges": "ignored",
		"tracing":                    "ignored",
		"cookies.domain":             "read as session.cookie.domain",
		"serve.public.tls.cert.path": "reverse proxy",
	}
	for key, msg := range want {
		if !hasWarning(w, key, msg) {
			t.Errorf("no warning %s: …%s…", key, msg)
		}
	}
	if len(w) != len(want) {
		t.Errorf("got %d warnings, want %d (one per key; version silent):\n%v", len(w), len(want), w)
	}
}

func TestKratosSubtreeTypo(t *testing.T) {
	t.Parallel()
	ps := problems(t, "cookies:\n  domian: example.com\n", nil, true)
	if !hasProblem(ps, "cookies.domian", `did you mean "cookies.domain"?`) {
		t.Errorf("got %v", ps)
	}
}

func TestTypoSuggestions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yml, key, want string
	}{
		{"section typo", "serve: {pubilc: {port: 1}}", "serve.pubilc.port", `did you mean "serve.public.port"?`},
		{"leaf typo", "serve: {public: {prot: 1}}", "serve.public.prot", `did you mean "serve.public.port"?`},
		{"top-level typo", "dsnn: sqlite://x", "dsnn", `did you mean "dsn"?`},
		{"underscore typo", "session: {cookie: {samesite: Lax}}", "session.cookie.samesite", `did you mean "session.cookie.same_site"?`},
		{"inside list item", "identity: {schemas: [{id: a, ulr: 'file:///a'}]}", "identity.schemas[0].ulr", `did you mean "identity.schemas[0].url"?`},
		{"inside named map", "session: {whoami: {tokenizer: {templates: {app: {jwks_url: 'file:///k', tll: 1m}}}}}", "session.whoami.tokenizer.templates.app.tll", `did you mean "session.whoami.tokenizer.templates.app.ttl"?`},
		{"no plausible key", "zzzzzzzzzzzz: 1", "zzzzzzzzzzzz", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, tt.yml, nil, true)
			if !hasProblem(ps, tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, ps)
			}
		})
	}
	ps := problems(t, "zzzzzzzzzzzz: 1", nil, true)
	if strings.Contains(ps.Error(), "did you mean") {
		t.Errorf("suggested a key for nonsense: %v", ps)
	}
}

func TestKratosQuickstartLoads(t *testing.T) {
	t.Parallel()
	// The quickstart's schema lives at /etc/config/kratos in its
	// container; here it is testdata's copy (a missing file is a problem).
	abs, err := filepath.Abs("testdata/identity.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{`LATCHKEY_IDENTITY_SCHEMAS=[{"id":"default","url":"file://` + abs + `"}]`}
	c, w, err := Load(LoadOptions{File: "testdata/kratos-quickstart.yml", Env: env, Dev: true})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, key := range []string{"ciphers.algorithm", "tracing", "feature_flags",
		"log.leak_sensitive_values"} {
		if !hasWarning(w, key, "Kratos setting") {
			t.Errorf("no warning for %s in %v", key, w)
		}
	}
	if !hasWarning(w, "cookies.same_site", "read as session.cookie.same_site") || c.Session.Cookie.SameSite != "Lax" {
		t.Errorf("cookies.same_site not read as session.cookie.same_site: %q %v", c.Session.Cookie.SameSite, w)
	}
	if !hasWarning(w, "secrets.cookie", "read as secrets.default") || len(c.Secrets.Default) != 1 || c.Secrets.Default[0] != "PLEASE-CHANGE-ME-I-AM-VERY-INSECURE" {
		t.Errorf("secrets.cookie not read as secrets.default: %v %v", c.Secrets.Default, w)
	}
	if len(w) != 6 {
		t.Errorf("got %d warnings, want 6: %v", len(w), w)
	}
	if c.Hashers.Algorithm != "bcrypt" || c.Hashers.Bcrypt.Cost != 8 {
		t.Errorf("hashers = %+v", c.Hashers)
	}
	if c.Log.Level != "debug" {
		t.Errorf("log = %+v", c.Log)
	}
	if got := c.SelfService.Flows.Registration.After.Password.Hooks; len(got) != 2 || got[1].Hook != "show_verification_ui" {
		t.Errorf("registration hooks = %+v", got)
	}
	if c.SelfService.Flows.Settings.PrivilegedSessionMaxAge != 15*time.Minute {
		t.Errorf("privileged_session_max_age = %v", c.SelfService.Flows.Settings.PrivilegedSessionMaxAge)
	}
	if c.SelfService.Methods.TOTP.Config.Issuer != "Kratos" {
		t.Errorf("totp issuer = %q", c.SelfService.Methods.TOTP.Config.Issuer)
	}

	// The same file outside --dev lists exactly what production needs.
	_, _, err = Load(LoadOptions{File: "testdata/kratos-quickstart.yml", Env: env})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("outside --dev: err = %v, want Problems", err)
	}
	if !hasProblem(ps, "hashers.bcrypt.cost", "below the minimum of 10") || len(ps) != 1 {
		t.Errorf("outside --dev: got %v", ps)
	}
}

// TestSecretsCookieAsDefault: Kratos' secrets.cookie (file) and
// SECRETS_COOKIE (environment) stand in for secrets.default when nothing
// sets it, so a Kratos deployment starts outside --dev; secrets.default set
// anywhere wins and secrets.cookie is then warned about as ignored.
func TestSecretsCookieAsDefault(t *testing.T) {
	t.Parallel()
	const cookie, def = "a-kratos-cookie-secret-0123", "a-latchkey-default-secret-42"
	tests := []struct {
		name, yaml string
		env        []string
		want, warn string
	}{
		{"file cookie", "secrets: {cookie: [" + cookie + "]}", nil, cookie, "read as secrets.default"},
		{"file default wins", "secrets: {cookie: [" + cookie + "], default: [" + def + "]}", nil, def, "Kratos setting"},
		{"env SECRETS_COOKIE", "", []string{"SECRETS_COOKIE=" + cookie}, cookie, "SECRETS_COOKIE (as secrets.default)"},
		{"env LATCHKEY_SECRETS_DEFAULT wins", "", []string{"SECRETS_COOKIE=" + cookie, "LATCHKEY_SECRETS_DEFAULT=" + def}, def, ""},
		{"env SECRETS_DEFAULT wins", "", []string{"SECRETS_COOKIE=" + cookie, "SECRETS_DEFAULT=" + def}, def, ""},
		{"file default beats env cookie", "secrets: {default: [" + def + "]}", []string{"SECRETS_COOKIE=" + cookie}, def, ""},
		{"env cookie beats file cookie", "secrets: {cookie: [" + def + "]}", []string{"SECRETS_COOKIE=" + cookie}, cookie, "SECRETS_COOKIE (as secrets.default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"LATCHKEY_DSN=sqlite:///tmp/x.db", "LATCHKEY_COURIER_SMTP_CONNECTION_URI=smtp://mail.example.com:25",
				"LATCHKEY_SECRETS_CIPHER=0123456789abcdef0123456789abcdef"}, tt.env...)
			c, w, err := loadYAML(t, tt.yaml, env, false)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.Secrets.Default) != 1 || c.Secrets.Default[0] != tt.want {
				t.Errorf("secrets.default = %v, want [%s]", c.Secrets.Default, tt.want)
			}
			if tt.warn != "" && !strings.Contains(fmt.Sprint(w), tt.warn) {
				t.Errorf("warnings %v lack %q", w, tt.warn)
			}
		})
	}
}

func TestFileProblems(t *testing.T) {
	t.Parallel()
	t.Run("syntax", func(t *testing.T) {
		t.Parallel()
		ps := problems(t, "serve:\n  public:\n    port: [1\n", []string{"LATCHKEY_SERVE_ADMIN_PORT=x"}, true)
		if len(ps) != 2 || ps[0].Key != "" || !strings.Contains(ps[0].Message, "yaml:") || !hasProblem(ps, "serve.admin.port", "not a whole number") {
			t.Errorf("got %v", ps)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, _, err := Load(LoadOptions{File: filepath.Join(t.TempDir(), "nope.yml"), Env: []string{}})
		if err == nil || !strings.Contains(err.Error(), "read config file") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("top-level list", func(t *testing.T) {
		t.Parallel()
		ps := problems(t, "- a\n- b\n", nil, true)
		if len(ps) != 1 || !strings.HasSuffix(ps[0].Message, "line 1: the top level must be a mapping of keys to values") {
			t.Errorf("got %v", ps)
		}
	})
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	yml := mergeYAML(minimal, "serve:\n  admin:\n    host: 0.0.0.0\n")
	_, w := mustLoad(t, yml, nil, false)
	if !hasWarning(w, "serve.public.base_url", "not set; using https://localhost:4433/") {
		t.Errorf("no derived base_url warning: %v", w)
	}
	if !hasWarning(w, "serve.admin.host", "not a loopback address") {
		t.Errorf("no admin exposure warning: %v", w)
	}
}

func TestLogLevelAliases(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"trace": "debug", "warning": "warn", "fatal": "error", "panic": "error", "info": "info"} {
		c, _ := mustLoad(t, "", []string{"LATCHKEY_LOG_LEVEL=" + in}, true)
		if c.Log.Level != want {
			t.Errorf("log.level %s -> %s, want %s", in, c.Log.Level, want)
		}
	}
}

func TestDevSecrets(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, "", nil, true)
	if !c.NeedsDevSecrets() {
		t.Fatal("NeedsDevSecrets = false for --dev without secrets")
	}
	filled, err := c.FillDevSecrets(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(filled, []string{"secrets.default", "secrets.cipher"}) {
		t.Errorf("filled = %v", filled)
	}
	if c.NeedsDevSecrets() {
		t.Error("NeedsDevSecrets still true")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("generated secrets do not validate: %v", err)
	}
	if c.Secrets.Default[0] == c.Secrets.Cipher[0] {
		t.Error("default and cipher secrets are equal")
	}
	if _, err := (&Config{Dev: true}).FillDevSecrets(strings.NewReader("")); err == nil {
		t.Error("FillDevSecrets with an empty reader succeeded")
	}
	prod, _ := mustLoad(t, minimal, nil, false)
	if prod.NeedsDevSecrets() {
		t.Error("NeedsDevSecrets true outside --dev")
	}
}

func TestValidateAfterChange(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, minimal, nil, false)
	c.Hashers.Bcrypt.Cost = 8
	c.Session.Cookie.SameSite = "Sometimes"
	err := c.Validate()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("Validate = %v, want 2 problems", err)
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"128MB", 128 * MB, false},
		{"64KB", 64 * KB, false},
		{"1GB", GB, false},
		{"1GiB", GB, false},
		{"2M", 2 * MB, false},
		{"512", 512, false},
		{"1.5KB", 1536, false},
		{" 16 MB ", 16 * MB, false},
		{"", 0, true},
		{"MB", 0, true},
		{"12XB", 0, true},
		{"-1MB", 0, true},
		{"99999999999EB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, b := range []ByteSize{0, 1, 1023, KB, 128 * MB, 3 * GB, 1536} {
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Errorf("%d -> %q -> %d, %v", b, b.String(), back, err)
		}
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	ref := Reference()
	if *update {
		if err := os.WriteFile("REFERENCE.md", []byte(ref), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatalf("%v (run go test ./config/ -update)", err)
	}
	if string(file) != ref {
		t.Errorf("REFERENCE.md is out of date; run go test ./config/ -update")
	}
	schema().walk(func(n *node) {
		if n.kind == kindStruct {
			return
		}
		if !strings.Contains(string(file), "| `"+displayPath(n.path)+"` |") {
			t.Errorf("REFERENCE.md lacks key %s", n.path)
		}
		if n.doc == "" {
			t.Errorf("key %s has no doc tag", n.path)
		}
		if n.envName != "" && !strings.Contains(string(file), "`"+n.envName+"`") {
			t.Errorf("REFERENCE.md lacks %s", n.envName)
		}
	})
}

func TestKratosKeysWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range kratosKeys {
		if seen[k] {
			t.Errorf("duplicate Kratos key %s", k)
		}
		seen[k] = true
		if strings.Contains(k, "**") && !strings.HasSuffix(k, ".**") {
			t.Errorf("%s: ** only at the end", k)
		}
	}
	for p := range kratosHints {
		if matchKratos(p) == kratosNone {
			t.Errorf("hint for %s, which is no Kratos key", p)
		}
	}
}

func FuzzLoadYAML(f *testing.F) {
	seed, err := os.ReadFile("testdata/kratos-quickstart.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(minimal))
	f.Add([]byte("serve: {public: {port: x}}\ncookies: {domain: a}\nfoo: [1, {a: b}]\n"))
	f.Add([]byte("session: {whoami: {tokenizer: {templates: {1: {ttl: 1}}}}}\nidentity: {schemas: [null, 1, {id: 2}]}"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := load(data, LoadOptions{Env: []string{}, Dev: len(data)%2 == 0})
		if err == nil && c == nil {
			t.Fatal("nil Config without error")
		}
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not a non-empty Problems: %v", err)
			}
		}
	})
}

func TestSecretValuesNotEchoed(t *testing.T) {
	t.Parallel()
	ps := problems(t, "secrets: {default: hunter2-hunter2-hunter2}\nserve: {admin: {api_key: 1234567890123456789}}\n", nil, true)
	if strings.Contains(ps.Error(), "hunter2") || strings.Contains(ps.Error(), "1234567890123456789") {
		t.Errorf("a secret value appears in the problems:\n%v", ps)
	}
	if !hasProblem(ps, "secrets.default", "expected a list of strings, got a string") || !hasProblem(ps, "serve.admin.api_key", "put it in quotes") {
		t.Errorf("got:\n%v", ps)
	}
}

func TestDevBaseURLFollowsListener(t *testing.T) {
	t.Parallel()
	c, w := mustLoad(t, "", []string{"LATCHKEY_SERVE_PUBLIC_PORT=8080"}, true)
	// On a loopback interface the URL names localhost, which browsers
	// accept as WebAuthn relying party; another interface keeps its
	// address.
	if c.Serve.Public.BaseURL != "http://localhost:8080/" || c.SelfService.Flows.Login.UIURL != "http://localhost:8080/ui/login" {
		t.Errorf("base_url %q, login ui %q", c.Serve.Public.BaseURL, c.SelfService.Flows.Login.UIURL)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	c, _ = mustLoad(t, "", []string{"LATCHKEY_SERVE_PUBLIC_PORT=8080", "LATCHKEY_SERVE_PUBLIC_HOST=192.0.2.7"}, true)
	if c.Serve.Public.BaseURL != "http://192.0.2.7:8080/" {
		t.Errorf("base_url on another interface = %q", c.Serve.Public.BaseURL)
	}
	c, _ = mustLoad(t, "", []string{"LATCHKEY_SERVE_PUBLIC_PORT=8080", "LATCHKEY_SERVE_PUBLIC_HOST=::1"}, true)
	if c.Serve.Public.BaseURL != "http://localhost:8080/" {
		t.Errorf("base_url on ::1 = %q", c.Serve.Public.BaseURL)
	}
}

func TestNamesWithDots(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, "session: {whoami: {tokenizer: {templates: {jwt.v1: {jwks_url: 'file:///k'}}}}}\ncourier: {smtp: {headers: {X.Y: z}}}\n", nil, true)
	tpl, ok := c.Session.WhoAmI.Tokenizer.Templates["jwt.v1"]
	if !ok || tpl.TTL != time.Minute || tpl.SubjectSource != "id" {
		t.Errorf("templates = %+v", c.Session.WhoAmI.Tokenizer.Templates)
	}
	if c.Courier.SMTP.Headers["X.Y"] != "z" {
		t.Errorf("headers = %v", c.Courier.SMTP.Headers)
	}
}

func TestYAMLErrorsOnePerLine(t *testing.T) {
	t.Parallel()
	ps := problems(t, "dsn: a\ndsn: b\nlog: {}\nlog: {}\n", nil, true)
	if len(ps) != 2 || strings.Contains(ps[0].Message, "\n") || !strings.Contains(ps[0].Message, `mapping key "dsn" already defined`) {
		t.Errorf("got %q", ps)
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, minimal, nil, false)
	tests := []struct {
		name      string
		got, want any
	}{
		{"public addr", c.Serve.Public.Addr(), ":4433"},
		{"admin addr", c.Serve.Admin.Addr(), "127.0.0.1:4434"},
		{"public url host", c.Serve.PublicURL().Host, "id.example.com"},
		{"problem string", Problem{Key: "a.b", Message: "is bad"}.String(), "a.b: is bad"},
		{"keyless problem", Problem{Message: "file: broken"}.String(), "file: broken"},
		{"warning string", Warning{Key: "tracing", Message: "ignored"}.String(), "tracing: ignored"},
		{"keyless warning", Warning{Message: "note"}.String(), "note"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestByteSizeText(t *testing.T) {
	t.Parallel()
	var b ByteSize
	if err := b.UnmarshalText([]byte("2GB")); err != nil || b != 2*GB {
		t.Errorf("UnmarshalText(2GB) = %v, %v", b, err)
	}
	if err := b.UnmarshalText([]byte("lots")); err == nil {
		t.Error("UnmarshalText(lots) succeeded")
	}
	if out, err := (64 * KB).MarshalText(); err != nil || string(out) != "64KB" {
		t.Errorf("MarshalText = %q, %v", out, err)
	}
}

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	// The checker normally converts every value before decoding; this is the
	// backstop that still names the key if a decode error slips through.
	var c Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{TagName: "koanf", Result: &c})
	if err != nil {
		t.Fatal(err)
	}
	err = dec.Decode(map[string]any{"serve": map[string]any{"public": map[string]any{"port": "x"}, "admin": map[string]any{"port": []any{}}}})
	ps := decodeProblems(err)
	if len(ps) != 2 || !hasProblem(ps, "serve.public.port", "") || !hasProblem(ps, "serve.admin.port", "") {
		t.Errorf("got %v", ps)
	}
}

// TestRelyingPartyOnIP: with an IP host in the public base URL and no rp.id
// the configuration loads, passkeys are off (no usable relying party) and a
// warning says how to fix it; an explicit rp.id turns them on.
func TestRelyingPartyOnIP(t *testing.T) {
	t.Parallel()
	env := []string{"LATCHKEY_SERVE_PUBLIC_BASE_URL=http://192.0.2.7:4433/"}
	c, w := mustLoad(t, minimal, env, false)
	if rp := c.WebAuthnRP(); rp.Usable() || rp.ID != "" {
		t.Errorf("relying party on an IP base URL = %+v, want unusable", rp)
	}
	n := 0
	for _, x := range w {
		if strings.Contains(x.Key, ".rp.") {
			n++
		}
	}
	if n != 1 || !hasWarning(w, "selfservice.methods.passkey.config.rp.id", "Set selfservice.methods.passkey.config.rp.id to a host name such as localhost") {
		t.Errorf("want one rp warning with the fix, got %v", w)
	}
	c, w = mustLoad(t, minimal, append(env, "LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID=localhost",
		"LATCHKEY_SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS=http://localhost:4433"), false)
	if rp := c.WebAuthnRP(); !rp.Usable() || rp.ID != "localhost" || c.SelfService.Methods.WebAuthn.Config.RP.ID != "localhost" {
		t.Errorf("explicit relying party = %+v", rp)
	}
	if hasWarning(w, "selfservice.methods.passkey.config.rp.id", "") {
		t.Errorf("warning despite an explicit rp.id: %v", w)
	}
}

// TestHankoThirdPartyLandsInTheOneList: Hanko's providers become entries of
// selfservice.methods.oidc.config.providers, with Hanko's default scopes.
func TestHankoThirdPartyLandsInTheOneList(t *testing.T) {
	t.Parallel()
	yml := mergeYAML(minimal, `hanko: {third_party: {error_redirect_url: 'https://app.example.com/error', allowed_redirect_urls: ['https://app.example.com/**'],
  providers: {github: {enabled: true, client_id: gh, secret: ghs, allow_linking: true}, apple: {enabled: false}},
  custom_providers: {corp: {enabled: true, display_name: Corp, issuer: 'https://idp.example.com', client_id: c, secret: s, scopes: [email]}}}}`)
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.SelfService.Methods.OIDC.Config.Providers
	if len(ps) != 2 || ps[0].ID != "github" || ps[0].Provider != "github" || ps[0].ClientSecret != "ghs" || ps[0].Scope[0] != "user:email" ||
		ps[1].ID != "corp" || ps[1].Provider != "generic" || ps[1].IssuerURL != "https://idp.example.com" || ps[1].Label != "Corp" {
		t.Fatalf("providers %+v", ps)
	}
	tp := cfg.Hanko.ThirdParty
	if !tp.AllowLinking("github") || tp.AllowLinking("corp") || tp.AllowLinking("apple") || !strings.HasSuffix(tp.RedirectURL, "/thirdparty/callback") {
		t.Fatalf("third_party %+v", tp)
	}
}

// TestKratosEnvFallback: Kratos' variable names (the key path upper-cased
// with "_") are read when no LATCHKEY_ variable sets the key; a warning
// names the ones read.
func TestKratosEnvFallback(t *testing.T) {
	c, ws, err := Load(LoadOptions{Dev: true, Env: []string{
		"DSN=postgres://kratos@db:5432/kratos",
		"SERVE_PUBLIC_PORT=4455",
		"LATCHKEY_SERVE_ADMIN_PORT=4466", "SERVE_ADMIN_PORT=9999",
		"LOG_LEVEL=debug",
		"HOME=/root", "PATH=/usr/bin",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if c.DSN != "postgres://kratos@db:5432/kratos" || c.Serve.Public.Port != 4455 || c.Serve.Admin.Port != 4466 || c.Log.Level != "debug" {
		t.Fatalf("dsn %q public %d admin %d log %q", c.DSN, c.Serve.Public.Port, c.Serve.Admin.Port, c.Log.Level)
	}
	found := false
	for _, w := range ws {
		if w.Key == "environment" {
			found = true
			if w.Message != "read Kratos' variables DSN, LOG_LEVEL, SERVE_PUBLIC_PORT (set LATCHKEY_<KEY> to override one)" {
				t.Errorf("warning %q", w.Message)
			}
		}
	}
	if !found {
		t.Errorf("no warning names the Kratos variables read: %v", ws)
	}
}

// TestLegacyKratosKeys: Kratos' old names load with a warning each;
// beside their new names they are problems.
func TestLegacyKratosKeys(t *testing.T) {
	t.Parallel()
	abs, err := filepath.Abs("testdata/identity.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	yml := "selfservice:\n  whitelisted_return_urls: [\"https://app.example.com/\"]\nidentity:\n  default_schema_url: file://" + abs + "\n"
	c, ws, err := Load(LoadOptions{Dev: true, Env: []string{}, File: writeTemp(t, yml)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SelfService.AllowedReturnURLs) != 1 || c.SelfService.AllowedReturnURLs[0] != "https://app.example.com/" {
		t.Errorf("allowed_return_urls = %v", c.SelfService.AllowedReturnURLs)
	}
	if len(c.Identity.Schemas) != 1 || c.Identity.Schemas[0].ID != "default" || c.Identity.DefaultSchemaID != "default" {
		t.Errorf("schemas = %+v, default %q", c.Identity.Schemas, c.Identity.DefaultSchemaID)
	}
	if !hasWarning(ws, "selfservice.whitelisted_return_urls", "allowed_return_urls") || !hasWarning(ws, "identity.default_schema_url", "identity.schemas") {
		t.Errorf("warnings %v", ws)
	}
	both := yml + "  schemas: [{id: x, url: \"base64://e30=\"}]\n  default_schema_id: x\n"
	both = strings.Replace(both, "selfservice:\n", "selfservice:\n  allowed_return_urls: [\"https://b.example.com/\"]\n", 1)
	_, _, err = Load(LoadOptions{Dev: true, Env: []string{}, File: writeTemp(t, both)})
	var ps Problems
	if !errors.As(err, &ps) || !hasProblem(ps, "selfservice.whitelisted_return_urls", "remove one") || !hasProblem(ps, "identity.default_schema_url", "identity.schemas is set too") {
		t.Errorf("legacy beside new: %v", err)
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCodeMFAAccepted(t *testing.T) {
	t.Parallel()
	c, _ := mustLoad(t, minimal, []string{"LATCHKEY_SELFSERVICE_METHODS_CODE_MFA_ENABLED=true"}, false)
	if m := c.SelfService.Methods.Code; !m.MFAEnabled || !m.Enabled || m.PasswordlessEnabled {
		t.Errorf("code method: %+v", m)
	}
}

// TestEmptyKratosVariableIsUnset: DSN= (an empty Kratos-named variable, as
// compose files leave them) does not blank the file's dsn, and an empty
// SECRETS_COOKIE is no secret.
func TestEmptyKratosVariableIsUnset(t *testing.T) {
	t.Parallel()
	c, _, err := loadYAML(t, "dsn: sqlite:///tmp/file.db\nsecrets: {default: [a-latchkey-default-secret-42]}",
		[]string{"DSN=", "SECRETS_COOKIE=", "LATCHKEY_COURIER_SMTP_CONNECTION_URI=smtp://mail.example.com:25",
			"LATCHKEY_SECRETS_CIPHER=0123456789abcdef0123456789abcdef"}, false)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.DSN != "sqlite:///tmp/file.db" || len(c.Secrets.Default) != 1 {
		t.Errorf("dsn %q, secrets.default %v", c.DSN, c.Secrets.Default)
	}
}

// TestKratosOnlyVariablesWarned: a Kratos deployment's variables for
// settings Latchkey does not implement get one warning each naming the
// setting, instead of vanishing; other variables stay silent.
func TestKratosOnlyVariablesWarned(t *testing.T) {
	t.Parallel()
	_, w, err := loadYAML(t, minimal, []string{"TRACING_PROVIDER=otel", "LOG_LEAK_SENSITIVE_VALUES=true", "COOKIES_FOO=x",
		"DEV=true", "PATH=/bin", "VERSION=1.2", "HOME=/root", "LOG_LEVEL=debug", "SECRETS_COOKIE=", "TRACING_PROVIDERS_OTLP_SERVER_URL=x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TRACING_PROVIDER": "tracing.provider", "LOG_LEAK_SENSITIVE_VALUES": "log.leak_sensitive_values",
		"DEV": "pass --dev", "TRACING_PROVIDERS_OTLP_SERVER_URL": "tracing.providers_otlp_server_url"}
	got := map[string]string{}
	for _, x := range w {
		if x.Key != "environment" && strings.Contains(x.Message, "Kratos' variable") {
			got[x.Key] = x.Message
		}
	}
	for name, frag := range want {
		if !strings.Contains(got[name], frag) {
			t.Errorf("%s: warning %q, want one with %q", name, got[name], frag)
		}
	}
	if len(got) != len(want) {
		t.Errorf("warned about %v, want exactly %v", got, want)
	}
}

// TestCookieFallbacks: Kratos' cookies.domain, cookies.path and
// cookies.same_site (file or COOKIES_* variables) are the session cookie's
// when session.cookie.* is not set, as in Kratos; a session.cookie key set
// anywhere wins.
func TestCookieFallbacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		env        []string
		domain     string
		sameSite   string
		path       string
	}{
		{"file", "cookies: {domain: example.com, path: /auth, same_site: Strict}", nil, "example.com", "Strict", "/auth"},
		{"file session.cookie wins", "cookies: {domain: example.com}\nsession: {cookie: {domain: id.example.com}}", nil, "id.example.com", "Lax", "/"},
		{"environment", "", []string{"COOKIES_DOMAIN=example.com", "COOKIES_SAME_SITE=None"}, "example.com", "None", "/"},
		{"environment SESSION_COOKIE_DOMAIN wins", "", []string{"COOKIES_DOMAIN=example.com", "SESSION_COOKIE_DOMAIN=id.example.com"}, "id.example.com", "Lax", "/"},
		{"file session.cookie beats env cookies", "session: {cookie: {domain: id.example.com}}", []string{"COOKIES_DOMAIN=example.com"}, "id.example.com", "Lax", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := mustLoad(t, mergeYAML(minimal, tt.yaml), tt.env, false)
			ck := c.Session.Cookie
			if ck.Domain != tt.domain || ck.SameSite != tt.sameSite || ck.Path != tt.path {
				t.Errorf("session cookie domain %q same_site %q path %q, want %q %q %q", ck.Domain, ck.SameSite, ck.Path, tt.domain, tt.sameSite, tt.path)
			}
		})
	}
}

// TestRelativeSchemaFileURL: file://./x.json and file://x.json are relative
// to the working directory, as the schema registry and Kratos read them;
// config check read them as /x.json and reported a missing file.
func TestRelativeSchemaFileURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"file://./testdata/identity.schema.json", "file://testdata/identity.schema.json"} {
		env := []string{`LATCHKEY_IDENTITY_SCHEMAS=[{"id":"default","url":"` + u + `"}]`}
		if _, _, err := loadYAML(t, minimal, env, false); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	_, _, err := loadYAML(t, minimal, []string{`LATCHKEY_IDENTITY_SCHEMAS=[{"id":"default","url":"file://./testdata/none.json"}]`}, false)
	if err == nil || !strings.Contains(err.Error(), "cannot read ./testdata/none.json") {
		t.Errorf("a missing relative file: %v", err)
	}
}
