package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"
)

// InputType is the kind of value an input accepts. The names are Hanko's
// input types.
type InputType string

// The input types the engine validates.
const (
	TypeString   InputType = "string"
	TypeEmail    InputType = "email"
	TypePassword InputType = "password"
	TypeNumber   InputType = "number"
	TypeBoolean  InputType = "boolean"
	TypeJSON     InputType = "json"
)

func (t InputType) valid() bool {
	switch t {
	case TypeString, TypeEmail, TypePassword, TypeNumber, TypeBoolean, TypeJSON:
		return true
	}
	return false
}

// textual reports whether values of type t are strings.
func (t InputType) textual() bool {
	return t == TypeString || t == TypeEmail || t == TypePassword
}

// AllowedValue is one value an input accepts when the input restricts its
// values; Name is the label a client may show.
type AllowedValue struct {
	Value any    `json:"value"`
	Name  string `json:"name"`
}

// Input declares one input of an action. The engine validates every
// submission against the declared inputs before the action runs.
type Input struct {
	Name      string
	Type      InputType
	Required  bool
	MinLength int // in characters; 0 means no minimum (textual types only)
	MaxLength int // in characters; 0 means no maximum (textual types only)
	Hidden    bool
	// Value is the default value rendered to the client; nil for none.
	Value any
	// AllowedValues, when not empty, lists every value the input accepts.
	AllowedValues []AllowedValue
	// Preserve renders the submitted value back as the input's value when the
	// state is shown again after an error. Password inputs are never
	// preserved.
	Preserve bool
	// TrimSpace removes leading and trailing white space from a textual
	// value before it is validated.
	TrimSpace bool
	// LowerCase lower-cases a textual value before it is validated.
	LowerCase bool
}

// The per-input error codes, named as Hanko names them.
const (
	CodeValueMissing  = "value_missing_error"
	CodeValueInvalid  = "value_invalid_error"
	CodeValueTooShort = "value_too_short_error"
	CodeValueTooLong  = "value_too_long_error"
)

