package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestValidateDefaultSchema(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t), DefaultID)
	tests := []struct {
		name   string
		traits string
		want   []Cause // nil: valid
	}{
		{"minimal", `{"email":"a@example.com"}`, nil},
		{"full", `{"email":"Jane.Doe@Example.com","username":"jane_doe","name":"Jane Doe","given_name":"Jane","family_name":"Doe","picture":"https://example.com/j.png"}`, nil},
		{"empty traits are an empty object", ``, []Cause{
			{"/email", "required", "Property email is missing.", MessageRequired, map[string]any{"property": "email"}},
		}},
		{"missing email", `{}`, []Cause{
			{"/email", "required", "Property email is missing.", MessageRequired, map[string]any{"property": "email"}},
		}},
		{"large numbers within range are fine", `{"email":"a@example.com","name":"n"}`, nil},
		{"invalid email", `{"email":"foo"}`, []Cause{
			{"/email", "format", `"foo" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"foo" is not valid "email"`}},
		}},
		{"email with spaces is not an email", `{"email":" a@example.com"}`, []Cause{
			{"/email", "format", `" a@example.com" is not valid "email"`, MessageGeneric, map[string]any{"reason": `" a@example.com" is not valid "email"`}},
		}},
		{"email wrong type", `{"email":42}`, []Cause{
			{"/email", "type", "expected string, but got number", MessageWrongType, map[string]any{"allowed_types": []string{"string"}, "actual_type": "number"}},
		}},
		{"username too short", `{"email":"a@example.com","username":"ab"}`, []Cause{
			{"/username", "minLength", "length must be >= 3, but got 2", MessageMinLength, map[string]any{"min_length": 3, "actual_length": 2}},
		}},
		{"username too long", `{"email":"a@example.com","username":"` + strings.Repeat("x", 33) + `"}`, []Cause{
			{"/username", "maxLength", "length must be <= 32, but got 33", MessageMaxLength, map[string]any{"max_length": 32, "actual_length": 33}},
		}},
		{"username pattern", `{"email":"a@example.com","username":"no spaces"}`, []Cause{
			{"/username", "pattern", `does not match pattern "^[A-Za-z0-9_.-]+$"`, MessageInvalidFormat, map[string]any{"pattern": "^[A-Za-z0-9_.-]+$"}},
		}},
		{"picture not a uri", `{"email":"a@example.com","picture":"not a uri"}`, []Cause{
			{"/picture", "format", `"not a uri" is not valid "uri"`, MessageGeneric, map[string]any{"reason": `"not a uri" is not valid "uri"`}},
		}},
		{"unknown trait", `{"email":"a@example.com","shoe_size":44}`, []Cause{
			{"", "additionalProperties", `additionalProperties "shoe_size" not allowed`, MessageGeneric, map[string]any{"reason": `additionalProperties "shoe_size" not allowed`}},
		}},
		{"several causes in pointer order", `{"username":"a","email":"x"}`, []Cause{
			{"/email", "format", `"x" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"x" is not valid "email"`}},
			{"/username", "minLength", "length must be >= 3, but got 1", MessageMinLength, map[string]any{"min_length": 3, "actual_length": 1}},
		}},
		{"traits not an object", `"a@example.com"`, []Cause{
			{"", "type", "expected object, but got string", MessageWrongType, map[string]any{"allowed_types": []string{"object"}, "actual_type": "string"}},
		}},
		{"traits null", `null`, []Cause{
			{"", "type", "expected object, but got null", MessageWrongType, map[string]any{"allowed_types": []string{"object"}, "actual_type": "null"}},
		}},
		{"traits array", `[]`, []Cause{
			{"", "type", "expected object, but got array", MessageWrongType, map[string]any{"allowed_types": []string{"object"}, "actual_type": "array"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Validate(json.RawMessage(tt.traits))
			checkCauses(t, err, tt.want)
		})
	}
}

