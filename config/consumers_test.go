package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// configPath is this package's import path.
var configPath = reflect.TypeOf(Config{}).PkgPath()

// machinery names the functions of this package that read every field as a
// matter of course (loading, validating, printing the reference): a call to
// them from outside proves nothing about any one key.
var machinery = map[string]bool{
	"Load": true, "load": true, "Validate": true, "Reference": true, "validate": true,
	"resolve": true, "setDefaults": true, "defaults": true,
}

// consumers type-checks the non-test code of every package of the module
// other than config (dependencies come from the compiler's export data) and
// returns the fields of config's struct types that it reads, keyed
// "Type.Field", each with one place that reads it. A config function or
// method called from outside counts as the caller's: the fields it reads,
// and those read by the config functions it calls, are consumed too
// (Config.Validate and the other machinery excepted).
var consumers = sync.OnceValues(func() (map[string]string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Export,Dir,GoFiles,Module,Standard", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &exec.ExitError{Stderr: stderr.Bytes()}
	}
	type pkg struct {
		ImportPath, Export, Dir string
		GoFiles                 []string
		Standard                bool
		Module                  *struct{ Path string }
	}
	exports := map[string]string{}
	var ours []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Path == strings.TrimSuffix(configPath, "/config") {
			ours = append(ours, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	consumed := map[string]string{}
	// Inside config: which fields each function reads and which config
	// functions it calls.
	type fn struct {
		reads []string
		calls []string
	}
	funcs := map[string]*fn{}
	var seeds []string
	fieldKey := func(v *types.Var) string {
		// The struct type declaring v: found through the package scope.
		scope := v.Pkg().Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok {
				continue
			}
			st, ok := tn.Type().Underlying().(*types.Struct)
			if !ok {
				continue
			}
			for i := 0; i < st.NumFields(); i++ {
				if st.Field(i) == v {
					return name + "." + v.Name()
				}
			}
		}
		return "?." + v.Name()
	}
	funcKey := func(f *types.Func) string {
		if recv := f.Signature().Recv(); recv != nil {
			t := recv.Type()
			if p, ok := t.(*types.Pointer); ok {
				t = p.Elem()
			}
			if n, ok := t.(*types.Named); ok {
				return n.Obj().Name() + "." + f.Name()
			}
		}
		return f.Name()
	}
	for _, p := range ours {
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}, Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			return nil, err
		}
		inConfig := p.ImportPath == configPath
		for _, f := range files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				var cur *fn
				if inConfig {
					if !ok {
						continue
					}
					name := fd.Name.Name
					if fd.Recv != nil && len(fd.Recv.List) == 1 {
						rt := fd.Recv.List[0].Type
						if s, ok := rt.(*ast.StarExpr); ok {
							rt = s.X
						}
						if id, ok := rt.(*ast.Ident); ok {
							name = id.Name + "." + name
						}
					}
					cur = &fn{}
					funcs[name] = cur
				}
				ast.Inspect(d, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.SelectorExpr:
						sel := info.Selections[x]
						if sel == nil || sel.Kind() != types.FieldVal {
							return true
						}
						v := sel.Obj().(*types.Var)
						if v.Pkg() == nil || v.Pkg().Path() != configPath {
							return true
						}
						key := fieldKey(v)
						if cur != nil {
							cur.reads = append(cur.reads, key)
						} else if _, ok := consumed[key]; !ok {
							pos := fset.Position(x.Pos())
							rel, _ := filepath.Rel(root, pos.Filename)
							consumed[key] = fmt.Sprintf("%s:%d", rel, pos.Line)
						}
					case *ast.Ident:
						f, ok := info.Uses[x].(*types.Func)
						if !ok || f.Pkg() == nil || f.Pkg().Path() != configPath {
							return true
						}
						if cur != nil {
							cur.calls = append(cur.calls, funcKey(f))
						} else if !machinery[f.Name()] {
							seeds = append(seeds, funcKey(f))
						}
					}
					return true
				})
			}
		}
	}
	// Propagate from the config functions called outside config.
	seen := map[string]bool{}
	for len(seeds) > 0 {
		name := seeds[len(seeds)-1]
		seeds = seeds[:len(seeds)-1]
		f := funcs[name]
		short := name[strings.LastIndex(name, ".")+1:]
		if seen[name] || f == nil || machinery[short] {
			continue
		}
		seen[name] = true
		for _, r := range f.reads {
			if _, ok := consumed[r]; !ok {
				consumed[r] = "config." + name + " (called outside config)"
			}
		}
		seeds = append(seeds, f.calls...)
	}
	return consumed, nil
})

// configField is one koanf field of a config struct type.
type configField struct {
	path string // key path pattern, as in the schema
	key  string // "Type.Field"
	leaf bool
}

