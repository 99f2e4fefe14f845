package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// Config is Latchkey's whole configuration. Each section lives in its own
// file; see the package documentation for how to add one.
type Config struct {
	DSN         string      `koanf:"dsn" doc:"Database: sqlite://FILE, postgres://…, mysql://… or memory (an in-memory SQLite database that lives as long as the process, as in Kratos); required outside --dev." devdefault:"sqlite://latchkey.db"`
	SQLite      SQLite      `koanf:"sqlite"`
	Serve       Serve       `koanf:"serve"`
	Secrets     Secrets     `koanf:"secrets"`
	Identity    Identity    `koanf:"identity"`
	Hashers     Hashers     `koanf:"hashers"`
	Session     Session     `koanf:"session"`
	Log         Log         `koanf:"log"`
	Courier     Courier     `koanf:"courier"`
	RateLimit   RateLimit   `koanf:"ratelimit"`
	SelfService SelfService `koanf:"selfservice"`
	Hanko       Hanko       `koanf:"hanko"`
	UI          UI          `koanf:"ui"`
	Cleanup     Cleanup     `koanf:"cleanup"`
	Runtime     Runtime     `koanf:"runtime"`

	// Dev is true when Latchkey runs with --dev: cheap hashing, generated
	// secrets, loopback listeners, cookies without Secure.
	Dev bool `koanf:"-"`
}

// A section may implement any of these; Config calls them on every
// top-level field, in field order.
type (
	// defaulter sets the section's defaults on its zero value.
	defaulter interface{ setDefaults(dev bool) }
	// resolver fills values derived from other settings after loading,
	// such as URLs built from serve.public.base_url.
	resolver interface{ resolve(c *Config, w *[]Warning) }
	// validator reports everything wrong with the section.
	validator interface{ validate(c *Config, p *Problems) }
)

// sections calls fn with a pointer to each top-level field of c.
func (c *Config) sections(fn func(any)) {
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("koanf") == "-" {
			continue
		}
		fn(v.Field(i).Addr().Interface())
	}
}

// defaults returns the configuration used for every key the file and the
// environment leave unset.
func defaults(dev bool) *Config {
	c := &Config{Dev: dev}
	if dev {
		c.DSN = "sqlite://latchkey.db"
	}
	c.sections(func(s any) {
		if d, ok := s.(defaulter); ok {
			d.setDefaults(dev)
		}
	})
	return c
}

// LoadOptions says where Load reads the configuration from.
type LoadOptions struct {
	// File is the YAML file (-c FILE); empty means none.
	File string
	// Env is the environment as KEY=VALUE strings; nil means os.Environ().
	// Pass an empty, non-nil slice to ignore the environment.
	Env []string
	// Dev selects --dev defaults and relaxes the production-only rules.
	Dev bool
}

// Load builds the configuration from defaults, then the YAML file, then the
// LATCHKEY_ environment variables (each overriding the one before), and
// validates it. It returns warnings (Kratos settings Latchkey ignores, unknown
// LATCHKEY_ variables, derived values worth checking) even when it fails.
// On failure the error is Problems listing every problem found — unreadable
// or malformed file, unknown keys (with the nearest valid key), values of the
// wrong type, and every rule Validate checks — and the Config is nil.
func Load(opts LoadOptions) (*Config, []Warning, error) {
	var data []byte
	if opts.File != "" {
		b, err := file.Provider(opts.File).ReadBytes()
		if err != nil {
			return nil, nil, Problems{{Message: fmt.Sprintf("read config file: %v", err)}}
		}
		data = b
	}
	return load(data, opts)
}