func TestValidateNestedSchema(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t, Source{ID: "nested", URL: testdataURL(t, "nested.schema.json")}), "nested")
	tests := []struct {
		name   string
		traits string
		want   []Cause
	}{
		{"valid", `{"emails":["a@example.com"],"profile":{"handle":"al","age":30},"tier":"free","color":"red"}`, nil},
		{"missing nested required", `{"emails":["a@example.com"],"profile":{}}`, []Cause{
			{"/profile/handle", "required", "Property handle is missing.", MessageRequired, map[string]any{"property": "handle"}},
		}},
		{"array item format", `{"emails":["a@example.com","nope"]}`, []Cause{
			{"/emails/1", "format", `"nope" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"nope" is not valid "email"`}},
		}},
		{"min items", `{"emails":[]}`, []Cause{
			{"/emails", "minItems", "minimum 1 items allowed, but found 0 items", MessageMinItems, map[string]any{"min_items": 1, "actual_items": 0}},
		}},
		{"max items", `{"emails":["a@x.io","b@x.io","c@x.io","d@x.io"]}`, []Cause{
			{"/emails", "maxItems", "maximum 3 items allowed, but found 4 items", MessageMaxItems, map[string]any{"max_items": 3, "actual_items": 4}},
		}},
		{"unique items", `{"emails":["a@x.io","b@x.io","a@x.io"]}`, []Cause{
			{"/emails", "uniqueItems", "items at index 0 and 2 are equal", MessageUniqueItems, map[string]any{"index_a": 0, "index_b": 2}},
		}},
		{"minimum", `{"emails":["a@x.io"],"profile":{"handle":"al","age":12}}`, []Cause{
			{"/profile/age", "minimum", "must be >= 13 but found 12", MessageMinimum, map[string]any{"minimum": 13.0, "actual": 12.0}},
		}},
		{"exclusive maximum", `{"emails":["a@x.io"],"profile":{"handle":"al","age":130}}`, []Cause{
			{"/profile/age", "exclusiveMaximum", "must be < 130 but found 130", MessageExclusiveMaximum, map[string]any{"maximum": 130.0, "actual": 130.0}},
		}},
		{"integer type", `{"emails":["a@x.io"],"profile":{"handle":"al","age":20.5}}`, []Cause{
			{"/profile/age", "type", "expected integer, but got number", MessageWrongType, map[string]any{"allowed_types": []string{"integer"}, "actual_type": "number"}},
		}},
		{"large number within range", `{"emails":["a@x.io"],"score":1e300,"profile":{"handle":"hh","age":-2e2}}`, []Cause{
			{"/profile/age", "minimum", "must be >= 13 but found -200", MessageMinimum, map[string]any{"minimum": 13.0, "actual": -200.0}},
		}},
		{"multipleOf", `{"emails":["a@x.io"],"score":0.7}`, []Cause{
			{"/score", "multipleOf", "0.7 not multipleOf 0.5", MessageMultipleOf, map[string]any{"base": 0.5, "actual": 0.7}},
		}},
		{"const", `{"emails":["a@x.io"],"tier":"gold"}`, []Cause{
			{"/tier", "const", `must be equal to constant "free"`, MessageConst, map[string]any{"expected": `"free"`}},
		}},
		{"enum", `{"emails":["a@x.io"],"color":"blue"}`, []Cause{
			{"/color", "enum", `value must be one of "red", "green"`, MessageGeneric, map[string]any{"reason": `value must be one of "red", "green"`}},
		}},
		{"phone must be E.164 for sms", `{"emails":["a@x.io"],"phone":"0170 1234567"}`, []Cause{
			{"/phone", "format", `"0170 1234567" is not valid "tel"`, MessageGeneric, map[string]any{"reason": `"0170 1234567" is not valid "tel"`}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkCauses(t, s.Validate(json.RawMessage(tt.traits)), tt.want)
		})
	}
}

func TestValidateExtensionImpliesAddressFormat(t *testing.T) {
	t.Parallel()
	// No "format" keyword: the extension alone requires an e-mail address,
	// as Kratos' verification and recovery extensions do.
	doc := `{"properties":{"traits":{"type":"object","properties":{
		"v":{"type":"string","ory.sh/kratos":{"verification":{"via":"email"}}},
		"r":{"type":"string","ory.sh/kratos":{"recovery":{"via":"email"}}},
		"c":{"type":"string","ory.sh/kratos":{"credentials":{"code":{"identifier":true,"via":"email"}}}}}}}}`
	s := mustSchema(t, mustRegistry(t, Source{ID: "x", URL: b64(doc)}), "x")
	err := s.Validate(json.RawMessage(`{"v":"not-mail","r":"also not","c":"nope","x":1}`))
	checkCauses(t, err, []Cause{
		{"/c", "format", `"nope" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"nope" is not valid "email"`}},
		{"/r", "format", `"also not" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"also not" is not valid "email"`}},
		{"/v", "format", `"not-mail" is not valid "email"`, MessageGeneric, map[string]any{"reason": `"not-mail" is not valid "email"`}},
	})
	if err := s.Validate(json.RawMessage(`{"v":"A@B.example","r":"","c":"c@d.example"}`)); err != nil {
		t.Errorf("valid traits: %v", err)
	}
}

