package hankotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Spec names one of Hanko's OpenAPI documents.
type Spec string

// The three Hanko APIs.
const (
	Public Spec = "openapi-public.yaml"
	Admin  Spec = "openapi-admin.yaml"
	Flow   Spec = "openapi-flow.yaml"
)

// SpecDirEnv names an environment variable that overrides the directory the
// Hanko specs are read from.
const SpecDirEnv = "LATCHKEY_HANKO_SPECS"

const specRelDir = "shared/specs/hanko"

// Validator checks responses against one Hanko OpenAPI document.
type Validator struct {
	spec   Spec
	prefix string
	router routers.Router
}

var (
	mu     sync.Mutex
	loaded = map[Spec]*Validator{}
)

// SpecDir returns the directory holding the Hanko specs: $LATCHKEY_HANKO_SPECS,
// or shared/specs/hanko in the nearest ancestor of the working directory
// that has it. It fails when neither exists.
func SpecDir() (string, error) {
	if p := os.Getenv(SpecDirEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("hankotest: %w", err)
	}
	for {
		p := filepath.Join(dir, specRelDir)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("hankotest: %s not found above the working directory; set %s", specRelDir, SpecDirEnv)
		}
		dir = parent
	}
}

// New returns the shared Validator of spec, loading it on first use; it fails
// t when the document cannot be loaded.
func New(t testing.TB, spec Spec) *Validator {
	t.Helper()
	v, err := Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Load returns the shared Validator of spec.
func Load(spec Spec) (*Validator, error) {
	mu.Lock()
	defer mu.Unlock()
	if v, ok := loaded[spec]; ok {
		return v, nil
	}
	dir, err := SpecDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, string(spec))
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("hankotest: load %s: %w", path, err)
	}
	// The documents name tenant servers (https://{tenant}.hanko.io[/admin]);
	// route by path alone.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	fixDrift(spec, doc)
	// Known spec drift: the admin document's meta_source_ip example
	// ("127.0.0.1") matches both arms of its ipv4/ipv6 oneOf, which
	// kin-openapi rejects; examples play no part in response checks.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("hankotest: build router for %s: %w", spec, err)
	}
	v := &Validator{spec: spec, router: router}
	loaded[spec] = v
	return v, nil
}

// WithPrefix returns a copy of v that strips prefix (such as the configured
// hanko.admin_prefix) from request paths before routing.
func (v *Validator) WithPrefix(prefix string) *Validator {
	c := *v
	c.prefix = prefix
	return &c
}

// ErrNoRoute means the spec has no operation for the request.
var ErrNoRoute = errors.New("hankotest: no operation in the spec matches the request")

// Check validates a response to req (status, headers and body) against the
// operation the spec defines for req's method and path and returns what is
// wrong, or nil. A status the operation does not list is an error.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: strings.TrimPrefix(req.URL.Path, v.prefix), RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%w: %s %s (%s): %v", ErrNoRoute, req.Method, req.URL.Path, v.spec, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match %s: %w\nbody: %s", req.Method, req.URL.Path, status, v.spec, err, truncate(body))
	}
	return nil
}

// Validate is Check that fails t on a mismatch.
func (v *Validator) Validate(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := v.Check(req, status, header, body); err != nil {
		t.Error(err)
	}
}

// ValidateResponse validates resp (whose body it reads and replaces so the
// caller can read it again) and returns the body.
func (v *Validator) ValidateResponse(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("hankotest: read body: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.Validate(t, resp.Request, resp.StatusCode, resp.Header, body)
	return body
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// fixDrift corrects the places where the published documents contradict
// Hanko's real server, which real clients follow. Each correction is narrow
// (one schema keyword); responses are never exempted wholesale.
func fixDrift(spec Spec, doc *openapi3.T) {
	if spec == Public && doc.Components != nil {
		// ValidateSessionResponse requires "isValid", but the server
		// (dto.ValidateSessionResponse) and the SDK use "is_valid".
		if r, ok := doc.Components.Responses["ValidateSessionResponse"]; ok && r.Value != nil {
			if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
				req := mt.Schema.Value.Required
				for n, name := range req {
					if name == "isValid" {
						req[n] = "is_valid"
					}
				}
			}
		}
	}
}