// configFields lists every koanf field reachable from Config.
func configFields() []configField {
	var out []configField
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			p := join(path, tag)
			ft := f.Type
			leaf := true
			switch {
			case ft.Kind() == reflect.Struct && ft != durationType:
				leaf = false
				walk(ft, p)
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+".*")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[]")
			}
			out = append(out, configField{path: p, key: t.Name() + "." + f.Name, leaf: leaf})
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// indirect lists the keys whose field nothing outside config reads, each with
// a probe proving that the key is not accepted and ignored: loading base and
// then with (base plus the key set), the key either changes a field that code
// outside config reads (a value derived from it, such as the one OIDC
// provider list Hanko's providers land in), or gets a problem or a warning
// that names it. A key without an entry here or a reader outside config fails
// TestEveryKeyHasAnEffect.
var indirect = map[string]probe{
	// Derived: resolve copies them into values the faces read.
	"selfservice.methods.passkey.config.rp.origin": {
		with: "selfservice: {methods: {passkey: {config: {rp: {id: example.com, origin: 'https://login.example.com'}}}}}",
		base: "selfservice: {methods: {passkey: {config: {rp: {id: example.com}}}}}"},
	"selfservice.methods.webauthn.config.rp.origin": {
		with: "selfservice: {methods: {webauthn: {enabled: true, config: {rp: {id: id.example.com, origin: 'https://login.id.example.com'}}}}}",
		base: "selfservice: {methods: {webauthn: {enabled: true, config: {rp: {id: id.example.com}}}}}"},
	"hanko.third_party.providers.*.client_id": {
		with: hankoGoogle("client_id: other-client"),
		base: hankoGoogle("client_id: client")},
	"hanko.third_party.providers.*.secret": {
		with: hankoGoogle("secret: other-secret"),
		base: hankoGoogle("secret: secret")},
	"hanko.third_party.custom_providers.*.client_id": {
		with: hankoCustom("client_id: other"), base: hankoCustom("")},
	"hanko.third_party.custom_providers.*.secret": {
		with: hankoCustom("secret: other"), base: hankoCustom("")},
	"hanko.third_party.custom_providers.*.display_name": {
		with: hankoCustom("display_name: Other"), base: hankoCustom("")},
	"hanko.third_party.custom_providers.*.issuer": {
		with: hankoCustom("issuer: 'https://other.example.com'"), base: hankoCustom("")},
	"hanko.third_party.custom_providers.*.scopes": {
		with: hankoCustom("scopes: [openid, email]"), base: hankoCustom("")},

	// Gates: they decide whether another value is accepted.
	"hanko.cors.unsafe_wildcard_origin_allowed": {
		base: "hanko: {cors: {allow_origins: ['*'], unsafe_wildcard_origin_allowed: true}}",
		with: "hanko: {cors: {allow_origins: ['*'], unsafe_wildcard_origin_allowed: false}}"},

	// Refused: the feature is not built, so any value but the default is
	// a problem naming the key.
	"selfservice.methods.oidc.config.providers[].subject_source": {
		with: "selfservice: {methods: {oidc: {enabled: true, config: {providers: [{id: x, provider: generic, client_id: c, client_secret: s, issuer_url: 'https://idp.example.com', subject_source: userinfo}]}}}}"},
	"selfservice.flows.login.before.hooks":        {with: beforeHook("login")},
	"selfservice.flows.registration.before.hooks": {with: beforeHook("registration")},
	"selfservice.flows.settings.before.hooks":     {with: beforeHook("settings")},
}

// yamlAt returns YAML setting the key path (no "*" or "[]" in it) to the
// YAML value.
func yamlAt(path, value string) string {
	segs := strings.Split(path, ".")
	out := value
	for i := len(segs) - 1; i >= 1; i-- {
		out = "{" + segs[i] + ": " + out + "}"
	}
	return segs[0] + ": " + out
}

func hankoGoogle(field string) string {
	p := map[string]string{"enabled": "enabled: true", "client_id": "client_id: client", "secret": "secret: secret"}
	k, _, _ := strings.Cut(field, ":")
	p[k] = field
	return "hanko: {third_party: {error_redirect_url: 'https://app.example.com/error', allowed_redirect_urls: ['https://app.example.com/**'], " +
		"providers: {google: {" + p["enabled"] + ", " + p["client_id"] + ", " + p["secret"] + "}}}}"
}

func hankoCustom(field string) string {
	p := map[string]string{"enabled": "enabled: true", "client_id": "client_id: client", "secret": "secret: secret",
		"issuer": "issuer: 'https://idp.example.com'", "display_name": "display_name: IdP", "scopes": "scopes: [openid]"}
	if field != "" {
		k, _, _ := strings.Cut(field, ":")
		p[k] = field
	}
	return "hanko: {third_party: {error_redirect_url: 'https://app.example.com/error', allowed_redirect_urls: ['https://app.example.com/**'], " +
		"custom_providers: {corp: {" + p["enabled"] + ", " + p["client_id"] + ", " + p["secret"] + ", " + p["issuer"] + ", " +
		p["display_name"] + ", " + p["scopes"] + "}}}}"
}

func beforeHook(flow string) string {
	return "selfservice: {flows: {" + flow + ": {before: {hooks: [{hook: session}]}}}}"
}