// InputError is an error attached to one input: Name is the input, Code a
// machine-readable code (one of the Code* constants or a face's own, such as
// "passcode_invalid") and Message a text safe to show to the client.
type InputError struct {
	Name    string `json:"name"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *InputError) Error() string {
	return fmt.Sprintf("input %q: %s: %s", e.Name, e.Code, e.Message)
}

// check reports a problem with the declaration of in, or nil.
func (in *Input) check() error {
	switch {
	case in.Name == "":
		return errors.New("input without a name")
	case !in.Type.valid():
		return fmt.Errorf("input %q: unknown type %q", in.Name, in.Type)
	case in.MinLength < 0 || in.MaxLength < 0:
		return fmt.Errorf("input %q: negative length limit", in.Name)
	case in.MaxLength > 0 && in.MinLength > in.MaxLength:
		return fmt.Errorf("input %q: min length %d exceeds max length %d", in.Name, in.MinLength, in.MaxLength)
	case (in.MinLength > 0 || in.MaxLength > 0) && !in.Type.textual():
		return fmt.Errorf("input %q: length limits on a %s input", in.Name, in.Type)
	case (in.TrimSpace || in.LowerCase) && !in.Type.textual():
		return fmt.Errorf("input %q: text normalisation on a %s input", in.Name, in.Type)
	}
	if in.Value != nil {
		if _, ierr := in.convert(in.Value); ierr != "" {
			return fmt.Errorf("input %q: default value %v is not a valid %s", in.Name, in.Value, in.Type)
		}
	}
	for _, av := range in.AllowedValues {
		if _, ierr := in.convert(av.Value); ierr != "" {
			return fmt.Errorf("input %q: allowed value %v is not a valid %s", in.Name, av.Value, in.Type)
		}
	}
	return nil
}

// convert turns a decoded JSON value into the Go value of the input's type:
// string, float64, bool or json.RawMessage. It returns an input error code
// when the value does not fit.
func (in *Input) convert(v any) (any, string) {
	switch in.Type {
	case TypeString, TypeEmail, TypePassword:
		s, ok := v.(string)
		if !ok {
			return nil, CodeValueInvalid
		}
		if in.TrimSpace {
			s = strings.TrimSpace(s)
		}
		if in.LowerCase {
			s = strings.ToLower(s)
		}
		return s, ""
	case TypeNumber:
		var f float64
		var err error
		switch n := v.(type) {
		case json.Number:
			f, err = n.Float64()
		case float64:
			f = n
		case int:
			f = float64(n)
		case int64:
			f = float64(n)
		case string: // form posts send numbers as text
			f, err = strconv.ParseFloat(strings.TrimSpace(n), 64)
		default:
			return nil, CodeValueInvalid
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, CodeValueInvalid
		}
		return f, ""
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, ""
		case string: // form posts send booleans as text
			switch b {
			case "true", "on", "1":
				return true, ""
			case "false", "off", "0":
				return false, ""
			}
		}
		return nil, CodeValueInvalid
	case TypeJSON:
		if r, ok := v.(json.RawMessage); ok && utf8.Valid(r) {
			// An object or array as sent (decodeInput checked its
			// syntax): not decoded and encoded again.
			return r, ""
		}
		raw, err := json.Marshal(generic(v))
		if err != nil {
			return nil, CodeValueInvalid
		}
		return json.RawMessage(raw), ""
	}
	return nil, CodeValueInvalid
}

// validate checks one submitted value (present says whether the key was
// sent) and returns the converted value, or an input error.
func (in *Input) validate(v any, present bool) (any, *InputError) {
	if !present || v == nil {
		if in.Required {
			return nil, inputError(in.Name, CodeValueMissing)
		}
		return nil, nil
	}
	val, code := in.convert(v)
	if code != "" {
		return nil, inputError(in.Name, code)
	}
	if s, ok := val.(string); ok {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			// No identifier, address or code contains these, and some
			// databases refuse to even compare them.
			return nil, inputError(in.Name, CodeValueInvalid)
		}
		n := utf8.RuneCountInString(s)
		if n == 0 {
			if in.Required {
				return nil, inputError(in.Name, CodeValueMissing)
			}
			return nil, nil // an empty optional text counts as not sent
		}
		if in.MinLength > 0 && n < in.MinLength {
			return nil, inputError(in.Name, CodeValueTooShort)
		}
		if in.MaxLength > 0 && n > in.MaxLength {
			return nil, inputError(in.Name, CodeValueTooLong)
		}
		if in.Type == TypeEmail && !validEmail(s) {
			return nil, inputError(in.Name, CodeValueInvalid)
		}
	}
	if len(in.AllowedValues) > 0 && !in.allowed(val) {
		return nil, inputError(in.Name, CodeValueInvalid)
	}
	return val, nil
}

func (in *Input) allowed(val any) bool {
	if r, ok := val.(json.RawMessage); ok {
		// Compared in json.Marshal's form, as the allowed values are.
		raw, err := json.Marshal(generic(r))
		if err != nil {
			return false
		}
		val = json.RawMessage(raw)
	}
	for _, av := range in.AllowedValues {
		want, _ := in.convert(av.Value)
		if equalValues(want, val) {
			return true
		}
	}
	return false
}

func equalValues(a, b any) bool {
	ra, aok := a.(json.RawMessage)
	rb, bok := b.(json.RawMessage)
	if aok || bok {
		return aok && bok && bytes.Equal(ra, rb)
	}
	return a == b
}

// validEmail accepts a bare addr-spec (RFC 5322 §3.4.1) without a display
// name or angle brackets.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s, "@")
}

var inputMessages = map[string]string{
	CodeValueMissing:  "The value is missing.",
	CodeValueInvalid:  "The entered value is invalid.",
	CodeValueTooShort: "The entered value is too short.",
	CodeValueTooLong:  "The entered value is too long.",
}

func inputError(name, code string) *InputError {
	return &InputError{Name: name, Code: code, Message: inputMessages[code]}
}

// decodeInput parses a submitted input document: a JSON object, or empty
// (null, "", no bytes) for no input. A member's value is a string, a
// json.Number, a bool or nil, or for an object or array its bytes as sent
// (json.RawMessage): a JSON input (a WebAuthn response, traits) reaches its
// consumer without being decoded into maps and encoded again, and other
// inputs refuse it as before.
func decodeInput(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var members map[string]json.RawMessage
	if err := dec.Decode(&members); err != nil {
		return nil, fmt.Errorf("input is not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("input has trailing data")
	}
	m := make(map[string]any, len(members))
	for k, v := range members {
		x, err := scalarOrRaw(v)
		if err != nil {
			return nil, fmt.Errorf("input is not a JSON object: %w", err)
		}
		m[k] = x
	}
	return m, nil
}

// scalarOrRaw returns a member value of a decoded input document as
// decodeInput gives it.
func scalarOrRaw(v json.RawMessage) (any, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("empty value")
	}
	switch v[0] {
	case '{', '[':
		return v, nil
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case 't', 'f', 'n':
		var x any
		err := json.Unmarshal(v, &x)
		return x, err
	}
	return json.Number(v), nil // the decoder checked the number's syntax
}

// generic returns v with an object or array as sent (json.RawMessage)
// decoded as encoding/json decodes into an any, numbers as json.Number:
// the value as it was before decodeInput kept such values' bytes.
func generic(v any) any {
	r, ok := v.(json.RawMessage)
	if !ok {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return v
	}
	return x
}
