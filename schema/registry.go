package schema

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey/core"
)

// DefaultID is the id of the identity schema embedded in the binary. A
// configured source with this id replaces the embedded schema.
const DefaultID = "default"

// DefaultURL is the URL reported for the embedded default schema.
const DefaultURL = "embedded://default.schema.json"

// MaxSchemaSize is the largest schema document, in bytes, that a source may
// hold.
const MaxSchemaSize = 1 << 20

//go:embed default.schema.json
var defaultSchema []byte

// ErrUnknown is returned (wrapped in a *core.Error with CodeNotFound) when a
// schema id is not in the registry. The Kratos face answers 404 on GET
// /schemas/{id} and 400 when an identity names it.
var ErrUnknown = errors.New("schema: unknown identity schema")

// Source is one configured identity schema: its id and where to load it from.
// URL is file://<path> (absolute, or relative to the working directory, as in
// file://./identity.schema.json) or base64://<standard or URL-safe base64 of
// the document>. Remote URLs (http, https) are refused: Latchkey never fetches
// schemas over the network.
type Source struct {
	ID  string
	URL string
}

// Registry holds the compiled identity schemas. It is built once at start and
// is safe for concurrent use.
type Registry struct {
	byID  map[string]*Schema
	order []*Schema
}

// New loads and compiles every source plus the embedded default schema (id
// "default", unless a source has that id). It returns every problem at once,
// joined: each names the schema id and what is wrong (unreadable file, bad
// base64, invalid JSON, a schema that does not compile, a malformed
// ory.sh/kratos extension, duplicate or empty ids). On error the registry is
// nil.
func New(sources []Source) (*Registry, error) {
	r := &Registry{byID: make(map[string]*Schema)}
	var problems []error

	overridden := false
	for _, s := range sources {
		if s.ID == DefaultID {
			overridden = true
		}
	}
	if !overridden {
		sch, err := compile(DefaultID, DefaultURL, defaultSchema, "latchkey:///schemas/default.schema.json")
		if err != nil {
			// The embedded schema is covered by tests; failing here is a bug.
			return nil, fmt.Errorf("embedded default identity schema: %w", err)
		}
		r.add(sch)
	}

	seen := make(map[string]bool)
	for i, s := range sources {
		id := strings.TrimSpace(s.ID)
		switch {
		case id == "":
			problems = append(problems, fmt.Errorf("identity schema #%d (%s): the id is empty", i+1, s.URL))
			continue
		case id != s.ID:
			problems = append(problems, fmt.Errorf("identity schema %q: the id has leading or trailing spaces", s.ID))
			continue
		case seen[id]:
			problems = append(problems, fmt.Errorf("identity schema %q: the id is used more than once", id))
			continue
		}
		seen[id] = true
		sch, err := load(s)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		r.add(sch)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return r, nil
}

func (r *Registry) add(s *Schema) {
	r.byID[s.ID] = s
	r.order = append(r.order, s)
}

// Schema returns the schema with the given id. An unknown id yields a
// *core.Error with CodeNotFound wrapping ErrUnknown.
func (r *Registry) Schema(id string) (*Schema, error) {
	if s, ok := r.byID[id]; ok {
		return s, nil
	}
	return nil, &core.Error{
		Code:    core.CodeNotFound,
		Message: fmt.Sprintf("The identity schema %q does not exist.", id),
		Field:   "schema_id",
		Cause:   fmt.Errorf("schema %q: %w", id, ErrUnknown),
	}
}

// List returns every schema: the embedded default first (when it is not
// replaced by a source), then the sources in configuration order.
func (r *Registry) List() []*Schema {
	out := make([]*Schema, len(r.order))
	copy(out, r.order)
	return out
}

// load reads one source and compiles it; errors name the schema id.
func load(s Source) (*Schema, error) {
	doc, resource, err := read(s.URL)
	if err != nil {
		return nil, fmt.Errorf("identity schema %q: %w", s.ID, err)
	}
	if resource == "" {
		resource = "latchkey:///schemas/" + escapeID(s.ID) + ".schema.json"
	}
	sch, err := compile(s.ID, s.URL, doc, resource)
	if err != nil {
		return nil, fmt.Errorf("identity schema %q (%s): %w", s.ID, redactURL(s.URL), err)
	}
	return sch, nil
}

// read returns the document a source URL names and, for files, the file URL
// that relative $refs resolve against.
func read(u string) (doc []byte, resource string, err error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return nil, "", fmt.Errorf("URL %q has no scheme: use file://<path> or base64://<document>", u)
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return nil, "", errors.New("file:// URL has no path")
		}
		path := filepath.FromSlash(rest)
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, "", fmt.Errorf("resolve %s: %w", path, err)
		}
		f, err := os.Open(abs)
		if err != nil {
			return nil, "", fmt.Errorf("read schema file: %w", err)
		}
		defer f.Close()
		doc, err := io.ReadAll(io.LimitReader(f, MaxSchemaSize+1))
		if err != nil {
			return nil, "", fmt.Errorf("read schema file %s: %w", abs, err)
		}
		if len(doc) > MaxSchemaSize {
			return nil, "", fmt.Errorf("schema file %s is larger than %d bytes", abs, MaxSchemaSize)
		}
		return doc, "file://" + filepath.ToSlash(abs), nil
	case "base64":
		doc, err := decodeBase64(rest)
		if err != nil {
			return nil, "", err
		}
		return doc, "", nil
	case "http", "https":
		return nil, "", fmt.Errorf("loading schemas over %s is not supported (Latchkey does not fetch schemas over the network): use file://<path> or base64://<document>", scheme)
	default:
		return nil, "", fmt.Errorf("unsupported URL scheme %q: use file://<path> or base64://<document>", scheme)
	}
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("base64:// URL is empty")
	}
	if len(s) > base64.StdEncoding.EncodedLen(MaxSchemaSize) {
		return nil, fmt.Errorf("base64 schema is larger than %d bytes", MaxSchemaSize)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if doc, err := enc.DecodeString(s); err == nil {
			return doc, nil
		}
	}
	return nil, errors.New("base64:// URL is not valid standard or URL-safe base64")
}

// redactURL shortens base64 URLs in error messages: the document is
// reported separately and can be long.
func redactURL(u string) string {
	if strings.HasPrefix(strings.ToLower(u), "base64://") && len(u) > 40 {
		return u[:40] + "…"
	}
	return u
}

func escapeID(id string) string {
	var b bytes.Buffer
	for _, c := range []byte(id) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
