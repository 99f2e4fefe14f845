package kratostest

import (
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/latchkey/latchkey/api/apitest"
)

// SpecEnv names an environment variable that overrides where the Kratos
// OpenAPI document is read from.
const SpecEnv = "LATCHKEY_KRATOS_SPEC"

// specRelPath is where the spec lives relative to an ancestor of the working
// directory (the repository sits next to shared/).
const specRelPath = "shared/specs/kratos-api.json"

// Validator checks responses against the Kratos OpenAPI document.
type Validator = apitest.Validator

// ErrNoRoute means the spec has no operation for the request.
var ErrNoRoute = apitest.ErrNoRoute

var (
	loadOnce sync.Once
	loaded   *Validator
	loadErr  error
)

// SpecPath returns the path of kratos-api.json: $LATCHKEY_KRATOS_SPEC, or
// shared/specs/kratos-api.json in the nearest ancestor directory that has
// it. It fails when neither exists.
func SpecPath() (string, error) { return apitest.FindShared(specRelPath, SpecEnv) }

// New returns the shared Validator, loading the spec on first use. It fails
// t when the spec cannot be loaded (skips it when the spec is not on this
// machine and CI is not set).
func New(t testing.TB) *Validator {
	t.Helper()
	return apitest.Require(t, func() (*Validator, error) {
		loadOnce.Do(func() { loaded, loadErr = load() })
		return loaded, loadErr
	})
}

func load() (*Validator, error) {
	path, err := SpecPath()
	if err != nil {
		return nil, err
	}
	return apitest.Load("kratos-api.json", path, func(doc *openapi3.T) {
		// The published spec names a security scheme it does not define;
		// define it so the document validates (it plays no part in
		// response checks).
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
		// The published spec nests the 422's error one level too deep
		// (error: errorGeneric, itself {"error": …}). Kratos answers
		// {"error": {genericError}, "redirect_browser_to": …}, and that is
		// what Ory's SDKs and UIs read (error.id, redirect_browser_to).
		if s := doc.Components.Schemas["errorBrowserLocationChangeRequired"]; s != nil && s.Value != nil {
			if p := s.Value.Properties["error"]; p != nil && p.Ref == "#/components/schemas/errorGeneric" {
				if g := doc.Components.Schemas["genericError"]; g != nil {
					s.Value.Properties["error"] = &openapi3.SchemaRef{Ref: "#/components/schemas/genericError", Value: g.Value}
				}
			}
		}
	})
}
