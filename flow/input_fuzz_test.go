package flow

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzInput feeds arbitrary input documents (Hanko's input_data, Kratos'
// body fields) through decodeInput and every input type's validation: a
// document is refused as malformed or decodes to an object, and a value a
// text input accepts is valid UTF-8 without NUL and within its length.
func FuzzInput(f *testing.F) {
	for _, s := range []string{`{"email":"a@example.com"}`, `{"code":"123456"}`, `{"n":1e999}`, `{"b":"on"}`,
		`{"email":"a\u0000b@example.com"}`, `[]`, `null`, ``, `{"a":1}{"b":2}`, `{"a":{"b":[1,2,{"c":null}]}}`,
		`{"email":"\"quoted\"@example.com"}`, `{"email":"Bob <b@example.com>"}`, "{\"s\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	inputs := []Input{
		{Name: "email", Type: TypeEmail, TrimSpace: true, LowerCase: true, MaxLength: 120},
		{Name: "code", Type: TypeString, Required: true, MinLength: 6, MaxLength: 6},
		{Name: "password", Type: TypePassword, MinLength: 8, MaxLength: 72},
		{Name: "n", Type: TypeNumber},
		{Name: "b", Type: TypeBoolean},
		{Name: "a", Type: TypeJSON},
		{Name: "s", Type: TypeString, AllowedValues: []AllowedValue{{Value: "x"}, {Value: "y"}}},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decodeInput(raw)
		if err != nil {
			return
		}
		if m == nil {
			t.Fatal("decodeInput returned neither an object nor an error")
		}
		for _, in := range inputs {
			v, present := m[in.Name]
			got, ierr := in.validate(v, present)
			if ierr != nil || got == nil {
				continue
			}
			if s, ok := got.(string); ok {
				n := utf8.RuneCountInString(s)
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || (in.MaxLength > 0 && n > in.MaxLength) || n < in.MinLength {
					t.Fatalf("%s accepted %q", in.Name, s)
				}
			}
			if r, ok := got.(json.RawMessage); ok && !json.Valid(r) {
				t.Fatalf("%s accepted invalid JSON %q", in.Name, r)
			}
		}
	})
}
