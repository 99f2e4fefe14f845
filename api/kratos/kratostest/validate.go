package kratostest

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
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// SpecEnv names an environment variable that overrides where the Kratos
// OpenAPI document is read from.
const SpecEnv = "LATCHKEY_KRATOS_SPEC"

// specRelPath is where the spec lives relative to an ancestor of the working
// directory (the repository sits next to shared/).
const specRelPath = "shared/specs/kratos-api.json"

// Validator checks responses against the Kratos OpenAPI document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	loadOnce sync.Once
	loaded   *Validator
	loadErr  error
)

// SpecPath returns the path of kratos-api.json: $LATCHKEY_KRATOS_SPEC, or
// shared/specs/kratos-api.json in the nearest ancestor directory that has
// it. It fails when neither exists.
func SpecPath() (string, error) {
	if p := os.Getenv(SpecEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, specRelPath)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory; set %s", specRelPath, SpecEnv)
		}
		dir = parent
	}
}

// New returns the shared Validator, loading the spec on first use. It fails
// t when the spec cannot be loaded.
func New(t testing.TB) *Validator {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = load() })
	if loadErr != nil {
		t.Fatalf("kratostest: %v", loadErr)
	}
	return loaded
}

func load() (*Validator, error) {
	path, err := SpecPath()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if doc.Info != nil && doc.Info.Version == "" {
		doc.Info.Version = "latchkey"
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	// The published spec names a security scheme it does not define; define
	// it so the document validates (it plays no part in response checks).
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	if _, ok := doc.Components.SecuritySchemes["sessionToken"]; !ok {
		doc.Components.SecuritySchemes["sessionToken"] = &openapi3.SecuritySchemeRef{
			Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("header").WithName("X-Session-Token")}
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// ErrNoRoute means the spec has no operation for the request.
var ErrNoRoute = errors.New("kratostest: no operation in the spec matches the request")

// Check validates a response to req (status, header and body) against the
// operation the spec defines for req's method and path, and returns what is
// wrong (nil when it conforms). The request needs only method and URL.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrNoRoute, req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match the spec: %w\nbody: %s", req.Method, req.URL.Path, status, err, truncate(body))
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
		t.Fatalf("kratostest: read body: %v", err)
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