func TestValidateMalformed(t *testing.T) {
	t.Parallel()
	// The nested schema has minimum, exclusiveMaximum and multipleOf, which
	// compare numbers as big.Rat inside the library.
	s := mustSchema(t, mustRegistry(t, Source{ID: "nested", URL: testdataURL(t, "nested.schema.json")}), "nested")
	tests := []struct {
		name   string
		traits string
	}{
		{"not json", `{"email":`},
		{"trailing data", `{"email":"a@example.com"} {}`},
		{"bare word", `email`},
		{"too large", `{"name":"` + strings.Repeat("x", MaxTraitsSize) + `"}`},
		{"huge exponent", `{"emails":["a@x.io"],"score":1.5e99999999}`},
		{"tiny exponent", `{"emails":["a@x.io"],"score":1e-999999}`},
		{"beyond float64", `{"emails":["a@x.io"],"profile":{"handle":"hh","age":1e309}}`},
		{"very long number", `{"emails":["a@x.io"],"score":` + strings.Repeat("9", 500) + `}`},
		{"number deep in an array", `{"x":[[[{"y":[1e500]}]]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Validate(json.RawMessage(tt.traits))
			if !errors.Is(err, ErrMalformedTraits) {
				t.Fatalf("error = %v, want ErrMalformedTraits", err)
			}
			if core.ErrorCode(err) != core.CodeInvalid {
				t.Errorf("code = %s, want invalid", core.ErrorCode(err))
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				t.Error("malformed traits reported as a ValidationError")
			}
		})
	}
}

func TestValidationErrorContract(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t), DefaultID)
	err := s.Validate(json.RawMessage(`{"email":"foo","username":"x"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %T %v, want *ValidationError", err, err)
	}
	if ve.SchemaID != DefaultID {
		t.Errorf("SchemaID = %q", ve.SchemaID)
	}
	if core.ErrorCode(err) != core.CodeInvalid {
		t.Errorf("code = %s, want invalid", core.ErrorCode(err))
	}
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Field != "traits.email" {
		t.Errorf("core.Error = %+v, want field traits.email", ce)
	}
	want := `traits do not match identity schema "default": /email: "foo" is not valid "email"; /username: length must be >= 3, but got 1`
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
}

func TestCausePointers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ptr, kratos, node string
	}{
		{"", "#/traits", "traits"},
		{"/email", "#/traits/email", "traits.email"},
		{"/emails/1", "#/traits/emails/1", "traits.emails.1"},
		{"/name/first", "#/traits/name/first", "traits.name.first"},
		{"/a~1b/c~0d", "#/traits/a~1b/c~0d", "traits.a/b.c~d"},
	}
	for _, tt := range tests {
		c := Cause{Pointer: tt.ptr}
		if got := c.KratosPointer(); got != tt.kratos {
			t.Errorf("KratosPointer(%q) = %q, want %q", tt.ptr, got, tt.kratos)
		}
		if got := c.NodeName(); got != tt.node {
			t.Errorf("NodeName(%q) = %q, want %q", tt.ptr, got, tt.node)
		}
	}
	// Pointers are escaped per RFC 6901.
	doc := `{"properties":{"traits":{"type":"object","properties":{"a/b":{"type":"string"}}}}}`
	s := mustSchema(t, mustRegistry(t, Source{ID: "esc", URL: b64(doc)}), "esc")
	checkCauses(t, s.Validate(json.RawMessage(`{"a/b":1}`)), []Cause{
		{"/a~1b", "type", "expected string, but got number", MessageWrongType, map[string]any{"allowed_types": []string{"string"}, "actual_type": "number"}},
	})
}

func checkCauses(t *testing.T, err error, want []Cause) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %T %v, want *ValidationError", err, err)
	}
	if !reflect.DeepEqual(ve.Causes, want) {
		t.Errorf("causes:\n got %#v\nwant %#v", ve.Causes, want)
	}
}
