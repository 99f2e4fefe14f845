package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/latchkey/latchkey/core"
)

// MaxTraitsSize is the largest traits document, in bytes, that Validate and
// Extract accept.
const MaxTraitsSize = 512 << 10

// ErrMalformedTraits is wrapped by the error Validate and Extract return when
// the traits are not JSON at all, are larger than MaxTraitsSize, or hold a
// number outside float64 range or with an exponent beyond ±400.
var ErrMalformedTraits = errors.New("schema: malformed traits")

// Schema is one compiled identity schema. Like Kratos, the document describes
// the whole identity ({"properties": {"traits": {...}}}); the traits are
// validated as {"traits": <traits>}. A Schema is immutable and safe for
// concurrent use.
type Schema struct {
	// ID is the schema id from configuration ("default" for the embedded one).
	ID string
	// URL is where the schema was loaded from, as configured.
	URL string

	raw      []byte
	compiled *jsonschema.Schema
}

// Raw returns a copy of the schema document as it was loaded, for GET
// /schemas.
func (s *Schema) Raw() json.RawMessage {
	out := make(json.RawMessage, len(s.raw))
	copy(out, s.raw)
	return out
}

// compile builds a Schema from a document. resource is the URL the document
// is registered under, against which relative $refs resolve.
func compile(id, url string, doc []byte, resource string) (*Schema, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errors.New("the schema document is empty")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("the schema is not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("the schema must be a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7) // as Kratos: schemas without $schema are draft-07
	c.AssertFormat()
	c.AssertVocabs()
	c.RegisterVocabulary(extensionVocabulary())
	// Only local files may be referenced; nothing is fetched over the network.
	c.UseLoader(jsonschema.SchemeURLLoader{"file": jsonschema.FileLoader{}})
	if err := c.AddResource(resource, v); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	compiled, err := c.Compile(resource)
	if err != nil {
		return nil, fmt.Errorf("compile: %s", compileMessage(err))
	}
	raw := make([]byte, len(doc))
	copy(raw, doc)
	return &Schema{ID: id, URL: url, raw: raw, compiled: compiled}, nil
}

// compileMessage flattens the library's multi-line compile errors into one
// line suitable for `latchkey config check`.
func compileMessage(err error) string {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		if ve, ok := sve.Err.(*jsonschema.ValidationError); ok {
			return "the document is not a valid JSON Schema: " + strings.Join(leafMessages(ve), "; ")
		}
	}
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		var us *jsonschema.UnsupportedURLSchemeError
		if errors.As(le.Err, &us) {
			return fmt.Sprintf("the schema references %q, which cannot be loaded: only file:// references are resolved (Latchkey does not fetch schemas over the network)", le.URL)
		}
		return fmt.Sprintf("the schema references %q, which cannot be loaded: %s", le.URL, strings.Join(strings.Fields(le.Err.Error()), " "))
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// parseTraits decodes traits for validation. Empty traits are the empty
// object, as in Kratos.
func parseTraits(traits json.RawMessage) (any, error) {
	if len(traits) > MaxTraitsSize {
		return nil, &core.Error{
			Code:    core.CodeInvalid,
			Message: fmt.Sprintf("The identity traits must not be larger than %d bytes.", MaxTraitsSize),
			Field:   "traits",
			Cause:   fmt.Errorf("traits of %d bytes: %w", len(traits), ErrMalformedTraits),
		}
	}
	if len(bytes.TrimSpace(traits)) == 0 {
		return map[string]any{}, nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(traits))
	if err != nil {
		return nil, &core.Error{
			Code:    core.CodeInvalid,
			Message: "The identity traits are not valid JSON.",
			Field:   "traits",
			Cause:   fmt.Errorf("decode traits: %v: %w", err, ErrMalformedTraits),
		}
	}
	if err := checkNumbers(v); err != nil {
		return nil, &core.Error{
			Code:    core.CodeInvalid,
			Message: "The identity traits contain a number that is out of range.",
			Field:   "traits",
			Cause:   fmt.Errorf("%v: %w", err, ErrMalformedTraits),
		}
	}
	return v, nil
}

// maxNumberLen and maxExponent bound the numbers traits may hold. Numbers
// are compared as big.Rat by the validator; an exponent like 1e999999999
// would make that arbitrarily slow or fail inside the library.
const (
	maxNumberLen = 400
	maxExponent  = 400
)

// checkNumbers rejects numbers outside float64 range or with absurd
// exponents anywhere in v.
func checkNumbers(v any) error {
	stack := []any{v}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch cur := cur.(type) {
		case map[string]any:
			for _, x := range cur {
				stack = append(stack, x)
			}
		case []any:
			stack = append(stack, cur...)
		case json.Number:
			s := string(cur)
			if len(s) > maxNumberLen {
				return fmt.Errorf("number of %d characters", len(s))
			}
			if i := strings.IndexAny(s, "eE"); i >= 0 {
				exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
				if err != nil || exp > maxExponent || exp < -maxExponent {
					return fmt.Errorf("number %s: exponent out of range", s)
				}
			}
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("number %s: %w", s, err)
			}
			if _, ok := new(big.Rat).SetString(s); !ok {
				return fmt.Errorf("number %s is not a decimal", s)
			}
		}
	}
	return nil
}

// Validate checks traits against the schema, including the checks the
// ory.sh/kratos extension implies (an address used for verification,
// recovery or code login must be a valid e-mail address or E.164 phone
// number). It returns nil when the traits are valid, a *ValidationError
// listing every violation, or a *core.Error with CodeInvalid wrapping
// ErrMalformedTraits when the traits are not JSON or exceed MaxTraitsSize.
func (s *Schema) Validate(traits json.RawMessage) error {
	_, err := s.Extract(traits)
	return err
}

// validate runs the JSON Schema part of validation on decoded traits.
func (s *Schema) validate(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return &ValidationError{SchemaID: s.ID, Causes: []Cause{typeCause("", []string{"object"}, jsonType(v))}}
	}
	err := s.compiled.Validate(map[string]any{"traits": v})
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate traits against schema %q: %w", s.ID, err)
	}
	return &ValidationError{SchemaID: s.ID, Causes: causes(ve)}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// leafMessages renders the leaves of a validation error tree as
// "at <pointer>: <message>".
func leafMessages(ve *jsonschema.ValidationError) []string {
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			p := pointer(e.InstanceLocation)
			if p == "" {
				p = "/"
			}
			out = append(out, fmt.Sprintf("at %s: %s", p, e.ErrorKind.LocalizedString(printer)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}
