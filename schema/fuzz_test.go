package schema

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/core"
)

// FuzzValidate feeds arbitrary bytes to Validate and Extract on the default
// and the nested schema: they must not panic, must agree, and must return
// only the documented error types.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `1e999`, `{"email":"a@example.com"}`,
		`{"email":"a@example.com","username":"Jane_Doe","picture":"https://x.io/p.png"}`,
		`{"emails":["a@x.io","b@x.io"],"phone":"+49 170 1234567","profile":{"handle":"h","age":20}}`,
		`{"email":`, `{"a/b~c":{"\u0000":[1,2,{"x":null}]}}`, `{"emails":[` + "\xff" + `]}`,
		`{"emails":["a@x.io"],"score":1.5e300,"profile":{"handle":"hh","age":1e-300}}`, `[1e400, -0.0, 1E+2]`,
	} {
		f.Add([]byte(seed))
	}
	r, err := New([]Source{{ID: "nested", URL: "file://./testdata/nested.schema.json"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, traits []byte) {
		for _, s := range r.List() {
			verr := s.Validate(json.RawMessage(traits))
			ex, xerr := s.Extract(json.RawMessage(traits))
			if (verr == nil) != (xerr == nil) {
				t.Fatalf("%s: Validate = %v but Extract = %v", s.ID, verr, xerr)
			}
			if xerr == nil {
				if ex == nil || ex.Identifiers == nil {
					t.Fatalf("%s: Extract returned %v without an error", s.ID, ex)
				}
				for _, a := range append(append(ex.VerifiableAddresses, ex.RecoveryAddresses...), ex.CodeIdentifiers...) {
					if !ValidAddress(a.Via, a.Value) || Normalize(a.Via, a.Value) != a.Value {
						t.Fatalf("%s: extracted unusable address %+v", s.ID, a)
					}
				}
				continue
			}
			var ve *ValidationError
			switch {
			case errors.As(verr, &ve):
				if len(ve.Causes) == 0 {
					t.Fatalf("%s: ValidationError without causes", s.ID)
				}
				for _, c := range ve.Causes {
					if c.ID == 0 || c.Message == "" || (c.Pointer != "" && c.Pointer[0] != '/') {
						t.Fatalf("%s: malformed cause %+v", s.ID, c)
					}
				}
			case errors.Is(verr, ErrMalformedTraits):
				if core.ErrorCode(verr) != core.CodeInvalid {
					t.Fatalf("%s: malformed traits with code %s", s.ID, core.ErrorCode(verr))
				}
			default:
				t.Fatalf("%s: undocumented error %T: %v", s.ID, verr, verr)
			}
		}
	})
}