// probe is how TestEveryKeyHasAnEffect shows a key's effect: with is YAML
// (merged onto minimal) setting the key; base, if not empty, is the same
// configuration without it (or with another value).
type probe struct{ base, with string }

// TestEveryKeyHasAnEffect walks every key of the reference (issue #14: no key
// is accepted and ignored). A key passes when code outside config (not its
// tests) reads the key's field, found by type-checking the module, or when
// its entry in indirect shows the key changing a field read outside config,
// or being refused or warned about by name. A new key whose field nothing
// reads fails here until it is wired up or refused.
func TestEveryKeyHasAnEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the module")
	}
	consumed, err := consumers()
	if err != nil {
		t.Fatal(err)
	}
	// Every row of the reference is a field here, and the other way round.
	fields := map[string]configField{}
	for _, f := range configFields() {
		if f.leaf {
			fields[f.path] = f
		}
	}
	schema().walk(func(n *node) {
		if n.path == "" || n.kind == kindStruct {
			return
		}
		if _, ok := fields[n.path]; !ok {
			t.Errorf("reference key %s has no field", n.path)
		}
	})
	var paths []string
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f := fields[path]
		if where, ok := consumed[f.key]; ok {
			t.Logf("%s: read at %s", path, where)
			continue
		}
		pr, ok := indirect[path]
		if list, found := strings.CutSuffix(path, "[].config"); !ok && found && strings.HasSuffix(list, ".hooks") {
			// A hook's settings are refused on every hook Latchkey
			// runs: none of them takes any.
			pr, ok = probe{with: yamlAt(list, "[{hook: revoke_active_sessions, config: {x: 1}}]")}, true
			if strings.Contains(list, ".before.") {
				pr.with = yamlAt(list, "[{hook: web_hook, config: {x: 1}}]")
			}
		}
		if !ok {
			t.Errorf("%s (%s) is accepted and ignored: nothing outside config reads it; wire it up, or refuse it in validate "+
				"with a problem naming it and add a probe to indirect", path, f.key)
			continue
		}
		t.Run(path, func(t *testing.T) { checkProbe(t, path, pr, consumed) })
	}
}

// checkProbe shows that the probe's key has an effect (see indirect).
func checkProbe(t *testing.T, path string, pr probe, consumed map[string]string) {
	base, _, err := loadYAML(t, mergeYAML(minimal, pr.base), nil, false)
	if err != nil {
		t.Fatalf("base configuration does not load: %v", err)
	}
	with, warnings, err := loadYAML(t, mergeYAML(minimal, pr.with), nil, false)
	// The key as a concrete path: "*" is the probe's map name, "[]" its
	// first item.
	// A problem about the list item the key is in (say, the whole hook)
	// refuses the key too.
	if i := strings.LastIndex(path, "[]"); i >= 0 {
		path = path[:i+2]
	}
	pat := regexp.QuoteMeta(path)
	pat = strings.ReplaceAll(pat, `\*`, `[A-Za-z0-9_-]+`)
	pat = strings.ReplaceAll(pat, `\[\]`, `\[\d+\]`)
	named := regexp.MustCompile(`(^|[^A-Za-z0-9_.])` + pat + `($|[^A-Za-z0-9_])`)
	if err != nil {
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatal(err)
		}
		for _, p := range ps {
			if named.MatchString(p.Key) || named.MatchString(p.Message) {
				t.Logf("refused: %s", p)
				return
			}
		}
		t.Fatalf("refused without naming the key: %v", err)
	}
	for _, w := range warnings {
		if named.MatchString(w.Key) || named.MatchString(w.Message) {
			t.Logf("warned: %s", w)
			return
		}
	}
	if diff := consumedDiff(reflect.ValueOf(base).Elem(), reflect.ValueOf(with).Elem(), consumed); diff != "" {
		t.Logf("changes %s, read outside config", diff)
		return
	}
	t.Errorf("setting it neither changes a value read outside config nor gets a problem or warning naming it")
}

// consumedDiff returns the first field read outside config whose value
// differs between a and b (same type), or "".
func consumedDiff(a, b reflect.Value, consumed map[string]string) string {
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			key := a.Type().Name() + "." + f.Name
			_, read := consumed[key]
			if read && a.Type().PkgPath() == configPath && !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				switch f.Type.Kind() {
				case reflect.Struct:
				case reflect.Slice, reflect.Map:
					if a.Field(i).Len() != b.Field(i).Len() || f.Type.Elem().Kind() != reflect.Struct {
						return key
					}
				default:
					return key
				}
			}
			if d := consumedDiff(a.Field(i), b.Field(i), consumed); d != "" {
				return d
			}
		}
	case reflect.Slice:
		for i := 0; i < a.Len() && i < b.Len(); i++ {
			if d := consumedDiff(a.Index(i), b.Index(i), consumed); d != "" {
				return d
			}
		}
	case reflect.Map:
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				if d := consumedDiff(a.MapIndex(k), bv, consumed); d != "" {
					return d
				}
			}
		}
	}
	return ""
}
