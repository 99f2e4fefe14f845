package config

import (
	"reflect"
	"strings"
	"sync"
	"time"
	"weak"
)

// kind is how a configuration key is read and checked.
type kind int

const (
	kindStruct    kind = iota // a section: a mapping with fixed keys
	kindMap                   // map[string]T: a mapping with names chosen by the user
	kindList                  // []T where T is a struct
	kindStrings               // []string
	kindStringMap             // map[string]string
	kindRaw                   // map[string]any: anything goes, read by the consumer
	kindString
	kindBool
	kindInt
	kindUint
	kindDuration
	kindByteSize
)

// node describes one key of the configuration tree, derived by reflection
// from Config's koanf struct tags so the struct is the single source of
// truth. Paths are patterns: a map entry's name is "*" and a list item is
// "[]", e.g. "session.whoami.tokenizer.templates.*.ttl" or
// "identity.schemas[].url".
type node struct {
	path    string
	kind    kind
	typ     reflect.Type
	index   []int // field index from the Config root; nil below a "*" or "[]"
	doc     string
	def     string // display default from the default tag, if any
	devdef  string // display dev default from the devdefault tag, if any
	secret  bool
	fields  []*node
	byKey   map[string]*node
	elem    *node
	envName string // LATCHKEY_… for keys settable from the environment
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
	anyType      = reflect.TypeOf((*any)(nil)).Elem()
)

// startupValue is a value derived from Config's type that loading,
// checking and documenting a configuration need, but a running server does
// not: it is built on first use and shared while some caller holds it,
// then left to the collector (a weak pointer), instead of staying live for
// the life of the process as a sync.OnceValue would (the key tree and the
// index of environment names were about 330 KB of a serving process's
// live heap, and the collector lets the heap grow by as much as is live).
// A later use builds it again.
type startupValue[T any] struct {
	mu    sync.Mutex
	p     weak.Pointer[T]
	build func() *T
}

func (v *startupValue[T]) get() *T {
	v.mu.Lock()
	defer v.mu.Unlock()
	if x := v.p.Value(); x != nil {
		return x
	}
	x := v.build()
	v.p = weak.Make(x)
	return x
}

var schemaValue = startupValue[node]{build: func() *node {
	return build(reflect.TypeOf(Config{}), "", []int{}, "")
}}

// schema returns the key tree of Config (see startupValue).
func schema() *node { return schemaValue.get() }

func build(t reflect.Type, path string, index []int, tag reflect.StructTag) *node {
	n := &node{path: path, typ: t, index: index, doc: tag.Get("doc"), def: tag.Get("default"), devdef: tag.Get("devdefault"), secret: tag.Get("secret") == "true"}
	switch {
	case t == durationType:
		n.kind = kindDuration
	case t == byteSizeType:
		n.kind = kindByteSize
	case t.Kind() == reflect.Struct:
		n.kind = kindStruct
		n.byKey = map[string]*node{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := f.Tag.Get("koanf")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			var idx []int
			if index != nil {
				idx = append(append([]int{}, index...), i)
			}
			c := build(f.Type, join(path, key), idx, f.Tag)
			n.fields = append(n.fields, c)
			n.byKey[key] = c
		}
		if n.doc != "" {
			// A section's doc (say, what a {limit, window} pair limits)
			// leads the docs of its keys in the reference.
			n.walk(func(c *node) {
				if c != n && c.kind != kindStruct && c.doc != "" {
					c.doc = n.doc + " " + c.doc
				}
			})
		}
	case t.Kind() == reflect.Map && t.Elem() == reflect.TypeOf(""):
		n.kind = kindStringMap
	case t.Kind() == reflect.Map && t.Elem() == anyType, t == anyType:
		n.kind = kindRaw
	case t.Kind() == reflect.Map:
		n.kind = kindMap
		n.elem = build(t.Elem(), path+".*", nil, "")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		n.kind = kindStrings
	case t.Kind() == reflect.Slice:
		n.kind = kindList
		n.elem = build(t.Elem(), path+"[]", nil, "")
	case t.Kind() == reflect.String:
		n.kind = kindString
	case t.Kind() == reflect.Bool:
		n.kind = kindBool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n.kind = kindInt
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		n.kind = kindUint
	default:
		panic("config: unsupported field type " + t.String() + " at " + path) // programming error, caught by tests
	}
	if n.kind != kindStruct && index != nil {
		n.envName = EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
	}
	return n
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// walk calls fn for n and every node below it, depth first in field order.
func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, c := range n.fields {
		c.walk(fn)
	}
	if n.elem != nil {
		n.elem.walk(fn)
	}
}

// knownPaths lists every key path pattern Latchkey implements, sections
// included, in field order.
// It is built on each call: only typo suggestions use it.
func knownPaths() []string {
	var out []string
	schema().walk(func(n *node) {
		if n.path != "" && !strings.HasSuffix(n.path, "*") && !strings.HasSuffix(n.path, "[]") {
			out = append(out, n.path)
		}
	})
	return out
}

// envIndex is envNodes' map, behind a pointer for startupValue.
type envIndex struct{ byName map[string]*node }

var envValue = startupValue[envIndex]{build: func() *envIndex {
	m := map[string]*node{}
	schema().walk(func(n *node) {
		if n.envName != "" {
			m[n.envName] = n
		}
	})
	return &envIndex{byName: m}
}}

// envNodes maps every LATCHKEY_… variable name to its key (see
// startupValue; the map keeps the nodes it holds).
func envNodes() map[string]*node { return envValue.get().byName }
