package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func mustRegistry(t *testing.T, sources ...Source) *Registry {
	t.Helper()
	r, err := New(sources)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func mustSchema(t *testing.T, r *Registry, id string) *Schema {
	t.Helper()
	s, err := r.Schema(id)
	if err != nil {
		t.Fatalf("Schema(%q): %v", id, err)
	}
	return s
}

func testdataURL(t *testing.T, name string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.ToSlash(abs)
}

func b64(s string) string { return "base64://" + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDefaultSchemaIsEmbedded(t *testing.T) {
	t.Parallel()
	r := mustRegistry(t)
	s := mustSchema(t, r, DefaultID)
	if s.ID != "default" || s.URL != DefaultURL {
		t.Errorf("default schema = %q %q", s.ID, s.URL)
	}
	if !bytes.Equal(s.Raw(), defaultSchema) {
		t.Error("Raw() differs from default.schema.json")
	}
	if !json.Valid(s.Raw()) {
		t.Error("Raw() is not valid JSON")
	}
	raw := s.Raw()
	raw[0] = 'X'
	if s.Raw()[0] == 'X' {
		t.Error("Raw() returns the schema's own buffer")
	}
	if got := r.List(); len(got) != 1 || got[0] != s {
		t.Errorf("List() = %v", got)
	}
}

func TestRegistrySources(t *testing.T) {
	t.Parallel()
	doc := `{"properties":{"traits":{"type":"object","properties":{"n":{"type":"string"}}}}}`
	tmp := t.TempDir()
	path := filepath.Join(tmp, "custom.schema.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		url  string
	}{
		{"file absolute", "file://" + filepath.ToSlash(path)},
		{"file relative", "file://./testdata/nested.schema.json"},
		{"base64 standard", b64(doc)},
		{"base64 standard unpadded", "base64://" + base64.RawStdEncoding.EncodeToString([]byte(doc))},
		{"base64 url-safe", "base64://" + base64.URLEncoding.EncodeToString([]byte(doc))},
		{"base64 url-safe unpadded", "base64://" + base64.RawURLEncoding.EncodeToString([]byte(doc))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustRegistry(t, Source{ID: "custom", URL: tt.url})
			s := mustSchema(t, r, "custom")
			if s.URL != tt.url {
				t.Errorf("URL = %q, want %q", s.URL, tt.url)
			}
			list := r.List()
			if len(list) != 2 || list[0].ID != DefaultID || list[1].ID != "custom" {
				t.Errorf("List() ids = %v", ids(list))
			}
		})
	}
}

func TestRegistryOrderAndOverride(t *testing.T) {
	t.Parallel()
	doc := `{"properties":{"traits":{"type":"object"}}}`
	r := mustRegistry(t,
		Source{ID: "b", URL: b64(doc)},
		Source{ID: DefaultID, URL: testdataURL(t, "nested.schema.json")},
		Source{ID: "a", URL: b64(doc)},
	)
	if got := strings.Join(ids(r.List()), ","); got != "b,default,a" {
		t.Errorf("List() ids = %s, want b,default,a", got)
	}
	s := mustSchema(t, r, DefaultID)
	if bytes.Equal(s.Raw(), defaultSchema) {
		t.Error("the configured default did not replace the embedded one")
	}
}

func TestRegistryUnknownSchema(t *testing.T) {
	t.Parallel()
	r := mustRegistry(t)
	for _, id := range []string{"", "nope", "Default"} {
		_, err := r.Schema(id)
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("Schema(%q) error = %v, want ErrUnknown", id, err)
		}
		if core.ErrorCode(err) != core.CodeNotFound {
			t.Errorf("Schema(%q) code = %s, want not_found", id, core.ErrorCode(err))
		}
	}
}

func TestRegistryInvalidSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sources []Source
		want    []string // substrings of the error
	}{
		{"http refused", []Source{{"remote", "http://example.com/s.json"}}, []string{`identity schema "remote"`, "not supported", "network"}},
		{"https refused", []Source{{"remote", "https://example.com/s.json"}}, []string{`"remote"`, "https is not supported"}},
		{"unknown scheme", []Source{{"x", "ftp://host/s.json"}}, []string{`"x"`, `unsupported URL scheme "ftp"`}},
		{"no scheme", []Source{{"x", "/etc/s.json"}}, []string{`"x"`, "has no scheme"}},
		{"missing referenced file", []Source{{"ref", b64(`{"properties":{"traits":{"$ref":"file:///nonexistent/t.json"}}}`)}}, []string{`"ref"`, `references "file:///nonexistent/t.json"`}},
		{"missing file", []Source{{"gone", "file:///nonexistent/s.json"}}, []string{`"gone"`, "read schema file", "no such file"}},
		{"empty file url", []Source{{"x", "file://"}}, []string{`"x"`, "no path"}},
		{"bad base64", []Source{{"b", "base64://!!!"}}, []string{`"b"`, "not valid standard or URL-safe base64"}},
		{"empty base64", []Source{{"b", "base64://"}}, []string{`"b"`, "empty"}},
		{"not json", []Source{{"j", b64(`{"properties":`)}}, []string{`"j"`, "not valid JSON"}},
		{"empty document", []Source{{"j", b64(`  `)}}, []string{`"j"`, "empty"}},
		{"array document", []Source{{"j", b64(`[]`)}}, []string{`"j"`, "must be a JSON object"}},
		{"bad type keyword", []Source{{"t", b64(`{"type":"strnig"}`)}}, []string{`"t"`, "not a valid JSON Schema"}},
		{"bad regex", []Source{{"re", b64(`{"properties":{"traits":{"pattern":"(("}}}`)}}, []string{`"re"`, "compile"}},
		{"remote ref", []Source{{"ref", b64(`{"properties":{"traits":{"$ref":"https://example.com/t.json"}}}`)}}, []string{`"ref"`, `references "https://example.com/t.json"`, "network"}},
		{"unknown via", []Source{{"v", b64(`{"properties":{"traits":{"properties":{"e":{"type":"string","ory.sh/kratos":{"verification":{"via":"pigeon"}}}}}}}`)}}, []string{`"v"`, "/verification/via", "email"}},
		{"typo in extension", []Source{{"v", b64(`{"properties":{"traits":{"properties":{"e":{"type":"string","ory.sh/kratos":{"credentials":{"password":{"identifer":true}}}}}}}}`)}}, []string{`"v"`, "identifer"}},
		{"unknown credential type", []Source{{"v", b64(`{"properties":{"traits":{"properties":{"e":{"type":"string","ory.sh/kratos":{"credentials":{"oidc":{"identifier":true}}}}}}}}`)}}, []string{`"v"`, "oidc"}},
		{"code without via", []Source{{"v", b64(`{"properties":{"traits":{"properties":{"e":{"type":"string","ory.sh/kratos":{"credentials":{"code":{"identifier":true}}}}}}}}`)}}, []string{`"v"`, "needs credentials.code.via"}},
		{"identifier not boolean", []Source{{"v", b64(`{"properties":{"traits":{"properties":{"e":{"type":"string","ory.sh/kratos":{"credentials":{"password":{"identifier":"yes"}}}}}}}}`)}}, []string{`"v"`, "boolean"}},
		{"empty id", []Source{{"", b64(`{}`)}}, []string{"id is empty"}},
		{"spaced id", []Source{{" a", b64(`{}`)}}, []string{`" a"`, "spaces"}},
		{"duplicate id", []Source{{"a", b64(`{}`)}, {"a", b64(`{}`)}}, []string{`"a"`, "more than once"}},
		{"every problem reported", []Source{{"one", "http://x"}, {"two", b64(`[`)}}, []string{`"one"`, `"two"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(tt.sources)
			if err == nil {
				t.Fatalf("New succeeded, want an error")
			}
			if r != nil {
				t.Error("New returned a registry with its error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") && len(tt.sources) == 1 {
				t.Errorf("error for one schema spans lines: %q", err)
			}
		})
	}
}

func ids(list []*Schema) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

func TestRegistryRelativeFileRef(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t, Source{ID: "split", URL: "file://./testdata/split.schema.json"}), "split")
	ex, err := s.Extract([]byte(`{"login":"Root"}`))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if got := ex.Identifiers[core.CredentialPassword]; len(got) != 1 || got[0] != "root" {
		t.Errorf("password identifiers = %v, want [root]", got)
	}
	checkCauses(t, s.Validate([]byte(`{}`)), []Cause{
		{"/login", "required", "Property login is missing.", MessageRequired, map[string]any{"property": "login"}},
	})
}
