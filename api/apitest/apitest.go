package apitest

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
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// FindShared returns the path of rel (e.g. "shared/specs/kratos-api.json"):
// the value of the environment variable env when set, else rel in the
// nearest ancestor of the working directory that has it (the repository
// sits beside shared/).
func FindShared(rel, env string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: %s not found above the working directory; set %s", ErrMissing, rel, env)
		}
		dir = parent
	}
}

// ErrMissing means a contract is not on this machine (a clone without
// ../shared beside it).
var ErrMissing = errors.New("apitest: spec missing")

// ErrNoRoute means the document has no operation for the request.
var ErrNoRoute = errors.New("apitest: no operation in the spec matches the request")

// Validator checks responses against one OpenAPI document. It is safe for
// concurrent use.
type Validator struct {
	name   string
	prefix string
	router routers.Router
}

// Load reads the OpenAPI document at path, lets fix correct documented spec
// drift (fix may be nil), routes by path alone (servers are replaced by "/")
// and returns a Validator named name (used in messages).
func Load(name, path string, fix func(*openapi3.T)) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if doc.Info != nil && doc.Info.Version == "" {
		doc.Info.Version = "latchkey"
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	if fix != nil {
		fix(doc)
	}
	// Examples play no part in response checks, and some published
	// examples do not validate against their own schemas.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("build router for %s: %w", name, err)
	}
	return &Validator{name: name, router: router}, nil
}

// Require returns the validator load gives, or ends t: with a failure when
// CI is set or the document exists but is broken, with a skip when the
// document is simply not on this machine (a clone without ../shared).
func Require(t testing.TB, load func() (*Validator, error)) *Validator {
	t.Helper()
	v, err := load()
	if err == nil {
		return v
	}
	if errors.Is(err, ErrMissing) && os.Getenv("CI") == "" {
		t.Skipf("%v (the specs live in ../shared beside the repository)", err)
	}
	t.Fatal(err)
	return nil
}

// WithPrefix returns a copy of v that strips prefix (such as a configured
// admin path prefix) from request paths before routing.
func (v *Validator) WithPrefix(prefix string) *Validator {
	c := *v
	c.prefix = prefix
	return &c
}

// Check validates a response to req (status, header and body) against the
// operation the document defines for req's method and path, and returns
// what is wrong (nil when it conforms). A status the operation does not
// list is an error. The request needs only method and URL.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: strings.TrimPrefix(req.URL.Path, v.prefix), RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%w: %s %s (%s): %v", ErrNoRoute, req.Method, req.URL.Path, v.name, err)
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
		return fmt.Errorf("%s %s → %d does not match %s: %w\nbody: %s", req.Method, req.URL.Path, status, v.name, err, truncate(body))
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
		t.Fatalf("apitest: read body: %v", err)
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

func init() {
	// Hanko's admin status page (GET /) answers text/html; its schema is a
	// plain string, decoded like text/plain.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}
