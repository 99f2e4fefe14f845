package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Identity configures identity schemas.
type Identity struct {
	DefaultSchemaID string   `koanf:"default_schema_id" doc:"Schema given to identities created without one; \"default\" is the built-in schema unless a schema with that id is listed."`
	Schemas         []Schema `koanf:"schemas" doc:"Identity trait schemas as a list of {id, url}."`
}

// Schema names one identity traits JSON schema.
type Schema struct {
	ID  string `koanf:"id" doc:"Schema id stored on identities."`
	URL string `koanf:"url" doc:"Where the JSON schema is: file://, http(s):// or base64://."`
}

// BuiltinSchemaID is the id of the identity schema shipped with the binary.
const BuiltinSchemaID = "default"

func (i *Identity) setDefaults(bool) { i.DefaultSchemaID = BuiltinSchemaID }

func (i *Identity) validate(_ *Config, p *Problems) {
	ids := map[string]int{}
	for n, s := range i.Schemas {
		key := fmt.Sprintf("identity.schemas[%d]", n)
		if s.ID == "" {
			p.add(key+".id", "is required")
		} else if j, dup := ids[s.ID]; dup {
			p.add(key+".id", "%q is also identity.schemas[%d].id; schema ids must be unique", s.ID, j)
		} else {
			ids[s.ID] = n
		}
		checkLoaderURL(p, key+".url", s.URL, true)
		checkSchemaFile(p, key+".url", s.URL)
	}
	if _, ok := ids[i.DefaultSchemaID]; !ok && i.DefaultSchemaID != BuiltinSchemaID {
		p.add("identity.default_schema_id", "%q is not the id of a schema in identity.schemas (nor the built-in %q)", i.DefaultSchemaID, BuiltinSchemaID)
	}
}

// checkLoaderURL reports a problem unless raw is a URL Latchkey can load a
// document from: file://, http://, https:// or base64://.
func checkLoaderURL(p *Problems, key, raw string, required bool) {
	if raw == "" {
		if required {
			p.add(key, "is required")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || !oneOf(u.Scheme, "file", "http", "https", "base64") {
		p.add(key, "%q is not a file://, http://, https:// or base64:// URL", raw)
	}
}

// checkSchemaFile reports a file:// schema that cannot be read or is not
// JSON, naming the file and the cause (permission denied, is a directory,
// no such file), so `config check` lists it with every other problem.
func checkSchemaFile(p *Problems, key, raw string) {
	scheme, path, ok := strings.Cut(raw, "://")
	if !ok || !strings.EqualFold(scheme, "file") {
		return
	}
	// Everything after file:// is the path, as the schema registry (and
	// Kratos) read it: file:///etc/x.json is absolute, file://./x.json and
	// file://x.json are relative to the working directory.
	b, err := os.ReadFile(filepath.FromSlash(path))
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		p.add(key, "cannot read %s: %v; make the file readable by the user Latchkey runs as, or correct the URL", path, pe.Err)
	case err != nil:
		p.add(key, "cannot read %s: %v; make the file readable by the user Latchkey runs as, or correct the URL", path, err)
	case !json.Valid(b):
		p.add(key, "%s is not JSON; an identity schema is a JSON Schema document", path)
	}
}