// load is Load on the file's contents.
func load(data []byte, opts LoadOptions) (*Config, []Warning, error) {
	environ := opts.Env
	if environ == nil {
		environ = os.Environ()
	}
	ck := &checker{}
	k := koanf.New(".")
	if err := k.Load(mapProvider(toMap(reflect.ValueOf(defaults(opts.Dev)).Elem()).(map[string]any)), nil); err != nil {
		return nil, nil, fmt.Errorf("load defaults: %w", err)
	}

	fileOK := true
	if len(data) > 0 {
		raw, err := yaml.Parser().Unmarshal(data)
		var te *yamlv3.TypeError
		switch {
		case errors.As(err, &te):
			// Several errors (e.g. duplicate keys): one problem each.
			for _, e := range te.Errors {
				if i := strings.Index(e, "cannot unmarshal"); i >= 0 && strings.HasSuffix(e, "into map[string]interface {}") {
					e = e[:i] + "the top level must be a mapping of keys to values"
				}
				ck.problems.add("", "%s: %s", fileLabel(opts.File), e)
			}
			fileOK = false
		case err != nil:
			ck.problems.add("", "%s: %v", fileLabel(opts.File), err)
			fileOK = false
		default:
			ck.legacyKeys(raw)
			ck.hankoKeys(raw)
			if err := k.Load(mapProvider(ck.section(schema(), "", raw)), nil); err != nil {
				return nil, nil, fmt.Errorf("merge config file: %w", err)
			}
		}
	}

	ck.warnings = append(ck.warnings, kratosOnlyEnv(environ)...)
	environ, kratosVars := withKratosEnv(environ, ck.fileSet)
	if len(kratosVars) > 0 {
		ck.warnings = append(ck.warnings, Warning{Key: "environment", Message: "read Kratos' variables " +
			strings.Join(kratosVars, ", ") + " (set LATCHKEY_<KEY> to override one)"})
	}
	envRaw := ck.readEnv(environ)
	ck.from = " (from the environment)"
	if err := k.Load(mapProvider(ck.section(schema(), "", envRaw)), nil); err != nil {
		return nil, nil, fmt.Errorf("merge environment: %w", err)
	}
	ck.from = ""
	if !fileOK {
		return nil, ck.warnings, ck.problems.sorted()
	}

	c := &Config{}
	dec := &mapstructure.DecoderConfig{TagName: "koanf", Result: c}
	if err := k.UnmarshalWithConf("", c, koanf.UnmarshalConf{DecoderConfig: dec}); err != nil {
		// The checker converted every value, so this is a bug; still report it.
		ck.problems = append(ck.problems, decodeProblems(err)...)
	}
	c.Dev = opts.Dev
	warnings := ck.warnings
	c.sections(func(s any) {
		if r, ok := s.(resolver); ok {
			r.resolve(c, &warnings)
		}
	})
	problems := ck.problems
	var vp Problems
	if err := c.Validate(); errors.As(err, &vp) {
		problems = append(problems, vp...)
	}
	if len(problems) > 0 {
		return nil, warnings, problems.sorted()
	}
	return c, warnings, nil
}

// Validate checks the configuration and returns Problems listing every rule
// it breaks, or nil. Load calls it; call it again after changing a Config.
func (c *Config) Validate() error {
	var p Problems
	if c.DSN == "" && !c.Dev {
		p.add("dsn", "is required outside --dev; set it to e.g. sqlite:///var/lib/latchkey/latchkey.db or postgres://user:password@host:5432/latchkey")
	} else if c.DSN != "" && !validDSN(c.DSN) {
		p.add("dsn", "has an unknown scheme; use sqlite://, postgres://, postgresql://, mysql:// or memory")
	}
	c.sections(func(s any) {
		if v, ok := s.(validator); ok {
			v.validate(c, &p)
		}
	})
	if len(p) == 0 {
		return nil
	}
	return p.sorted()
}

func validDSN(dsn string) bool {
	if dsn == "memory" {
		return true // Kratos' in-memory database: SQLite in memory
	}
	for _, prefix := range []string{"sqlite://", "sqlite3://", "postgres://", "postgresql://", "mysql://"} {
		if len(dsn) >= len(prefix) && dsn[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func fileLabel(name string) string {
	if name == "" {
		return "config"
	}
	return name
}

// mapProvider hands an already-parsed map to koanf.
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: map provider has no bytes")
}
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

// toMap turns a defaults value into the raw tree koanf merges, keyed by the
// koanf tags; empty lists and maps are left out so they do not mask values.
func toMap(v reflect.Value) any {
	switch {
	case v.Kind() == reflect.Struct:
		m := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			key := v.Type().Field(i).Tag.Get("koanf")
			if key == "" || key == "-" {
				continue
			}
			if fv := toMap(v.Field(i)); fv != nil {
				m[key] = fv
			}
		}
		return m
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		l := make([]any, v.Len())
		for i := range l {
			l[i] = toMap(v.Index(i))
		}
		return l
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = toMap(v.MapIndex(k))
		}
		return m
	}
	return v.Interface()
}

// decodeProblems turns mapstructure's joined errors into problems.
func decodeProblems(err error) Problems {
	var out Problems
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			for _, y := range x.Unwrap() {
				walk(y)
			}
		case *mapstructure.DecodeError:
			if inner, ok := x.Unwrap().(interface{ Unwrap() []error }); ok {
				walk(inner.(error))
				return
			}
			out.add(x.Name(), "%v", x.Unwrap())
		case interface{ Unwrap() error }:
			if inner := x.Unwrap(); inner != nil {
				walk(inner)
			} else {
				out.add("", "%v", e)
			}
		default:
			out.add("", "%v", e)
		}
	}
	walk(err)
	return out
}
