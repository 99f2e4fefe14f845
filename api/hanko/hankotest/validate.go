package hankotest

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/latchkey/latchkey/api/apitest"
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
type Validator = apitest.Validator

// ErrNoRoute means the spec has no operation for the request.
var ErrNoRoute = apitest.ErrNoRoute

var (
	mu     sync.Mutex
	loaded = map[Spec]*Validator{}
)

// SpecDir returns the directory holding the Hanko specs: $LATCHKEY_HANKO_SPECS,
// or shared/specs/hanko in the nearest ancestor of the working directory
// that has it. It fails when neither exists.
func SpecDir() (string, error) { return apitest.FindShared(specRelDir, SpecDirEnv) }

// New returns the shared Validator of spec, loading it on first use; it fails
// t when the document cannot be loaded (skips it when the specs are not on
// this machine and CI is not set).
func New(t testing.TB, spec Spec) *Validator {
	t.Helper()
	return apitest.Require(t, func() (*Validator, error) { return Load(spec) })
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
	// The documents name tenant servers (https://{tenant}.hanko.io[/admin]);
	// apitest routes by path alone. Known drift: the admin document's
	// meta_source_ip example matches both arms of its ipv4/ipv6 oneOf;
	// apitest does not validate examples.
	v, err := apitest.Load(string(spec), filepath.Join(dir, string(spec)), func(doc *openapi3.T) { fixDrift(spec, doc) })
	if err != nil {
		return nil, err
	}
	loaded[spec] = v
	return v, nil
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
